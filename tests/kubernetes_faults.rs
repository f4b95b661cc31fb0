//! End to end against a fake API server that behaves like a real one under pressure and under
//! narrow RBAC: API Priority and Fairness throttling with `Retry-After`, a type forbidden
//! cluster-wide but allowed in some namespaces, and a server answering 500s.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::checks::assert_counts_add_up;
use support::fake_kube::{FakeKube, FakeObject, FakeType, KubeOptions};
use support::fake_monitor::{number, Call, FakeMonitor, MonitorOptions, PreviousStack};
use support::program::{self, host_env};

const VERBS: &[&str] = &["get", "list", "watch"];

fn t(group: &'static str, kind: &'static str, plural: &'static str, ns: bool) -> FakeType {
    FakeType {
        group,
        version: "v1",
        kind,
        plural,
        namespaced: ns,
        verbs: VERBS,
    }
}

/// Three namespaces with two Deployments and a ConfigMap each.
fn cluster() -> KubeOptions {
    let mut o = KubeOptions {
        types: vec![
            t("", "Namespace", "namespaces", false),
            t("", "ConfigMap", "configmaps", true),
            t("apps", "Deployment", "deployments", true),
        ],
        ..Default::default()
    };
    let teams = ["team-a", "team-b", "team-c"];
    o.objects.insert(
        "namespaces",
        teams.iter().map(|n| FakeObject::cluster(n)).collect(),
    );
    o.objects.insert(
        "deployments",
        teams
            .iter()
            .flat_map(|n| [FakeObject::ns(n, "web"), FakeObject::ns(n, "api")])
            .collect(),
    );
    o.objects.insert(
        "configmaps",
        teams
            .iter()
            .map(|n| FakeObject::ns(n, "settings"))
            .collect(),
    );
    o
}

struct Ran {
    code: Option<i32>,
    stderr: String,
}

async fn run(kube: &FakeKube, monitor: &FakeMonitor) -> Ran {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let mut env = host_env(monitor, &[("cloud", "kubernetes"), ("pageSize", "1")]);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    let out = program::run(&[], &env, home.path()).await;
    Ran {
        code: out.code,
        stderr: out.stderr,
    }
}

