//! Signing in to EKS clusters without the `aws` binary: the built program scans a fake EKS API
//! server (HTTPS with its own CA, tokens checked the way aws-iam-authenticator checks them against
//! a fake STS that verifies the presigned URL's SigV4 signature by hand), reached through
//! - a user's kubeconfig whose exec plugin is `aws eks get-token` while `aws` is not on PATH, and
//! - the program's own `kube-token eks` exec plugin, whose ExecCredential the server accepts.
//!
//! Refusals are checked too: a token signed for another cluster, signed with the wrong secret, or
//! from an identity the cluster does not map ends the scan incomplete (exit 32), with a message
//! that says the cluster refused the credentials and what to grant.

mod support;

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;
use support::fake_kube::{FakeAuth, FakeKube, FakeObject, FakeType, KubeOptions};
use support::fake_monitor::{Call, FakeMonitor, MonitorOptions};
use support::fake_sts::{FakeSts, Principal};
use support::{program, tls};

const KEY: &str = "AKIDEKSTESTKEY000001";
const SECRET: &str = "eks-test-secret/with+chars";
const ARN: &str = "arn:aws:iam::123456789012:user/inventory";

fn types() -> Vec<FakeType> {
    vec![
        FakeType::readable("", "v1", "ConfigMap", "configmaps", true),
        FakeType::readable("", "v1", "Namespace", "namespaces", false),
    ]
}

async fn eks(sts: &FakeSts, cluster: &str, mapped: &[&str]) -> FakeKube {
    let mut opts = KubeOptions {
        types: types(),
        auth: FakeAuth::Eks {
            sts_url: sts.url.clone(),
            cluster: cluster.into(),
            mapped: mapped.iter().map(|s| s.to_string()).collect(),
        },
        ..KubeOptions::default()
    };
    opts.objects
        .insert("configmaps", vec![FakeObject::ns("apps", "settings")]);
    opts.objects
        .insert("namespaces", vec![FakeObject::cluster("apps")]);
    FakeKube::start_https(opts).await
}

