//! The AWS scanner's typed options, built once from the settings (`region`, `profile`,
//! `globalRegion`, `globalResources`, `listConcurrency`, `rateLimit`) and checked before any AWS
//! call; tests and benchmarks set them directly.

use super::global::{self, GlobalMode};
use super::{DEFAULT_LIST_CONCURRENCY, DEFAULT_RATE_LIMIT};
use crate::cloud::Cloud;
use crate::input_error::InputError;
use crate::settings::Settings;

/// The scan's knobs, from settings (or set directly by tests and benchmarks).
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// Scanned region; `None` takes the one aws-config resolves (AWS_REGION, profile).
    pub region: Option<String>,
    pub profile: Option<String>,
    pub global_region: String,
    pub global_mode: GlobalMode,
    pub list_concurrency: usize,
    pub rate_limit: f64,
    /// The aws-native plugin version the provider resource is registered with.
    pub provider_version: String,
    /// Where to say the region is set, in messages.
    pub region_key: String,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            region: None,
            profile: None,
            global_region: global::DEFAULT_GLOBAL_REGION.to_string(),
            global_mode: GlobalMode::Designated,
            list_concurrency: DEFAULT_LIST_CONCURRENCY,
            rate_limit: DEFAULT_RATE_LIMIT,
            provider_version: Cloud::Aws.pinned_version().to_string(),
            region_key: "pulumi-cloud-import:region".to_string(),
        }
    }
}

impl AwsOptions {
    /// Reads and checks the AWS keys: `region`, `profile`, `globalRegion`, `globalResources`,
    /// `listConcurrency`, `rateLimit`, plus `providerVersion`.
    pub fn from_settings(settings: &Settings) -> Result<Self, InputError> {
        let mut o = AwsOptions {
            region: settings.get("region").map(str::to_string),
            profile: settings.get("profile").map(str::to_string),
            provider_version: settings.provider_version.clone(),
            region_key: settings.describe("region"),
            ..AwsOptions::default()
        };
        if let Some(r) = settings.get("globalRegion") {
            o.global_region = r.trim().to_string();
        }
        if let Some(m) = settings.get("globalResources") {
            o.global_mode = m.parse().map_err(|e| {
                InputError::new(format!("{} {e}", settings.describe("globalResources")))
            })?;
        }
        if let Some(c) = settings.get("listConcurrency") {
            o.list_concurrency = match c.trim().parse::<usize>() {
                Ok(n) if (1..=64).contains(&n) => n,
                _ => {
                    return Err(InputError::new(format!(
                        "{} must be a whole number from 1 to 64, not {c:?}",
                        settings.describe("listConcurrency")
                    )))
                }
            };
        }
        if let Some(r) = settings.get("rateLimit") {
            o.rate_limit = match r.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && (0.1..=1000.0).contains(&x) => x,
                _ => {
                    return Err(InputError::new(format!(
                        "{} must be requests per second between 0.1 and 1000, not {r:?}",
                        settings.describe("rateLimit")
                    )))
                }
            };
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Cli;
    use crate::settings::Settings;
    use clap::Parser;

    fn options(args: &[&str]) -> Result<AwsOptions, InputError> {
        let mut argv = vec!["pulumi-cloud-import", "--list", "--cloud", "aws"];
        argv.extend_from_slice(args);
        let settings = Settings::from_sources(Cli::try_parse_from(argv).unwrap(), |_| None)?;
        AwsOptions::from_settings(&settings)
    }

    #[test]
    fn config_keys_are_read_and_checked() {
        let o = options(&[]).unwrap();
        assert_eq!(o.region, None);
        assert_eq!(o.global_region, "us-east-1");
        assert_eq!(o.global_mode, GlobalMode::Designated);
        assert_eq!(o.list_concurrency, DEFAULT_LIST_CONCURRENCY);
        assert_eq!(o.rate_limit, DEFAULT_RATE_LIMIT);

        let o = options(&[
            "--region",
            "eu-west-1",
            "--profile",
            "prod",
            "-c",
            "globalRegion=eu-west-1",
            "-c",
            "globalResources=all",
            "-c",
            "listConcurrency=3",
            "-c",
            "rateLimit=12.5",
        ])
        .unwrap();
        assert_eq!(o.region.as_deref(), Some("eu-west-1"));
        assert_eq!(o.profile.as_deref(), Some("prod"));
        assert_eq!(o.global_region, "eu-west-1");
        assert_eq!(o.global_mode, GlobalMode::All);
        assert_eq!(o.list_concurrency, 3);
        assert_eq!(o.rate_limit, 12.5);

        for (arg, key) in [
            ("listConcurrency=0", "listConcurrency"),
            ("listConcurrency=many", "listConcurrency"),
            ("rateLimit=0", "rateLimit"),
            ("rateLimit=NaN", "rateLimit"),
            ("globalResources=some", "globalResources"),
        ] {
            let err = options(&["-c", arg]).unwrap_err().to_string();
            assert!(err.contains(key), "{arg}: {err}");
            assert!(!err.contains('\n'), "{arg}: {err}");
        }
    }
}
