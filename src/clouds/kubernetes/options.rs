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
    /// The explicit provider's `kubeClientSettings`.
    pub client_settings: ClientSettings,
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
        Ok(KubernetesOptions {
            read_inputs,
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