/// A kubeconfig as `aws eks update-kubeconfig` writes it: the cluster's endpoint and CA, and a user
/// whose exec plugin is `aws eks get-token` (with the profile in the plugin's env).
fn aws_kubeconfig(dir: &Path, server: &str, cluster: &str) -> std::path::PathBuf {
    let ca = base64::engine::general_purpose::STANDARD.encode(tls::ca_pem());
    let text = format!(
        "apiVersion: v1
kind: Config
current-context: eks-{cluster}
clusters:
- name: arn:aws:eks:us-east-1:123456789012:cluster/{cluster}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
contexts:
- name: eks-{cluster}
  context:
    cluster: arn:aws:eks:us-east-1:123456789012:cluster/{cluster}
    user: eks-user
users:
- name: eks-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [--region, us-east-1, eks, get-token, --cluster-name, {cluster}, --output, json]
      env:
      - name: AWS_STS_REGIONAL_ENDPOINTS
        value: regional
"
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// The environment of a run: static keys, STS at the fake, and a PATH without `aws`.
fn env(sts: &FakeSts, kubeconfig: &Path, secret: &str, home: &Path) -> Vec<(String, String)> {
    let empty = home.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    [
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("PATH", empty.display().to_string()),
        ("AWS_ACCESS_KEY_ID", KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", secret.into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL_STS", sts.url.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn sts() -> FakeSts {
    FakeSts::start(&[(
        KEY,
        Principal {
            secret: SECRET.into(),
            account: "123456789012".into(),
            arn: ARN.into(),
        },
    )])
    .await
}

async fn import(home: &Path, env: &[(String, String)]) -> program::Output {
    let out = home.join("out.json");
    program::run(
        &[
            "--import",
            "--cloud",
            "kubernetes",
            "--out",
            out.to_str().unwrap(),
        ],
        env,
        home,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_naming_a_missing_aws_binary_is_signed_in_process() {
    let sts = sts().await;
    let kube = eks(&sts, "prod", &[ARN]).await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = aws_kubeconfig(home.path(), &kube.url, "prod");
    let out = import(home.path(), &env(&sts, &kubeconfig, SECRET, home.path())).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "\"aws\" is not installed; signing in to the EKS cluster \"prod\" in-process"
        ),
        "{}",
        out.stderr
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("out.json")).unwrap())
            .unwrap();
    let ids: Vec<&str> = file["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(ids.contains(&"apps/settings"), "{ids:?}");
    assert!(ids.contains(&"apps"), "{ids:?}");
    let rec = kube.record();
    assert_eq!(rec.unauthorized, 0, "{:?}", rec.refusals);
    // One token served the whole scan; STS verified it once for this cluster (then it is cached).
    assert_eq!(rec.tokens_accepted, 1);
    assert_eq!(sts.record().verified.get("prod"), Some(&1));
    assert!(!out.stderr.contains("k8s-aws-v1."), "no token in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_end_the_scan_incomplete_and_say_what_to_grant() {
    let sts = sts().await;
    // The token names cluster "prod", but this server is "staging": the signature STS computes
    // with the server's cluster id does not match.
    let staging = eks(&sts, "staging", &[ARN]).await;
    // The identity is real, but the cluster maps nobody.
    let unmapped = eks(&sts, "prod", &[]).await;
    for (kube, secret, why) in [
        (&staging, SECRET, "SignatureDoesNotMatch"),
        (&unmapped, SECRET, "ARN is not mapped"),
        (&unmapped, "not-the-secret", "SignatureDoesNotMatch"),
    ] {
        let home = tempfile::tempdir().unwrap();
        let kubeconfig = aws_kubeconfig(home.path(), &kube.url, "prod");
        let out = import(home.path(), &env(&sts, &kubeconfig, secret, home.path())).await;
        assert_eq!(out.code, Some(32), "{why}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("the EKS cluster \"prod\" refused this identity's token")
                && out.stderr.contains("EKS access entry or aws-auth mapping"),
            "{why}: {}",
            out.stderr
        );
        let rec = kube.record();
        assert!(
            rec.refusals.iter().any(|r| r.contains(why)),
            "{why}: {:?}",
            rec.refusals
        );
    }
    assert!(sts.record().refused.get("SignatureDoesNotMatch") >= Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_exec_plugin_prints_a_token_the_cluster_accepts() {
    let sts = sts().await;
    let kube = eks(&sts, "prod", &[ARN]).await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("unused");
    let env = env(&sts, &kubeconfig, SECRET, home.path());
    let out = program::run(
        &[
            "kube-token",
            "eks",
            "--cluster-name",
            "prod",
            "--region",
            "us-east-1",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let credential: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(credential["kind"], "ExecCredential");
    assert_eq!(
        credential["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
    let expires = credential["status"]["expirationTimestamp"]
        .as_str()
        .unwrap();
    let expires =
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let left = expires - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::minutes(13) && left <= time::Duration::minutes(14),
        "{left}"
    );
    let token = credential["status"]["token"].as_str().unwrap();

    tls::trust_test_ca();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(tls::ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let get = |token: String| {
        client
            .get(format!("{}/api/v1/namespaces/apps/configmaps", kube.url))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(get(token.to_string()).await.unwrap().status(), 200);
    // A token whose URL was changed after signing is refused by STS.
    let url = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim_start_matches("k8s-aws-v1."))
            .unwrap(),
    )
    .unwrap();
    let tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61");
    let tampered = format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tampered)
    );
    assert_eq!(get(tampered).await.unwrap().status(), 401);

    // Bad input is one line naming what is missing, before any call.
    let out = program::run(&["kube-token", "eks"], &env, home.path()).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--cluster-name"), "{}", out.stderr);
}

/// Under `pulumi up`, the explicit `kubernetes` provider must sign in too, and it cannot run the
/// missing `aws` either: its registration carries a kubeconfig of the same cluster (server and
/// CA) whose exec plugin is this program's `kube-token`, and no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_gets_a_kubeconfig_whose_exec_plugin_is_this_program() {
    let sts = sts().await;
    let kube = eks(&sts, "prod", &[ARN]).await;
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = aws_kubeconfig(home.path(), &kube.url, "prod");
    let mut env = program::host_env(&monitor, &[("cloud", "kubernetes")]);
    env.extend(self::env(&sts, &kubeconfig, SECRET, home.path()));
    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let rec = monitor.record();
    let provider = rec
        .calls
        .iter()
        .find_map(|c| match c {
            Call::Register(r, _) if r.r#type == "pulumi:providers:kubernetes" => Some(r.clone()),
            _ => None,
        })
        .expect("the provider was registered");
    let input = |k: &str| -> String {
        use prost_types::value::Kind;
        match provider
            .object
            .as_ref()
            .and_then(|o| o.fields.get(k))
            .and_then(|v| v.kind.clone())
        {
            Some(Kind::StringValue(s)) => s,
            other => panic!("provider input {k}: {other:?}"),
        }
    };
    let text = input("kubeconfig");
    assert!(!text.contains("k8s-aws-v1"), "{text}");
    let parsed = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let exec = parsed.auth_infos[0]
        .auth_info
        .as_ref()
        .and_then(|a| a.exec.clone())
        .unwrap();
    let args = exec.args.clone().unwrap_or_default();
    assert_eq!(
        args[..4],
        ["kube-token", "eks", "--cluster-name", "prod"],
        "{text}"
    );
    assert!(
        exec.command.unwrap().ends_with("pulumi-cloud-import"),
        "{text}"
    );
    let cluster = parsed.clusters[0].cluster.as_ref().unwrap();
    assert_eq!(cluster.server.as_deref(), Some(kube.url.as_str()));
    // The same CA as the user's kubeconfig, re-encoded from the client's parsed certificates.
    let ca = base64::engine::general_purpose::STANDARD
        .decode(cluster.certificate_authority_data.as_deref().unwrap())
        .unwrap();
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(
        squash(std::str::from_utf8(&ca).unwrap()),
        squash(&tls::ca_pem())
    );
    assert_eq!(input("context"), "eks-prod");
    assert!(
        rec.calls
            .iter()
            .any(|c| matches!(c, Call::Read(r, _) if r.r#type == "kubernetes:core/v1:ConfigMap")),
        "the scan read through the stand-in"
    );
}
