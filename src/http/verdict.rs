//! What a failed call means for a retry: one function from the HTTP status and the cloud's error
//! code to a [`Verdict`], for every cloud. The common rule is HTTP's own; each cloud's documented
//! exceptions are listed beside it, and nowhere else.
//!
//! Common rule:
//! - `429 Too Many Requests`: throttled; wait at least the service's `Retry-After`, slow down, retry.
//! - `408 Request Timeout` and `5xx` except `501 Not Implemented` and `505 HTTP Version Not
//!   Supported` (which never change on a retry): transient, retried with backoff.
//! - No answer at all (connection refused or reset, TLS, timeout): transient ([`transport`]).
//! - Everything else, and a body that does not decode: permanent. The caller decides what a
//!   permanent 403 or 404 means for its listing (a type skipped, a scope not listed).

use std::time::Duration;

use crate::cloud::Cloud;
use crate::retry::Verdict;

/// AWS sends throttles as `400` with one of these codes (Cloud Control says `ThrottlingException`,
/// CloudFormation's query API `Throttling`; the SDKs' retry classifiers list the rest).
const AWS_THROTTLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ServiceLimitExceededException",
];

/// AWS errors that are the service's own transient fault whatever the status: Cloud Control wraps a
/// list handler's internal failure in a `4xx` with these codes.
const AWS_TRANSIENT_CODES: &[&str] = &[
    "ServiceInternalErrorException",
    "HandlerInternalFailureException",
    "NetworkFailureException",
    "InternalFailure",
    "InternalServiceError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// The verdict for an error answer. `code` is the cloud's error code (empty when it has none);
/// `retry_after` the wait the service asked for, if any.
pub fn verdict(cloud: Cloud, status: u16, code: &str, retry_after: Option<Duration>) -> Verdict {
    // A server error that says when to come back (`503 Service Unavailable` with `Retry-After`, as
    // RFC 9110 describes it) is waited for like a throttle, on every cloud: retrying sooner only
    // meets the same answer.
    if retry_after.is_some() && (500..=599).contains(&status) && !matches!(status, 501 | 505) {
        return Verdict::Throttled(retry_after);
    }
    let exception = match cloud {
        Cloud::Aws if AWS_THROTTLE_CODES.contains(&code) => Some(Verdict::Throttled(retry_after)),
        Cloud::Aws if AWS_TRANSIENT_CODES.contains(&code) => Some(Verdict::Retry),
        // OCI's SDKs retry `409 IncorrectState` (a resource between states) besides the common
        // rule: https://docs.oracle.com/iaas/Content/API/SDKDocs/javasdkconcepts.htm#javasdkconcepts_topic_Retries
        Cloud::Oci if status == 409 && code == "IncorrectState" => Some(Verdict::Retry),
        // Kubernetes: the common rule is client-go's (`429` from API Priority and Fairness with
        // `Retry-After`, `5xx` and `504 Timeout` retried). A `410 Expired` continue token is
        // permanent here: the lister resumes the list itself.
        // Azure Resource Manager: the common rule is ARM's guidance (`429` with `Retry-After`,
        // `408` and `5xx` retried).
        _ => None,
    };
    exception.unwrap_or(match status {
        429 => Verdict::Throttled(retry_after),
        408 => Verdict::Retry,
        501 | 505 => Verdict::Fail,
        500..=599 => Verdict::Retry,
        _ => Verdict::Fail,
    })
}

/// A call that got no answer (connection, TLS, timeout) is transient for every cloud.
pub fn transport() -> Verdict {
    Verdict::Retry
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Option<Duration> = Some(Duration::from_secs(3));

    #[test]
    fn a_server_error_with_retry_after_waits_like_a_throttle_on_every_cloud() {
        for cloud in Cloud::ALL {
            for (s, code) in [
                (503, ""),
                (503, "ServiceUnavailable"),
                (500, "InternalFailure"),
            ] {
                assert_eq!(
                    verdict(cloud, s, code, WAIT),
                    Verdict::Throttled(WAIT),
                    "{cloud:?} {s}"
                );
            }
            assert_eq!(verdict(cloud, 501, "", WAIT), Verdict::Fail, "{cloud:?}");
        }
    }

    #[test]
    fn the_common_rule_holds_for_every_cloud() {
        for cloud in Cloud::ALL {
            assert_eq!(verdict(cloud, 429, "", WAIT), Verdict::Throttled(WAIT));
            assert_eq!(verdict(cloud, 408, "", None), Verdict::Retry);
            for s in [500, 502, 503, 504] {
                assert_eq!(verdict(cloud, s, "", None), Verdict::Retry, "{cloud:?} {s}");
            }
            for s in [400, 401, 403, 404, 409, 410, 501, 505] {
                assert_eq!(verdict(cloud, s, "", None), Verdict::Fail, "{cloud:?} {s}");
            }
        }
    }

    #[test]
    fn documented_exceptions() {
        assert_eq!(
            verdict(Cloud::Aws, 400, "ThrottlingException", None),
            Verdict::Throttled(None)
        );
        assert_eq!(
            verdict(Cloud::Aws, 400, "Throttling", WAIT),
            Verdict::Throttled(WAIT)
        );
        assert_eq!(
            verdict(Cloud::Aws, 400, "HandlerInternalFailureException", None),
            Verdict::Retry
        );
        assert_eq!(
            verdict(Cloud::Aws, 400, "ValidationException", None),
            Verdict::Fail
        );
        assert_eq!(
            verdict(Cloud::Oci, 409, "IncorrectState", None),
            Verdict::Retry
        );
        assert_eq!(verdict(Cloud::Oci, 409, "Conflict", None), Verdict::Fail);
        assert_eq!(
            verdict(Cloud::Azure, 409, "IncorrectState", None),
            Verdict::Fail
        );
    }
}
