//! End to end: the built program, launched as a Pulumi language host launches it, scans a fake
//! Kubernetes API server with the real `kube` client and reads every object into a fake Pulumi engine
//! over gRPC; also `--import` and `--list` against the same fake cluster.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use support::checks::{
    assert_ended_with_shutdown, check_engine_run, check_import_file, string_field, to_json,
};
use support::fake_kube::{FakeKube, FakeObject, FakeType, KubeOptions, SECRET_DATA};
use support::fake_monitor::{number, Call, FakeMonitor, MonitorOptions, PreviousStack, UNKNOWN_ID};
use support::program::{self, host_env};

const ALL: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

fn t(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> FakeType {
    FakeType {
        group,
        version,
        kind,
        plural,
        namespaced,
        verbs: ALL,
    }
}

/// A small cluster with something of every kind the scanner must treat specially.
fn cluster() -> KubeOptions {
    let mut o = KubeOptions {
        types: vec![
            t("", "v1", "Namespace", "namespaces", false),
            t("", "v1", "ConfigMap", "configmaps", true),
            t("", "v1", "Secret", "secrets", true),
            t("", "v1", "Pod", "pods", true),
            t("", "v1", "Event", "events", true),
            t("", "v1", "ServiceAccount", "serviceaccounts", true),
            FakeType {
                verbs: &["create"],
                ..t("", "v1", "Binding", "bindings", true)
            },
            t("apps", "v1", "Deployment", "deployments", true),
            t("apps", "v1", "ReplicaSet", "replicasets", true),
            t("coordination.k8s.io", "v1", "Lease", "leases", true),
            t(
                "rbac.authorization.k8s.io",
                "v1",
                "ClusterRole",
                "clusterroles",
                false,
            ),
            t("stable.example.com", "v1", "CronTab", "crontabs", true),
            t(
                "stable.example.com",
                "v1beta1",
                "CronTab",
                "crontabsold",
                true,
            ),
            t("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", true),
        ],
        ..Default::default()
    };
    let namespaces = ["default", "kube-system", "team-a"];
    o.objects.insert(
        "namespaces",
        namespaces.iter().map(|n| FakeObject::cluster(n)).collect(),
    );
    let mut cms = Vec::new();
    for ns in namespaces {
        cms.push(FakeObject::ns(ns, "kube-root-ca.crt"));
        for i in 0..12 {
            cms.push(FakeObject::ns(ns, &format!("settings-{i:02}")));
        }
    }
    o.objects.insert("configmaps", cms);
    o.objects.insert(
        "secrets",
        vec![
            // Created with `kubectl apply`: the annotation holds the values in plain text.
            FakeObject::ns("team-a", "db-password").annotated(
                "kubectl.kubernetes.io/last-applied-configuration",
                r#"{"kind":"Secret","stringData":{"password":"hunter2"}}"#,
            ),
            FakeObject::ns("team-a", "api-key"),
            FakeObject::ns("team-a", "builder-token")
                .annotated("kubernetes.io/service-account.name", "builder"),
        ],
    );
    o.objects.insert(
        "pods",
        vec![
            FakeObject::ns("team-a", "web-5d9c-abcde").owned_by("ReplicaSet", "web-5d9c"),
            FakeObject::ns("team-a", "debug-shell"),
        ],
    );
    o.objects.insert(
        "events",
        (0..5)
            .map(|i| FakeObject::ns("team-a", &format!("web.{i}")))
            .collect(),
    );
    o.objects.insert(
        "serviceaccounts",
        vec![
            FakeObject::ns("team-a", "default"),
            FakeObject::ns("team-a", "builder"),
        ],
    );
    o.objects
        .insert("deployments", vec![FakeObject::ns("team-a", "web")]);
    o.objects.insert(
        "replicasets",
        vec![FakeObject::ns("team-a", "web-5d9c").owned_by("Deployment", "web")],
    );
    o.objects.insert(
        "leases",
        vec![FakeObject::ns("kube-system", "kube-scheduler")],
    );
    o.objects
        .insert("clusterroles", vec![FakeObject::cluster("admin")]);
    o.objects.insert(
        "crontabs",
        vec![
            FakeObject::ns("team-a", "nightly"),
            FakeObject::ns("default", "hourly"),
        ],
    );
    o.objects
        .insert("crontabsold", vec![FakeObject::ns("team-a", "legacy")]);
    o.stale_groups.insert("metrics.k8s.io");
    // An expired token with a fresh one in the Status, and one without (the list restarts).
    o.expire_once.insert("configmaps", false);
    o.expire_once.insert("secrets", true);
    o
}

/// (token, id) of everything that must be read, and how many objects must be skipped.
fn expected(o: &KubeOptions) -> (BTreeMap<(String, String), ()>, usize) {
    let token = |p: &str| match p {
        "namespaces" => "kubernetes:core/v1:Namespace",
        "configmaps" => "kubernetes:core/v1:ConfigMap",
        "secrets" => "kubernetes:core/v1:Secret",
        "pods" => "kubernetes:core/v1:Pod",
        "serviceaccounts" => "kubernetes:core/v1:ServiceAccount",
        "deployments" => "kubernetes:apps/v1:Deployment",
        "crontabs" => "kubernetes:stable.example.com/v1:CronTab",
        "clusterroles" => "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
        _ => "",
    };
    let mut read = BTreeMap::new();
    for p in [
        "namespaces",
        "configmaps",
        "secrets",
        "pods",
        "serviceaccounts",
        "deployments",
        "crontabs",
        "clusterroles",
    ] {
        for obj in &o.objects[p] {
            let skipped = obj.name == "kube-root-ca.crt"
                || obj.name == "builder-token"
                || obj.owner.is_some()
                || (p == "serviceaccounts" && obj.name == "default");
            if !skipped {
                read.insert((token(p).to_string(), obj.id()), ());
            }
        }
    }
    // 3 root CA maps, 1 SA token, 1 owned pod, 1 default SA, 5 events, 1 owned ReplicaSet, 1 lease.
    (read, 3 + 1 + 1 + 1 + 5 + 1 + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pulumi_up_reads_every_object_once_with_bounded_concurrency() {
    let opts = cluster();
    let (want, want_skipped) = expected(&opts);
    let kube = FakeKube::start(opts).await;
    let monitor = FakeMonitor::start(MonitorOptions {
        latency: Duration::from_millis(25),
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod-cluster");
    let mut env = host_env(&monitor, &[("cloud", "kubernetes"), ("pageSize", "2")]);
    env.push(("PULUMI_CLOUD_IMPORT_WORKERS".into(), "4".into()));
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));

    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "", "stdout must stay quiet under Pulumi");
    assert_eq!(out.stderr, "", "stderr must stay quiet under Pulumi");

    // Call order, provider registration and every read's parent, provider and name.
    let run = check_engine_run(&monitor, "pulumi:providers:kubernetes", "4.32.0");
    assert_eq!(
        string_field(&run.provider_inputs, "context").as_deref(),
        Some("prod-cluster")
    );
    let got: BTreeMap<(String, String), ()> = run.reads.into_iter().map(|k| (k, ())).collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    // The kubectl-applied Secret's metadata is stored encrypted; other objects' is not.
    let secret_outputs: BTreeMap<String, Vec<String>> = monitor
        .reads()
        .into_iter()
        .filter(|r| r.r#type == "kubernetes:core/v1:Secret")
        .map(|r| (r.id, r.additional_secret_outputs))
        .collect();
    assert_eq!(secret_outputs["team-a/db-password"], vec!["metadata"]);
    assert!(secret_outputs["team-a/api-key"].is_empty());
    // Each read carries the object's identity, so the provider reads it with one GET instead of
    // importing it; the provider's client limits follow the 4 workers and the 60 s readTimeout.
    for r in monitor.reads() {
        let props = to_json(r.properties.as_ref().expect("properties"));
        let (ns, name) = match r.id.split_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, r.id.as_str()),
        };
        let (_, kind) = r.r#type.rsplit_once(':').unwrap();
        let group_version = r.r#type["kubernetes:".len()..].rsplit_once(':').unwrap().0;
        let api_version = group_version.strip_prefix("core/").unwrap_or(group_version);
        let mut metadata = serde_json::json!({
            "name": name,
            "annotations": {"pulumi.com/skipAwait": "true"},
        });
        if let Some(ns) = ns {
            metadata["namespace"] = ns.into();
        }
        assert_eq!(
            props,
            serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": metadata}),
            "{} {}",
            r.r#type,
            r.id
        );
    }
    assert_eq!(
        to_json(&run.provider_inputs)["kubeClientSettings"],
        serde_json::json!({"qps": 100.0, "burst": 200.0, "timeout": 30.0})
    );
    let rec = monitor.record();
    assert_ended_with_shutdown(&rec);
    assert_eq!(
        monitor.max_in_flight(),
        4,
        "the pool must fill to WORKERS and never exceed it"
    );

    // The summary outputs add up.
    let outputs = rec.calls.iter().find_map(|c| match c {
        Call::Outputs(o) => Some(o.clone()),
        _ => None,
    });
    let outputs = outputs.expect("stack outputs registered").outputs.unwrap();
    let n = |k: &str| number(&outputs, &[k]).unwrap() as usize;
    assert_eq!(n("read"), want.len());
    assert_eq!(n("skipped"), want_skipped);
    assert_eq!(n("failed"), 0);
    assert_eq!(n("discovered"), n("read") + n("skipped") + n("failed"));
    assert_eq!(
        number(&outputs, &["types", "kubernetes:core/v1:Event", "skipped"]),
        Some(5.0)
    );

    // The stale metrics group is skipped with a warning.
    let warnings: Vec<String> = rec
        .calls
        .iter()
        .filter_map(|c| match c {
            Call::Log(l) if l.severity == 2 => Some(l.message.clone()),
            _ => None,
        })
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("metrics.k8s.io")),
        "{warnings:?}"
    );
    drop(rec);

    let krec = kube.record();
    assert_eq!(krec.unauthorized, 0);
    assert_eq!(krec.expired_sent, 2, "both expiry paths were exercised");
    assert!(
        krec.full_lists.is_empty(),
        "lists must be metadata-only: {:?}",
        krec.full_lists
    );
    assert!(
        !krec.requests.iter().any(|r| r.contains("crontabsold")),
        "non-preferred version listed"
    );
}

