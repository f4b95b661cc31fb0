//! The pipeline: pulls scan events, filters and names resources, and hands them to the sink with at
//! most `workers` in flight, the pool kept full while work remains.
//!
//! Backpressure: a worker permit is taken *before* the next event is pulled, so discovery never runs
//! more than `workers` resources ahead of the sink and memory stays bounded however large the scope.
//! Parents (resources other resources name as their parent) are remembered until the run ends, and a
//! child's read waits for its parent's read to finish; only parents are remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::discover::{ResourceKey, ScanEvent};
use crate::filter::TypeFilter;
use crate::naming::{Namer, Unnamed};
use crate::report::Reporter;
use crate::sink::{Named, Outcome, Sink};
use crate::summary::{End, Summary};

/// How often the progress line is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

pub struct Pipeline {
    pub workers: usize,
    pub filter: TypeFilter,
    pub sink: Arc<dyn Sink>,
    pub reporter: Arc<Reporter>,
    pub summary: Arc<Mutex<Summary>>,
    /// On cancellation, how long in-flight work may still finish before it is abandoned.
    pub grace: Duration,
}

/// How a parent's read ended, as seen by its children.
#[derive(Debug, Clone, PartialEq)]
enum ParentState {
    Pending,
    Done(Option<String>),
}

/// What a child knows about its parent when it is queued.
enum ParentLink {
    Wait(watch::Receiver<ParentState>),
    /// The parent was never queued (filtered out, skipped or not discovered).
    Missing,
}

impl Pipeline {
    /// Runs to the end of `events`, or until `shutdown` fires. Returns true when it was cancelled.
    pub async fn run(
        &self,
        mut events: BoxStream<'static, ScanEvent>,
        shutdown: CancellationToken,
    ) -> bool {
        let permits = Arc::new(Semaphore::new(self.workers));
        let mut tasks = JoinSet::new();
        let mut namer = Namer::new();
        let mut parents: HashMap<ResourceKey, watch::Receiver<ParentState>> = HashMap::new();
        let scan_status = Arc::new(Mutex::new(String::new()));
        let ticker = self.spawn_progress(scan_status.clone());
        let mut cancelled = false;

        loop {
            let permit = tokio::select! {
                biased;
                _ = shutdown.cancelled() => { cancelled = true; break }
                p = permits.clone().acquire_owned() => p.expect("semaphore is never closed"),
            };
            let event = tokio::select! {
                biased;
                _ = shutdown.cancelled() => { cancelled = true; break }
                e = events.next() => e,
            };
            let Some(event) = event else { break };
            while let Some(done) = tasks.try_join_next() {
                surface_panic(done);
            }
            let d = match event {
                ScanEvent::Found(d) => d,
                ScanEvent::Skipped {
                    token,
                    cloud_type,
                    reason,
                    ..
                } => {
                    // A resource that could not be mapped has no token: count it under its cloud type.
                    let token = if token.is_empty() { cloud_type } else { token };
                    let mut s = self.summary.lock().expect("summary lock");
                    s.discovered(&token);
                    s.ended(&token, End::Skipped, Some(&reason));
                    continue;
                }
                ScanEvent::TypeSkipped { cloud_type, reason } => {
                    // Warned about at the end, grouped by reason: a region's ~100 global AWS types
                    // share one reason and deserve one line.
                    self.summary
                        .lock()
                        .expect("summary lock")
                        .types_skipped
                        .push((cloud_type, reason));
                    continue;
                }
                ScanEvent::Incomplete { what, reason } => {
                    self.reporter
                        .warn(&format!("could not list {what}: {reason}"))
                        .await;
                    self.summary
                        .lock()
                        .expect("summary lock")
                        .incomplete
                        .push((what, reason));
                    continue;
                }
                ScanEvent::Progress(msg) => {
                    *scan_status.lock().expect("status lock") = msg;
                    continue;
                }
            };

            let skip = {
                let mut s = self.summary.lock().expect("summary lock");
                s.discovered(&d.token);
                let reason = if !self.filter.allows(&d.token) {
                    Some("excluded by the include/exclude filters")
                } else if d.id.is_empty() {
                    Some("the cloud listed it without an id")
                } else {
                    None
                };
                if let Some(r) = reason {
                    s.ended(&d.token, End::Skipped, Some(r));
                }
                reason.is_some()
            };
            if skip {
                continue;
            }
            let name = match namer.name(&d) {
                Ok(n) => n,
                Err(Unnamed::Duplicate) => {
                    let mut s = self.summary.lock().expect("summary lock");
                    s.ended(
                        &d.token,
                        End::Skipped,
                        Some("listed twice: already imported under this type and id"),
                    );
                    continue;
                }
            };
            let parent = d.parent.as_ref().map(|k| match parents.get(k) {
                Some(rx) => ParentLink::Wait(rx.clone()),
                None => ParentLink::Missing,
            });
            let notify = d.is_parent.then(|| {
                let (tx, rx) = watch::channel(ParentState::Pending);
                parents.insert(d.key(), rx);
                tx
            });

            let sink = self.sink.clone();
            let reporter = self.reporter.clone();
            let summary = self.summary.clone();
            let named = Named { resource: d, name };
            tasks.spawn(async move {
                let mut ledger = Settle {
                    summary: summary.clone(),
                    token: named.resource.token.clone(),
                    settled: false,
                };
                let parent_handle = match parent {
                    // No parent, or one that was never queued (filtered out or skipped on
                    // purpose): the stack is the parent.
                    None | Some(ParentLink::Missing) => None,
                    Some(ParentLink::Wait(rx)) => {
                        let handle = wait_for_parent(rx).await;
                        if handle.is_none() {
                            summary.lock().expect("summary lock").parent_fallbacks += 1;
                        }
                        handle
                    }
                };
                let outcome = sink.accept(&named, parent_handle.as_deref()).await;
                let token = &named.resource.token;
                let handle = match outcome {
                    Outcome::Read { handle } => {
                        ledger.settle(End::Read, None);
                        Some(handle)
                    }
                    Outcome::Failed { reason } => {
                        ledger.settle(End::Failed, Some(&reason));
                        let msg = format!(
                            "reading {token} {} failed: {reason} (further failures of this type are only counted in the summary)",
                            named.resource.id
                        );
                        reporter.warn_type_once(token, &msg).await;
                        None
                    }
                };
                if let Some(tx) = notify {
                    let _ = tx.send(ParentState::Done(handle));
                }
                drop(permit);
            });
        }

        if cancelled {
            // The engine tears a failed deployment down with SIGINT while reads hang; give in-flight
            // reads a moment, then abandon them (they are counted as failed by `Settle`).
            let drain = async {
                while let Some(done) = tasks.join_next().await {
                    surface_panic(done);
                }
            };
            if tokio::time::timeout(self.grace, drain).await.is_err() {
                tasks.shutdown().await;
            }
        } else {
            while let Some(done) = tasks.join_next().await {
                surface_panic(done);
            }
        }
        ticker.abort();
        cancelled
    }

