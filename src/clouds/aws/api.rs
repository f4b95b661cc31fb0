//! The two AWS clients a scan uses (Cloud Control for listing, the CloudFormation registry for type
//! information) and the one rate governor and retry policy every call of an account-region goes
//! through. The SDKs' own retries are disabled when the clients are built, so a throttled call is
//! paced and retried here, never failed by the SDK's client-side retry quota.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;

use super::errors::ApiError;
use crate::retry::{RateGovernor, RetryPolicy};

/// Per-service endpoint overrides (tests, private endpoints). `None` leaves the SDK's own resolution,
/// which honours `AWS_ENDPOINT_URL_CLOUDCONTROL` / `AWS_ENDPOINT_URL_CLOUDFORMATION`.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub cloudcontrol: Option<String>,
    pub cloudformation: Option<String>,
}

pub struct Api {
    pub cloudcontrol: aws_sdk_cloudcontrol::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub governor: RateGovernor,
    pub policy: RetryPolicy,
}

impl Api {
    /// Clients from a loaded SDK config, with SDK retries off and `rate_limit` requests/s to start
    /// (also the ceiling the governor climbs back to after throttles).
    pub fn new(sdk: &SdkConfig, endpoints: &Endpoints, rate_limit: f64) -> Self {
        // A hung connection must not stall a type forever: bound each attempt, and let the retry
        // policy decide about another one.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(90))
            .build();
        let mut cc = aws_sdk_cloudcontrol::config::Builder::from(sdk)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts.clone());
        if let Some(url) = &endpoints.cloudcontrol {
            cc = cc.endpoint_url(url);
        }
        let mut cfn = aws_sdk_cloudformation::config::Builder::from(sdk)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts);
        if let Some(url) = &endpoints.cloudformation {
            cfn = cfn.endpoint_url(url);
        }
        // A small burst: Cloud Control's limit is per second and a full second's burst at start
        // would be throttled as soon as the account's other callers are counted.
        let burst = (rate_limit / 5.0).clamp(1.0, 10.0);
        Api {
            cloudcontrol: aws_sdk_cloudcontrol::Client::from_conf(cc.build()),
            cloudformation: aws_sdk_cloudformation::Client::from_conf(cfn.build()),
            governor: RateGovernor::new(rate_limit, rate_limit, burst),
            policy: RetryPolicy::default(),
        }
    }

    /// Runs one API call under the governor and the retry policy.
    pub async fn call<T, F, Fut>(&self, op: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        self.policy
            .run(Some(&self.governor), ApiError::verdict, op)
            .await
    }
}
