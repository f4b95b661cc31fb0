//! The Azure Resource Manager REST client: GETs through azure_core's pipeline with a bearer token
//! from the chosen credential, list paging by absolute `nextLink`, and throttling.
//!
//! Throttling follows ARM's documented model: a token bucket per subscription and principal (250
//! reads burst, refilled at about 25/s), `429` with `Retry-After` when it is empty, and the
//! remaining budget in `x-ms-ratelimit-remaining-subscription-reads` on every answer. Requests go
//! through one shared [`RateGovernor`] started below that rate; a low remaining budget pauses it
//! before ARM has to say 429. azure_core's own retry policy is switched off: retries are
//! [`RetryPolicy`]'s with the shared HTTP verdict (`http::verdict`), so throttles, 408, 5xx and
//! transport errors are retried in one place, the way every other cloud's are. A credential that
//! cannot get a token is not retried here: azure_identity's own pipeline already retries the token
//! endpoint's transient faults. List paging follows `nextLink` through the shared repeated-token
//! guard.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::HeaderName;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, Request, RetryOptions, Url,
};
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::Value;

use crate::cloud::Cloud;
use crate::http::paging::{PageTokens, RepeatedToken};
use crate::http::verdict::{transport, verdict};
use crate::http::ServiceError;
use crate::retry::{RateGovernor, RetryPolicy, Verdict};

const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");
const REMAINING_READS: HeaderName =
    HeaderName::from_static("x-ms-ratelimit-remaining-subscription-reads");

/// ARM's documented per-principal read bucket and refill rate.
pub const ARM_READ_BURST: f64 = 250.0;
pub const ARM_READ_RATE: f64 = 25.0;
/// Our ceiling: below ARM's refill rate, so a long scan does not drain the bucket and other tools
/// using the same principal keep some headroom.
const MAX_RATE: f64 = 22.0;
/// Where the governor starts.
const START_RATE: f64 = 20.0;
/// Below this many remaining reads the governor pauses until the bucket has refilled a little.
const LOW_REMAINING: f64 = 25.0;

/// Why one ARM request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmError {
    /// ARM answered with an error status.
    Status(ServiceError),
    /// No answer (connection, TLS, timeout).
    Transport(String),
    /// No token: the credential failed.
    Credential(String),
    /// The body was not the JSON expected.
    Decode(String),
    /// A `nextLink` pointing elsewhere than Resource Manager: not followed, so the bearer token
    /// never leaves ARM.
    ForeignLink(String),
    /// ARM returned a `nextLink` it had already returned for this list.
    Repeated(RepeatedToken),
}

impl std::fmt::Display for ArmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArmError::Status(e) => e.fmt(f),
            ArmError::Repeated(e) => e.fmt(f),
            ArmError::Transport(m) => write!(f, "request failed: {m}"),
            ArmError::Credential(m) => write!(f, "no token: {m}"),
            ArmError::Decode(m) => write!(f, "unexpected answer: {m}"),
            ArmError::ForeignLink(host) => write!(f, "nextLink points to another host ({host})"),
        }
    }
}

impl ArmError {
    /// How [`RetryPolicy`] treats it.
    pub fn verdict(&self) -> Verdict {
        match self {
            ArmError::Status(e) => verdict(Cloud::Azure, e.status, &e.code, e.retry_after),
            ArmError::Transport(_) => transport(),
            ArmError::Credential(_)
            | ArmError::Decode(_)
            | ArmError::ForeignLink(_)
            | ArmError::Repeated(_) => Verdict::Fail,
        }
    }

    /// The HTTP status, when ARM answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ArmError::Status(e) => Some(e.status),
            _ => None,
        }
    }
}

/// One page of a list answer.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Value>,
    pub next: Option<Url>,
}

/// An ARM client for one subscription's reads.
#[derive(Clone)]
pub struct Arm {
    pipeline: Pipeline,
    endpoint: Url,
    governor: Arc<RateGovernor>,
    policy: RetryPolicy,
}

