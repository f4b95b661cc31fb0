//! The engine ended the update: a one-way latch the engine sink sets at the first sign of it, and the
//! pipeline watches.
//!
//! Pulumi's engine ends an update (a read failed without `--continue-on-error`, Ctrl-C in `pulumi up`,
//! the engine going away) by answering every pending and later monitor call with `UNAVAILABLE`;
//! Pulumi's own SDKs stop at the first one. Once set, no further monitor call is made: listing stops,
//! queued resources are counted as not read, and the run exits 32.

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

/// How every resource that was never read because of the halt is counted (skipped, not failed: the
/// engine never ran its read).
pub const NOT_READ: &str = "not read: the update was cancelled";

#[derive(Debug, Clone, Default)]
pub struct Halt {
    token: CancellationToken,
    /// The first cause seen; later ones are the same event reaching other calls.
    cause: Arc<OnceLock<String>>,
}

impl Halt {
    /// Sets the latch; only the first cause is kept.
    pub fn halt(&self, cause: impl Into<String>) {
        let _ = self.cause.set(cause.into());
        self.token.cancel();
    }

    pub fn is_halted(&self) -> bool {
        self.token.is_cancelled()
    }

    /// What the engine answered, once halted.
    pub fn cause(&self) -> Option<&str> {
        self.cause.get().map(String::as_str)
    }

    /// Resolves when the latch is set.
    pub async fn halted(&self) {
        self.token.cancelled().await
    }
}
