//! The Kubernetes scanner's typed options, built once from the settings (`context`,
//! `defaultExclusions`, `pageSize`, `readInputs`, the include/exclude filters, and the provider's
//! client limits from `workers` and `readTimeout`) and checked before any cluster call.

use crate::filter::TypeFilter;
use crate::input_error::InputError;
use crate::settings::Settings;

use super::list;
use super::read_path::{ClientSettings, ReadInputs};

#[derive(Debug, Clone)]
pub struct KubernetesOptions {
    pub provider_version: String,
    /// The kubeconfig context; `None` is its current context.
    pub context: Option<String>,
    /// Skip Events, owned Pods and the other objects listed in the README.
    pub default_exclusions: bool,
    /// Objects per list page.
    pub page_size: u32,
    /// Types the include/exclude filters rule out are not listed at all.
    pub filter: TypeFilter,
    /// What each `ReadResource` carries (`readInputs`).
    pub read_inputs: ReadInputs,
    /// `namespaces`: list namespaced types only in these (credentials scoped to some namespaces).
    pub namespaces: Option<Vec<String>>,
    /// With `namespaces`: whether cluster-scoped types are listed too (`clusterScoped`).
    pub cluster_scoped: bool,
    /// The explicit provider's `kubeClientSettings`.
    pub client_settings: ClientSettings,
    /// The longest one API call of the scan may take (`readTimeout`).
    pub list_deadline: std::time::Duration,
}

impl KubernetesOptions {
    pub fn from_settings(settings: &Settings) -> Result<Self, InputError> {
        let page_size = match settings.get("pageSize") {
            None => list::PAGE_SIZE,
            Some(v) => v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                InputError::new(format!(
                    "{} must be a positive whole number, not {v:?}",
                    settings.describe("pageSize")
                ))
            })?,
        };
        let read_inputs = match settings.get("readInputs") {
            None => ReadInputs::Identity,
            Some(v) => ReadInputs::parse(v).ok_or_else(|| {
                InputError::new(format!(
                    "{} must be identity or none, not {v:?}",
                    settings.describe("readInputs")
                ))
            })?,
        };
        let namespaces = match settings.get_list("namespaces")? {
            list if list.is_empty() => None,
            list => Some(list),
        };
        let cluster_scoped = match (&namespaces, settings.get_bool("clusterScoped")?) {
            (_, Some(choice)) => choice,
            (None, None) => true,
            // Listing namespaces only would silently leave out Namespaces, ClusterRoles, CRDs and
            // every other cluster-scoped type: the user says which they want.
            (Some(ns), None) => {
                return Err(InputError::new(format!(
                    "{} limits the scan to {}: set {} to true or false, to say whether cluster-scoped types (Namespaces, ClusterRoles, CRDs...) are scanned too",
                    settings.describe("namespaces"),
                    ns.join(", "),
                    settings.describe("clusterScoped")
                )))
            }
        };
        if let Some(bad) = namespaces.iter().flatten().find(|n| !is_dns_label(n)) {
            return Err(InputError::new(format!(
                "{} holds {bad:?}, which is not a namespace name (lowercase letters, digits and '-', at most 63)",
                settings.describe("namespaces")
            )));
        }
        Ok(KubernetesOptions {
            read_inputs,
            namespaces,
            cluster_scoped,
            list_deadline: settings.read_timeout,
            client_settings: ClientSettings::for_run(
                settings.workers,
                settings.read_timeout.as_secs(),
                |var| std::env::var(var).ok(),
            ),
            provider_version: settings.provider_version.clone(),
            context: settings.get("context").map(str::to_string),
            default_exclusions: settings.get_bool("defaultExclusions")?.unwrap_or(true),
            page_size,
            filter: TypeFilter::new(&settings.include, &settings.exclude)?,
        })
    }
}

/// A namespace name: an RFC 1123 label.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
