//! The README's main command (`pulumi up --skip-preview --show-reads --continue-on-error`) on the
//! self-hosted backends of the real Pulumi CLI: `file://`, `s3://` (moto) and `postgres://` (a real
//! PostgreSQL). One real cluster is read into one stack per backend: the three states must be the
//! same, a second run must follow changes made in the cluster (an object deleted, one created, one
//! changed) on each, and SIGINT mid-run on the two server backends must keep the previous state
//! and leave the stack usable.
//!
//! One test, in stages, because each stage builds on the stacks the previous one left. Skips when
//! the peers or the backend servers are missing (see `real_support`); `.ci/run` provides them and
//! requires it.

mod real_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use real_support::backends::{Backend, BackendKind};
use real_support::cluster::{Cluster, FIXTURE_PODS};
use real_support::interrupt;
use real_support::oracle::{self, Key};
use real_support::pulumi::{resources, Workspace};
use real_support::Peers;
use serde_json::Value;

const STACK: &str = "dev";
/// Where the DIY backends keep a project-scoped stack's checkpoint, in every store. (Below the
/// URL's path: with postgres:// the database name, `pulumi/`, becomes a key prefix too.)
const CHECKPOINT: &str = ".pulumi/stacks/pulumi-cloud-import/dev.json";

#[test]
fn pulumi_up_keeps_the_same_state_on_file_s3_and_postgres() {
    let Some(peers) = Peers::locate("real_backends") else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("pci-real-backends")
        .tempdir()
        .unwrap();
    stage("start the backends");
    let mut backends = Vec::new();
    for kind in BackendKind::ALL {
        let started = Instant::now();
        let Some(backend) = Backend::start(kind, &dir.path().join(kind.name())) else {
            return;
        };
        eprintln!("   {} in {:.1?}", kind.name(), started.elapsed());
        backends.push(backend);
    }
    let cluster = Cluster::start(&peers);
    cluster.apply_fixture();
    cluster.wait_settled(FIXTURE_PODS);
    let stacks: Vec<(&Backend, Workspace)> = backends
        .iter()
        .map(|b| (b, Workspace::with_backend(&peers, &cluster.reader, b)))
        .collect();

    stage("pulumi up on each backend");
    for (backend, ws) in &stacks {
        ws.init_stack(STACK);
        up(backend.kind(), ws, &cluster);
        let keys = backend.keys();
        assert!(
            keys.iter().any(|k| k.ends_with(CHECKPOINT)),
            "{}: no {CHECKPOINT} in the store: {keys:?}",
            backend.kind().name()
        );
    }
    let first = same_state(&stacks);

    stage("second pulumi up on each backend after kubectl changes");
    cluster.change_fixture();
    for (backend, ws) in &stacks {
        up(backend.kind(), ws, &cluster);
    }
    let second = same_state(&stacks);
    assert!(first.resources.contains_key(&cm("team-a/web-settings")));
    assert!(
        !second.resources.contains_key(&cm("team-a/web-settings")),
        "the deleted ConfigMap left state"
    );
    assert_eq!(
        second.resources[&cm("team-b/added-later")]["outputs"]["data"]["colour"],
        "green"
    );
    assert_eq!(
        first.resources[&cm("team-b/api-settings")]["outputs"]["data"]["endpoint"],
        "https://api.example.invalid"
    );
    assert_eq!(
        second.resources[&cm("team-b/api-settings")]["outputs"]["data"]["endpoint"],
        "https://changed.example.invalid"
    );
    let old: BTreeSet<&Key> = first.resources.keys().collect();
    let new: BTreeSet<&Key> = second.resources.keys().collect();
    assert_eq!(
        old.symmetric_difference(&new)
            .copied()
            .collect::<Vec<&Key>>(),
        [&cm("team-a/web-settings"), &cm("team-b/added-later")],
        "only the deleted and the created object come and go between the runs"
    );

    stage("SIGINT mid-reads keeps the previous state (s3, postgres)");
    for (backend, ws) in stacks.iter().filter(|(b, _)| b.kind() != BackendKind::File) {
        let name = backend.kind().name();
        let started = Instant::now();
        let out = interrupt::up_interrupted(ws, STACK, 20);
        eprintln!("   {name}: interrupted run took {:.1?}", started.elapsed());
        assert_ne!(
            out.code,
            Some(0),
            "{name}: the interrupted update must not succeed:\n{}\n{}",
            out.stdout,
            out.stderr
        );
        // Nothing changed in the cluster since the last run, so the state after the interrupt is
        // exactly the previous one: every read before the signal stored what was there already,
        // and nothing was dropped.
        let after = State::of(ws);
        assert_same(
            &second,
            &after,
            "before the interrupt",
            &format!("{name} after it"),
        );
        // The stack's lock was released (the DIY backends lock a stack with an object under
        // `.pulumi/locks/`), so the next run works, and it ends where the others are.
        let locks: Vec<String> = backend
            .keys()
            .into_iter()
            .filter(|k| k.contains(".pulumi/locks/"))
            .collect();
        assert!(locks.is_empty(), "{name}: lock left behind: {locks:?}");
        up(backend.kind(), ws, &cluster);
        assert_same(
            &second,
            &State::of(ws),
            "the file backend",
            &format!("{name} after a run following the interrupt"),
        );
    }
}

fn stage(name: &str) {
    eprintln!("== {name}");
}

fn cm(id: &str) -> Key {
    ("kubernetes:core/v1:ConfigMap".into(), id.into())
}

