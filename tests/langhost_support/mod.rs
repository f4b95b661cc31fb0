//! Starts `pulumi-language-rust` exactly as the Pulumi CLI starts a language host
//! (`pkg/resource/plugin/plugin.go`): in its own process group, flags then the engine address as the
//! last argument, the port read from the first stdout line; and connects a tonic client to it.

#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_import::proto::language_runtime_client::LanguageRuntimeClient;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

/// Stands in for the CLI's engine server. The host only checks that the engine address accepts
/// connections (to notice a dead CLI); a bound listener does, as the kernel completes the handshake.
pub struct FakeEngine {
    listener: std::net::TcpListener,
}

impl FakeEngine {
    pub fn start() -> FakeEngine {
        FakeEngine {
            listener: std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        }
    }
    pub fn address(&self) -> String {
        self.listener.local_addr().unwrap().to_string()
    }
}

/// A running host and a client connected to it. Its stdout after the port line and its stderr
/// are collected in `output` (the program's own output lands there too, as it inherits them).
pub struct Host {
    pub child: Child,
    pub pid: i32,
    /// The port the host announced.
    pub port: u16,
    pub client: LanguageRuntimeClient<Channel>,
    pub output: Arc<Mutex<String>>,
    pub engine: FakeEngine,
}

impl Host {
    pub async fn start(env: &[(&str, &str)]) -> Host {
        Self::start_in(std::env::temp_dir().as_path(), env).await
    }

    /// Starts the host with `cwd` as its working directory (the CLI uses the project directory).
    pub async fn start_in(cwd: &Path, env: &[(&str, &str)]) -> Host {
        Self::start_with_engine(cwd, env, None).await
    }

    /// As [`Host::start_in`], with a real engine service at `engine_address` (for example the fake
    /// engine of `tests/support`) instead of the bare listener.
    pub async fn start_with_engine(
        cwd: &Path,
        env: &[(&str, &str)],
        engine_address: Option<String>,
    ) -> Host {
        let engine = FakeEngine::start();
        let engine_address = engine_address.unwrap_or_else(|| engine.address());
        let mut child = Command::new(env!("CARGO_BIN_EXE_pulumi-language-rust"))
            .args(["--logtostderr", "-v=9", &engine_address])
            .current_dir(cwd)
            .envs(env.iter().copied())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting pulumi-language-rust");
        let pid = child.id().unwrap() as i32;
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).await.unwrap();
        let port: u16 = first
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("first stdout line is not a port: {first:?}"));
        let output = Arc::new(Mutex::new(String::new()));
        tokio::spawn(collect(stdout.into_inner(), output.clone()));
        tokio::spawn(collect(child.stderr.take().unwrap(), output.clone()));

        let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            .expect("connecting to the host's announced port");
        Host {
            child,
            pid,
            port,
            client: LanguageRuntimeClient::new(channel),
            output,
            engine,
        }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
}

async fn collect(stream: impl AsyncRead + Unpin, into: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut out = into.lock().unwrap();
        out.push_str(&line);
        out.push('\n');
    }
}

/// Polls until `path` exists. The bound only keeps a broken build from hanging the suite; it is not
/// a speed requirement.
pub async fn wait_for_file(path: &Path) -> String {
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} never appeared", path.display());
}

/// Writes an executable shell script.
pub fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
