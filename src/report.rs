//! Where the run's messages go. Under `pulumi up` that is `Engine.Log` (stdout and stderr would
//! become stack diagnostics): progress as ephemeral status, warnings and errors as diagnostics.
//! Without Pulumi it is stderr, with a progress line when stderr is a terminal.
//!
//! Messages never carry config values, credentials or the environment; callers build them from
//! resource types, ids and error texts only.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::proto::{LogRequest, LogSeverity};
use crate::pulumi::client::Engine;

/// A log call to a dead engine must not hang the run's end.
const LOG_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Reporter {
    engine: Option<Engine>,
    bar: Option<ProgressBar>,
    debug: bool,
    warned_types: Mutex<HashSet<String>>,
}

impl Reporter {
    /// Reports through the engine's `Log` service.
    pub fn engine(engine: Engine, debug: bool) -> Self {
        Reporter {
            engine: Some(engine),
            bar: None,
            debug,
            warned_types: Mutex::default(),
        }
    }

    /// Reports on stderr, with a spinner line when stderr is a terminal.
    pub fn stderr(debug: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("template"));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Reporter {
            engine: None,
            bar,
            debug,
            warned_types: Mutex::default(),
        }
    }

    pub async fn debug(&self, msg: &str) {
        if self.debug {
            self.send(LogSeverity::Debug, msg, false).await;
        }
    }

    pub async fn info(&self, msg: &str) {
        self.send(LogSeverity::Info, msg, false).await;
    }

    pub async fn warn(&self, msg: &str) {
        self.send(LogSeverity::Warning, msg, false).await;
    }

    pub async fn error(&self, msg: &str) {
        self.send(LogSeverity::Error, msg, false).await;
    }

    /// A transient status line: ephemeral under Pulumi, the spinner's text on a terminal, and
    /// nothing otherwise (a pipe or a CI log would only fill up).
    pub async fn progress(&self, msg: &str) {
        if self.engine.is_some() {
            self.send(LogSeverity::Info, msg, true).await;
        } else if let Some(bar) = &self.bar {
            bar.set_message(msg.to_string());
        }
    }

    /// Warns about `token` only the first time; later failures of the type are only counted.
    pub async fn warn_type_once(&self, token: &str, msg: &str) {
        let first = self
            .warned_types
            .lock()
            .expect("reporter lock")
            .insert(token.to_string());
        if first {
            self.warn(msg).await;
        }
    }

    /// Clears the spinner before the final lines.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    async fn send(&self, severity: LogSeverity, msg: &str, ephemeral: bool) {
        match &self.engine {
            Some(engine) => {
                let req = LogRequest {
                    severity: severity as i32,
                    message: msg.to_string(),
                    urn: String::new(),
                    stream_id: 0,
                    ephemeral,
                };
                let mut engine = engine.clone();
                // A failed log call is not worth failing the run for. A warning or error that the
                // engine did not take (it has gone away) still goes to stderr, which the language
                // host shows if anyone is still listening.
                let sent = tokio::time::timeout(LOG_TIMEOUT, engine.log(req)).await;
                if !matches!(sent, Ok(Ok(_))) && severity as i32 >= LogSeverity::Warning as i32 {
                    eprintln!("{}: {msg}", label(severity));
                }
            }
            None => {
                let line = format!("{}: {msg}", label(severity));
                match &self.bar {
                    Some(bar) => bar.suspend(|| eprintln!("{line}")),
                    None => eprintln!("{line}"),
                }
            }
        }
    }
}

fn label(severity: LogSeverity) -> &'static str {
    match severity {
        LogSeverity::Debug => "debug",
        LogSeverity::Info => "info",
        LogSeverity::Warning => "warning",
        LogSeverity::Error => "error",
    }
}
