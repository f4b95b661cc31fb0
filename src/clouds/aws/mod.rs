//! AWS scanner: every Cloud Control resource of one account-region, read with aws-native.
//!
//! Settings and credentials are checked here, before any listing: the region (`region`, else
//! `AWS_REGION` or the profile's region), the profile (`profile`), and credentials from aws-config's
//! default chain (environment keys, profiles, SSO, web identity, container and instance roles). The
//! scan itself lives in `scan`; the explicit `aws-native` provider it is read with gets the same
//! region, so reads hit the region that was listed.

mod api;
pub mod eks_token;
pub mod errors;
pub mod fanout;
pub mod global;
pub mod list;
pub mod options;
mod scan;
pub mod sdk;
pub mod token;
pub mod types;

use std::collections::HashSet;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudcontrol::config::ProvideCredentials;
use futures::future::BoxFuture;
use serde_json::{Map, Value};

pub use api::Endpoints;
pub use global::GlobalMode;

use crate::cloud::Cloud;
use crate::discover::{Events, ProviderSpec, Scanner};
use crate::input_error::InputError;
pub use options::AwsOptions;

/// Listings in flight at once, by default (reads are paced separately by the workers setting).
pub const DEFAULT_LIST_CONCURRENCY: usize = 8;
/// Cloud Control's observed per-account-region limit, in requests/s.
pub const DEFAULT_RATE_LIMIT: f64 = 25.0;

/// Lists one AWS account-region through Cloud Control.
pub struct AwsScanner {
    api: Arc<api::Api>,
    options: AwsOptions,
    region: String,
    scope: String,
    known_tokens: Option<Arc<HashSet<String>>>,
    account_id: Option<String>,
}

impl AwsScanner {
    /// From its options: loads aws-config's default chain and checks region and credentials.
    pub async fn new(options: AwsOptions) -> Result<Self, InputError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(r) = &options.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(p) = &options.profile {
            loader = loader.profile_name(p);
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(InputError::new(format!(
                "no AWS region: pass --region, set AWS_REGION, or set {}",
                options.region_key
            )));
        }
        Self::from_sdk_config(&sdk, options, Endpoints::default()).await
    }

    /// From an already loaded SDK config and explicit endpoints (tests and benchmarks point these at
    /// fakes). Checks region and credentials: resolving the credentials provider once makes no AWS
    /// call for static keys, and fails here, before any listing, when there are none.
    pub async fn from_sdk_config(
        sdk: &SdkConfig,
        mut options: AwsOptions,
        endpoints: Endpoints,
    ) -> Result<Self, InputError> {
        let region = match options
            .region
            .clone()
            .or_else(|| sdk.region().map(|r| r.to_string()))
        {
            Some(r) if !r.trim().is_empty() => r,
            _ => return Err(InputError::new(
                "no AWS region: pass --region, set AWS_REGION, or set pulumi-cloud-import:region",
            )),
        };
        options.region = Some(region.clone());
        let provider = sdk.credentials_provider().ok_or_else(|| {
            InputError::new(
                "no AWS credentials: none of aws-config's default sources is configured",
            )
        })?;
        let creds = provider.provide_credentials().await.map_err(|e| {
            // The error names the sources tried, never a secret; keep it to one line.
            let text = e.to_string().replace('\n', " ");
            InputError::new(format!("no usable AWS credentials: {text}"))
        })?;
        let account_id = creds.account_id().map(|a| a.as_str().to_string());
        let who = account_id
            .clone()
            .or_else(|| options.profile.clone())
            .unwrap_or_else(|| "default".to_string());
        let sdk = sdk.to_builder().region(Region::new(region.clone())).build();
        let api = api::Api::new(&sdk, &endpoints, options.rate_limit);
        Ok(AwsScanner {
            api: Arc::new(api),
            scope: format!("{who}/{region}"),
            region,
            options,
            known_tokens: None,
            account_id,
        })
    }

    /// Restricts the scan to the tokens the installed aws-native plugin knows (from its schema);
    /// registry types with other tokens are reported as skipped, with the reason.
    pub fn with_known_tokens(mut self, tokens: HashSet<String>) -> Self {
        self.known_tokens = Some(Arc::new(tokens));
        self
    }

    /// Throttles seen so far by this scan's governor (Cloud Control and CloudFormation together).
    pub fn throttles(&self) -> u64 {
        self.api.governor.throttles()
    }

    /// A handle to read the throttle count after `discover` has consumed the scanner.
    pub fn throttle_counter(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let api = self.api.clone();
        move || api.governor.throttles()
    }
}

impl Scanner for AwsScanner {
    fn provider(&self) -> ProviderSpec {
        let mut inputs = Map::new();
        inputs.insert("region".into(), Value::String(self.region.clone()));
        ProviderSpec {
            package: Cloud::Aws.package().to_string(),
            name: format!("aws-native-{}", self.region),
            version: self.options.provider_version.clone(),
            inputs,
        }
    }

    fn scan(self: Box<Self>, out: Events) -> BoxFuture<'static, ()> {
        let cfg = scan::ScanConfig {
            region: self.region.clone(),
            scope: self.scope.clone(),
            global_mode: self.options.global_mode,
            global_region: self.options.global_region.clone(),
            list_concurrency: self.options.list_concurrency,
            known_tokens: self.known_tokens.clone(),
            account_id: self.account_id.clone(),
        };
        Box::pin(scan::run(self.api.clone(), cfg, out))
    }
}
