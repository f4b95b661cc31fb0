//! The EKS bearer token, made in-process: what `aws eks get-token` prints, without the `aws` binary.
//!
//! An EKS cluster authenticates a bearer token through aws-iam-authenticator, which expects
//! `k8s-aws-v1.` followed by the URL-safe, unpadded base64 of a presigned STS `GetCallerIdentity`
//! URL. The URL is signed with SigV4 in its query (`X-Amz-Expires=60`, a value the authenticator
//! only range-checks), with the header `x-k8s-aws-id: <cluster name>` among the signed ones; the
//! authenticator replays the URL against STS with that header, so only a token made for this
//! cluster by these credentials is accepted, for 15 minutes after its `X-Amz-Date`. We say it
//! expires after 14, as the authenticator's own generator does, so a client refreshes in time.
//!
//! Signing is aws-sigv4's (the SDK's own signer); only the URL around it is assembled here, because
//! the STS crate generates no presigner for `GetCallerIdentity`.

use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context, Result};
use aws_config::SdkConfig;
use aws_sdk_cloudcontrol::config::ProvideCredentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::service_config::ServiceConfigKey;
use base64::Engine as _;

pub use crate::clouds::bearer::BearerToken;

/// The prefix aws-iam-authenticator recognises.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header naming the cluster the token is for.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// `X-Amz-Expires`: aws-iam-authenticator accepts 0..=900 and ignores it otherwise.
const PRESIGN_SECONDS: u64 = 60;
/// How long the authenticator honours a token after its `X-Amz-Date`, less a minute of slack.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// A token for `cluster` (its name, which is what aws-iam-authenticator is configured with) in
/// `region`, signed with `sdk`'s credentials at `now`.
pub async fn token(
    sdk: &SdkConfig,
    cluster: &str,
    region: &str,
    now: SystemTime,
) -> Result<BearerToken> {
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| anyhow!("no AWS credentials to sign an EKS token with"))?;
    let credentials = provider.provide_credentials().await.map_err(|e| {
        anyhow!(
            "no AWS credentials to sign an EKS token with: {}",
            DisplayErrorContext(&e).to_string().replace('\n', " ")
        )
    })?;
    let identity: Identity = credentials.into();
    let url = presigned_url(&identity, &sts_endpoint(sdk, region), cluster, region, now)?;
    Ok(BearerToken {
        value: format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url.as_bytes())
        ),
        expires: now + TOKEN_LIFETIME,
    })
}

/// The STS endpoint the token's URL names: the one the SDK's STS client would call, that is the
/// service's endpoint override (`AWS_ENDPOINT_URL_STS` or the profile's `services` section), then
/// the global one (`AWS_ENDPOINT_URL`, `endpoint_url`), else the region's own endpoint, which is
/// what current `aws eks get-token` signs for.
pub fn sts_endpoint(sdk: &SdkConfig, region: &str) -> String {
    // The key the generated STS client looks up (service id `STS`).
    let key = ServiceConfigKey::builder()
        .service_id("STS")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("every field is set");
    let overridden = sdk
        .service_config()
        .and_then(|c| c.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_string));
    if let Some(url) = overridden.filter(|u| !u.is_empty()) {
        return url.trim_end_matches('/').to_string();
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sts.{region}.{suffix}")
}

/// `GET <endpoint>/?Action=GetCallerIdentity&Version=2011-06-15` presigned in its query.
pub fn presigned_url(
    identity: &Identity,
    endpoint: &str,
    cluster: &str,
    region: &str,
    now: SystemTime,
) -> Result<String> {
    let base = format!("{endpoint}/?Action=GetCallerIdentity&Version=2011-06-15");
    let parsed = url::Url::parse(&base).with_context(|| format!("STS endpoint {endpoint:?}"))?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err(anyhow!("STS endpoint {endpoint:?} has no host")),
    };
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(PRESIGN_SECONDS));
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| anyhow!("signing an EKS token: {e}"))?
        .into();
    let headers = [("host", host.as_str()), (CLUSTER_ID_HEADER, cluster)];
    let signable = SignableRequest::new(
        "GET",
        base.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| anyhow!("signing an EKS token: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| anyhow!("signing an EKS token: {e}"))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(base.as_str())
        .body(())
        .map_err(|e| anyhow!("STS endpoint {endpoint:?}: {e}"))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request.uri().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    fn identity(session: Option<&str>) -> Identity {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session.map(str::to_string),
            None,
            "test",
        )
        .into()
    }

    fn query(url: &str) -> std::collections::BTreeMap<String, String> {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn the_url_is_a_presigned_get_caller_identity_naming_the_cluster() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let url = presigned_url(
            &identity(Some("tok+en/with=chars")),
            "https://sts.eu-west-1.amazonaws.com",
            "prod",
            "eu-west-1",
            at,
        )
        .unwrap();
        assert!(
            url.starts_with("https://sts.eu-west-1.amazonaws.com/?"),
            "{url}"
        );
        let q = query(&url);
        assert_eq!(q["Action"], "GetCallerIdentity");
        assert_eq!(q["Version"], "2011-06-15");
        assert_eq!(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(q["X-Amz-Expires"], "60");
        assert_eq!(q["X-Amz-Date"], "20231114T221320Z");
        assert_eq!(
            q["X-Amz-Credential"],
            "AKIDEXAMPLE/20231114/eu-west-1/sts/aws4_request"
        );
        assert_eq!(q["X-Amz-SignedHeaders"], "host;x-k8s-aws-id");
        // A session token full of characters a query must escape survives the round trip.
        assert_eq!(q["X-Amz-Security-Token"], "tok+en/with=chars");
        assert_eq!(q["X-Amz-Signature"].len(), 64);
        // The cluster is signed, not sent: a token for another cluster signs differently.
        let other = presigned_url(
            &identity(Some("tok+en/with=chars")),
            "https://sts.eu-west-1.amazonaws.com",
            "staging",
            "eu-west-1",
            at,
        )
        .unwrap();
        assert_ne!(query(&other)["X-Amz-Signature"], q["X-Amz-Signature"]);
        assert!(!url.contains("prod"), "{url}");
    }

    #[tokio::test]
    async fn the_token_is_the_prefixed_unpadded_url_safe_base64_of_the_url() {
        let sdk =
            SdkConfig::builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(
                        Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"),
                    ),
                )
                .endpoint_url("http://127.0.0.1:9")
                .build();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = token(&sdk, "prod", "us-east-1", at).await.unwrap();
        let encoded = t.value.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!encoded.contains('=') && !encoded.contains('+') && !encoded.contains('/'));
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:9/?Action=GetCallerIdentity"),
            "{url}"
        );
        assert_eq!(t.expires, at + TOKEN_LIFETIME);
    }

    #[test]
    fn the_default_endpoint_is_the_regions_own() {
        // A config without overrides (no environment or profile is read by a built config).
        let sdk = SdkConfig::builder().build();
        assert_eq!(
            sts_endpoint(&sdk, "ap-south-1"),
            "https://sts.ap-south-1.amazonaws.com"
        );
        assert_eq!(
            sts_endpoint(&sdk, "cn-north-1"),
            "https://sts.cn-north-1.amazonaws.com.cn"
        );
        let sdk = SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:9/")
            .build();
        assert_eq!(sts_endpoint(&sdk, "ap-south-1"), "http://127.0.0.1:9");
    }
}