/// Runs the program under the fake engine against `opts`, expecting an incomplete scan: exit 32, no
/// shutdown signal (so the engine keeps earlier state), everything else still read. Returns the
/// ERROR lines the engine got.
/// Runs into a stack that already holds objects of `held_type` (and of every fixture type), so that
/// a refusal to list it is a gap, not a type the stack never had.
async fn run_incomplete(opts: KubeOptions, held_type: &str) -> Vec<String> {
    let kube = FakeKube::start(opts).await;
    let monitor = FakeMonitor::start(MonitorOptions {
        previous: PreviousStack::Outputs(serde_json::json!({"held": {held_type: []}})),
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let mut env = host_env(&monitor, &[("cloud", "kubernetes")]);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));

    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let rec = monitor.record();
    assert!(
        !rec.calls.iter().any(|c| matches!(c, Call::Shutdown)),
        "must not let the engine discard state"
    );
    assert!(rec
        .calls
        .iter()
        .any(|c| matches!(c, Call::Read(r, _) if r.r#type == "kubernetes:core/v1:ConfigMap")));
    rec.calls
        .iter()
        .filter_map(|c| match c {
            Call::Log(l) if l.severity == 3 => Some(l.message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_listing_exits_32_without_signalling_shutdown() {
    let mut opts = cluster();
    opts.broken.insert("deployments");
    let errors = run_incomplete(opts, "apps/v1/Deployment").await;
    assert!(
        errors.iter().any(|e| e.contains("apps/v1/Deployment")),
        "{errors:?}"
    );
}

/// A type the credentials may not list is a gap in the scan: were the run to succeed, the engine
/// would drop that type's objects read by an earlier run (a role narrowed between two runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_type_makes_the_scan_incomplete() {
    let mut opts = cluster();
    opts.forbidden.insert("clusterroles");
    let errors = run_incomplete(opts, "rbac.authorization.k8s.io/v1/ClusterRole").await;
    assert!(
        errors
            .iter()
            .any(|e| e.contains("rbac.authorization.k8s.io/v1/ClusterRole")
                && e.contains("403")
                && e.contains("pulumi-cloud-import:exclude")),
        "{errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_reads_are_counted_and_warned_once_per_type() {
    let opts = cluster();
    let kube = FakeKube::start(opts).await;
    let failing: HashSet<String> = (0..5).map(|i| format!("team-a/settings-{i:02}")).collect();
    let monitor = FakeMonitor::start(MonitorOptions {
        failing_ids: failing,
        old_engine: true,
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let mut env = host_env(&monitor, &[("cloud", "kubernetes")]);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));

    let out = program::run(&[], &env, home.path()).await;
    // An engine without SignalAndWaitForShutdown (UNIMPLEMENTED) still ends cleanly.
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let outputs = monitor.outputs().pop().unwrap().outputs.unwrap();
    assert_eq!(number(&outputs, &["failed"]), Some(5.0));
    assert_eq!(
        number(
            &outputs,
            &["types", "kubernetes:core/v1:ConfigMap", "failed"]
        ),
        Some(5.0)
    );
    let warnings = monitor
        .logs()
        .into_iter()
        .filter(|l| l.severity == 2 && l.message.contains("kubernetes:core/v1:ConfigMap"))
        .count();
    assert_eq!(
        warnings, 1,
        "one warning per failing type, not per resource"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_before_any_engine_call() {
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    for (workers, needle) in [
        ("0", "\"0\""),
        ("-1", "\"-1\""),
        ("abc", "\"abc\""),
        ("1e9", "\"1e9\""),
    ] {
        let mut env = host_env(&monitor, &[("cloud", "kubernetes")]);
        env.push(("PULUMI_CLOUD_IMPORT_WORKERS".into(), workers.into()));
        let out = program::run(&[], &env, home.path()).await;
        assert_eq!(out.code, Some(2));
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("PULUMI_CLOUD_IMPORT_WORKERS") && out.stderr.contains(needle),
            "{}",
            out.stderr
        );
    }
    let env = host_env(&monitor, &[("cloud", "gcp")]);
    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("\"gcp\""), "{}", out.stderr);

    let mut env = host_env(&monitor, &[("cloud", "kubernetes")]);
    env.push((
        "KUBECONFIG".into(),
        home.path().join("missing").display().to_string(),
    ));
    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("kubeconfig"), "{}", out.stderr);

    let mut env = host_env(&monitor, &[("cloud", "kubernetes")]);
    env.retain(|(k, _)| k != "PULUMI_CONFIG");
    env.push(("PULUMI_CONFIG".into(), "{not json".into()));
    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("PULUMI_CONFIG"), "{}", out.stderr);

    assert!(
        monitor.record().calls.is_empty(),
        "no engine call may happen on bad input"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_that_does_not_parse_is_one_line_naming_the_file() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("kubeconfig");
    std::fs::write(&path, "apiVersion: v1\nclusters: [\n  - name: {broken\n").unwrap();
    let env = vec![("KUBECONFIG".to_string(), path.display().to_string())];
    let out = program::run(&["--list", "--cloud", "kubernetes"], &env, home.path()).await;
    assert_eq!(out.code, Some(2));
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(&format!(
            "error: cannot read the kubeconfig {}: ",
            path.display()
        )),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_exec_plugin_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncurrent-context: eks\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: eks\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: no-such-auth-plugin-xyz\n",
    )
    .unwrap();
    let env = vec![("KUBECONFIG".to_string(), path.display().to_string())];
    let out = program::run(&["--list", "--cloud", "kubernetes"], &env, home.path()).await;
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("no-such-auth-plugin-xyz"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_mode_writes_a_valid_import_file() {
    let opts = cluster();
    let (want, _) = expected(&opts);
    let kube = FakeKube::start(opts).await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let env = vec![("KUBECONFIG".to_string(), kubeconfig.display().to_string())];
    let out_path = home.path().join("out").join("import.json");
    std::fs::create_dir_all(out_path.parent().unwrap()).unwrap();
    let out = program::run(
        &[
            "--import",
            "--cloud",
            "kubernetes",
            "--out",
            out_path.to_str().unwrap(),
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(!text.contains(SECRET_DATA));
    let file = check_import_file(&text, "pulumi:providers:kubernetes", "4.32.0");
    let got: BTreeMap<(String, String), ()> = file.keys.into_iter().map(|k| (k, ())).collect();
    // Secrets are left out by default: `pulumi import` would put their values in plain text into
    // the code and the state. The run says so, and how to include them.
    let secrets = |k: &&(String, String)| k.0 == "kubernetes:core/v1:Secret";
    let want_no_secrets: Vec<&(String, String)> = want.keys().filter(|k| !secrets(k)).collect();
    assert!(want.keys().any(|k| secrets(&k)), "the fixture has Secrets");
    assert_eq!(got.keys().collect::<Vec<_>>(), want_no_secrets);
    assert!(
        out.stderr.contains("Secret(s) out of") && out.stderr.contains("importSecrets=true"),
        "{}",
        out.stderr
    );
    // Nothing but the file was left behind.
    let entries: Vec<_> = std::fs::read_dir(out_path.parent().unwrap())
        .unwrap()
        .collect();
    assert_eq!(entries.len(), 1, "temporary files left behind");

    // Asked for, they are in.
    let out = program::run(
        &[
            "--import",
            "--cloud",
            "kubernetes",
            "-c",
            "importSecrets=true",
            "--out",
            out_path.to_str().unwrap(),
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let text = std::fs::read_to_string(&out_path).unwrap();
    let file = check_import_file(&text, "pulumi:providers:kubernetes", "4.32.0");
    let got: BTreeMap<(String, String), ()> = file.keys.into_iter().map(|k| (k, ())).collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_mode_prints_ndjson_without_secret_data() {
    let opts = cluster();
    let (want, _) = expected(&opts);
    let kube = FakeKube::start(opts).await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let env = vec![("KUBECONFIG".to_string(), kubeconfig.display().to_string())];
    let out = program::run(
        &[
            "--list",
            "--cloud",
            "kubernetes",
            "--include",
            "kubernetes:core/*",
            "--exclude",
            "*:Namespace",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(!out.stdout.contains(SECRET_DATA));
    let mut got = BTreeMap::new();
    for line in out.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["scope"], "prod");
        assert!(v["cloudType"].as_str().is_some());
        got.insert(
            (
                v["type"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
            ),
            (),
        );
    }
    let want: Vec<_> = want
        .keys()
        .filter(|(t, _)| t.starts_with("kubernetes:core/") && !t.ends_with(":Namespace"))
        .collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), want);
    // Types the filters rule out are not even listed.
    let requests = kube.record().requests.clone();
    assert!(
        !requests.iter().any(|r| r.contains("/deployments")),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("/api/v1/namespaces?")),
        "{requests:?}"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_reads_and_exits_promptly() {
    let opts = cluster();
    let kube = FakeKube::start(opts).await;
    let monitor = FakeMonitor::start(MonitorOptions {
        latency: Duration::from_secs(30),
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let mut env = host_env(&monitor, &[("cloud", "kubernetes")]);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    // `pulumi up --parallel 3`: with no `workers` set, the program keeps exactly that many reads in
    // flight.
    for (k, v) in env.iter_mut() {
        if k == "PULUMI_PARALLEL" {
            *v = "3".into();
        }
    }
    let mut child = program::command(&[], &env, home.path()).spawn().unwrap();
    // Wait until reads are queued in the engine, then interrupt as the engine's teardown does.
    for _ in 0..200 {
        if monitor.max_in_flight() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        monitor.max_in_flight(),
        3,
        "workers default to the engine's --parallel"
    );
    let pid = child.id().unwrap() as i32;
    assert_eq!(unsafe_kill(pid), 0);
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the program must exit promptly after SIGINT")
        .unwrap();
    assert_eq!(status.code(), Some(32));
    let reads = monitor.reads().len();
    assert!(reads <= 3, "no new reads after SIGINT, saw {reads}");
    assert!(!monitor
        .record()
        .calls
        .iter()
        .any(|c| matches!(c, Call::Shutdown)));
}

/// Sends SIGINT with the `kill` command: the test crate has no libc binding of its own.
fn unsafe_kill(pid: i32) -> i32 {
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .map(|s| s.code().unwrap_or(1))
        .unwrap_or(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_without_aggregated_discovery_are_scanned_the_same() {
    let mut opts = cluster();
    opts.legacy_discovery = true;
    let (want, _) = expected(&opts);
    let kube = FakeKube::start(opts).await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "old");
    let env = vec![("KUBECONFIG".to_string(), kubeconfig.display().to_string())];
    let out = program::run(&["--list", "--cloud", "kubernetes"], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let got: BTreeMap<(String, String), ()> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            (
                (
                    v["type"].as_str().unwrap().to_string(),
                    v["id"].as_str().unwrap().to_string(),
                ),
                (),
            )
        })
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(
        kube.record().requests.iter().any(|r| r == "/apis/apps/v1"),
        "per-group discovery was used"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_reads_through_the_provider_with_the_unknown_id() {
    let opts = cluster();
    let (want, _) = expected(&opts);
    let kube = FakeKube::start(opts).await;
    let monitor = FakeMonitor::start(MonitorOptions {
        preview: true,
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let mut env = host_env(&monitor, &[("cloud", "kubernetes")]);
    env.retain(|(k, _)| k != "PULUMI_DRY_RUN");
    env.push(("PULUMI_DRY_RUN".into(), "true".into()));
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let reads = monitor.reads();
    assert_eq!(reads.len(), want.len());
    assert!(reads
        .iter()
        .all(|r| r.provider.ends_with(&format!("::{UNKNOWN_ID}"))));
    assert!(monitor.record().violations.is_empty());
}
