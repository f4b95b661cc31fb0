//! The pipeline: pulls scan events, filters and names resources, and hands them to the sink with at
//! most `workers` in flight, the pool kept full while work remains.
//!
//! Backpressure: the next event is pulled only while fewer than `workers` resources are in flight, so
//! discovery never runs more than `workers` resources (plus the harness's bounded channel) ahead of
//! the sink and memory stays bounded however large the scope. The pipeline owns the run's `Summary`:
//! workers report how their resource ended and only the pipeline's loop writes the ledger.
//!
//! Stops: SIGINT/SIGTERM, or the sink's halt (the engine ended the update). Either drops the event
//! stream at once, which ends the listing; in-flight reads get a grace period and are then abandoned,
//! each still counted, so the counts add up.
//! Parents (resources other resources name as their parent) are remembered until the run ends, and a
//! child's read waits for its parent's read to finish; only parents are remembered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::{Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::discover::{Discovered, ResourceKey, ScanEvent};
use crate::filter::TypeFilter;
use crate::naming::{Namer, Unnamed};
use crate::report::Reporter;
use crate::sink::halt::NOT_READ;
use crate::sink::{Named, Outcome, Sink};
use crate::summary::{End, Summary};

/// How often the progress line is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// How an in-flight read abandoned after SIGINT is counted.
const INTERRUPTED: &str = "the run was interrupted before this read finished";
/// How a withheld resource is counted.
pub const WITHHELD: &str = "left out of --import: its values would be written in plain text into the code and state `pulumi import` makes (importSecrets=true includes it)";

pub struct Pipeline {
    pub workers: usize,
    pub filter: TypeFilter,
    pub sink: Arc<dyn Sink>,
    pub reporter: Arc<Reporter>,
    /// On cancellation, how long in-flight work may still finish before it is abandoned.
    pub grace: Duration,
    /// Tokens left out on purpose, each counted as skipped with [`WITHHELD`] (`--import`'s Secrets).
    pub withheld: &'static [&'static str],
    /// A warning to show once, when the scan has found this many resources (the engine sink's
    /// per-step checkpoints on a DIY backend, which grow quadratic with the scan).
    pub large_scan: Option<(u64, String)>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Every event was handled.
    Finished,
    /// SIGINT or SIGTERM.
    Interrupted,
    /// The engine ended the update; its answer, as one line.
    EngineEnded(String),
}

/// What a run produced: the ledger (owned here and handed back, never shared) and how it ended.
#[derive(Debug)]
pub struct Ran {
    pub summary: Summary,
    pub ending: Ending,
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

/// What a worker reports when its resource has ended.
struct Settled {
    token: String,
    end: End,
    reason: Option<String>,
    /// Read under the stack because its parent's read failed.
    parent_fallback: bool,
}

/// The run's state while it consumes events; only the pipeline's loop touches it.
struct Books {
    summary: Summary,
    namer: Namer,
    parents: HashMap<ResourceKey, watch::Receiver<ParentState>>,
    tasks: JoinSet<Settled>,
    /// Token of every running worker, so an abandoned one is still counted.
    in_flight: HashMap<Id, String>,
    scan_status: String,
    /// Resources found so far (for `large_scan`).
    found: u64,
}

impl Pipeline {
    /// Runs to the end of `events`, until `shutdown` fires, or until the sink's destination ends the
    /// run. On either stop the event stream is dropped at once, which ends the listing (see
    /// `discover::harness`).
    pub async fn run(
        &self,
        events: BoxStream<'static, ScanEvent>,
        shutdown: CancellationToken,
    ) -> Ran {
        let halt = self.sink.halt();
        let mut events = Some(events);
        let mut summary = Summary::new();
        summary.previous = self.sink.previous();
        let mut books = Books {
            summary,
            namer: Namer::new(),
            parents: HashMap::new(),
            tasks: JoinSet::new(),
            in_flight: HashMap::new(),
            scan_status: String::new(),
            found: 0,
        };
        let mut ticker = tokio::time::interval(PROGRESS_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut progress: Option<tokio::task::JoinHandle<()>> = None;

        let ending = loop {
            if events.is_none() && books.tasks.is_empty() {
                break Ending::Finished;
            }
            // Backpressure: the next event is pulled only while a worker is free.
            let room = events.is_some() && books.tasks.len() < self.workers;
            let busy = !books.tasks.is_empty();
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Ending::Interrupted,
                _ = halt.halted() => {
                    break Ending::EngineEnded(halt.cause().unwrap_or_default().to_string())
                }
                Some(done) = books.tasks.join_next_with_id(), if busy => books.settle(done),
                _ = ticker.tick() => {
                    let line = match books.scan_status.as_str() {
                        "" => books.summary.line(),
                        status => format!("{status}; {}", books.summary.line()),
                    };
                    let reporter = self.reporter.clone();
                    if let Some(previous) = progress.take() {
                        previous.abort();
                    }
                    progress = Some(tokio::spawn(async move { reporter.progress(&line).await }));
                }
                event = next_event(&mut events), if room => match event {
                    Some(event) => self.handle(event, &mut books).await,
                    None => events = None,
                },
            }
        };
        // Stop listing now: the harness aborts the listing task when its stream is dropped.
        drop(events);
        if let Some(p) = progress.take() {
            p.abort();
        }
        if ending != Ending::Finished {
            self.wind_down(&mut books, &ending).await;
        }
        Ran {
            summary: books.summary,
            ending,
        }
    }

