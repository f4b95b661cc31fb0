//! The host's side of the CLI's plugin launch contract (`pkg/resource/plugin/plugin.go`): flags, then
//! the engine address as the last argument; the chosen port alone on the first stdout line; exit on
//! SIGINT/SIGTERM (the CLI signals our whole process group), or when the engine goes away so that a
//! crashed CLI does not leave us running.

use std::io::Write;
use std::time::Duration;

use tokio::net::TcpStream;

/// The command line the CLI gives a language host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostArgs {
    /// The engine's gRPC address (`127.0.0.1:<port>`).
    pub engine: String,
    /// `-v=N` (glog style), 0 when absent.
    pub verbosity: u8,
}

impl HostArgs {
    /// Parses `[--logtostderr] [-v=N] [--tracing <url>] ... <engine-address>`. Unknown flags are
    /// ignored, as newer CLIs may add some; the last positional argument is the engine address.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<HostArgs, String> {
        let mut verbosity = 0;
        let mut positional = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--tracing" || arg == "-tracing" {
                args.next();
            } else if let Some(v) = arg.strip_prefix("-v=").or_else(|| arg.strip_prefix("--v=")) {
                verbosity = v.parse().unwrap_or(0);
            } else if !arg.starts_with('-') {
                positional.push(arg);
            }
        }
        let engine = positional.pop().ok_or(
            "usage: pulumi-language-rust [--logtostderr] [-v=N] <engine-address>; the Pulumi CLI starts this language host for `runtime: rust`",
        )?;
        Ok(HostArgs { engine, verbosity })
    }
}

/// Tells the CLI our port: the first stdout line, alone.
pub fn announce_port(port: u16) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{port}")?;
    out.flush()
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without handlers the default action (exit) applies, which is also correct.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// Resolves once the engine address has refused connections three checks in a row (about 15 s).
/// Pulumi's own hosts health-check the engine over gRPC; a TCP connect is enough to tell that the
/// CLI process is gone.
pub async fn engine_gone(engine: &str) {
    let mut failures = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(engine)).await {
            Ok(Ok(_)) => failures = 0,
            _ => failures += 1,
        }
        if failures >= 3 {
            tracing::warn!("the engine at {engine} is gone; shutting down");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<HostArgs, String> {
        HostArgs::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn engine_address_is_the_last_positional_argument() {
        let a = parse(&[
            "--logtostderr",
            "-v=9",
            "--tracing",
            "http://x",
            "127.0.0.1:4000",
        ])
        .unwrap();
        assert_eq!(a.engine, "127.0.0.1:4000");
        assert_eq!(a.verbosity, 9);
        assert_eq!(parse(&["127.0.0.1:1"]).unwrap().verbosity, 0);
        assert!(parse(&["--logtostderr"]).unwrap_err().starts_with("usage:"));
    }
}
