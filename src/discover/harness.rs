//! The one scan harness every cloud runs in: it spawns the scanner's listing, feeds its events
//! through a bounded channel, and watches the task.
//!
//! - A listing that panics, or whose task ends any other way than returning, becomes
//!   [`ScanEvent::Incomplete`]: without it the stream would just end, the run would look complete,
//!   and a successful update drops every earlier-read resource that was not read again.
//! - When the consumer drops the stream (the run was cancelled, the engine ended the update, or the
//!   pipeline is done), the listing task is aborted at once, in-flight API calls included, instead of
//!   discovering until its next `send` fails.

use std::any::Any;

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{ScanEvent, Scanner};

/// Events buffered between the listing and the pipeline. Small, so listing runs only a little ahead
/// of the reads and memory stays bounded however large the scope.
pub const CHANNEL_DEPTH: usize = 256;

/// Runs `scanner` in its own task and returns its events.
pub fn discover(scanner: Box<dyn Scanner>) -> BoxStream<'static, ScanEvent> {
    let what = format!("the listing for provider {}", scanner.provider().name);
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let watch = tx.clone();
    tokio::spawn(async move {
        let mut listing = tokio::spawn(scanner.scan(tx));
        tokio::select! {
            ended = &mut listing => {
                if let Err(e) = ended {
                    let reason = if e.is_panic() {
                        format!("the listing task panicked: {}", panic_text(e.into_panic()))
                    } else {
                        "the listing task ended before the scan finished".to_string()
                    };
                    let _ = watch.send(ScanEvent::Incomplete { what, reason }).await;
                }
            }
            // The consumer is gone: nobody needs what the listing would still find.
            _ = watch.closed() => listing.abort(),
        }
    });
    ReceiverStream::new(rx).boxed()
}

fn panic_text(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
    }
}

/// Propagates a panic from a task a scanner spawned itself (Azure's child listings), so that the
/// harness sees it instead of the scanner silently losing a subtree.
pub fn surface_panic(res: Result<(), tokio::task::JoinError>) {
    if let Err(e) = res {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Test-only fault injection, compiled into debug builds only: a listing step named `point` (a cloud
/// type such as `apps/v1/Deployment`) panics when `PULUMI_CLOUD_IMPORT_TEST_PANIC` names it. The
/// end-to-end tests run the built binary, so this is how they make a real listing task crash.
pub fn fault_point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("PULUMI_CLOUD_IMPORT_TEST_PANIC").is_ok_and(|v| v == point) {
        panic!("test fault injected at {point}");
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{Events, ProviderSpec};
    use futures::future::BoxFuture;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    struct Fake {
        panic_after: Option<usize>,
        endless: bool,
        stopped: Arc<AtomicBool>,
    }

    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    impl Scanner for Fake {
        fn provider(&self) -> ProviderSpec {
            ProviderSpec {
                package: "fake".into(),
                name: "fake-scope".into(),
                version: "1.0.0".into(),
                inputs: Default::default(),
            }
        }
        fn scan(self: Box<Self>, out: Events) -> BoxFuture<'static, ()> {
            Box::pin(async move {
                let _guard = SetOnDrop(self.stopped.clone());
                for i in 0.. {
                    if Some(i) == self.panic_after {
                        panic!("boom at {i}");
                    }
                    if !self.endless && i == 3 {
                        return;
                    }
                    let ev = ScanEvent::Progress(format!("{i}"));
                    // An endless listing that ignores send failures: only the harness stops it.
                    let _ = out.send(ev).await;
                    if self.endless {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        }
    }

    fn fake(panic_after: Option<usize>, endless: bool) -> (Box<Fake>, Arc<AtomicBool>) {
        let stopped = Arc::new(AtomicBool::new(false));
        let f = Fake {
            panic_after,
            endless,
            stopped: stopped.clone(),
        };
        (Box::new(f), stopped)
    }

    #[tokio::test]
    async fn a_finished_listing_just_ends_the_stream() {
        let (f, _) = fake(None, false);
        let events: Vec<ScanEvent> = f.discover().collect().await;
        assert_eq!(events.len(), 3);
        assert!(!events
            .iter()
            .any(|e| matches!(e, ScanEvent::Incomplete { .. })));
    }

    #[tokio::test]
    async fn a_panicking_listing_is_incomplete() {
        let (f, _) = fake(Some(2), false);
        let events: Vec<ScanEvent> = f.discover().collect().await;
        match events.last() {
            Some(ScanEvent::Incomplete { what, reason }) => {
                assert!(what.contains("fake-scope"), "{what}");
                assert!(reason.contains("panicked: boom at 2"), "{reason}");
            }
            other => panic!("expected Incomplete last, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn dropping_the_stream_ends_the_listing_task() {
        let (f, stopped) = fake(None, true);
        let mut events = f.discover();
        events.next().await.expect("one event");
        drop(events);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while !stopped.load(Ordering::SeqCst) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the listing still runs 1s after the consumer went away"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