/// The README's main command on one backend; its summary adds up and matches the cluster.
fn up(kind: BackendKind, ws: &Workspace, cluster: &Cluster) {
    let started = Instant::now();
    ws.up(STACK)
        .ok(&format!("pulumi up on the {} backend", kind.name()));
    eprintln!(
        "   {}: pulumi up took {:.1?}",
        kind.name(),
        started.elapsed()
    );
    let (expected, skipped) = oracle::expected(cluster);
    let state = State::of(ws);
    let in_state: BTreeSet<Key> = state.resources.keys().cloned().collect();
    let missing: Vec<_> = expected.difference(&in_state).collect();
    let extra: Vec<_> = in_state.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{}: state differs from kubectl get less the exclusions\n  missing: {missing:#?}\n  extra: {extra:#?}",
        kind.name()
    );
    let n = |k: &str| {
        state.summary[k]
            .as_u64()
            .unwrap_or_else(|| panic!("output {k}: {}", state.summary))
    };
    assert_eq!(
        n("discovered"),
        n("read") + n("failed") + n("skipped"),
        "{}: {}",
        kind.name(),
        state.summary
    );
    assert_eq!(n("read") as usize, expected.len(), "{}", state.summary);
    assert_eq!(n("failed"), 0, "{}", state.summary);
    assert_eq!(n("skipped") as usize, skipped, "{}", state.summary);
}

/// A stack's state with what legitimately differs between two stacks read from the same cluster
/// taken out.
#[derive(Debug)]
struct State {
    /// (type, id) -> the resource's comparable fields.
    resources: BTreeMap<Key, Value>,
    /// The stack outputs (the run's summary).
    summary: Value,
}

impl State {
    fn of(ws: &Workspace) -> State {
        // Decrypted: each stack encrypts secrets under its own key with random nonces, so only
        // the plaintext can be compared (the file backend's real_kubernetes test checks that state
        // holds them encrypted).
        let out = ws
            .run(&["stack", "export", "--stack", STACK, "--show-secrets"])
            .ok("pulumi stack export --show-secrets");
        let export: Value = serde_json::from_str(&out.stdout).expect("stack export is JSON");
        let mut by_key = BTreeMap::new();
        for r in resources(&export) {
            let ty = r["type"].as_str().unwrap();
            // The stack resource holds the summary (compared below) and the provider resource's
            // id is a random UUID per stack.
            if ty.starts_with("pulumi:") {
                continue;
            }
            let key = (ty.to_string(), r["id"].as_str().unwrap().to_string());
            let mut r = r.clone();
            let fields = r.as_object_mut().unwrap();
            // `created`/`modified`: when this stack stored the resource. `provider`: a reference
            // to the provider resource, ending in its per-stack UUID.
            for field in ["created", "modified", "provider"] {
                fields.remove(field);
            }
            for side in ["inputs", "outputs"] {
                if let Some(object) = fields.get_mut(side) {
                    without_controller_writes(object);
                }
            }
            assert!(by_key.insert(key.clone(), r).is_none(), "{key:?} twice");
        }
        let mut summary = ws.outputs(STACK);
        // Wall-clock time of the run.
        summary.as_object_mut().unwrap().remove("durationSeconds");
        State {
            resources: by_key,
            summary,
        }
    }
}

/// Takes out what controllers write on their own schedule, between the stacks' runs: `status`
/// (e.g. a Deployment whose Pods stay Pending turns `Progressing` false after its 600 s deadline)
/// and the bookkeeping that follows every such write (`resourceVersion`, `managedFields` entries
/// with their timestamps). Also the provider's `__fieldManager`, a name it draws at random for
/// every read. What anyone declared (spec, data, labels, annotations) stays compared.
fn without_controller_writes(object: &mut Value) {
    let Some(fields) = object.as_object_mut() else {
        return;
    };
    fields.remove("status");
    fields.remove("__fieldManager");
    if let Some(meta) = fields.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
    }
}

/// Every backend's stack holds the same state; returns it.
fn same_state(stacks: &[(&Backend, Workspace)]) -> State {
    let mut states = stacks.iter().map(|(b, ws)| (b.kind(), State::of(ws)));
    let (first_kind, first) = states.next().unwrap();
    for (kind, state) in states {
        assert_same(&first, &state, first_kind.name(), kind.name());
    }
    first
}

fn assert_same(a: &State, b: &State, a_name: &str, b_name: &str) {
    let a_keys: BTreeSet<&Key> = a.resources.keys().collect();
    let b_keys: BTreeSet<&Key> = b.resources.keys().collect();
    assert!(
        a_keys == b_keys,
        "{a_name} and {b_name} hold different resources\n  only in {a_name}: {:#?}\n  only in {b_name}: {:#?}",
        a_keys.difference(&b_keys).collect::<Vec<_>>(),
        b_keys.difference(&a_keys).collect::<Vec<_>>()
    );
    let mut differing = Vec::new();
    for (key, r) in &a.resources {
        diff(r, &b.resources[key], &format!("{key:?} "), &mut differing);
    }
    assert!(
        differing.is_empty(),
        "{} fields differ between {a_name} and {b_name} (first 30):\n{}",
        differing.len(),
        differing
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        a.summary, b.summary,
        "the summaries of {a_name} and {b_name} differ"
    );
}

/// One line per leaf that differs between `a` and `b`: its path, then both values.
fn diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let none = Value::Null;
                let (va, vb) = (x.get(k).unwrap_or(&none), y.get(k).unwrap_or(&none));
                diff(va, vb, &format!("{path}.{k}"), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff(va, vb, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} | {b}")),
        _ => {}
    }
}
