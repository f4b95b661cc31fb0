//! The real peers of the end-to-end suite: the stock Pulumi CLI and engine, the real Kubernetes
//! provider plugin, and a real kube-apiserver with kube-controller-manager, all built from the Go
//! module proxy by `tests/real/build.sh` and started by `tests/real/cluster.sh`.
//!
//! When the peers are not built a test skips with a message saying how to build them, unless
//! `PULUMI_CLOUD_IMPORT_REAL=require` (set by `.ci/run`, which builds them first): then a missing peer
//! fails the test, so CI can never pass on a silent skip.
#![allow(dead_code)]

pub mod backends;
pub mod cluster;
pub mod interrupt;
pub mod oracle;
pub mod pulumi;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The clone's root.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Our program and language host, as cargo built them for this test run.
pub const PROGRAM: &str = env!("CARGO_BIN_EXE_pulumi-cloud-import");
pub const LANGUAGE_HOST: &str = env!("CARGO_BIN_EXE_pulumi-language-rust");

/// Where the built peers are.
#[derive(Debug, Clone)]
pub struct Peers {
    pub pulumi: PathBuf,
    pub provider: PathBuf,
    /// The provider's version, as `build.sh` pins it (the suffix of its cache directory), so the
    /// plugin is installed and requested under the version it really is.
    pub provider_version: String,
    pub kube_dir: PathBuf,
    pub etcd_dir: PathBuf,
}

impl Peers {
    /// The built peers, or `None` (after saying why) when a test should skip.
    pub fn locate(test: &str) -> Option<Peers> {
        let out = Command::new(script("build.sh"))
            .arg("--print")
            .output()
            .expect("run tests/real/build.sh --print");
        let dirs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect();
        assert_eq!(dirs.len(), 4, "build.sh --print names four directories");
        let peers = Peers {
            pulumi: dirs[0].join("pulumi"),
            provider: dirs[1].join("pulumi-resource-kubernetes"),
            provider_version: dirs[1]
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("pulumi-resource-kubernetes-"))
                .expect(
                    "build.sh names the provider directory pulumi-resource-kubernetes-<version>",
                )
                .to_string(),
            kube_dir: dirs[2].clone(),
            etcd_dir: dirs[3].clone(),
        };
        let missing: Vec<PathBuf> = [
            peers.pulumi.clone(),
            peers.provider.clone(),
            peers.kube_dir.join("kube-apiserver"),
            peers.kube_dir.join("kube-controller-manager"),
            peers.etcd_dir.join("etcd"),
        ]
        .into_iter()
        .filter(|p| !p.is_file())
        .collect();
        if missing.is_empty() {
            return Some(peers);
        }
        let msg = format!(
            "{test}: real peers not built ({}); run tests/real/build.sh (cold: tens of minutes)",
            missing
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if std::env::var("PULUMI_CLOUD_IMPORT_REAL").as_deref() == Ok("require") {
            panic!("{msg}");
        }
        eprintln!("skipping {msg}");
        None
    }
}

pub fn script(name: &str) -> PathBuf {
    Path::new(ROOT).join("tests/real").join(name)
}

/// A finished command's output.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn of(cmd: &mut Command) -> Output {
        let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
        Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the command exited 0.
    pub fn ok(self, what: &str) -> Output {
        assert_eq!(
            self.code,
            Some(0),
            "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}
