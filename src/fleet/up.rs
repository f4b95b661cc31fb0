//! `fleet up`: runs the plan's selected children, at most `--parallel` at once and never two of one
//! rate limit group together (`schedule`), and prints a table (`table`). A failing child never stops
//! the others; the fleet's exit code is 1 when any child failed.
//!
//! Each child is one process of the user's own tools, so any backend and login works:
//! - with Pulumi ([`run_child_with_pulumi`]): `pulumi stack select --create`, the child's settings
//!   as stack config (`config set-all`, and `config rm-all` for keys of ours the plan no longer
//!   sets), `pulumi up --skip-preview --show-reads --continue-on-error --yes`, then
//!   `pulumi stack output --json` for the child's summary;
//! - with `--import DIR` ([`run_child_import`]): this program's own `--import`, one file per child.
//!
//! A child with an `escEnvironment` runs under `pulumi env run <env> --`. Every command and its
//! output go to the child's log file (`--logs`); environment values are never written there.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::creds::{child_env, ChildEnv};
use super::plan::{Child, ClusterAccess, Plan};
use super::table::{self, Outcome};
use super::{schedule, UpArgs};
use crate::app::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::pulumi::backend::Backend;
use crate::settings::NAMESPACE;

/// How children are run.
#[derive(Debug, Clone)]
pub enum Runner {
    /// `pulumi up` per child stack, in the project directory `project`.
    Pulumi { pulumi: PathBuf, project: PathBuf },
    /// Our own `--import` per child, writing `<dir>/<stack>.json`; `pulumi` only for ESC.
    Import {
        dir: PathBuf,
        program: PathBuf,
        pulumi: PathBuf,
    },
}

pub async fn run(a: UpArgs) -> u8 {
    let plan = match Plan::read(&a.file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let children: Vec<Child> = match plan.select(a.only.as_deref()) {
        Ok(c) => c.into_iter().cloned().collect(),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let runner = match &a.import {
        Some(dir) => {
            let program = match std::env::current_exe() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: cannot find this program's own path: {e}");
                    return EXIT_FAILED;
                }
            };
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("error: cannot create {}: {e}", dir.display());
                return EXIT_FAILED;
            }
            Runner::Import {
                dir: dir.clone(),
                program,
                pulumi: a.pulumi.clone(),
            }
        }
        None => Runner::Pulumi {
            pulumi: a.pulumi.clone(),
            project: a.cwd.clone(),
        },
    };
    if let Err(e) = std::fs::create_dir_all(&a.logs) {
        eprintln!("error: cannot create {}: {e}", a.logs.display());
        return EXIT_FAILED;
    }
    let outcomes = run_children(
        &plan.cloud,
        children,
        a.parallel.into(),
        runner,
        &a.logs,
        a.show_logs,
    )
    .await;
    print!("{}", table::render(&outcomes));
    // The table for machines: what a monitor of scheduled runs reads.
    let summary = a.logs.join("fleet-summary.json");
    if let Err(e) = std::fs::write(&summary, table::to_json(&outcomes).to_string()) {
        eprintln!("warning: cannot write {}: {e}", summary.display());
    }
    if outcomes.iter().all(Outcome::ok) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Runs `children` of a plan for `cloud` and returns their outcomes in the plan's order.
