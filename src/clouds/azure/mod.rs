//! Azure scanner: every resource of one subscription in the chosen locations, listed through Azure
//! Resource Manager, mapped to azure-native tokens by id template and parented by its resource
//! group.
//!
//! Settings (flag, `-c key=value` or stack config `pulumi-cloud-import:<key>`):
//! - `subscription` (else `ARM_SUBSCRIPTION_ID` or `AZURE_SUBSCRIPTION_ID`): required;
//! - `location` (else `ARM_LOCATION`): one location, a comma list, or `all`; required;
//! - the exact token mapping comes from the installed azure-native schema, which the scanner factory
//!   loads (`schema` module: engine loader, installed plugin, or the shared `schemaFile` setting) and
//!   passes in with [`AzureScanner::with_type_map`]; without it a built-in mapping is used, with a
//!   warning;
//! - `armEndpoint`: the Resource Manager URL, when it is not the one of `ARM_ENVIRONMENT`;
//! - `globalResources`: `all` (default) lists the location `global` too, `none` does not (a fleet
//!   gives `global` to one child per subscription).
//!
//! Credentials: see `credentials`. The constructor checks the subscription with one GET, so bad
//! credentials or a wrong subscription are input errors before any listing.

pub mod aks_token;
mod arm;
mod children;
mod credentials;
mod fallback;
pub mod mapping;
pub mod options;
mod scan;
mod template;

pub use arm::{Arm, ArmError};
pub use children::{ChildList, CHILD_LISTS};
pub use credentials::{credential, AzureCloud};
pub use fallback::{fallback_token, HOW_TO_GET_EXACT_MAPPING};
pub use mapping::{import_sample_id, TypeMap};

use std::sync::Arc;

use azure_core::http::{new_http_client, ClientOptions, Transport, Url};
use futures::future::BoxFuture;
use serde_json::{Map, Value};

use crate::cloud::Cloud;
use crate::discover::{Events, ProviderSpec, Scanner};
use crate::input_error::InputError;
use crate::retry::RetryPolicy;
pub use options::AzureOptions;

/// The locations to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locations {
    All,
    /// Lowercased ARM location names (`westus2`); `global` is always added when listing.
    Some(Vec<String>),
}

impl Locations {
    fn parse(values: Vec<String>, describe: &str) -> Result<Locations, InputError> {
        if values.is_empty() {
            return Err(InputError::new(format!(
                "no Azure location: set {describe} or ARM_LOCATION to a location such as westus2, a comma-separated list, or all"
            )));
        }
        if values.iter().any(|v| v.eq_ignore_ascii_case("all")) {
            return Ok(Locations::All);
        }
        let mut out = Vec::new();
        for v in values {
            // ARM location names are lowercase letters and digits (`westus2`); display names such
            // as "West US 2" are accepted without their spaces.
            let name: String = v
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(InputError::new(format!(
                    "{describe} must name Azure locations such as westus2, not {v:?}"
                )));
            }
            if !out.contains(&name) {
                out.push(name);
            }
        }
        Ok(Locations::Some(out))
    }

    fn label(&self) -> String {
        match self {
            Locations::All => "all".into(),
            Locations::Some(v) => v.join("-"),
        }
    }
}

/// The Azure [`Scanner`].
pub struct AzureScanner {
    subscription: String,
    locations: Locations,
    arm: Arm,
    types: Option<TypeMap>,
    version: String,
    global: bool,
}

impl AzureScanner {
    /// Builds the scanner from its options and the process environment.
    pub async fn new(options: &AzureOptions) -> Result<Self, InputError> {
        Self::from_lookup(options, &|k| std::env::var(k).ok()).await
    }

