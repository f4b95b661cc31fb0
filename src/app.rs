//! One run from start to exit code: build the scanner, connect the sink, drive the pipeline, report.
//!
//! Exit codes (the README lists the same): 0 success; 2 bad input (nothing was started); 32 "already
//! reported" (incomplete discovery, an interrupted run under Pulumi, the engine ending the update or
//! unreachable, or a fatal engine error, each logged first), which Pulumi's language hosts turn into a
//! failed update without discarding state; 1 for other failures without Pulumi; 130 interrupted
//! without Pulumi.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clouds;
use crate::filter::TypeFilter;
use crate::pipeline::{Ending, Pipeline, Ran};
use crate::pulumi::client;
use crate::report::Reporter;
use crate::settings::{InputError, Mode, Settings};
use crate::sink::engine::EngineSink;
use crate::sink::import_file::ImportFileSink;
use crate::sink::list::ListSink;
use crate::sink::Sink;
use crate::summary::Summary;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
/// Pulumi's "bail": the program has already reported the error.
pub const EXIT_BAIL: u8 = 32;
/// Conventional exit status after SIGINT when running without Pulumi.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Parses the command line of a subcommand with its own parser (`fleet`, `kube-token`): argv from
/// the program name on, parsed as if `<program> <subcommand>` were the program, so help and errors
/// name it. On `Err`, clap's message is printed and the value is the exit code (0 for `--help`).
pub fn parse_subcommand<C: clap::Parser>(argv: Vec<std::ffi::OsString>) -> Result<C, u8> {
    let mut args = argv;
    if args.len() > 1 {
        let program = args.remove(0);
        args[0] = format!(
            "{} {}",
            program.to_string_lossy(),
            args[0].to_string_lossy()
        )
        .into();
    }
    C::try_parse_from(args).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            EXIT_BAD_INPUT
        } else {
            EXIT_OK
        }
    })
}

