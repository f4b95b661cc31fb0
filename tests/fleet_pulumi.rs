//! `fleet up` through the Pulumi CLI.
//!
//! - `fleet_up_with_the_real_pulumi_cli` is the proof: the real CLI (tests/real/build.sh builds it)
//!   runs each child's `pulumi up` with this program's language host against a real cluster, on the
//!   file backend in a temporary directory. It runs when the CLI, the kubernetes provider plugin
//!   and a kubeconfig are there (`PULUMI_CLOUD_IMPORT_REAL_PULUMI`, or the real suite's cache;
//!   `PULUMI_CLOUD_IMPORT_REAL_KUBECONFIG`, e.g. the `reader.kubeconfig` of tests/real/cluster.sh),
//!   and says why it skips otherwise.
//! - `the_cli_is_driven_per_child_with_its_stack_config` checks the command lines the fleet gives
//!   a CLI, with a stand-in script that records them: which commands, in which order, stale keys
//!   removed, outputs read, a failing child reported and the others unaffected.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::fake_kube::{FakeKube, FakeType, KubeOptions};
use support::program;

/// The real Pulumi CLI, when it and the kubernetes plugin are built; says why not otherwise.
fn real_peers() -> Option<PathBuf> {
    let Some(pulumi) = real_pulumi() else {
        eprintln!(
            "skipped: no real Pulumi CLI (tests/real/build.sh, or PULUMI_CLOUD_IMPORT_REAL_PULUMI)"
        );
        return None;
    };
    if kubernetes_plugin(&pulumi).is_none() {
        eprintln!("skipped: no pulumi-resource-kubernetes beside the real CLI (tests/real/build.sh, or PULUMI_CLOUD_IMPORT_REAL_KUBERNETES_PLUGIN)");
        return None;
    }
    Some(pulumi)
}

/// The real Pulumi CLI, if built.
fn real_pulumi() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PULUMI_CLOUD_IMPORT_REAL_PULUMI") {
        return Some(PathBuf::from(p));
    }
    let cache = PathBuf::from(std::env::var_os("HOME")?).join(".cache/pulumi-cloud-import/real");
    let bin = cache.join("bin/pulumi");
    if bin.is_file() {
        return Some(bin);
    }
    find_in(&cache, "pulumi-v", "pulumi")
}

/// `<cache>/<prefix>*/<file>`, the real suite's layout.
fn find_in(cache: &Path, prefix: &str, file: &str) -> Option<PathBuf> {
    std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path().join(file))
        .find(|p| p.is_file())
}

/// A project directory whose Pulumi.yaml runs the built program through the built host, with the
/// kubernetes plugin from `provider_dir` when given.
fn project(dir: &Path, provider_dir: Option<&Path>) -> PathBuf {
    let host = Path::new(env!("CARGO_BIN_EXE_pulumi-language-rust"));
    let mut text = format!(
        "name: pulumi-cloud-import\nruntime:\n  name: rust\n  options:\n    binary: {}\nplugins:\n  languages:\n    - name: rust\n      path: {}\n",
        program::BIN,
        host.parent().unwrap().display()
    );
    if let Some(p) = provider_dir {
        text.push_str(&format!(
            "  providers:\n    - name: kubernetes\n      path: {}\n",
            p.display()
        ));
    }
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("Pulumi.yaml"), text).unwrap();
    project
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_up_with_the_real_pulumi_cli() {
    let Some(pulumi) = real_peers() else { return };
    let Some(kubeconfig) = std::env::var_os("PULUMI_CLOUD_IMPORT_REAL_KUBECONFIG") else {
        eprintln!("skipped: PULUMI_CLOUD_IMPORT_REAL_KUBECONFIG names no cluster to scan (tests/real/cluster.sh writes one)");
        return;
    };
    real_fleet(&pulumi, Path::new(&kubeconfig), true).await;
}

