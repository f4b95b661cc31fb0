//! The whole chain as `pulumi up` runs it: the language host launched as the CLI launches it, its
//! `Run` RPC starting the real program, the program scanning a fake Kubernetes API server and reading
//! every object into the fake engine, and the host reporting the program's exit.

mod langhost_support;
mod support;

use std::collections::HashMap;

use cloud_import::proto::{ProgramInfo, RunRequest, RunResponse};
use support::fake_kube::{FakeKube, FakeObject, FakeType, KubeOptions};
use support::fake_monitor::{Call, FakeMonitor, MonitorOptions};

const VERBS: &[&str] = &["get", "list", "watch"];

fn cluster() -> KubeOptions {
    let mut o = KubeOptions {
        types: vec![
            FakeType {
                group: "",
                version: "v1",
                kind: "ConfigMap",
                plural: "configmaps",
                namespaced: true,
                verbs: VERBS,
            },
            FakeType {
                group: "apps",
                version: "v1",
                kind: "Deployment",
                plural: "deployments",
                namespaced: true,
                verbs: VERBS,
            },
        ],
        ..Default::default()
    };
    o.objects.insert(
        "configmaps",
        (0..7)
            .map(|i| FakeObject::ns("team-a", &format!("cm-{i}")))
            .collect(),
    );
    o.objects
        .insert("deployments", vec![FakeObject::ns("team-a", "web")]);
    o
}

fn run_request(root: &std::path::Path, monitor: &FakeMonitor) -> RunRequest {
    RunRequest {
        project: "pulumi-cloud-import".into(),
        stack: "dev".into(),
        pwd: root.display().to_string(),
        config: HashMap::from([(
            "pulumi-cloud-import:cloud".to_string(),
            "kubernetes".to_string(),
        )]),
        dry_run: false,
        parallel: 16,
        monitor_address: monitor.monitor_addr.to_string(),
        organization: "acme".into(),
        info: Some(ProgramInfo {
            root_directory: root.display().to_string(),
            program_directory: root.display().to_string(),
            entry_point: ".".into(),
            options: None,
        }),
        ..Default::default()
    }
}

/// Starts the host as the CLI does (engine address = the fake engine), has it `Run` the real
/// program against `kube`, and returns the engine, the response and the host's output.
async fn run_through_host(kube: FakeKube) -> (FakeMonitor, RunResponse, String) {
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let kubeconfig = kube.write_kubeconfig(&root, "prod").display().to_string();
    let env = [
        (
            "PULUMI_CLOUD_IMPORT_PROGRAM",
            env!("CARGO_BIN_EXE_pulumi-cloud-import"),
        ),
        ("KUBECONFIG", kubeconfig.as_str()),
    ];
    let engine = Some(monitor.engine_addr.to_string());
    let mut host = langhost_support::Host::start_with_engine(&root, &env, engine).await;
    let response = host
        .client
        .run(run_request(&root, &monitor))
        .await
        .unwrap()
        .into_inner();
    (monitor, response, host.output())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_runs_the_program_which_reads_the_cluster_into_the_engine() {
    let kube = FakeKube::start(cluster()).await;
    let (monitor, response, output) = run_through_host(kube).await;
    assert_eq!(response.error, "", "host output: {output}");
    assert!(!response.bail);

    let rec = monitor.record();
    assert!(rec.violations.is_empty(), "{:?}", rec.violations);
    let reads: Vec<String> = rec
        .calls
        .iter()
        .filter_map(|c| match c {
            Call::Read(r, _) => Some(format!("{} {}", r.r#type, r.id)),
            _ => None,
        })
        .collect();
    assert_eq!(reads.len(), 8, "{reads:?}");
    assert!(reads.contains(&"kubernetes:apps/v1:Deployment team-a/web".to_string()));
    assert!(rec.calls.iter().any(|c| matches!(c, Call::Shutdown)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_discovery_reaches_the_cli_as_bail() {
    let mut opts = cluster();
    opts.broken.insert("deployments");
    let kube = FakeKube::start(opts).await;
    let (monitor, response, _) = run_through_host(kube).await;
    assert!(response.bail, "exit 32 must become bail: {response:?}");
    let logged_error = monitor
        .logs()
        .iter()
        .any(|l| l.severity == 3 && l.message.contains("apps/v1/Deployment"));
    assert!(
        logged_error,
        "the reason is logged through the engine before bailing"
    );
}