impl Arm {
    /// `endpoint` is Resource Manager's base URL; `scope` the token scope for it.
    pub fn new(
        credential: Arc<dyn TokenCredential>,
        scope: &str,
        endpoint: Url,
        client_options: ClientOptions,
        policy: RetryPolicy,
    ) -> Arm {
        let mut options = client_options;
        options.retry = RetryOptions::none();
        let auth = BearerTokenAuthorizationPolicy::new(credential, [scope.to_string()]);
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            Vec::new(),
            vec![Arc::new(auth)],
            None,
        );
        Arm {
            pipeline,
            endpoint,
            governor: Arc::new(RateGovernor::new(START_RATE, MAX_RATE, ARM_READ_BURST)),
            policy,
        }
    }

    pub fn governor(&self) -> &RateGovernor {
        &self.governor
    }

    /// `path` (starting with `/`) with `query` pairs, on Resource Manager.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.endpoint.clone();
        url.set_path(path);
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    /// One GET, retried by the policy, returning the JSON body.
    pub async fn get(&self, url: &Url) -> Result<Value, ArmError> {
        self.call(url, Method::Get).await
    }

    /// One POST of a read action (`listClusterUserCredential`: ARM models some reads as POSTs
    /// so that their answers are not cached), retried by the policy. Never a write: callers pass
    /// only `.../list*` actions.
    pub async fn post_read_action(&self, url: &Url) -> Result<Value, ArmError> {
        let action = url.path().rsplit('/').next().unwrap_or("");
        if !action.to_ascii_lowercase().starts_with("list") {
            return Err(ArmError::Decode(format!(
                "refusing to POST {action:?}: only list* read actions are called"
            )));
        }
        self.call(url, Method::Post).await
    }

    async fn call(&self, url: &Url, method: Method) -> Result<Value, ArmError> {
        if url.origin() != self.endpoint.origin() {
            return Err(ArmError::ForeignLink(
                url.host_str().unwrap_or("none").to_string(),
            ));
        }
        self.policy
            .run(Some(&self.governor), ArmError::verdict, || {
                self.call_once(url, method)
            })
            .await
    }

    async fn call_once(&self, url: &Url, method: Method) -> Result<Value, ArmError> {
        let mut request = Request::new(url.clone(), method);
        let ctx = Context::new();
        let sent = self.pipeline.send(
            &ctx,
            &mut request,
            Some(PipelineSendOptions {
                skip_checks: true,
                ..Default::default()
            }),
        );
        let response = tokio::time::timeout(crate::http::CALL_DEADLINE, sent)
            .await
            .map_err(|_| {
                ArmError::Transport(format!(
                    "no answer within {} s",
                    crate::http::CALL_DEADLINE.as_secs()
                ))
            })?
            .map_err(|e| {
                let text = first_line(&e.to_string());
                if matches!(e.kind(), azure_core::error::ErrorKind::Credential) {
                    ArmError::Credential(text)
                } else {
                    ArmError::Transport(text)
                }
            })?;
        let status = u16::from(response.status());
        let headers = response.headers();
        if let Some(pause) = headers
            .get_optional_str(&REMAINING_READS)
            .and_then(pacing_pause)
        {
            self.governor.on_throttle(Some(pause));
        }
        let retry_after = headers
            .get_optional_str(&RETRY_AFTER)
            .and_then(crate::http::retry_after::parse);
        let body = response.body().as_ref();
        if !(200..300).contains(&status) {
            let (code, message) = error_body(body);
            return Err(ArmError::Status(ServiceError {
                status,
                code,
                message,
                retry_after,
            }));
        }
        serde_json::from_slice(body).map_err(|e| ArmError::Decode(e.to_string()))
    }

    /// A list, page by page, following absolute `nextLink`s. An error ends the stream; a
    /// `nextLink` seen before in this list is an error.
    pub fn pages(&self, first: Url) -> BoxStream<'static, Result<Page, ArmError>> {
        let arm = self.clone();
        let start = (Some(first), PageTokens::new());
        stream::unfold(start, move |(next, mut tokens)| {
            let arm = arm.clone();
            async move {
                let url = next?;
                let page = match arm.get(&url).await {
                    Ok(body) => parse_page(body),
                    Err(e) => return Some((Err(e), (None, tokens))),
                };
                let page = page.and_then(|p| match tokens.next(p.next.as_ref().map(Url::as_str)) {
                    Ok(_) => Ok(p),
                    Err(repeated) => Err(ArmError::Repeated(repeated)),
                });
                let next = page.as_ref().ok().and_then(|p| p.next.clone());
                Some((page, (next, tokens)))
            }
        })
        .boxed()
    }
}