    fn spawn_progress(&self, scan_status: Arc<Mutex<String>>) -> tokio::task::JoinHandle<()> {
        let reporter = self.reporter.clone();
        let summary = self.summary.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PROGRESS_EVERY);
            loop {
                every.tick().await;
                let line = summary.lock().expect("summary lock").line();
                let status = scan_status.lock().expect("status lock").clone();
                let msg = if status.is_empty() {
                    line
                } else {
                    format!("{status}; {line}")
                };
                reporter.progress(&msg).await;
            }
        })
    }
}

/// The parent's handle once its read has ended, `None` if it failed or was abandoned.
async fn wait_for_parent(mut rx: watch::Receiver<ParentState>) -> Option<String> {
    let state = match rx.wait_for(|s| *s != ParentState::Pending).await {
        Ok(state) => state.clone(),
        // The parent's task was abandoned.
        Err(_) => return None,
    };
    match state {
        ParentState::Done(handle) => handle,
        ParentState::Pending => None,
    }
}

fn surface_panic(res: Result<(), tokio::task::JoinError>) {
    if let Err(e) = res {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Makes sure a resource handed to a worker is counted even if its task is abandoned.
struct Settle {
    summary: Arc<Mutex<Summary>>,
    token: String,
    settled: bool,
}

impl Settle {
    fn settle(&mut self, end: End, reason: Option<&str>) {
        self.summary
            .lock()
            .expect("summary lock")
            .ended(&self.token, end, reason);
        self.settled = true;
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if !self.settled {
            if let Ok(mut s) = self.summary.lock() {
                s.ended(
                    &self.token,
                    End::Failed,
                    Some("the run was interrupted before this read finished"),
                );
            }
        }
    }
}