/// Runs and returns the process exit code. Bad input is printed as one `error:` line on stderr.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> u8 {
    match prepare(&settings).await {
        Ok(prepared) => execute(settings, prepared, shutdown).await,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// A scan this large on a checkpointing DIY backend spends more time writing state than reading.
const LARGE_SCAN: u64 = 1000;

/// The warning for a large scan whose every read rewrites the whole state file, when the
/// environment tells us so (see `pulumi::backend`).
fn checkpoint_warning(env: impl Fn(&str) -> Option<String>) -> Option<(u64, String)> {
    let backend = crate::pulumi::backend::Backend::detect(&env);
    let crate::pulumi::backend::Backend::Diy(scheme) = backend else {
        return None;
    };
    if crate::pulumi::backend::checkpoints_skipped(&env) {
        return None;
    }
    Some((
        LARGE_SCAN,
        format!(
            "{LARGE_SCAN} resources found so far, on a {scheme}:// backend that rewrites the whole state \
             after every read: the run slows as the stack grows. Run `PULUMI_SKIP_CHECKPOINTS=true pulumi up ...` \
             to write the state once at the end (an interrupted run then keeps the previous state)"
        ),
    ))
}

struct Prepared {
    filter: TypeFilter,
    scanner: Box<dyn crate::discover::Scanner>,
    warnings: Vec<String>,
}

/// Everything that can be checked without calling a cloud or the engine.
async fn prepare(settings: &Settings) -> Result<Prepared, InputError> {
    let filter = TypeFilter::new(&settings.include, &settings.exclude)?;
    // Every key is checked before any cloud call.
    let options = clouds::CloudOptions::from_settings(settings)?;
    let built = clouds::scanner(settings, &options).await?;
    Ok(Prepared {
        filter,
        scanner: built.scanner,
        warnings: built.warnings,
    })
}

async fn execute(settings: Settings, prepared: Prepared, shutdown: CancellationToken) -> u8 {
    let provider = prepared.scanner.provider();
    let engine_mode = settings.mode == Mode::Engine;

    let (reporter, mut sink): (Reporter, Box<dyn Sink>) = match &settings.mode {
        Mode::Engine => {
            let env = settings
                .pulumi
                .as_ref()
                .expect("engine mode has the Pulumi environment");
            let connected = async {
                let monitor = client::channel(&env.monitor)
                    .await
                    .map_err(|e| ("PULUMI_MONITOR", &env.monitor, e))?;
                let engine = client::channel(&env.engine)
                    .await
                    .map_err(|e| ("PULUMI_ENGINE", &env.engine, e))?;
                Ok::<_, (&str, &String, tonic::transport::Error)>((monitor, engine))
            };
            match connected.await {
                Ok((monitor, engine)) => (
                    Reporter::engine(client::engine(engine), settings.debug),
                    Box::new(EngineSink::new(
                        client::monitor(monitor),
                        env,
                        settings.read_timeout,
                    )),
                ),
                Err((var, addr, e)) => {
                    // Nothing to log through: the engine is what cannot be reached. Under Pulumi
                    // stderr still reaches the update's diagnostics, and 32 fails the update.
                    let cause = crate::oneline::chain(&e);
                    eprintln!("error: cannot reach the Pulumi engine at {var}={addr}: {cause}");
                    return EXIT_BAIL;
                }
            }
        }
        Mode::Import { out } => (
            Reporter::stderr(settings.debug),
            Box::new(ImportFileSink::new(out.clone())),
        ),
        Mode::List => (
            Reporter::stderr(settings.debug),
            Box::new(ListSink::stdout()),
        ),
    };
    let reporter = Arc::new(reporter);

    if let Err(e) = sink.start(&provider).await {
        reporter.error(&format!("{e:#}")).await;
        reporter.finish();
        return if engine_mode { EXIT_BAIL } else { EXIT_FAILED };
    }
    for warning in &prepared.warnings {
        reporter.warn(warning).await;
    }
    reporter
        .debug(&format!(
            "scanning {} with provider {} {} and {} workers",
            settings.cloud.name(),
            provider.token(),
            provider.version,
            settings.workers
        ))
        .await;

    let sink: Arc<dyn Sink> = Arc::from(sink);
    let pipeline = Pipeline {
        workers: settings.workers,
        filter: prepared.filter,
        sink: sink.clone(),
        reporter: reporter.clone(),
        grace: Duration::from_secs(if engine_mode { 2 } else { 0 }),
        withheld: match &settings.mode {
            Mode::Import { .. } if !settings.import_secrets => settings.cloud.secret_tokens(),
            _ => &[],
        },
        large_scan: engine_mode
            .then(|| checkpoint_warning(|var| std::env::var(var).ok()))
            .flatten(),
    };
    let Ran { summary, ending } = pipeline
        .run(
            crate::discover::harness::discover(prepared.scanner),
            shutdown,
        )
        .await;

    match ending {
        Ending::Finished => {}
        Ending::Interrupted => {
            reporter
                .error(&format!(
                    "interrupted: stopped issuing reads ({})",
                    summary.line()
                ))
                .await;
            reporter.finish();
            return if engine_mode {
                EXIT_BAIL
            } else {
                EXIT_INTERRUPTED
            };
        }
        Ending::EngineEnded(cause) => {
            // No RegisterResourceOutputs and no shutdown signal: the engine has already ended the
            // update, and every later monitor call would only be refused.
            reporter.finish();
            reporter
                .error(&format!(
                    "the engine ended the update ({cause}); stopped listing and reading: {}",
                    summary.line()
                ))
                .await;
            return EXIT_BAIL;
        }
    }

    for (reason, types) in summary.types_skipped_by_reason() {
        let shown: Vec<&str> = types.iter().take(8).copied().collect();
        let more = match types.len() - shown.len() {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        let n = types.len();
        let list = shown.join(", ");
        reporter
            .warn(&format!("not listed: {n} type(s) ({list}{more}): {reason}"))
            .await;
    }
    for (ty, namespaces, reason) in &summary.namespaces_skipped {
        let n = namespaces.len();
        let list = namespaces.join(", ");
        reporter
            .warn(&format!(
                "{ty} not listed in {n} namespace(s) ({list}): {reason}"
            ))
            .await;
    }
    let clusters = summary.clusters_found();
    // Only AWS and Azure scans discover cluster types.
    if clusters > 0 {
        reporter
            .info(&format!(
                "found {clusters} Kubernetes cluster(s) (EKS/AKS); their objects are not part of this scan: `pulumi-cloud-import fleet plan --cloud {}` makes each cluster a Kubernetes child scanned with these credentials",
                settings.cloud.name()
            ))
            .await;
    }
    let finished = sink.finish(&summary).await;
    reporter.finish();
    reporter.info(&final_line(&settings, &summary)).await;
    if let Err(e) = finished {
        reporter.error(&format!("{e:#}")).await;
        return if engine_mode { EXIT_BAIL } else { EXIT_FAILED };
    }
    if !summary.is_complete() {
        let consequence = if engine_mode {
            "the update is marked failed so that the stack keeps the resources read earlier"
        } else {
            "the output is partial"
        };
        reporter
            .error(&format!(
                "discovery was incomplete, {consequence}; not listed: {}",
                not_listed(&summary.incomplete, engine_mode)
            ))
            .await;
        return EXIT_BAIL;
    }
    if let Mode::Import { out } = &settings.mode {
        reporter.info(&format!("wrote {}", out.display())).await;
        let withheld: u64 = summary
            .types
            .values()
            .filter_map(|t| t.reasons.get(crate::pipeline::WITHHELD))
            .sum();
        if withheld > 0 {
            reporter
                .warn(&format!(
                    "left {withheld} Secret(s) out of {}: `pulumi import` would write their values in plain text into the generated code and the state; `-c importSecrets=true` includes them",
                    out.display()
                ))
                .await;
        }
    }
    EXIT_OK
}

/// An ERROR line's share for what was not listed: one gap with its reason, several with theirs
/// while that stays short, else their names alone, and past that a count; the summary holds every
/// reason.
fn not_listed(incomplete: &[(String, String)], engine_mode: bool) -> String {
    const BUDGET: usize = 400;
    let full: Vec<String> = incomplete
        .iter()
        .map(|(w, r)| format!("{w} ({r})"))
        .collect();
    let full = full.join("; ");
    // One gap keeps its whole reason: it is what the user has to act on.
    if full.len() <= BUDGET || incomplete.len() == 1 {
        return full;
    }
    let mut line = String::new();
    let mut shown = 0;
    for (what, _) in incomplete {
        if line.len() + what.len() > BUDGET {
            break;
        }
        if shown > 0 {
            line.push_str("; ");
        }
        line.push_str(what);
        shown += 1;
    }
    if shown < incomplete.len() {
        line.push_str(&format!("; and {} more", incomplete.len() - shown));
    }
    let detail = if engine_mode {
        "`pulumi stack output incomplete`"
    } else {
        "the warnings above"
    };
    format!("{line} (the reasons: {detail})")
}

fn final_line(settings: &Settings, summary: &Summary) -> String {
    let t = summary.totals();
    let mut line = format!(
        "{}: discovered {}, read {}, failed {}, skipped {} in {:.1}s",
        settings.cloud.name(),
        t.discovered,
        t.read,
        t.failed,
        t.skipped,
        summary.elapsed().as_secs_f64()
    );
    if !summary.types_skipped.is_empty() {
        line.push_str(&format!(
            "; {} types not listed",
            summary.types_skipped.len()
        ));
    }
    if !summary.namespaces_skipped.is_empty() {
        line.push_str(&format!(
            "; {} types not listed in some namespaces",
            summary.namespaces_skipped.len()
        ));
    }
    if summary.parent_fallbacks > 0 {
        line.push_str(&format!(
            "; {} resources parented to the stack because their parent's read failed",
            summary.parent_fallbacks
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_line_stays_short_however_much_was_not_listed() {
        let one = vec![(
            "kubernetes v1/Secret".to_string(),
            "access denied (403)".to_string(),
        )];
        assert_eq!(
            not_listed(&one, true),
            "kubernetes v1/Secret (access denied (403))"
        );
        let many: Vec<(String, String)> = (0..60)
            .map(|i| (format!("AWS::Service{i:02}::Thing"), "x".repeat(200)))
            .collect();
        let line = not_listed(&many, true);
        assert!(line.len() < 520, "{} chars: {line}", line.len());
        assert!(
            line.starts_with("AWS::Service00::Thing; AWS::Service01::Thing"),
            "{line}"
        );
        assert!(
            line.contains(" more (the reasons: `pulumi stack output incomplete`)"),
            "{line}"
        );
        assert!(!line.contains("xxx"), "{line}");
    }
}
