//! The Azure scanner's typed options, built once from the settings (`subscription`, `location`,
//! `armEndpoint`, `globalResources`) and checked before any Azure call. The `ARM_*` variables fill what the settings
//! leave unset when the scanner is built.

use azure_core::http::Url;

use crate::input_error::InputError;
use crate::settings::Settings;

#[derive(Debug, Clone)]
pub struct AzureOptions {
    pub provider_version: String,
    /// As set; `None` falls back to `ARM_SUBSCRIPTION_ID`.
    pub subscription: Option<String>,
    /// Where to say the subscription is set, in messages.
    pub subscription_key: String,
    /// As set (names are checked with [`super::Locations::parse`]); empty falls back to
    /// `ARM_LOCATION`.
    pub locations: Vec<String>,
    pub location_key: String,
    /// Resource Manager's base URL, an `https://` URL; `None` is the cloud's own.
    pub arm_endpoint: Option<Url>,
    /// `globalResources`: whether the location `global` is listed too (`all`, the default) or not
    /// (`none`; a fleet gives `global` to one child per subscription).
    pub global: bool,
}

impl AzureOptions {
    pub fn from_settings(settings: &Settings) -> Result<Self, InputError> {
        let arm_endpoint = match settings.get("armEndpoint") {
            None => None,
            Some(text) => Some(
                Url::parse(text)
                    .ok()
                    .filter(|u| u.scheme() == "https")
                    .ok_or_else(|| {
                        InputError::new(format!(
                            "{} must be an https:// URL",
                            settings.describe("armEndpoint")
                        ))
                    })?,
            ),
        };
        let global = match settings.get("globalResources").map(str::to_ascii_lowercase) {
            None => true,
            Some(v) if v == "all" => true,
            Some(v) if v == "none" => false,
            Some(v) => {
                return Err(InputError::new(format!(
                    "{} must be all or none for Azure, not {v:?}",
                    settings.describe("globalResources")
                )))
            }
        };
        Ok(AzureOptions {
            global,
            provider_version: settings.provider_version.clone(),
            subscription: settings.get("subscription").map(str::to_string),
            subscription_key: settings.describe("subscription"),
            locations: settings.get_list("location")?,
            location_key: settings.describe("location"),
            arm_endpoint,
        })
    }
}