pub async fn run_children(
    cloud: &str,
    children: Vec<Child>,
    parallel: usize,
    runner: Runner,
    logs: &Path,
    show_logs: bool,
) -> Vec<Outcome> {
    let runner = Arc::new(runner);
    let cloud = cloud.to_string();
    let logs = logs.to_path_buf();
    let rows: Vec<(String, String)> = children
        .iter()
        .map(|c| (c.name.clone(), c.stack.clone()))
        .collect();
    let items = children
        .into_iter()
        .map(|c| (c.rate_limit_group.clone(), c))
        .collect();
    schedule::run(items, parallel, move |child| {
        let runner = runner.clone();
        let cloud = cloud.clone();
        let log = logs.join(format!("{}.log", file_stem(&child.stack)));
        async move {
            let outcome = run_child(&cloud, &child, &runner, &log).await;
            if show_logs {
                // One block per child, after it ended, so parallel children do not interleave.
                let text = tokio::fs::read_to_string(&log).await.unwrap_or_default();
                eprintln!(
                    "----- {} ({}) -----\n{text}----- end of {} -----",
                    child.name,
                    log.display(),
                    child.name
                );
            }
            outcome
        }
    })
    .await
    .into_iter()
    .zip(rows)
    .map(|(result, (name, stack))| {
        // A child whose run panicked is a failed child with a row, never a missing one.
        result.unwrap_or_else(|why| Outcome {
            name,
            stack,
            read: None,
            failed: None,
            skipped: None,
            duration: std::time::Duration::ZERO,
            exit_code: None,
            why: format!("the fleet's run of this child ended: {why}"),
        })
    })
    .collect()
}

/// A file name for a stack (`org/project/stack` has slashes).
pub fn file_stem(stack: &str) -> String {
    stack.replace('/', ".")
}

async fn run_child(cloud: &str, child: &Child, runner: &Runner, log: &Path) -> Outcome {
    let started = Instant::now();
    eprintln!("info: {}: started", child.name);
    let env = match child_env(cloud, child).await {
        Ok(mut env) => match &child.cluster {
            None => Ok(env),
            Some(access) => cluster_kubeconfig(child, access, log).map(|path| {
                env.set
                    .push(("KUBECONFIG".into(), path.display().to_string()));
                env
            }),
        },
        Err(e) => Err(e.context("credentials")),
    };
    let outcome = match env {
        Err(e) => Outcome {
            why: format!("{e:#}").replace('\n', " "),
            ..blank(child, started)
        },
        Ok(env) => match runner {
            Runner::Pulumi { pulumi, project } => {
                run_child_with_pulumi(pulumi, project, child, &env, log).await
            }
            Runner::Import {
                dir,
                program,
                pulumi,
            } => run_child_import(program, pulumi, dir, child, &env, log).await,
        },
    };
    let outcome = Outcome {
        duration: started.elapsed(),
        ..outcome
    };
    match outcome.ok() {
        true => eprintln!(
            "info: {}: done in {:.1}s",
            child.name,
            outcome.duration.as_secs_f64()
        ),
        false => eprintln!("warning: {}: failed: {}", child.name, outcome.why),
    }
    outcome
}

