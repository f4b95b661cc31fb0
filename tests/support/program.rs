//! Launches the built `pulumi-cloud-import` binary the way Pulumi's Go language host does: no
//! arguments, and the environment contract of pulumi-protocol.md §1.2 (PULUMI_MONITOR and
//! PULUMI_ENGINE as host:port without a scheme, PULUMI_CONFIG as JSON with `namespace:key` keys...).
//! The environment is otherwise cleared so nothing from the developer's machine leaks in.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::fake_monitor::FakeMonitor;

pub const BIN: &str = env!("CARGO_BIN_EXE_pulumi-cloud-import");

pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The variables a language host sets, with `config` as `pulumi-cloud-import:<key>` entries.
pub fn host_env(m: &FakeMonitor, config: &[(&str, &str)]) -> Vec<(String, String)> {
    let config: serde_json::Map<String, serde_json::Value> = config
        .iter()
        .map(|(k, v)| (format!("pulumi-cloud-import:{k}"), serde_json::json!(v)))
        .collect();
    vec![
        ("PULUMI_MONITOR".into(), m.monitor_addr.to_string()),
        ("PULUMI_ENGINE".into(), m.engine_addr.to_string()),
        ("PULUMI_PROJECT".into(), "pulumi-cloud-import".into()),
        ("PULUMI_STACK".into(), "dev".into()),
        ("PULUMI_ORGANIZATION".into(), "acme".into()),
        (
            "PULUMI_CONFIG".into(),
            serde_json::Value::Object(config).to_string(),
        ),
        ("PULUMI_CONFIG_SECRET_KEYS".into(), "[]".into()),
        ("PULUMI_DRY_RUN".into(), "false".into()),
        ("PULUMI_PARALLEL".into(), "16".into()),
        (
            "PULUMI_ROOT_DIRECTORY".into(),
            env!("CARGO_MANIFEST_DIR").into(),
        ),
    ]
}

pub fn command(args: &[&str], env: &[(String, String)], home: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs to completion (bounded, so a hang fails the test instead of blocking it).
pub async fn run(args: &[&str], env: &[(String, String)], home: &Path) -> Output {
    let child = command(args, env, home).spawn().expect("spawn the program");
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the program did not finish within 120s")
        .expect("wait for the program");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
