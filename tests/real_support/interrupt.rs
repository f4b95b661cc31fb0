//! SIGINT to the real `pulumi up` while our program's reads are in flight, as a user's Ctrl-C
//! delivers it: the CLI cancels the update gracefully (it finishes its in-flight steps, writes its
//! last checkpoint and releases the stack's lock).

use std::io::{BufRead, BufReader, Read};
use std::process::Command;

use super::pulumi::{up_args, Workspace};
use super::Output;

/// What an interrupted run printed.
pub struct Interrupted {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the README's main command with one read at a time (`workers` 1, so the signal lands
/// mid-reads) and sends SIGINT to the CLI after `rows` `--show-reads` rows. The stack's `workers`
/// setting is removed again afterwards (back to the default).
pub fn up_interrupted(ws: &Workspace, stack: &str, rows: usize) -> Interrupted {
    ws.config_set(stack, "pulumi-cloud-import:workers", "1");
    let mut child = ws.spawn(&up_args(stack));
    // Both streams are drained to the end: a CLI whose stdout or stderr pipe is closed or full
    // would die of SIGPIPE or block, not cancel the way a terminal's Ctrl-C makes it.
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut seen = 0;
    let mut stdout = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("kubernetes:") && line.contains("read") {
            seen += 1;
            if seen == rows {
                Output::of(Command::new("kill").args(["-INT", &child.id().to_string()]))
                    .ok("kill -INT");
            }
        }
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    assert!(
        seen >= rows,
        "the run ended after {seen} read rows, before the interrupt:\n{stdout}\n{stderr}"
    );
    // The CLI's own words when a first SIGINT starts a graceful cancellation.
    assert!(
        stdout.contains("received; cancelling"),
        "the CLI did not cancel gracefully:\n{stdout}\n{stderr}"
    );
    ws.run(&[
        "config",
        "rm",
        "--stack",
        stack,
        "pulumi-cloud-import:workers",
    ])
    .ok("pulumi config rm");
    Interrupted {
        code: status.code(),
        stdout,
        stderr,
    }
}
