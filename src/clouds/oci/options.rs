//! The OCI scanner's typed options, built once from the settings (`region`, `profile`,
//! `compartment`, `endpoint`) and checked before any OCI call. Credentials are resolved later, from
//! these and the OCI config file.

use super::search::Endpoints;
use crate::input_error::InputError;
use crate::settings::Settings;

#[derive(Debug, Clone)]
pub struct OciOptions {
    pub provider_version: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// The compartment whose subtree is scanned; `None` is the whole tenancy.
    pub compartment: Option<String>,
    /// One base URL for every OCI service (tests point it at a fake); `None` is the region's.
    pub endpoint: Option<Endpoints>,
}

impl OciOptions {
    pub fn from_settings(settings: &Settings) -> Result<Self, InputError> {
        let compartment = match settings.get("compartment") {
            None => None,
            Some(c) if super::is_ocid(c) => Some(c.to_string()),
            Some(c) => {
                return Err(InputError::new(format!(
                    "{} must be a compartment OCID (ocid1.compartment.oc1..., or the tenancy OCID), not {c:?}",
                    settings.describe("compartment")
                )));
            }
        };
        let endpoint = match settings.get("endpoint") {
            None => None,
            Some(base) => Some(Endpoints::single(base).map_err(|_| {
                InputError::new(format!(
                    "{} must be a URL such as https://example.com",
                    settings.describe("endpoint")
                ))
            })?),
        };
        Ok(OciOptions {
            provider_version: settings.provider_version.clone(),
            region: settings.get("region").map(str::to_string),
            profile: settings.get("profile").map(str::to_string),
            compartment,
            endpoint,
        })
    }
}
