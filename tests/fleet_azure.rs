//! `fleet` on Azure: the built program plans the subscriptions the credentials see (ARM
//! `GET /subscriptions`, paged) and the locations holding their resources, then `fleet up --import`
//! runs one child per location. The fake ARM and Entra are the real azure_core / azure_identity
//! clients' peers over HTTPS. Covered: disabled subscriptions left out, `global` read by exactly one
//! child of the subscription, each child reading only its own location, the rate-limit group per
//! subscription and principal.

mod fake_azure;
mod support;

use std::collections::BTreeSet;

use fake_azure::{estate, secret_env, start_estate, tls, CLIENT, SUB};
use serde_json::{json, Value};
use support::checks::check_import_file;
use support::program;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_import_a_subscription_by_location_with_global_once() {
    let (mut arm, ids) = estate();
    arm.other_subscriptions.push(json!({
        "id": "/subscriptions/99999999-0000-0000-0000-000000000000",
        "subscriptionId": "99999999-0000-0000-0000-000000000000",
        "displayName": "cancelled",
        "state": "Disabled",
    }));
    let fakes = start_estate(arm).await;
    let home = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = secret_env(&fakes).into_iter().collect();
    env.push(("SSL_CERT_FILE".into(), tls::ca_file().display().to_string()));
    let endpoint = format!("armEndpoint={}", fakes.arm_url);

    let out = program::run(
        &[
            "fleet",
            "plan",
            "--cloud",
            "azure",
            "--name",
            "contoso",
            "-c",
            &endpoint,
            "--out",
            "fleet.yaml",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = std::fs::read_to_string(home.path().join("fleet.yaml")).unwrap();
    assert!(!text.contains(fake_azure::SECRET), "{text}");
    let plan: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(plan["parent"]["name"], "contoso");
    let children = plan["children"].as_array().unwrap();
    let names: Vec<&str> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["fake subscription/eastus", "fake subscription/westus2"],
        "{text}"
    );
    assert_eq!(children[0]["stack"], "fake-subscription.eastus");
    for (c, global) in children.iter().zip(["all", "none"]) {
        assert_eq!(c["settings"]["subscription"], SUB);
        assert_eq!(c["settings"]["globalResources"], global, "{text}");
        assert_eq!(c["rateLimitGroup"], format!("azure/{SUB}/{CLIENT}"));
    }

    let out = program::run(
        &[
            "fleet",
            "up",
            "--file",
            "fleet.yaml",
            "--import",
            "out",
            "--parallel",
            "2",
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
    let read = |stack: &str| -> BTreeSet<String> {
        let text = std::fs::read_to_string(home.path().join(format!("out/{stack}.json"))).unwrap();
        check_import_file(&text, "pulumi:providers:azure-native", "3.29.0")
            .keys
            .into_iter()
            .map(|(_, id)| id)
            .collect()
    };
    let east = read("fake-subscription.eastus");
    let west = read("fake-subscription.westus2");
    // The DNS zone and its record (location `global`) only in the designated child.
    for k in ["zone", "record"] {
        assert!(east.contains(&ids[k]), "{k} in eastus: {east:?}");
        assert!(!west.contains(&ids[k]), "{k} not in westus2: {west:?}");
    }
    assert!(east.contains(&ids["vm-east"]) && !west.contains(&ids["vm-east"]));
    for k in ["vnet", "subnet-a", "nsg", "sa", "app"] {
        assert!(west.contains(&ids[k]) && !east.contains(&ids[k]), "{k}");
    }
}

/// A user kubeconfig as `listClusterUserCredential?format=exec` returns it for an AKS cluster with
/// Entra ID: the server, its CA, and kubelogin as the exec plugin.
fn aks_user_kubeconfig(server: &str) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(tls::ca_pem());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: aks1
  cluster:
    server: {server}
    certificate-authority-data: {ca}
contexts:
- name: aks1
  context: {{cluster: aks1, user: clusterUser_rg-west_aks1}}
current-context: aks1
users:
- name: clusterUser_rg-west_aks1
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630, --tenant-id, {tenant}]
",
        tenant = fake_azure::TENANT
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aks_cluster_with_entra_id_becomes_a_child_signed_in_without_kubelogin() {
    use std::sync::{Arc, OnceLock};
    use support::fake_kube::{FakeAuth, FakeKube, FakeObject, FakeType, KubeOptions};

    // The API server accepts only Entra tokens issued for the AKS server application.
    let entra: Arc<OnceLock<Arc<fake_azure::entra::Entra>>> = Arc::default();
    let seen = entra.clone();
    let mut opts = KubeOptions {
        types: vec![FakeType::readable(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            true,
        )],
        auth: FakeAuth::Aks {
            accepts: Arc::new(move |t| seen.get().is_some_and(|e| e.is_aks_token(t))),
        },
        ..KubeOptions::default()
    };
    opts.objects
        .insert("configmaps", vec![FakeObject::ns("orders", "settings")]);
    tls::trust_test_ca();
    let kube = FakeKube::start_https(opts).await;

    let (mut arm, _) = estate();
    let cluster = |name: &str, aad: bool| {
        let mut c = json!({
            "id": format!("/subscriptions/{SUB}/resourceGroups/rg-west/providers/Microsoft.ContainerService/managedClusters/{name}"),
            "name": name,
            "type": "Microsoft.ContainerService/ManagedClusters",
            "location": "westus2",
            "properties": {"fqdn": "aks1-dns.hcp.westus2.azmk8s.io"},
        });
        if aad {
            c["properties"]["aadProfile"] = json!({"managed": true, "enableAzureRBAC": true});
        }
        c
    };
    arm.managed_clusters
        .push((cluster("aks1", true), aks_user_kubeconfig(&kube.url)));
    arm.managed_clusters
        .push((cluster("aks-local", false), String::new()));
    let fakes = start_estate(arm).await;
    let _ = entra.set(fakes.entra.clone());
    let home = tempfile::tempdir().unwrap();
    let empty = home.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let mut env: Vec<(String, String)> = secret_env(&fakes).into_iter().collect();
    env.push(("SSL_CERT_FILE".into(), tls::ca_file().display().to_string()));
    // No kubelogin (and no az) on PATH.
    env.push(("PATH".into(), empty.display().to_string()));
    let endpoint = format!("armEndpoint={}", fakes.arm_url);

    let out = program::run(
        &[
            "fleet",
            "plan",
            "--cloud",
            "azure",
            "--name",
            "contoso",
            "-c",
            &endpoint,
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
        text.contains("# Note: AKS cluster aks-local left out: it signs in with local accounts"),
        "{text}"
    );
    let plan: Value = serde_saphyr::from_str(&text).unwrap();
    let children = plan["children"].as_array().unwrap();
    let aks = children
        .iter()
        .find(|c| c["name"] == "fake subscription/westus2/aks1")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(aks["stack"], "fake-subscription.westus2.aks1");
    assert_eq!(aks["settings"]["cloud"], "kubernetes");
    assert_eq!(aks["cluster"]["server"], kube.url.as_str());
    assert_eq!(
        aks["cluster"]["aks"]["serverId"],
        "6dae42f8-4368-4678-94ff-3960e28e3630"
    );
    // The read action was a POST, and the only one.
    let posts: Vec<String> = fakes
        .arm
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.to_ascii_lowercase().contains("listclusterusercredential"))
        .cloned()
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");

    let out = program::run(
        &[
            "fleet",
            "up",
            "--import",
            "out",
            "--only",
            "fake subscription/westus2/aks1",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let file = std::fs::read_to_string(home.path().join("out/fake-subscription.westus2.aks1.json"))
        .unwrap();
    assert!(file.contains("orders/settings"), "{file}");
    {
        let rec = kube.record();
        assert_eq!(rec.unauthorized, 0, "{:?}", rec.refusals);
        assert_eq!(rec.tokens_accepted, 1);
    }
    // An ARM token is refused by the cluster: the audience matters.
    let arm_token = fakes.entra.issued.lock().unwrap()[0].clone();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(tls::ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let status = client
        .get(format!("{}/api/v1/configmaps", kube.url))
        .bearer_auth(arm_token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}