/// Writes the kubeconfig of a cluster child next to its log (`<stack>.kubeconfig`): the cluster's
/// server and CA, and this program's own `kube-token` as the exec plugin. The child's scan reads
/// it (and makes the tokens in-process); its `kubernetes` provider reads it through the same
/// `KUBECONFIG` and runs the exec plugin, so both sign in with the child's cloud credentials.
fn cluster_kubeconfig(
    child: &Child,
    access: &ClusterAccess,
    log: &Path,
) -> anyhow::Result<PathBuf> {
    use crate::clouds::kubernetes::cluster_auth::{self, AksArgs, ClusterAuth, EksArgs};
    let auth = match (&access.eks, &access.aks) {
        (Some(e), _) => ClusterAuth::Eks(EksArgs {
            cluster_name: e.name.clone(),
            region: Some(e.region.clone()),
            // The child's environment already holds its identity (assumed role or profile).
            role_arn: None,
            profile: None,
        }),
        (None, Some(a)) => ClusterAuth::Aks(AksArgs {
            server_id: a.server_id.clone(),
        }),
        (None, None) => anyhow::bail!("the plan's cluster names neither eks nor aks"),
    };
    let program = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find this program's own path: {e}"))?;
    let text = cluster_auth::kubeconfig(
        &child.name,
        &access.server,
        access.certificate_authority_data.as_deref(),
        &auth,
        &program.display().to_string(),
    );
    let path = std::path::absolute(log.with_extension("kubeconfig"))?;
    std::fs::write(&path, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn blank(child: &Child, started: Instant) -> Outcome {
    Outcome {
        name: child.name.clone(),
        stack: child.stack.clone(),
        read: None,
        failed: None,
        skipped: None,
        duration: started.elapsed(),
        exit_code: None,
        why: String::new(),
    }
}

/// One finished command.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// The last `error:` line of the output, else the exit status.
    fn why(&self, what: &str) -> String {
        let last_error = |text: &str| {
            text.lines()
                .rev()
                .filter_map(|l| l.trim().strip_prefix("error: "))
                // Pulumi's closing `error: update failed` says less than the line before it.
                .find(|e| !matches!(e.trim(), "update failed" | "preview failed"))
                .map(str::to_string)
        };
        let err = last_error(&self.stderr).or_else(|| last_error(&self.stdout));
        match (err, self.code) {
            (Some(e), _) => format!("{what}: {e}"),
            (None, Some(c)) => format!("{what} exited with code {c}"),
            (None, None) => format!("{what} was stopped by a signal or could not start"),
        }
    }
}

/// Runs `program args` (under `pulumi env run <env> --` when the child has one) with the child's
/// environment, appending the command line and its output to `log`.
async fn exec(
    program: &Path,
    args: &[String],
    env: &ChildEnv,
    esc: Option<(&Path, &str)>,
    cwd: Option<&Path>,
    log: &Path,
) -> Ran {
    let mut cmd = match esc {
        Some((pulumi, environment)) => {
            let mut c = tokio::process::Command::new(pulumi);
            c.args(["env", "run", environment, "--"]).arg(program);
            c
        }
        None => tokio::process::Command::new(program),
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // The CLI's update check is a network call per command; the fleet runs many.
        .env("PULUMI_SKIP_UPDATE_CHECK", "true");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    for k in &env.remove {
        cmd.env_remove(k);
    }
    for (k, v) in &env.set {
        cmd.env(k, v);
    }
    let shown = format!("$ {} {}\n", program.display(), args.join(" "));
    let ran = match cmd.output().await {
        Ok(out) => Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(e) => Ran {
            code: None,
            stdout: String::new(),
            stderr: format!("error: cannot run {}: {e}\n", program.display()),
        },
    };
    if let Ok(mut f) = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .await
    {
        let text = format!(
            "{shown}{}{}[exit {}]\n\n",
            ran.stdout,
            ran.stderr,
            ran.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into())
        );
        // tokio finishes a write in the background: without the flush the log can be empty when
        // the fleet reads or exits.
        let _ = f.write_all(text.as_bytes()).await;
        let _ = f.flush().await;
    }
    ran
}

/// Runs one child with our own `--import`, writing `<dir>/<stack>.json`.
pub async fn run_child_import(
    program: &Path,
    pulumi: &Path,
    dir: &Path,
    child: &Child,
    env: &ChildEnv,
    log: &Path,
) -> Outcome {
    let started = Instant::now();
    let out = dir.join(format!("{}.json", file_stem(&child.stack)));
    let mut args = vec![
        "--import".to_string(),
        "--out".to_string(),
        out.display().to_string(),
    ];
    for (k, v) in &child.settings {
        args.push("-c".into());
        args.push(format!("{k}={v}"));
    }
    let esc = child
        .credentials
        .esc_environment
        .as_deref()
        .map(|e| (pulumi, e));
    let ran = exec(program, &args, env, esc, None, log).await;
    let counts = final_counts(&ran.stderr);
    Outcome {
        read: counts.map(|c| c.0),
        failed: counts.map(|c| c.1),
        skipped: counts.map(|c| c.2),
        exit_code: ran.code,
        why: if ran.code == Some(0) {
            String::new()
        } else {
            ran.why("the import run")
        },
        ..blank(child, started)
    }
}

/// (read, failed, skipped) from the run's last line `info: <cloud>: discovered D, read R, failed F,
/// skipped S in Xs`.
pub fn final_counts(stderr: &str) -> Option<(u64, u64, u64)> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("info: ") && l.contains(": discovered "))?;
    let number = |label: &str| -> Option<u64> {
        let at = line.find(&format!("{label} "))? + label.len() + 1;
        let digits: String = line[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some((number(", read")?, number(", failed")?, number(", skipped")?))
}

/// Runs one child through the Pulumi CLI at `pulumi` in the project directory `project`: select or
/// create its stack, set its config, `pulumi up`, and read its summary from the stack outputs.
///
/// This is the hook for running a fleet against a real Pulumi CLI: it needs nothing but the binary's
/// path, the user's login (any backend, `PULUMI_CONFIG_PASSPHRASE` for the file and S3 backends)
/// and the project directory holding this program's `Pulumi.yaml`.
pub async fn run_child_with_pulumi(
    pulumi: &Path,
    project: &Path,
    child: &Child,
    env: &ChildEnv,
    log: &Path,
) -> Outcome {
    let started = Instant::now();
    let stack = child.stack.as_str();
    let esc = child
        .credentials
        .esc_environment
        .as_deref()
        .map(|e| (pulumi, e));
    let dir = Some(project);
    let args = |a: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        v.push("--non-interactive".into());
        v
    };
    let fail = |why: String, code: Option<i32>| Outcome {
        exit_code: code,
        why,
        ..blank(child, started)
    };

    let ran = exec(
        pulumi,
        &args(&["stack", "select", "--create", stack]),
        env,
        None,
        dir,
        log,
    )
    .await;
    if ran.code != Some(0) {
        return fail(ran.why("pulumi stack select --create"), ran.code);
    }

    // Keys of ours the plan no longer sets would otherwise stay in the stack's config.
    let ran = exec(
        pulumi,
        &args(&["config", "--json", "--stack", stack]),
        env,
        None,
        dir,
        log,
    )
    .await;
    if ran.code != Some(0) {
        return fail(ran.why("pulumi config"), ran.code);
    }
    let prefix = format!("{NAMESPACE}:");
    let stale: Vec<String> = serde_json::from_str::<Value>(&ran.stdout)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .map(|m| {
            m.keys()
                .filter(|k| {
                    k.strip_prefix(&prefix)
                        .is_some_and(|key| !child.settings.contains_key(key))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if !stale.is_empty() {
        let mut a = vec!["config", "rm-all", "--stack", stack];
        a.extend(stale.iter().map(String::as_str));
        let ran = exec(pulumi, &args(&a), env, None, dir, log).await;
        if ran.code != Some(0) {
            return fail(ran.why("pulumi config rm-all"), ran.code);
        }
    }
    let mut a: Vec<String> = ["config", "set-all", "--stack", stack]
        .map(String::from)
        .to_vec();
    for (k, v) in &child.settings {
        a.push("--plaintext".into());
        a.push(format!("{prefix}{k}={v}"));
    }
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let ran = exec(pulumi, &args(&a), env, None, dir, log).await;
    if ran.code != Some(0) {
        return fail(ran.why("pulumi config set-all"), ran.code);
    }

    let before = stack_outputs(pulumi, stack, env, dir, log).await;
    let up_env = with_checkpoints_skipped(env, |var| std::env::var(var).ok());
    let up = exec(
        pulumi,
        &args(&[
            "up",
            "--skip-preview",
            "--show-reads",
            "--continue-on-error",
            "--yes",
            "--stack",
            stack,
        ]),
        &up_env,
        esc,
        dir,
        log,
    )
    .await;
    let after = stack_outputs(pulumi, stack, env, dir, log).await;
    // Outputs unchanged by a failed update are the previous update's: not this run's counts.
    let summary = match (&after, &before) {
        (Some(a), Some(b)) if a == b && up.code != Some(0) => None,
        _ => after,
    };
    let n = |k: &str| {
        summary
            .as_ref()
            .and_then(|s| s.get(k))
            .and_then(Value::as_u64)
    };
    Outcome {
        read: n("read"),
        failed: n("failed"),
        skipped: n("skipped"),
        exit_code: up.code,
        why: if up.code == Some(0) {
            String::new()
        } else {
            up.why("pulumi up")
        },
        ..blank(child, started)
    }
}

/// The child's environment for `pulumi up`: on a DIY backend every read step would rewrite the whole
/// state (quadratic in the scan), so `PULUMI_SKIP_CHECKPOINTS=true` writes it once at the end, and a
/// child that dies keeps its previous state. A value the user set, here or in the child's own
/// environment, is theirs to keep.
fn with_checkpoints_skipped(env: &ChildEnv, ours: impl Fn(&str) -> Option<String>) -> ChildEnv {
    let lookup = |var: &str| {
        env.set
            .iter()
            .rev()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                (!env.remove.iter().any(|k| k == var))
                    .then(|| ours(var))
                    .flatten()
            })
    };
    let mut up = env.clone();
    if lookup(SKIP_CHECKPOINTS).is_none() && Backend::detect(lookup).is_diy() {
        up.set.push((SKIP_CHECKPOINTS.into(), "true".into()));
    }
    up
}

const SKIP_CHECKPOINTS: &str = "PULUMI_SKIP_CHECKPOINTS";

async fn stack_outputs(
    pulumi: &Path,
    stack: &str,
    env: &ChildEnv,
    dir: Option<&Path>,
    log: &Path,
) -> Option<Value> {
    let args: Vec<String> = [
        "stack",
        "output",
        "--json",
        "--stack",
        stack,
        "--non-interactive",
    ]
    .map(String::from)
    .to_vec();
    let ran = exec(pulumi, &args, env, None, dir, log).await;
    if ran.code != Some(0) {
        return None;
    }
    serde_json::from_str(&ran.stdout)
        .ok()
        .filter(Value::is_object)
}

/// Runs the whole plan (or `only`'s part) through the Pulumi CLI at `pulumi`: the fleet's entry
/// point for a test against the real CLI. Returns the outcomes and the rendered table.
pub async fn up_with_pulumi_cli(
    pulumi: &Path,
    project: &Path,
    plan: &Plan,
    only: Option<&str>,
    parallel: usize,
    logs: &Path,
) -> Result<(Vec<Outcome>, String), crate::settings::InputError> {
    let children = plan.select(only)?.into_iter().cloned().collect();
    let runner = Runner::Pulumi {
        pulumi: pulumi.to_path_buf(),
        project: project.to_path_buf(),
    };
    let _ = std::fs::create_dir_all(logs);
    let outcomes = run_children(&plan.cloud, children, parallel, runner, logs, false).await;
    let table = table::render(&outcomes);
    Ok((outcomes, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_line_gives_the_counts() {
        let err = "warning: x\ninfo: aws: discovered 10, read 7, failed 2, skipped 1 in 3.2s; 4 types not listed\ninfo: wrote a.json\n";
        assert_eq!(final_counts(err), Some((7, 2, 1)));
        assert_eq!(final_counts("error: boom\n"), None);
    }

    #[test]
    fn why_is_the_most_telling_error_line() {
        let ran = Ran {
            code: Some(255),
            stdout: "Diagnostics:\n    error: discovery was incomplete; not listed: x\n\n    error: update failed\n".into(),
            stderr: String::new(),
        };
        assert_eq!(
            ran.why("pulumi up"),
            "pulumi up: discovery was incomplete; not listed: x"
        );
        let ran = Ran {
            code: Some(3),
            stdout: String::new(),
            stderr: String::new(),
        };
        assert_eq!(ran.why("x"), "x exited with code 3");
    }
}