fn parse_page(body: Value) -> Result<Page, ArmError> {
    let Value::Object(mut map) = body else {
        return Err(ArmError::Decode("list answer is not an object".into()));
    };
    let items = match map.remove("value") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(ArmError::Decode("`value` is not an array".into())),
    };
    let next = match map.get("nextLink").and_then(Value::as_str) {
        Some(link) if !link.is_empty() => {
            Some(Url::parse(link).map_err(|e| ArmError::Decode(format!("bad nextLink: {e}")))?)
        }
        _ => None,
    };
    Ok(Page { items, next })
}

/// ARM's error shape: `{"error": {"code": ..., "message": ...}}`.
fn error_body(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let e = v.get("error").unwrap_or(&v);
    let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    (field("code"), field("message"))
}

/// How long to hold requests back given ARM's `x-ms-ratelimit-remaining-subscription-reads`:
/// nothing while the bucket is comfortably full, else long enough for it to refill to
/// [`LOW_REMAINING`] at ARM's documented rate, so we slow down before ARM has to answer 429.
fn pacing_pause(remaining: &str) -> Option<Duration> {
    let remaining = remaining.trim().parse::<f64>().ok()?;
    if remaining >= LOW_REMAINING {
        return None;
    }
    let wait = (LOW_REMAINING - remaining.max(0.0)).max(1.0) / ARM_READ_RATE;
    Some(Duration::from_secs_f64(wait))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let s = |status| {
            ArmError::Status(ServiceError {
                status,
                code: String::new(),
                message: String::new(),
                retry_after: Some(Duration::from_secs(3)),
            })
        };
        assert_eq!(
            s(429).verdict(),
            Verdict::Throttled(Some(Duration::from_secs(3)))
        );
        // A 503 that says when to come back is waited for like a 429 (issue 17).
        assert_eq!(
            s(503).verdict(),
            Verdict::Throttled(Some(Duration::from_secs(3)))
        );
        let bare = ArmError::Status(ServiceError {
            status: 503,
            code: String::new(),
            message: String::new(),
            retry_after: None,
        });
        assert_eq!(bare.verdict(), Verdict::Retry);
        assert_eq!(s(403).verdict(), Verdict::Fail);
        assert_eq!(s(408).verdict(), Verdict::Retry);
        assert_eq!(ArmError::Transport("x".into()).verdict(), Verdict::Retry);
        assert_eq!(ArmError::Decode("x".into()).verdict(), Verdict::Fail);
    }

    #[test]
    fn low_remaining_reads_pause_until_the_bucket_refills() {
        assert_eq!(pacing_pause("249"), None);
        assert_eq!(pacing_pause("25"), None);
        assert_eq!(pacing_pause("0"), Some(Duration::from_secs(1)));
        assert_eq!(pacing_pause("20"), Some(Duration::from_millis(200)));
        assert_eq!(pacing_pause("n/a"), None);
    }

    #[test]
    fn pages_parse() {
        let p = parse_page(
            serde_json::json!({"value": [1, 2], "nextLink": "https://management.azure.com/x?a=1"}),
        )
        .unwrap();
        assert_eq!(p.items.len(), 2);
        assert_eq!(
            p.next.unwrap().as_str(),
            "https://management.azure.com/x?a=1"
        );
        assert!(parse_page(serde_json::json!({"value": 3})).is_err());
    }
}