    /// After a stop: in-flight reads get `grace` to finish, then are abandoned and counted.
    async fn wind_down(&self, books: &mut Books, ending: &Ending) {
        let deadline = tokio::time::Instant::now() + self.grace;
        loop {
            match tokio::time::timeout_at(deadline, books.tasks.join_next_with_id()).await {
                Ok(Some(done)) => books.settle(done),
                Ok(None) => return,
                Err(_) => break,
            }
        }
        books.tasks.abort_all();
        let (end, reason) = match ending {
            Ending::EngineEnded(_) => (End::Skipped, NOT_READ),
            _ => (End::Failed, INTERRUPTED),
        };
        while let Some(done) = books.tasks.join_next_with_id().await {
            match done {
                Err(e) if e.is_cancelled() => {
                    if let Some(token) = books.in_flight.remove(&e.id()) {
                        books.summary.ended(&token, end, Some(reason));
                    }
                }
                done => books.settle(done),
            }
        }
    }

    async fn handle(&self, event: ScanEvent, books: &mut Books) {
        let summary = &mut books.summary;
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
                summary.discovered(&token);
                summary.ended(&token, End::Skipped, Some(&reason));
                return;
            }
            ScanEvent::TypeSkipped { cloud_type, reason } => {
                // Warned about at the end, grouped by reason: a region's ~100 global AWS types
                // share one reason and deserve one line.
                summary.types_skipped.push((cloud_type, reason));
                return;
            }
            ScanEvent::Denied {
                cloud_type,
                namespaces,
                reason,
            } => {
                let what = match &namespaces {
                    None => cloud_type.clone(),
                    Some(ns) => format!(
                        "{cloud_type} in {} namespace(s) ({})",
                        ns.len(),
                        ns.join(", ")
                    ),
                };
                let must_fail = summary
                    .previous
                    .must_fail(&cloud_type, namespaces.as_deref());
                match (must_fail, namespaces) {
                    // Succeeding would drop what an earlier run read (or might): the run must fail.
                    (Some(why), ns) => {
                        if let Some(ns) = ns {
                            let entry = (cloud_type, ns, reason.clone());
                            summary.namespaces_skipped.push(entry);
                        }
                        let reason = format!("{reason}; {why}");
                        self.reporter
                            .warn(&format!("could not list {what}: {reason}"))
                            .await;
                        summary.incomplete.push((what, reason));
                    }
                    // Nothing of it is in the stack: named in the summary, and the run goes on.
                    (None, Some(ns)) => summary.namespaces_skipped.push((cloud_type, ns, reason)),
                    (None, None) => summary.types_skipped.push((cloud_type, reason)),
                }
                return;
            }
            ScanEvent::Incomplete { what, reason } => {
                self.reporter
                    .warn(&format!("could not list {what}: {reason}"))
                    .await;
                summary.incomplete.push((what, reason));
                return;
            }
            ScanEvent::Progress(msg) => {
                books.scan_status = msg;
                return;
            }
        };

