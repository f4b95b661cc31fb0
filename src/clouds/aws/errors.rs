//! What an AWS API error means for a scan: throttling is retried under the rate governor, a 5xx or a
//! transport failure is retried a bounded number of times, a type Cloud Control cannot list or the
//! caller may not list is skipped with its reason, and anything else ends the type as incomplete.
//!
//! Errors from both SDK clients are first turned into one owned [`ApiError`] (code, message, HTTP
//! status) so the retry helper, the lister and the scan all classify the same way.

use std::fmt;

use aws_sdk_cloudcontrol::error::{ProvideErrorMetadata, SdkError};

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
                }
            }
            SdkError::ResponseError(ctx) => {
                let status = ctx.raw().status().as_u16();
                ApiError {
                    code: None,
                    message: "unreadable response".to_string(),
                    status: Some(status),
                    class: Class::Transient,
                }
            }
            // Timeouts and dispatch (connection) failures never reached the service's logic.
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ApiError {
                code: None,
                message: describe_chain(err),
                status: None,
                class: Class::Transient,
            },
            // Construction failures are our bug or bad config, not worth retrying.
            _ => ApiError {
                code: None,
                message: describe_chain(err),
                status: None,
                class: Class::Other,
            },
        }
    }

    /// The retry helper's view of this error.
    pub fn verdict(&self) -> Verdict {
        match self.class {
            Class::Throttled => Verdict::Throttled(None),
            Class::Transient => Verdict::Retry,
            _ => Verdict::Fail,
        }
    }
}

/// Error code (JSON `__type` or query `<Code>`) and status -> class.
pub fn classify(code: Option<&str>, status: Option<u16>) -> Class {
    let code = code.unwrap_or("");
    match code {
        // Cloud Control says ThrottlingException; CloudFormation's query API says Throttling.
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ServiceLimitExceededException" => Class::Throttled,
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
        // The service's own internal errors, and a handler failing inside it, are transient.
        "ServiceInternalErrorException"
        | "HandlerInternalFailureException"
        | "NetworkFailureException"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "InternalServiceError" => Class::Transient,
        _ => match status {
            Some(s) if s >= 500 => Class::Transient,
            Some(429) => Class::Throttled,
            _ => Class::Other,
        },
    }
}

fn says_throttled(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("rate exceeded") || m.contains("throttl") || m.contains("too many requests")
}

/// The error and its sources on one line (the SDK's top-level Display is often just "dispatch
/// failure").
fn describe_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
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
        assert!(says_throttled(
            "Rate exceeded (Service: Ec2, Status Code: 400)"
        ));
        assert!(!says_throttled("Access denied"));
    }
}