/// The same with an API server serving no type at all: nothing to read, but every Pulumi command
/// of the fleet (stack creation, config, up with the program and the provider, outputs) is real.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_up_with_the_real_pulumi_cli_and_an_empty_api_server() {
    let Some(pulumi) = real_peers() else { return };
    // One served type (discovery needs a core group), with no objects.
    let kube = FakeKube::start(KubeOptions {
        types: vec![FakeType {
            group: "",
            version: "v1",
            kind: "ConfigMap",
            plural: "configmaps",
            namespaced: true,
            verbs: &["list", "get"],
        }],
        ..KubeOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(dir.path(), "empty");
    real_fleet(&pulumi, &kubeconfig, false).await;

    // A second context whose API server is down: that child fails, with the reason in the table,
    // and the other one, running beside it, still succeeds.
    let dead = dir.path().join("dead");
    std::fs::write(
        &dead,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: dead\n  context:\n    cluster: dead\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .unwrap();
    let both = format!("{}:{}", kubeconfig.display(), dead.display());
    let (out, _) = fleet_up(&pulumi, Path::new(&both)).await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let empty = out
        .stdout
        .lines()
        .find(|l| l.starts_with("empty "))
        .expect("empty row");
    let cols: Vec<&str> = empty.split_whitespace().collect();
    assert_eq!((cols[2], cols[6]), ("0", "0"), "{}", out.stdout);
    let dead_row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("dead "))
        .expect("dead row");
    assert!(
        dead_row.contains("pulumi up"),
        "the table says why: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains("2 children: 1 succeeded, 1 failed"),
        "{}",
        out.stdout
    );
    eprintln!("{}", out.stdout);
}

/// Plans every context of `kubeconfig` and runs `fleet up` with the real CLI, in a fresh state
/// directory; returns the output and the home directory (kept alive).
async fn fleet_up(pulumi: &Path, kubeconfig: &Path) -> (program::Output, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let project = project(
        home.path(),
        kubernetes_plugin(pulumi).as_deref().and_then(Path::parent),
    );
    let env = real_env(pulumi, kubeconfig, home.path());
    let provider = format!("providerVersion={}", kubernetes_plugin_version(pulumi));
    let out = program::run(
        &[
            "fleet",
            "plan",
            "--cloud",
            "kubernetes",
            "-c",
            &provider,
            "--out",
            "fleet.yaml",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = program::run(
        &[
            "fleet",
            "up",
            "--cwd",
            project.to_str().unwrap(),
            "--parallel",
            "2",
        ],
        &env,
        home.path(),
    )
    .await;
    (out, home)
}

fn kubernetes_plugin(pulumi: &Path) -> Option<PathBuf> {
    let cache = pulumi.parent()?.parent()?.to_path_buf();
    std::env::var_os("PULUMI_CLOUD_IMPORT_REAL_KUBERNETES_PLUGIN")
        .map(PathBuf::from)
        .or_else(|| {
            find_in(
                &cache,
                "pulumi-resource-kubernetes-",
                "pulumi-resource-kubernetes",
            )
        })
}

fn kubernetes_plugin_version(pulumi: &Path) -> String {
    kubernetes_plugin(pulumi)
        .and_then(|p| {
            let dir = p.parent()?.file_name()?.to_string_lossy().into_owned();
            Some(
                dir.trim_start_matches("pulumi-resource-kubernetes-")
                    .to_string(),
            )
        })
        .unwrap_or_else(|| "4.25.0".into())
}

/// The file backend in `home`, and nothing of the developer's own Pulumi setup.
fn real_env(pulumi: &Path, kubeconfig: &Path, home: &Path) -> Vec<(String, String)> {
    let state = home.join("state");
    std::fs::create_dir_all(&state).unwrap();
    [
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("PULUMI_BACKEND_URL", format!("file://{}", state.display())),
        ("PULUMI_CONFIG_PASSPHRASE", "fleet-test".into()),
        (
            "PULUMI_HOME",
            home.join("pulumi-home").display().to_string(),
        ),
        ("PULUMI_CLOUD_IMPORT_PULUMI", pulumi.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Plans the kubeconfig's contexts and runs `fleet up` with the real CLI at `pulumi`; `reads`: the
/// cluster has objects to read.
async fn real_fleet(pulumi: &Path, kubeconfig: &Path, reads: bool) {
    let pulumi = pulumi.to_path_buf();
    let plugin = kubernetes_plugin(&pulumi).expect("checked by real_peers");
    let version = kubernetes_plugin_version(&pulumi);
    let home = tempfile::tempdir().unwrap();
    let project = project(home.path(), Some(plugin.parent().unwrap()));
    let env = real_env(&pulumi, kubeconfig, home.path());
    let provider = format!("providerVersion={version}");
    let out = program::run(
        &[
            "fleet",
            "plan",
            "--cloud",
            "kubernetes",
            "--name",
            "real",
            "-c",
            &provider,
            "--out",
            "fleet.yaml",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let plan = home.path().join("fleet.yaml");
    // The first round creates the stack, the second selects it and reads again.
    let mut read = 0;
    for round in 0..2 {
        let logs = home.path().join(format!("logs-{round}"));
        let out = program::run(
            &[
                "fleet",
                "up",
                "--file",
                plan.to_str().unwrap(),
                "--cwd",
                project.to_str().unwrap(),
                "--logs",
                logs.to_str().unwrap(),
            ],
            &env,
            home.path(),
        )
        .await;
        let log_text: String = std::fs::read_dir(&logs)
            .map(|d| {
                d.flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            out.code,
            Some(0),
            "{}\n{}\n{log_text}",
            out.stdout,
            out.stderr
        );
        let row = out.stdout.lines().nth(1).expect("a row");
        let this_read: u64 = row
            .split_whitespace()
            .nth(2)
            .unwrap()
            .parse()
            .expect("read count");
        assert_eq!(this_read > 0, reads, "{}", out.stdout);
        read = this_read;
    }
    // The stack really holds what was read.
    let plan_value: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let stack = plan_value["children"][0]["stack"].as_str().unwrap();
    let ran = std::process::Command::new(&pulumi)
        .args(["stack", "export", "--stack", stack, "--non-interactive"])
        .current_dir(&project)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    let deployment: Value = serde_json::from_slice(&ran.stdout).expect("stack export");
    let resources = deployment["deployment"]["resources"].as_array().unwrap();
    let external = resources.iter().filter(|r| r["external"] == true).count();
    assert!(
        external as u64 >= read,
        "{external} external resources for {read} reads"
    );
}

const STAND_IN: &str = r#"#!/bin/sh
# Records its command line, answers like the Pulumi CLI for the commands the fleet uses.
echo "$*" >> "$FLEET_CALLS"
stack=""
prev=""
for a in "$@"; do
  if [ "$prev" = "--stack" ]; then stack="$a"; fi
  prev="$a"
done
case "$1 $2" in
  "stack select") exit 0 ;;
  "env run") shift 3; shift; exec "$@" ;;
  "config --json") echo '{"pulumi-cloud-import:cloud":{"value":"kubernetes","secret":false},"pulumi-cloud-import:stale":{"value":"x","secret":false},"aws:region":{"value":"y","secret":false}}' ;;
  "config rm-all"|"config set-all") exit 0 ;;
  "stack output")
    if [ -f "$FLEET_CALLS.$stack.up" ]; then
      echo '{"discovered":8,"read":5,"failed":1,"skipped":2,"durationSeconds":1.5}'
    else
      echo '{}'
    fi ;;
  "up --skip-preview")
    touch "$FLEET_CALLS.$stack.up"
    echo "$stack ${PULUMI_SKIP_CHECKPOINTS:-unset}" >> "$FLEET_CALLS.checkpoints"
    case "$stack" in
      *bad*) echo "Diagnostics:"; echo "    error: the cluster said no"; echo "    error: update failed"; exit 255 ;;
    esac ;;
  *) echo "error: unexpected $*" >&2; exit 9 ;;
esac
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_is_driven_per_child_with_its_stack_config() {
    let kube = FakeKube::start(KubeOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    let (a, b) = (home.path().join("a"), home.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let kubeconfig = format!(
        "{}:{}",
        kube.write_kubeconfig(&a, "good").display(),
        kube.write_kubeconfig(&b, "bad").display()
    );
    let script = home.path().join("pulumi");
    std::fs::write(&script, STAND_IN).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let calls = home.path().join("calls");
    let project = project(home.path(), None);
    let env: Vec<(String, String)> = vec![
        ("KUBECONFIG".into(), kubeconfig),
        ("FLEET_CALLS".into(), calls.display().to_string()),
    ];
    let out = program::run(
        &[
            "fleet",
            "plan",
            "--cloud",
            "kubernetes",
            "-c",
            "workers=4",
            "--esc-environment",
            "acme/scanners",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    std::fs::write(home.path().join("fleet.yaml"), &out.stdout).unwrap();

    let out = program::run(
        &[
            "fleet",
            "up",
            "--pulumi",
            script.to_str().unwrap(),
            "--cwd",
            project.to_str().unwrap(),
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let good = out
        .stdout
        .lines()
        .find(|l| l.starts_with("good "))
        .expect("good row");
    let cols: Vec<&str> = good.split_whitespace().collect();
    assert_eq!(
        (cols[2], cols[3], cols[4], cols[6]),
        ("5", "1", "2", "0"),
        "{}",
        out.stdout
    );
    let bad = out
        .stdout
        .lines()
        .find(|l| l.starts_with("bad "))
        .expect("bad row");
    assert!(
        bad.contains(" 255  pulumi up: the cluster said no"),
        "{}",
        out.stdout
    );

    let calls = std::fs::read_to_string(&calls).unwrap();
    let good_calls: Vec<&str> = calls.lines().filter(|l| l.contains("good")).collect();
    assert_eq!(
        good_calls,
        [
            "stack select --create good --non-interactive",
            "config --json --stack good --non-interactive",
            "config rm-all --stack good pulumi-cloud-import:stale --non-interactive",
            "config set-all --stack good --plaintext pulumi-cloud-import:cloud=kubernetes --plaintext pulumi-cloud-import:context=good --plaintext pulumi-cloud-import:workers=4 --non-interactive",
            "stack output --json --stack good --non-interactive",
            // The update runs inside the child's ESC environment.
            format!("env run acme/scanners -- {} up --skip-preview --show-reads --continue-on-error --yes --stack good --non-interactive", script.display()).as_str(),
            "up --skip-preview --show-reads --continue-on-error --yes --stack good --non-interactive",
            "stack output --json --stack good --non-interactive",
        ],
        "{calls}"
    );
    // Both children share the fake's one API server: they ran one after the other.
    let lines: Vec<&str> = calls.lines().collect();
    let first_bad = lines.iter().position(|l| l.contains("bad")).unwrap();
    let last_good = lines.iter().rposition(|l| l.contains("good")).unwrap();
    assert!(
        last_good < first_bad,
        "one rate limit group, one at a time: {calls}"
    );
    // No backend the fleet can see (no PULUMI_BACKEND_URL, no login): checkpoints stay as they are.
    let checkpoints = std::fs::read_to_string(home.path().join("calls.checkpoints")).unwrap();
    assert_eq!(checkpoints, "good unset\nbad unset\n");
}

/// On a DIY backend each read step rewrites the whole state, so the fleet's children skip
/// per-step checkpoints, unless the user said otherwise; on Pulumi Cloud they are left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_on_a_diy_backend_skip_per_step_checkpoints_unless_told_otherwise() {
    let kube = FakeKube::start(KubeOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "only");
    let script = home.path().join("pulumi");
    std::fs::write(&script, STAND_IN).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let project = project(home.path(), None);
    let base: Vec<(String, String)> = vec![("KUBECONFIG".into(), kubeconfig.display().to_string())];
    let out = program::run(
        &["fleet", "plan", "--cloud", "kubernetes"],
        &base,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    std::fs::write(home.path().join("fleet.yaml"), &out.stdout).unwrap();

    // The login file names the backend when no variable does (`pulumi login s3://...`).
    let pulumi_home = home.path().join("pulumi-home");
    std::fs::create_dir_all(&pulumi_home).unwrap();
    std::fs::write(
        pulumi_home.join("credentials.json"),
        r#"{"current": "s3://state-bucket", "accessTokens": {}}"#,
    )
    .unwrap();
    // (case, the variables it sets, what the child's `pulumi up` sees)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (
            "file",
            &[("PULUMI_BACKEND_URL", "file:///var/state")],
            "true",
        ),
        ("login", &[("PULUMI_HOME", "<home>")], "true"),
        (
            "user",
            &[
                ("PULUMI_BACKEND_URL", "postgres://u@h/db"),
                ("PULUMI_SKIP_CHECKPOINTS", "false"),
            ],
            "false",
        ),
        (
            "cloud",
            &[("PULUMI_BACKEND_URL", "https://api.pulumi.com")],
            "unset",
        ),
    ];
    for (case, vars, expected) in cases {
        let calls = home.path().join(format!("calls-{case}"));
        let mut env = base.clone();
        env.push(("FLEET_CALLS".into(), calls.display().to_string()));
        for (k, v) in vars {
            let v = v.replace("<home>", &pulumi_home.display().to_string());
            env.push((k.to_string(), v));
        }
        let out = program::run(
            &[
                "fleet",
                "up",
                "--pulumi",
                script.to_str().unwrap(),
                "--cwd",
                project.to_str().unwrap(),
            ],
            &env,
            home.path(),
        )
        .await;
        assert_eq!(out.code, Some(0), "{case}: {}\n{}", out.stdout, out.stderr);
        let seen = std::fs::read_to_string(format!("{}.checkpoints", calls.display())).unwrap();
        assert_eq!(seen, format!("only {expected}\n"), "{case}");
    }
}
