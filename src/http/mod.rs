//! The one HTTP layer every cloud's client shares: what an answer's status (and the cloud's error
//! code) means for a retry ([`verdict`]), how long a `Retry-After` asks us to wait ([`retry_after`]),
//! the page-token guard every pager uses ([`paging`]), and the one-line form of a service's error
//! ([`ServiceError`]). A cloud module only extracts status, code, message and headers from its own
//! client's types; it never decides these itself.

use std::fmt;
use std::time::Duration;

pub mod paging;
pub mod retry_after;
pub mod verdict;

/// The longest one listing call of AWS, Azure or OCI may take (Kubernetes lists take the run's
/// `readTimeout`). A call past it counts as no answer: transient, retried by the shared policy, and
/// in the end a scan that is incomplete, never one that hangs.
pub const CALL_DEADLINE: Duration = Duration::from_secs(120);

/// A service's error answer, reduced to what a user needs: shown as one line, `HTTP 500
/// InternalError: etcdserver: request timed out`, never as a debug dump of the client's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub status: u16,
    /// The cloud's own error code (`ThrottlingException`, `Forbidden`, `NotAuthorizedOrNotFound`).
    pub code: String,
    /// The service's message; only its first line is shown.
    pub message: String,
    /// The wait the service asked for (`Retry-After`, or the cloud's equivalent).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        let message = self.message.lines().find(|l| !l.trim().is_empty());
        if let Some(m) = message {
            write!(f, ": {}", m.trim())?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_clean_line() {
        let e = ServiceError {
            status: 500,
            code: "InternalError".into(),
            message: "Internal error occurred: etcdserver: request timed out\nat line 2".into(),
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "HTTP 500 InternalError: Internal error occurred: etcdserver: request timed out"
        );
        let bare = ServiceError {
            code: String::new(),
            message: String::new(),
            ..e
        };
        assert_eq!(bare.to_string(), "HTTP 500");
    }
}
