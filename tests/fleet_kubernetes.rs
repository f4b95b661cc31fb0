//! `fleet` on Kubernetes: `fleet plan` makes one child per kubeconfig context (two files merged
//! through `KUBECONFIG`, as kubectl merges them), `fleet up --import` scans them against the fake
//! API server, and `fleet render kubernetes` writes CronJobs, a ServiceAccount and the ConfigMap,
//! which a real `kubectl` parses and maps against that server (`apply --dry-run=client`; skipped
//! when kubectl is not installed).

mod support;

use serde_json::Value;
use support::fake_kube::{FakeKube, FakeObject, FakeType, KubeOptions};
use support::program;

fn types() -> Vec<FakeType> {
    let t = |group, version, kind, plural, namespaced| FakeType {
        group,
        version,
        kind,
        plural,
        namespaced,
        verbs: &[
            "list", "get", "create", "patch", "update", "delete", "watch",
        ],
    };
    vec![
        t("", "v1", "ConfigMap", "configmaps", true),
        t("", "v1", "ServiceAccount", "serviceaccounts", true),
        t("batch", "v1", "CronJob", "cronjobs", true),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_up_and_render_for_two_contexts() {
    let mut opts = KubeOptions {
        types: types(),
        ..KubeOptions::default()
    };
    opts.objects
        .insert("configmaps", vec![FakeObject::ns("apps", "settings")]);
    let kube = FakeKube::start(opts).await;
    let home = tempfile::tempdir().unwrap();
    let (a, b) = (home.path().join("a"), home.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let first = kube.write_kubeconfig(&a, "dev");
    // An EKS-style context name: the `/` must not make a level of the fleet.
    let second = kube.write_kubeconfig(&b, "arn:aws:eks:us-east-1:1:cluster/prod");
    let kubeconfig = format!("{}:{}", first.display(), second.display());
    let env = vec![("KUBECONFIG".to_string(), kubeconfig.clone())];

    let out = program::run(
        &[
            "fleet",
            "plan",
            "--cloud",
            "kubernetes",
            "--out",
            "fleet.yaml",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = std::fs::read_to_string(home.path().join("fleet.yaml")).unwrap();
    assert!(
        !text.contains(support::fake_kube::TOKEN),
        "no token in the plan: {text}"
    );
    let plan: Value = serde_saphyr::from_str(&text).unwrap();
    let children = plan["children"].as_array().unwrap();
    let names: Vec<&str> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["dev", "arn:aws:eks:us-east-1:1:cluster-prod"],
        "{text}"
    );
    assert_eq!(
        children[1]["settings"]["context"],
        "arn:aws:eks:us-east-1:1:cluster/prod"
    );
    assert_eq!(children[1]["stack"], "arn-aws-eks-us-east-1-1-cluster-prod");
    // One API server: one rate limit group, so the two never run together.
    assert_eq!(children[0]["rateLimitGroup"], children[1]["rateLimitGroup"]);

    let out = program::run(
        &[
            "fleet",
            "up",
            "--import",
            "out",
            "--parallel",
            "2",
            "--show-logs",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("2 children: 2 succeeded, 0 failed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("----- dev ("),
        "--show-logs: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("$ "),
        "the log names the commands: {}",
        out.stderr
    );
    for stack in ["dev", "arn-aws-eks-us-east-1-1-cluster-prod"] {
        let file = std::fs::read_to_string(home.path().join(format!("out/{stack}.json"))).unwrap();
        assert!(file.contains("apps/settings"), "{stack}: {file}");
    }

    let out = program::run(
        &[
            "fleet",
            "render",
            "kubernetes",
            "--schedule",
            "@every 12h",
            "--image",
            "registry.example.com/pci:1",
            "--out",
            "cronjobs.yaml",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let manifests = std::fs::read_to_string(home.path().join("cronjobs.yaml")).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&manifests).expect("multi-document YAML");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ServiceAccount", "ConfigMap", "CronJob", "CronJob"]);
    let plan_in_map: Value =
        serde_saphyr::from_str(docs[1]["data"]["fleet.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(plan_in_map, plan, "the ConfigMap holds the plan");
    let schedules: Vec<&str> = docs[2..]
        .iter()
        .map(|d| d["spec"]["schedule"].as_str().unwrap())
        .collect();
    assert_eq!(
        schedules,
        ["0 0,12 * * *", "0 6,18 * * *"],
        "spread over the period"
    );
    for d in &docs[2..] {
        assert_eq!(d["spec"]["concurrencyPolicy"], "Forbid");
        let pod = &d["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        assert_eq!(c["image"], "registry.example.com/pci:1");
        assert_eq!(c["args"][0], "fleet");
        assert_eq!(
            c["envFrom"][0]["secretRef"]["name"],
            "pulumi-cloud-import-state"
        );
        assert_eq!(pod["serviceAccountName"], "pulumi-cloud-import");
    }

    // A real kubectl parses every document and maps it to a served resource. kubectl sends no
    // bearer token over plain HTTP, so it talks to a discovery-only server of its own.
    if std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("kubectl is not installed: skipping its dry run");
        return;
    }
    let server = discovery_server().await;
    let kc = home.path().join("kubectl-config");
    std::fs::write(
        &kc,
        format!("apiVersion: v1\nkind: Config\ncurrent-context: d\nclusters:\n- name: d\n  cluster:\n    server: {server}\ncontexts:\n- name: d\n  context:\n    cluster: d\n    user: u\nusers:\n- name: u\n  user: {{}}\n"),
    )
    .unwrap();
    let out = tokio::process::Command::new("kubectl")
        .args(["apply", "--dry-run=client", "--validate=false", "-f"])
        .arg(home.path().join("cronjobs.yaml"))
        .env("KUBECONFIG", &kc)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl: {stdout}\n{stderr}");
    assert_eq!(stdout.matches("(dry run)").count(), 4, "{stdout}");

    // Against a real API server (tests/real/cluster.sh's admin.kubeconfig): a server-side dry run,
    // which validates every object against the server's own schemas and admission.
    let Some(admin) = std::env::var_os("PULUMI_CLOUD_IMPORT_REAL_ADMIN_KUBECONFIG") else {
        eprintln!(
            "skipped the server-side dry run: PULUMI_CLOUD_IMPORT_REAL_ADMIN_KUBECONFIG is not set"
        );
        return;
    };
    let out = program::run(
        &[
            "fleet",
            "render",
            "kubernetes",
            "--namespace",
            "default",
            "--out",
            "default.yaml",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = tokio::process::Command::new("kubectl")
        .args(["apply", "--dry-run=server", "-f"])
        .arg(home.path().join("default.yaml"))
        .env("KUBECONFIG", admin)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kubectl --dry-run=server: {stdout}\n{stderr}"
    );
    assert_eq!(stdout.matches("(server dry run)").count(), 4, "{stdout}");
}

/// The classic discovery documents of an API server serving ConfigMaps, ServiceAccounts and
/// CronJobs, and 404 `NotFound` for every object (nothing exists yet).
async fn discovery_server() -> String {
    use axum::http::{StatusCode, Uri};
    use axum::response::IntoResponse;
    use serde_json::json;
    async fn handle(uri: Uri) -> axum::response::Response {
        let verbs = json!(["create", "delete", "get", "list", "patch", "update", "watch"]);
        let res = |name: &str, singular: &str, kind: &str| json!({"name": name, "singularName": singular, "namespaced": true, "kind": kind, "verbs": verbs});
        let body = match uri.path() {
            "/version" => {
                json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"})
            }
            "/api" => {
                json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
            }
            "/apis" => {
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [{"name": "batch", "versions": [{"groupVersion": "batch/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}}]})
            }
            "/api/v1" => {
                json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [res("configmaps", "configmap", "ConfigMap"), res("serviceaccounts", "serviceaccount", "ServiceAccount")]})
            }
            "/apis/batch/v1" => {
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "batch/v1", "resources": [res("cronjobs", "cronjob", "CronJob")]})
            }
            _ => {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"});
                return (
                    StatusCode::NOT_FOUND,
                    [("content-type", "application/json")],
                    status.to_string(),
                )
                    .into_response();
            }
        };
        ([("content-type", "application/json")], body.to_string()).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(handle))
            .await
            .unwrap()
    });
    format!("http://{addr}")
}