        summary.discovered(&d.token);
        books.found += 1;
        if let Some((at, warning)) = &self.large_scan {
            if books.found == *at {
                self.reporter.warn(warning).await;
            }
        }
        let skip = if self.withheld.contains(&d.token.as_str()) {
            Some(WITHHELD)
        } else if !self.filter.allows(&d.token) {
            Some("excluded by the include/exclude filters")
        } else if d.id.is_empty() {
            Some("the cloud listed it without an id")
        } else {
            None
        };
        if let Some(reason) = skip {
            summary.ended(&d.token, End::Skipped, Some(reason));
            return;
        }
        // Remembered as held whether its read succeeds or not: over-counting only makes a later
        // run stricter.
        summary.held.insert(&d.cloud_type, d.namespace.as_deref());
        let name = match books.namer.name(&d) {
            Ok(n) => n,
            Err(Unnamed::Duplicate) => {
                summary.ended(
                    &d.token,
                    End::Skipped,
                    Some("listed twice: already imported under this type and id"),
                );
                return;
            }
        };
        self.spawn(Named { resource: d, name }, books);
    }

    fn spawn(&self, named: Named, books: &mut Books) {
        let d: &Discovered = &named.resource;
        let parent = d.parent.as_ref().map(|k| match books.parents.get(k) {
            Some(rx) => ParentLink::Wait(rx.clone()),
            None => ParentLink::Missing,
        });
        let notify = d.is_parent.then(|| {
            let (tx, rx) = watch::channel(ParentState::Pending);
            books.parents.insert(d.key(), rx);
            tx
        });
        let token = d.token.clone();
        let sink = self.sink.clone();
        let reporter = self.reporter.clone();
        let handle = books.tasks.spawn(async move {
            let (parent_handle, fallback) = match parent {
                // No parent, or one that was never queued (filtered out or skipped on purpose): the
                // stack is the parent.
                None | Some(ParentLink::Missing) => (None, false),
                Some(ParentLink::Wait(rx)) => {
                    let handle = wait_for_parent(rx).await;
                    let fallback = handle.is_none();
                    (handle, fallback)
                }
            };
            let outcome = sink.accept(&named, parent_handle.as_deref()).await;
            let token = named.resource.token.clone();
            let (end, reason, handle) = match outcome {
                Outcome::Read { handle } => (End::Read, None, Some(handle)),
                Outcome::Failed { reason } => {
                    let msg = format!(
                        "reading {token} {} failed: {reason} (further failures of this type are only counted in the summary)",
                        named.resource.id
                    );
                    reporter.warn_type_once(&token, &msg).await;
                    (End::Failed, Some(reason), None)
                }
                Outcome::NotRead => (End::Skipped, Some(NOT_READ.to_string()), None),
            };
            if let Some(tx) = notify {
                let _ = tx.send(ParentState::Done(handle));
            }
            Settled {
                token,
                // A resource that was never read was not parented anywhere.
                parent_fallback: fallback && end != End::Skipped,
                end,
                reason,
            }
        });
        books.in_flight.insert(handle.id(), token);
    }
}

/// The next event, or never once the stream has ended (the `select!` branch is then disabled).
async fn next_event(events: &mut Option<BoxStream<'static, ScanEvent>>) -> Option<ScanEvent> {
    match events {
        Some(e) => e.next().await,
        None => std::future::pending().await,
    }
}

impl Books {
    fn settle(&mut self, done: Result<(Id, Settled), JoinError>) {
        match done {
            Ok((id, s)) => {
                self.in_flight.remove(&id);
                if s.parent_fallback {
                    self.summary.parent_fallbacks += 1;
                }
                self.summary.ended(&s.token, s.end, s.reason.as_deref());
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                if let Some(token) = self.in_flight.remove(&e.id()) {
                    self.summary.ended(&token, End::Failed, Some(INTERRUPTED));
                }
            }
        }
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
