//! The Kubernetes scanner's typed options, built once from the settings (`context`,
//! `defaultExclusions`, `pageSize`, the include/exclude filters) and checked before any cluster call.

use crate::filter::TypeFilter;
use crate::input_error::InputError;
use crate::settings::Settings;

use super::list;

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
        Ok(KubernetesOptions {
            provider_version: settings.provider_version.clone(),
            context: settings.get("context").map(str::to_string),
            default_exclusions: settings.get_bool("defaultExclusions")?.unwrap_or(true),
            page_size,
            filter: TypeFilter::new(&settings.include, &settings.exclude)?,
        })
    }
}