    /// Builds the scanner from its options and an environment lookup.
    pub async fn from_lookup(
        options: &AzureOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, InputError> {
        let env_first = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
        };
        let subscription = options
            .subscription
            .clone()
            .or_else(|| env_first(&["ARM_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID"]))
            .ok_or_else(|| {
                InputError::new(format!(
                    "no Azure subscription: set {} or ARM_SUBSCRIPTION_ID",
                    options.subscription_key
                ))
            })?
            .trim()
            .to_string();
        // Pulumi ESC's azure-login examples write the subscription as `/subscriptions/<id>`.
        let subscription = subscription
            .get(..15)
            .filter(|head| head.eq_ignore_ascii_case("/subscriptions/"))
            .map(|_| subscription[15..].trim_end_matches('/').to_string())
            .unwrap_or(subscription);
        if subscription.is_empty()
            || !subscription
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(InputError::new(format!(
                "{} must be a subscription id (a GUID)",
                options.subscription_key
            )));
        }
        let mut location_values = options.locations.clone();
        if location_values.is_empty() {
            if let Some(v) = env_first(&["ARM_LOCATION"]) {
                location_values = v.split(',').map(|s| s.trim().to_string()).collect();
                location_values.retain(|s| !s.is_empty());
            }
        }
        let locations = Locations::parse(location_values, &options.location_key)?;
        let version = options.provider_version.clone();
        let global = options.global;
        let cloud = AzureCloud::from_lookup(env)?;
        let endpoint = match &options.arm_endpoint {
            Some(url) => url.clone(),
            None => Url::parse(&cloud.resource_manager).map_err(|_| {
                InputError::new(format!(
                    "the Azure cloud's Resource Manager URL {:?} is not a URL",
                    cloud.resource_manager
                ))
            })?,
        };
        // One HTTP client (one connection pool) for the credential and Resource Manager.
        let http = new_http_client(None);
        let client_options = ClientOptions {
            transport: Some(Transport::new(http.clone())),
            ..Default::default()
        };
        let credential = credentials::credential(env, &cloud, &client_options, http)?;
        let arm = Arm::new(
            credential.credential,
            &cloud.scope,
            endpoint,
            client_options,
            RetryPolicy::default(),
        );
        check_subscription(&arm, &subscription, credential.source).await?;
        Ok(AzureScanner {
            subscription,
            locations,
            arm,
            types: None,
            version,
            global,
        })
    }

    /// Uses an exact type table (for example built from the installed plugin's schema).
    pub fn with_type_map(mut self, types: TypeMap) -> Self {
        self.types = Some(types);
        self
    }
}

/// One GET of the subscription: proves the credential and the subscription before listing.
async fn check_subscription(arm: &Arm, subscription: &str, source: &str) -> Result<(), InputError> {
    let url = arm.url(
        &format!("/subscriptions/{subscription}"),
        &[("api-version", "2022-12-01")],
    );
    match arm.get(&url).await {
        Ok(_) => Ok(()),
        Err(ArmError::Credential(m)) => Err(InputError::new(format!(
            "Azure credentials ({source}) were not accepted: {m}"
        ))),
        Err(e) if e.status() == Some(401) => Err(InputError::new(format!(
            "Azure Resource Manager rejected the {source} credentials: {e}"
        ))),
        Err(e) if matches!(e.status(), Some(403 | 404)) => Err(InputError::new(format!(
            "subscription {subscription} is not readable with the {source} credentials: {e}"
        ))),
        Err(e)
            if e.status()
                .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
        {
            Err(InputError::new(format!(
                "subscription {subscription} cannot be read: {e}"
            )))
        }
        // A fault that outlived the retries is not bad input: discovery will meet it again and
        // report the scan incomplete.
        Err(e) => {
            tracing::debug!("checking subscription {subscription} failed: {e}");
            Ok(())
        }
    }
}

impl Scanner for AzureScanner {
    fn provider(&self) -> ProviderSpec {
        let mut inputs = Map::new();
        inputs.insert(
            "subscriptionId".into(),
            Value::String(self.subscription.clone()),
        );
        ProviderSpec {
            package: Cloud::Azure.package().into(),
            name: format!(
                "azure-native-{}-{}",
                self.subscription,
                self.locations.label()
            ),
            version: self.version.clone(),
            inputs,
        }
    }

    fn scan(self: Box<Self>, out: Events) -> BoxFuture<'static, ()> {
        let scan = scan::Scan {
            subscription: self.subscription,
            locations: self.locations,
            arm: self.arm,
            types: self.types.map(Arc::new),
            global: self.global,
        };
        Box::pin(scan::run(scan, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<Locations, String> {
        Locations::parse(values.iter().map(|s| s.to_string()).collect(), "location")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn locations() {
        assert_eq!(
            parse(&["West US 2", "eastus", "westus2"]),
            Ok(Locations::Some(vec!["westus2".into(), "eastus".into()]))
        );
        assert_eq!(parse(&["westus2", "ALL"]), Ok(Locations::All));
        assert!(parse(&[]).unwrap_err().contains("ARM_LOCATION"));
        assert!(parse(&["west-us"]).unwrap_err().contains("\"west-us\""));
        assert_eq!(
            Locations::Some(vec!["westus2".into(), "eastus".into()]).label(),
            "westus2-eastus"
        );
    }
}