fn read_ids(monitor: &FakeMonitor, token: &str) -> HashSet<String> {
    monitor
        .reads()
        .into_iter()
        .filter(|r| r.r#type == token)
        .map(|r| r.id)
        .collect()
}

fn warnings(monitor: &FakeMonitor) -> Vec<String> {
    monitor
        .logs()
        .into_iter()
        .filter(|l| l.severity == 2)
        .map(|l| l.message)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_per_namespace_imports_what_is_allowed_and_names_the_rest() {
    let mut opts = cluster();
    opts.allowed_namespaces
        .insert("deployments", ["team-a", "team-c"].into_iter().collect());
    let kube = FakeKube::start(opts).await;
    // An earlier run read team-b's Deployments (before a RoleBinding was removed).
    let monitor = FakeMonitor::start(MonitorOptions {
        previous: PreviousStack::Outputs(
            serde_json::json!({"held": {"apps/v1/Deployment": ["team-a", "team-b", "team-c"]}}),
        ),
        ..Default::default()
    })
    .await;
    let out = run(&kube, &monitor).await;
    // A namespace the credentials may not list is a gap like a type-wide 403: what is allowed is
    // read, and the run is incomplete so that the engine keeps the rest from earlier runs.
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);

    let deployments = read_ids(&monitor, "kubernetes:apps/v1:Deployment");
    let want: HashSet<String> = ["team-a/web", "team-a/api", "team-c/web", "team-c/api"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(deployments, want);
    assert_eq!(read_ids(&monitor, "kubernetes:core/v1:ConfigMap").len(), 3);

    let w = warnings(&monitor);
    let about: Vec<&String> = w.iter().filter(|w| w.contains("Deployment")).collect();
    assert!(!about.is_empty(), "{w:?}");
    assert!(
        about
            .iter()
            .all(|a| a.contains("1 namespace(s) (team-b)") && a.contains("403")),
        "only the forbidden namespace is named: {about:?}"
    );

    let outputs = monitor.outputs().pop().expect("outputs").outputs.unwrap();
    assert_counts_add_up(&outputs);
    assert_eq!(number(&outputs, &["read"]), Some(3.0 + 3.0 + 4.0));
    let json = format!("{outputs:?}");
    assert!(json.contains("namespacesNotListed") && json.contains("team-b"));
    // Every namespace was tried, and no other type was listed per namespace.
    let requests = kube.record().requests.clone();
    for ns in ["team-a", "team-b", "team-c"] {
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments");
        assert!(
            requests.iter().any(|r| r.starts_with(&path)),
            "{requests:?}"
        );
    }
    assert!(!requests
        .iter()
        .any(|r| r.contains("/namespaces/") && r.contains("configmaps")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_forbidding_every_namespace_makes_the_scan_incomplete() {
    let mut opts = cluster();
    opts.allowed_namespaces
        .insert("deployments", HashSet::new());
    let kube = FakeKube::start(opts).await;
    // The stack holds Deployments from before the identity lost them.
    let monitor = FakeMonitor::start(MonitorOptions {
        previous: PreviousStack::Outputs(serde_json::json!({"held": {"apps/v1/Deployment": []}})),
        ..Default::default()
    })
    .await;
    let out = run(&kube, &monitor).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    assert!(read_ids(&monitor, "kubernetes:apps/v1:Deployment").is_empty());
    let w = warnings(&monitor);
    assert!(
        w.iter()
            .any(|w| w.contains("apps/v1/Deployment") && w.contains("every namespace")),
        "{w:?}"
    );
}

/// The wait between the 429 and the next request for the same list.
fn gap_after_throttle(kube: &FakeKube, plural: &str) -> Duration {
    let rec = kube.record();
    let hits: Vec<std::time::Instant> = rec
        .requests
        .iter()
        .zip(&rec.times)
        .filter(|(r, _)| {
            r.split('?')
                .next()
                .unwrap()
                .ends_with(&format!("/{plural}"))
        })
        .map(|(_, t)| *t)
        .collect();
    assert!(hits.len() >= 2, "{:?}", rec.requests);
    hits[1] - hits[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_429_waits_for_retry_after_in_seconds_and_as_a_date() {
    let mut opts = cluster();
    opts.throttle_once.insert("deployments", "2".into());
    let when = std::time::SystemTime::now() + Duration::from_secs(5);
    opts.throttle_once
        .insert("configmaps", httpdate::fmt_http_date(when));
    let kube = FakeKube::start(opts).await;
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let out = run(&kube, &monitor).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(read_ids(&monitor, "kubernetes:apps/v1:Deployment").len(), 6);
    let seconds = gap_after_throttle(&kube, "deployments");
    assert!(seconds >= Duration::from_millis(1900), "waited {seconds:?}");
    // An HTTP date has whole seconds, and the program takes a moment to start: of the five, at
    // least two remain when the 429 arrives.
    let date = gap_after_throttle(&kube, "configmaps");
    assert!(date >= Duration::from_millis(1900), "waited {date:?}");
    assert!(!monitor
        .record()
        .calls
        .iter()
        .any(|c| matches!(c, Call::Log(l) if l.severity >= 2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_reported_as_one_clean_line() {
    let mut opts = cluster();
    opts.broken.insert("deployments");
    let kube = FakeKube::start(opts).await;
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let out = run(&kube, &monitor).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let outputs = monitor.outputs().pop().expect("outputs").outputs.unwrap();
    let json = format!("{outputs:?}");
    assert!(
        json.contains(
            "HTTP 500 InternalError: Internal error occurred: etcdserver: request timed out"
        ),
        "{json}"
    );
    for msg in monitor.logs().iter().map(|l| &l.message) {
        assert!(
            !msg.contains("Status {") && !msg.contains("ErrorResponse") && msg.len() < 300,
            "a debug dump reached the logs: {msg}"
        );
    }
}

/// Runs against a fake engine whose stack held `previous` before this run.
async fn run_after(kube: &FakeKube, previous: PreviousStack) -> (Ran, FakeMonitor) {
    let monitor = FakeMonitor::start(MonitorOptions {
        previous,
        ..Default::default()
    })
    .await;
    let out = run(kube, &monitor).await;
    (out, monitor)
}

fn held_output(monitor: &FakeMonitor) -> serde_json::Value {
    let outputs = monitor.outputs().pop().expect("outputs").outputs.unwrap();
    support::checks::to_json(&outputs)["held"].clone()
}

fn errors(monitor: &FakeMonitor) -> Vec<String> {
    monitor
        .logs()
        .into_iter()
        .filter(|l| l.severity == 3)
        .map(|l| l.message)
        .collect()
}

/// A type the scanning identity may not list, and that the stack never held (a first run into a new
/// stack, or every run since), is a warning: the run succeeds and reads everything else. Once the
/// stack holds some of it, the same refusal fails the run so that the engine keeps them; and a
/// failed run still says what the stack holds, so the next one fails too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_type_fails_the_run_only_when_the_stack_holds_some_of_it() {
    let mut opts = cluster();
    opts.forbidden.insert("namespaces");
    let kube = FakeKube::start(opts).await;
    const ROLE: &str = "v1/Namespace";

    // A new stack.
    let (out, monitor) = run_after(&kube, PreviousStack::New).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let w = warnings(&monitor);
    assert!(
        w.iter().any(|w| w.contains(ROLE) && w.contains("403")),
        "{w:?}"
    );
    let held = held_output(&monitor);
    assert!(held.get(ROLE).is_none(), "{held}");
    assert!(held.get("v1/ConfigMap").is_some(), "{held}");
    assert!(read_ids(&monitor, "kubernetes:core/v1:ConfigMap").len() == 3);

    // The stack held ClusterRoles from an earlier run.
    let mut before = held.clone();
    before[ROLE] = serde_json::json!([]);
    let previous = PreviousStack::Outputs(serde_json::json!({"read": 9, "held": before}));
    let (out, monitor) = run_after(&kube, previous).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let e = errors(&monitor);
    assert!(
        e.iter()
            .any(|e| e.contains(ROLE) && e.contains("the stack holds")),
        "{e:?}"
    );
    // The failed run's outputs still name them, for the run after it.
    assert_eq!(held_output(&monitor)[ROLE], serde_json::json!([]));

    // Outputs of an older version (no `held`) and outputs that cannot be read: strict.
    for previous in [
        PreviousStack::Outputs(serde_json::json!({"read": 9})),
        PreviousStack::Unreadable,
    ] {
        let (out, _) = run_after(&kube, previous).await;
        assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    }
}

/// Namespace by namespace: a namespace the identity could never list does not fail every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_namespace_counts_only_if_the_stack_holds_objects_there() {
    let mut opts = cluster();
    opts.allowed_namespaces
        .insert("deployments", ["team-a", "team-c"].into_iter().collect());
    let kube = FakeKube::start(opts).await;
    let held = |ns: &[&str]| {
        PreviousStack::Outputs(serde_json::json!({"held": {"apps/v1/Deployment": ns}}))
    };
    let (out, monitor) = run_after(&kube, held(&["team-a", "team-c"])).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let w = warnings(&monitor);
    assert!(
        w.iter()
            .any(|w| w.contains("apps/v1/Deployment") && w.contains("team-b")),
        "{w:?}"
    );
    assert_eq!(
        held_output(&monitor)["apps/v1/Deployment"],
        serde_json::json!(["team-a", "team-c"])
    );
    let (out, monitor) = run_after(&kube, held(&["team-b"])).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let e = errors(&monitor);
    assert!(
        e.iter()
            .any(|e| e.contains("team-b") && e.contains("the stack holds")),
        "{e:?}"
    );
}

/// Credentials scoped to some namespaces: `namespaces` lists only those, so nothing is refused and
/// nothing is tried elsewhere; cluster-scoped types are left out because `clusterScoped` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespaces_setting_lists_only_those_namespaces() {
    let mut opts = cluster();
    for plural in ["deployments", "configmaps"] {
        opts.allowed_namespaces
            .insert(plural, ["team-a", "team-c"].into_iter().collect());
    }
    opts.forbidden.insert("namespaces");
    let kube = FakeKube::start(opts).await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");

    // Without saying what happens to cluster-scoped types: bad input, before any call.
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let mut env = host_env(
        &monitor,
        &[("cloud", "kubernetes"), ("namespaces", "team-a,team-c")],
    );
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("pulumi-cloud-import:namespaces")
            && out.stderr.contains("pulumi-cloud-import:clusterScoped"),
        "{}",
        out.stderr
    );
    assert!(kube.record().requests.is_empty());

    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let mut env = host_env(
        &monitor,
        &[
            ("cloud", "kubernetes"),
            ("namespaces", "team-a,team-c"),
            ("clusterScoped", "false"),
        ],
    );
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let want: HashSet<String> = ["team-a/web", "team-a/api", "team-c/web", "team-c/api"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(read_ids(&monitor, "kubernetes:apps/v1:Deployment"), want);
    assert_eq!(read_ids(&monitor, "kubernetes:core/v1:ConfigMap").len(), 2);
    assert!(read_ids(&monitor, "kubernetes:core/v1:Namespace").is_empty());
    assert!(warnings(&monitor).iter().all(|w| !w.contains("403")));
    let requests = kube.record().requests.clone();
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("/apis/apps/v1/deployments") || r.contains("team-b")),
        "{requests:?}"
    );
}
