//! The clouds we scan, the provider package each is read with, and the plugin version pinned for it.
//! A leaf module (it imports only `input_error`), so settings, scanners and the HTTP layer can all
//! name a cloud without importing each other.
//!
//! The pinned versions live here and nowhere else; `providerVersion` overrides them per run.

use std::str::FromStr;

use crate::input_error::InputError;

/// A supported cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cloud {
    Aws,
    Azure,
    Kubernetes,
    Oci,
}

impl Cloud {
    pub const ALL: [Cloud; 4] = [Cloud::Aws, Cloud::Azure, Cloud::Kubernetes, Cloud::Oci];

    /// The name used in config and flags.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
            Cloud::Kubernetes => "kubernetes",
            Cloud::Oci => "oci",
        }
    }

    /// The Pulumi provider package that reads this cloud's resources.
    pub fn package(self) -> &'static str {
        match self {
            Cloud::Aws => "aws-native",
            Cloud::Azure => "azure-native",
            Cloud::Kubernetes => "kubernetes",
            Cloud::Oci => "oci",
        }
    }

    /// The provider plugin version this release of the tool is tested against.
    /// Types whose import would put secret values in plain text into the code `pulumi import`
    /// generates and into the state (a Kubernetes Secret's `data`, and its `kubectl apply`
    /// annotation, become literal inputs). `--import` leaves them out unless `importSecrets`.
    pub fn secret_tokens(self) -> &'static [&'static str] {
        match self {
            Cloud::Kubernetes => &["kubernetes:core/v1:Secret"],
            Cloud::Aws | Cloud::Azure | Cloud::Oci => &[],
        }
    }

    pub fn pinned_version(self) -> &'static str {
        match self {
            Cloud::Aws => "1.74.1",
            Cloud::Azure => "3.29.0",
            Cloud::Kubernetes => "4.32.0",
            Cloud::Oci => "4.20.0",
        }
    }

    /// The plugin version for this run: `requested` (`providerVersion`, checked to be strict
    /// semver, as the engine requires; `origin` names where it was set), else the pinned one.
    pub fn provider_version(
        self,
        requested: Option<&str>,
        origin: &str,
    ) -> Result<String, InputError> {
        match requested {
            None => Ok(self.pinned_version().to_string()),
            Some(v) => {
                let v = v.strip_prefix('v').unwrap_or(v);
                if is_strict_semver(v) {
                    Ok(v.to_string())
                } else {
                    Err(InputError::new(format!(
                        "{origin} must be a plugin version such as {}, not {v:?}",
                        self.pinned_version()
                    )))
                }
            }
        }
    }
}

impl FromStr for Cloud {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, InputError> {
        let lower = s.trim().to_ascii_lowercase();
        Cloud::ALL
            .into_iter()
            .find(|c| c.name() == lower || (lower == "k8s" && *c == Cloud::Kubernetes))
            .ok_or_else(|| {
                InputError::new(format!(
                    "unknown cloud {s:?}: use one of aws, azure, kubernetes, oci"
                ))
            })
    }
}

/// `MAJOR.MINOR.PATCH` with an optional `-prerelease` / `+build`.
fn is_strict_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_check() {
        assert!(is_strict_semver("4.32.0"));
        assert!(is_strict_semver("1.0.0-alpha.1+abc"));
        assert!(!is_strict_semver("4.32"));
        assert!(!is_strict_semver("latest"));
    }
}
