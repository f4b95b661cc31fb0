//! Loading an AWS SDK configuration: aws-config's default chain with a profile and a region, and
//! the same with its credentials replaced by an assumed role's. Shared by the fleet (which assumes
//! a role per member account) and the EKS token maker.

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::global::DEFAULT_GLOBAL_REGION;

/// The session name of every role we assume, so CloudTrail shows who read.
pub const SESSION_NAME: &str = "pulumi-cloud-import-fleet";

/// aws-config's default chain, with `profile` and a region: the global APIs (Organizations,
/// Account) need one, so us-east-1 stands in when none is configured.
pub async fn load(profile: Option<&str>, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    // A call that never answers is retried and then reported, never waited for forever.
    loader = loader.timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(crate::http::CALL_DEADLINE)
            .build(),
    );
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return sdk
            .into_builder()
            .region(Region::new(DEFAULT_GLOBAL_REGION))
            .build();
    }
    sdk
}

/// `base` with its credentials replaced by those of `role_arn`, assumed from `base`'s (and
/// refreshed by the provider before they expire).
pub async fn assumed(base: &SdkConfig, role_arn: &str, region: Option<&str>) -> SdkConfig {
    let mut builder = AssumeRoleProvider::builder(role_arn)
        .session_name(SESSION_NAME)
        .configure(base);
    if let Some(r) = region {
        builder = builder.region(Region::new(r.to_string()));
    }
    let provider = builder.build().await;
    base.to_builder()
        .credentials_provider(
            aws_sdk_cloudcontrol::config::SharedCredentialsProvider::new(provider),
        )
        .build()
}
