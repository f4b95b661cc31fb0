//! What an AWS API error means for a scan: throttling is retried under the rate governor, a 5xx or a
//! transport failure is retried a bounded number of times, a type Cloud Control cannot list or the
//! caller may not list is skipped with its reason, and anything else ends the type as incomplete.
//!
//! Errors from both SDK clients are first turned into one owned [`ApiError`] (code, message, HTTP
//! status) so the retry helper, the lister and the scan all classify the same way.

use std::fmt;

use aws_sdk_cloudcontrol::error::{ProvideErrorMetadata, SdkError};

use crate::cloud::Cloud;
use crate::http::verdict::verdict;
use crate::retry::Verdict;

/// How a failed call is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The service asked us to slow down.
    Throttled,
    /// 5xx, timeouts, connection failures: worth retrying.
    Transient,
    /// The type has no list handler or is not known to Cloud Control in this region.
    Unsupported,
    /// The caller's credentials may not list this type.
    AccessDenied,
    /// The list handler rejected the request as made (for example it needs properties in a
    /// `ResourceModel`).
    InvalidRequest,
    /// The resource a call names is gone (a parent deleted between listing it and its children).
    NotFound,
    /// Any other failure: not retried, and not known to be harmless.
    Other,
}

/// One failed AWS call, reduced to what classification and reports need. Never holds credentials:
/// only the service's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Option<String>,
    pub message: String,
    pub status: Option<u16>,
    pub class: Class,
    /// The service's `Retry-After`, when it sent one.
    pub retry_after: Option<std::time::Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, self.status) {
            (Some(code), Some(status)) => write!(f, "{code} (HTTP {status}): {}", self.message),
            (Some(code), None) => write!(f, "{code}: {}", self.message),
            (None, Some(status)) => write!(f, "HTTP {status}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl ApiError {
    /// An error raised by the scanner itself (a repeated page token, a malformed answer).
    pub fn local(message: impl Into<String>) -> Self {
        ApiError {
            code: None,
            message: message.into(),
            status: None,
            class: Class::Other,
            retry_after: None,
        }
    }

    /// Classifies an error from either SDK client (both share the smithy `SdkError`).
    pub fn from_sdk<E>(err: &SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err {
            SdkError::ServiceError(ctx) => {
                let status = ctx.raw().status().as_u16();
                let code = ctx.err().code().map(str::to_string);
                let message = ctx
                    .err()
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| "no message".to_string());
                let retry_after = ctx
                    .raw()
                    .headers()
                    .get("retry-after")
                    .and_then(crate::http::retry_after::parse);
                let mut class = classify(code.as_deref(), Some(status));
                // A list handler throttled by the service behind it reports that through a generic
                // handler error whose message says so.
                if matches!(class, Class::Other | Class::Transient) && says_throttled(&message) {
                    class = Class::Throttled;
                }
                ApiError {
                    code,
                    message,
                    status: Some(status),
                    class,
                    retry_after,
                }
            }
            SdkError::ResponseError(ctx) => {
                let status = ctx.raw().status().as_u16();
                ApiError {
                    code: None,
                    message: "unreadable response".to_string(),
                    status: Some(status),
                    class: Class::Transient,
                    retry_after: None,
                }
            }
            // Timeouts and dispatch (connection) failures never reached the service's logic.
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ApiError {
                code: None,
                message: crate::oneline::chain(err),
                status: None,
                class: Class::Transient,
                retry_after: None,
            },
            // Construction failures are our bug or bad config, not worth retrying.
            _ => ApiError {
                code: None,
                message: crate::oneline::chain(err),
                status: None,
                class: Class::Other,
                retry_after: None,
            },
        }
    }

    /// The retry helper's view of this error.
    pub fn verdict(&self) -> Verdict {
        match self.class {
            Class::Throttled => Verdict::Throttled(self.retry_after),
            // A transient fault that says when to come back (a 503 with `Retry-After`) is waited
            // for like a throttle: retrying sooner only meets the same answer.
            Class::Transient if self.retry_after.is_some() => Verdict::Throttled(self.retry_after),
            Class::Transient => Verdict::Retry,
            _ => Verdict::Fail,
        }
    }
}

/// Error code (JSON `__type` or query `<Code>`) and status -> class. Whether an error is a throttle
/// or transient is the shared HTTP verdict's (`http::verdict`, where AWS's codes are listed); the
/// other classes say what a permanent error means for the scan.
pub fn classify(code: Option<&str>, status: Option<u16>) -> Class {
    let code = code.unwrap_or("");
    match verdict(Cloud::Aws, status.unwrap_or(0), code, None) {
        Verdict::Throttled(_) => return Class::Throttled,
        Verdict::Retry => return Class::Transient,
        Verdict::Fail => {}
    }
    match code {
        "UnsupportedActionException" | "TypeNotFoundException" | "PrivateTypeException" => {
            Class::Unsupported
        }
        "AccessDeniedException"
        | "AccessDenied"
        | "UnauthorizedOperation"
        | "InvalidCredentialsException" => Class::AccessDenied,
        "InvalidRequestException" | "ValidationError" | "ValidationException" => {
            Class::InvalidRequest
        }
        "ResourceNotFoundException" => Class::NotFound,
        _ => Class::Other,
    }
}

fn says_throttled(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("rate exceeded") || m.contains("throttl") || m.contains("too many requests")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_classes() {
        assert_eq!(
            classify(Some("ThrottlingException"), Some(400)),
            Class::Throttled
        );
        assert_eq!(classify(Some("Throttling"), Some(400)), Class::Throttled);
        assert_eq!(
            classify(Some("UnsupportedActionException"), Some(400)),
            Class::Unsupported
        );
        assert_eq!(
            classify(Some("TypeNotFoundException"), Some(404)),
            Class::Unsupported
        );
        assert_eq!(
            classify(Some("AccessDeniedException"), Some(403)),
            Class::AccessDenied
        );
        assert_eq!(classify(None, Some(503)), Class::Transient);
        assert_eq!(classify(Some("Whatever"), Some(500)), Class::Transient);
        assert_eq!(classify(Some("Whatever"), Some(400)), Class::Other);
        assert_eq!(ApiError::local("x").verdict(), Verdict::Fail);
        let wait = Some(std::time::Duration::from_secs(7));
        let unavailable = ApiError {
            status: Some(503),
            class: Class::Transient,
            retry_after: wait,
            ..ApiError::local("Service Unavailable")
        };
        assert_eq!(unavailable.verdict(), Verdict::Throttled(wait));
        let plain = ApiError {
            retry_after: None,
            ..unavailable
        };
        assert_eq!(plain.verdict(), Verdict::Retry);
        assert!(says_throttled(
            "Rate exceeded (Service: Ec2, Status Code: 400)"
        ));
        assert!(!says_throttled("Access denied"));
    }
}
