//! `Run`: starts the program with the environment contract of Pulumi's Go host (`PULUMI_MONITOR`,
//! `PULUMI_CONFIG`, ...; pulumi-protocol.md §1.2) plus the schema loader address, forwards
//! cancellation as SIGINT (then SIGKILL after the CLI's 5 s grace), and maps its exit status:
//! 0 success, 32 bail (the program already reported the error), anything else an error.
//!
//! The program inherits our stdout/stderr (they are the CLI's) and our process group, so a SIGINT
//! the CLI sends to the group reaches it too. Nothing here logs the environment or config values.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::proto::{RunRequest, RunResponse};
use crate::schema::launch::{interrupt, GRACE};
use crate::schema::LOADER_ENV;

/// The exit code with which a program says "failed, and I already reported why".
pub const BAIL_EXIT_CODE: i32 = 32;

/// The variables the program gets on top of the host's own environment. Empty values are left out
/// (as the Go host does), except the ones the Go host always sets.
pub fn program_env(req: &RunRequest, engine: &str) -> Vec<(&'static str, String)> {
    let config = serde_json::to_string(&req.config).expect("a string map serializes");
    let secret_keys =
        serde_json::to_string(&req.config_secret_keys).expect("a string list serializes");
    let root = req
        .info
        .as_ref()
        .map(|i| i.root_directory.clone())
        .unwrap_or_default();
    let vars = [
        ("PULUMI_MONITOR", req.monitor_address.clone()),
        ("PULUMI_ENGINE", engine.to_string()),
        ("PULUMI_PROJECT", req.project.clone()),
        ("PULUMI_STACK", req.stack.clone()),
        ("PULUMI_ORGANIZATION", req.organization.clone()),
        ("PULUMI_ROOT_DIRECTORY", root),
        ("PULUMI_CONFIG", config),
        ("PULUMI_CONFIG_SECRET_KEYS", secret_keys),
        ("PULUMI_DRY_RUN", req.dry_run.to_string()),
        ("PULUMI_PARALLEL", req.parallel.to_string()),
        (LOADER_ENV, req.loader_target.clone()),
    ];
    vars.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

/// The command that starts `program` for `req`, in `cwd`.
pub fn command(program: &Path, req: &RunRequest, engine: &str, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    // A stale value from the host's own environment must not reach the program.
    cmd.env_remove(LOADER_ENV);
    cmd.envs(program_env(req, engine));
    // Cancelling delivers SIGINT, so the program must be able to receive it. A shell without job
    // control starts its background commands with SIGINT ignored, and an ignored signal stays
    // ignored across exec: `pulumi up &` in a script (or CI) would make the cancel a no-op for any
    // program that does not install a handler of its own. Restore the default disposition.
    #[cfg(unix)]
    {
        // SAFETY: between fork and exec only async-signal-safe calls are allowed; signal(2) is one.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                Ok(())
            });
        }
    }
    cmd
}

/// Runs the command to completion. When `cancel` fires (the Run RPC was cancelled or `Cancel` was
/// called) the program gets SIGINT, then SIGKILL if it has not exited after the grace period.
///
/// The child is owned by a task of its own, so that it is still signalled and reaped when the
/// caller's future is dropped mid-way (which is what a cancelled RPC does).
pub async fn run(mut cmd: Command, cancel: CancellationToken) -> RunResponse {
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return RunResponse {
                error: format!("cannot start the program: {e}"),
                bail: false,
            }
        }
    };
    let supervisor = tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status,
            () = cancel.cancelled() => {
                if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                    interrupt(pid);
                }
                match tokio::time::timeout(GRACE, child.wait()).await {
                    Ok(status) => status,
                    Err(_) => {
                        let _ = child.kill().await;
                        child.wait().await
                    }
                }
            }
        };
        match status {
            Ok(status) => outcome(status),
            Err(e) => RunResponse {
                error: format!("lost track of the program: {e}"),
                bail: false,
            },
        }
    });
    supervisor.await.unwrap_or_else(|e| RunResponse {
        error: format!("the program supervisor failed: {e}"),
        bail: false,
    })
}

/// Maps the program's exit status to the Run result.
pub fn outcome(status: ExitStatus) -> RunResponse {
    let fail = |error: String| RunResponse { error, bail: false };
    match (status.code(), status.signal()) {
        (Some(0), _) => RunResponse::default(),
        (Some(BAIL_EXIT_CODE), _) => RunResponse {
            error: String::new(),
            bail: true,
        },
        (Some(code), _) => fail(format!(
            "the program exited with code {code} without reporting an error; its output above may say why"
        )),
        (None, Some(sig)) => fail(format!(
            "the program was terminated by signal {sig}{}",
            match sig {
                libc::SIGINT => " (SIGINT: the update was cancelled)",
                libc::SIGKILL => " (SIGKILL: killed, perhaps out of memory)",
                libc::SIGSEGV => " (SIGSEGV: it crashed)",
                _ => "",
            }
        )),
        (None, None) => fail("the program ended with an unknown status".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ProgramInfo;

    #[test]
    fn exit_statuses_map_to_run_results() {
        // Raw wait statuses: exit code in the high byte, signal number in the low bits.
        assert_eq!(outcome(ExitStatus::from_raw(0)), RunResponse::default());
        assert!(outcome(ExitStatus::from_raw(32 << 8)).bail);
        let r = outcome(ExitStatus::from_raw(3 << 8));
        assert!(!r.bail && r.error.contains("code 3"), "{r:?}");
        let r = outcome(ExitStatus::from_raw(libc::SIGINT));
        assert!(r.error.contains("SIGINT"), "{r:?}");
    }

    #[test]
    fn env_follows_the_go_host_contract() {
        let req = RunRequest {
            project: "p".into(),
            stack: "dev".into(),
            monitor_address: "127.0.0.1:1".into(),
            config: [("p:k".to_string(), "v".to_string())].into(),
            config_secret_keys: vec![],
            parallel: 16,
            info: Some(ProgramInfo {
                root_directory: "/proj".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let env: std::collections::HashMap<_, _> =
            program_env(&req, "127.0.0.1:2").into_iter().collect();
        assert_eq!(env["PULUMI_CONFIG"], r#"{"p:k":"v"}"#);
        assert_eq!(env["PULUMI_CONFIG_SECRET_KEYS"], "[]");
        assert_eq!(env["PULUMI_DRY_RUN"], "false");
        assert_eq!(env["PULUMI_PARALLEL"], "16");
        assert_eq!(env["PULUMI_ROOT_DIRECTORY"], "/proj");
        assert!(!env.contains_key("PULUMI_ORGANIZATION"));
        assert!(!env.contains_key(LOADER_ENV));
    }
}
