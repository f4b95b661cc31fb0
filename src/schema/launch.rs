//! Starting and stopping a plugin process the way the Pulumi CLI does (`pkg/resource/plugin/plugin.go`):
//! the engine address as the last argument, its own process group, the gRPC port alone on the first
//! stdout line, and shutdown by SIGINT to the group, a 5 s grace, then SIGKILL.
//!
//! Also the signal helpers the language host uses for the program it runs.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// How long a plugin may take to print its port. Large providers unpack their metadata first.
const STARTUP: Duration = Duration::from_secs(60);
/// The CLI's grace period between SIGINT and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// A running plugin.
#[derive(Debug)]
pub struct PluginProcess {
    child: Child,
    pid: i32,
    /// The port the plugin serves on 127.0.0.1.
    pub port: u16,
}

impl PluginProcess {
    /// Starts `binary` with `engine` (`host:port`) as its only argument and waits for its port.
    pub async fn start(binary: &Path, engine: &str) -> Result<PluginProcess, String> {
        let mut child = Command::new(binary)
            .arg(engine)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Backstop for an early return or a panic; `stop` is the normal way out.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start it: {e}"))?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or("it exited at once")?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(drain(stderr, "stderr"));
        }

        let mut first = String::new();
        let read = tokio::time::timeout(STARTUP, stdout.read_line(&mut first)).await;
        let port = match read {
            Err(_) => Err(format!("it printed no port within {}s", STARTUP.as_secs())),
            Ok(Err(e)) => Err(format!("reading its port: {e}")),
            Ok(Ok(0)) => Err(match child.wait().await {
                Ok(status) => format!("it exited ({status}) before printing its port"),
                Err(e) => format!("it closed its stdout before printing its port: {e}"),
            }),
            Ok(Ok(_)) => first.trim().parse::<u16>().map_err(|_| {
                format!(
                    "its first stdout line is not a port number ({} bytes)",
                    first.len()
                )
            }),
        };
        // Keep reading stdout: a plugin that logs there would block on a full pipe otherwise.
        tokio::spawn(drain(stdout.into_inner(), "stdout"));
        match port {
            Ok(port) => Ok(PluginProcess { child, pid, port }),
            Err(why) => {
                let mut process = PluginProcess {
                    child,
                    pid,
                    port: 0,
                };
                process.stop().await;
                Err(why)
            }
        }
    }

    /// SIGINT to the plugin's process group, then SIGKILL after [`GRACE`].
    pub async fn stop(&mut self) {
        interrupt_group(self.pid);
        if tokio::time::timeout(GRACE, self.child.wait())
            .await
            .is_err()
        {
            kill_group(self.pid);
            let _ = self.child.wait().await;
        }
    }
}

// Plugin output goes to debug logs, as the CLI sends it to its own log files.
async fn drain(stream: impl AsyncRead + Unpin, name: &'static str) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(target: "plugin", "{name}: {line}");
    }
}

/// Sends SIGINT to one process.
pub fn interrupt(pid: i32) {
    signal(pid, libc::SIGINT);
}

/// Sends SIGINT to a process group (`pgid` = the id of the process that leads it).
pub fn interrupt_group(pgid: i32) {
    signal(-pgid, libc::SIGINT);
}

/// Sends SIGKILL to a process group.
pub fn kill_group(pgid: i32) {
    signal(-pgid, libc::SIGKILL);
}

fn signal(target: i32, sig: libc::c_int) {
    // Refuse 0 and -1 (own group / every process): only a real child id reaches here.
    if target == 0 || target == -1 {
        return;
    }
    // SAFETY: kill(2) has no memory effects; a stale id only yields ESRCH, which we ignore because
    // the process has then already exited.
    unsafe {
        libc::kill(target, sig);
    }
}
