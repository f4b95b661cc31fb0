//! Where named resources go: the Pulumi engine (`ReadResource`), an import file, or an NDJSON
//! inventory. The pipeline drives every sink the same way: `start` once, `accept` per resource from
//! up to `workers` tasks at once, `finish` once.

use async_trait::async_trait;

use crate::discover::{Discovered, ProviderSpec};
use crate::held::Previous;
use crate::summary::Summary;

pub mod engine;
pub mod halt;
pub mod import_file;
pub mod list;

/// A discovered resource with its Pulumi name.
#[derive(Debug, Clone)]
pub struct Named {
    pub resource: Discovered,
    pub name: String,
}

/// How a sink handled one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done. `handle` is what children pass back as their parent: a URN for the engine, a name for
    /// an import file.
    Read {
        handle: String,
    },
    Failed {
        reason: String,
    },
    /// Never read: the engine ended the update first (see [`halt`]). Counted as skipped with
    /// [`halt::NOT_READ`], not as a failure.
    NotRead,
}

#[async_trait]
pub trait Sink: Send + Sync {
    /// Prepares the sink (registers the stack and the provider, opens the file). Errors are fatal.
    async fn start(&mut self, provider: &ProviderSpec) -> anyhow::Result<()>;

    /// Handles one resource; `parent` is the handle of its parent's successful read, if any.
    async fn accept(&self, resource: &Named, parent: Option<&str>) -> Outcome;

    /// The latch the sink sets when its destination ended the run (the engine cancelled the update).
    /// Sinks that cannot be ended from outside keep the default, which never fires.
    fn halt(&self) -> halt::Halt {
        halt::Halt::default()
    }

    /// What the destination held before this run, known once `start` has run. Only a stack holds
    /// anything: the default is for outputs that are written whole (`--import`, `--list`), where
    /// a type that could not be listed keeps making the run incomplete.
    fn previous(&self) -> Previous {
        Previous::Unknown("--import and --list cannot tell".into())
    }

    /// Completes the output. `summary.is_complete()` tells whether discovery missed anything.
    async fn finish(&self, summary: &Summary) -> anyhow::Result<()>;
}
