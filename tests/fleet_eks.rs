//! End to end for clusters inside accounts: `fleet plan --cloud aws` over a region holding one EKS
//! cluster adds the cluster as a Kubernetes child below the region (`acme/us-east-1/prod`), with
//! the endpoint and CA that Cloud Control's `GetResource` returns; `fleet up --import DIR` then
//! scans the region (fake Cloud Control) and the cluster (a fake EKS API server over HTTPS with
//! that CA, accepting only tokens aws-iam-authenticator would, checked against a fake STS that
//! verifies the presigned signature with the account's secret), each into its own file. No `aws`
//! binary is on PATH: the cluster child signs in with the region's credentials, in-process.

mod fake_aws;
mod support;

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine as _;
use fake_aws::{Account, FakeAws, Res, ACCESS_KEY};
use serde_json::{json, Value};
use support::fake_kube::{FakeAuth, FakeKube, FakeObject, FakeType, KubeOptions};
use support::fake_sts::{FakeSts, Principal};
use support::{program, tls};

const SECRET: &str = "fleet-eks-secret";
const ARN: &str = "arn:aws:iam::123456789012:role/InventoryReader";

fn kube_types() -> Vec<FakeType> {
    vec![
        FakeType::readable("", "v1", "ConfigMap", "configmaps", true),
        FakeType::readable("apps", "v1", "Deployment", "deployments", true),
    ]
}

fn account(endpoint: &str) -> Account {
    let mut a = Account::default();
    a.add(fake_aws::FakeType::new("AWS::EC2::VPC").with_resources("VpcId", "vpc", 2));
    let mut clusters = fake_aws::FakeType::new("AWS::EKS::Cluster");
    // The list handler returns the name only; the endpoint and CA come from GetResource.
    clusters.resources.push(Res {
        identifier: "prod".into(),
        properties: json!({"Name": "prod"}),
    });
    a.add(clusters);
    let ca = base64::engine::general_purpose::STANDARD.encode(tls::ca_pem());
    a.read_models.insert(
        ("AWS::EKS::Cluster".into(), "prod".into()),
        json!({
            "Endpoint": endpoint,
            "CertificateAuthorityData": ca,
            "Arn": "arn:aws:eks:us-east-1:123456789012:cluster/prod",
        }),
    );
    a
}

fn ids(path: &Path) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("id").is_some())
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_with_an_eks_cluster_plans_and_scans_the_cluster_as_its_own_child() {
    let sts = FakeSts::start(&[(
        ACCESS_KEY,
        Principal {
            secret: SECRET.into(),
            account: "123456789012".into(),
            arn: ARN.into(),
        },
    )])
    .await;
    let mut opts = KubeOptions {
        types: kube_types(),
        auth: FakeAuth::Eks {
            sts_url: sts.url.clone(),
            cluster: "prod".into(),
            mapped: vec![ARN.into()],
        },
        ..KubeOptions::default()
    };
    opts.objects.insert(
        "configmaps",
        vec![
            FakeObject::ns("shop", "settings"),
            FakeObject::ns("shop", "flags"),
        ],
    );
    opts.objects
        .insert("deployments", vec![FakeObject::ns("shop", "web")]);
    let kube = FakeKube::start_https(opts).await;
    let aws = FakeAws::start(account(&kube.url), 1000.0).await;

    let home = tempfile::tempdir().unwrap();
    let empty = home.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let env: Vec<(String, String)> = [
        ("PATH", empty.display().to_string()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_ENDPOINT_URL_STS", sts.url.clone()),
        (
            "AWS_ENDPOINT_URL_CLOUDCONTROL",
            aws.cloudcontrol_url.clone(),
        ),
        (
            "AWS_ENDPOINT_URL_CLOUDFORMATION",
            aws.cloudformation_url.clone(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    let out = program::run(
        &[
            "fleet",
            "plan",
            "--cloud",
            "aws",
            "--name",
            "acme",
            "--regions",
            "us-east-1",
            "--out",
            "fleet.yaml",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "plan: {}", out.stderr);
    let text = std::fs::read_to_string(home.path().join("fleet.yaml")).unwrap();
    assert!(
        !text.contains(SECRET) && !text.contains("k8s-aws-v1"),
        "{text}"
    );
    let plan: Value = serde_saphyr::from_str(&text).unwrap();
    let children = plan["children"].as_array().unwrap();
    let names: Vec<&str> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme/us-east-1", "acme/us-east-1/prod"], "{text}");
    let cluster = &children[1];
    assert_eq!(cluster["stack"], "acme.us-east-1.prod");
    assert_eq!(cluster["settings"]["cloud"], "kubernetes");
    assert_eq!(cluster["cluster"]["server"], kube.url.as_str());
    assert_eq!(cluster["cluster"]["eks"]["name"], "prod");
    assert_eq!(cluster["cluster"]["eks"]["region"], "us-east-1");
    assert_eq!(
        cluster["rateLimitGroup"],
        format!("kubernetes/{}", kube.url).as_str()
    );

    let out = program::run(
        &["fleet", "up", "--import", "out", "--logs", "logs"],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "up: {}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("2 children: 2 succeeded, 0 failed"),
        "{}",
        out.stdout
    );

    let region = ids(&home.path().join("out/acme.us-east-1.json"));
    assert!(
        region.contains(&("aws-native:eks:Cluster".into(), "prod".into())),
        "{region:?}"
    );
    assert!(
        region.contains(&("aws-native:ec2:Vpc".into(), "vpc-0".into())),
        "{region:?}"
    );
    assert!(
        !region.iter().any(|(t, _)| t.starts_with("kubernetes:")),
        "{region:?}"
    );
    let in_cluster = ids(&home.path().join("out/acme.us-east-1.prod.json"));
    let expected: BTreeSet<(String, String)> = [
        ("kubernetes:core/v1:ConfigMap", "shop/flags"),
        ("kubernetes:core/v1:ConfigMap", "shop/settings"),
        ("kubernetes:apps/v1:Deployment", "shop/web"),
    ]
    .iter()
    .map(|(t, i)| (t.to_string(), i.to_string()))
    .collect();
    assert_eq!(in_cluster, expected);

    // The region's own run says what it found and how to scan inside it.
    let log = std::fs::read_to_string(home.path().join("logs/acme.us-east-1.log")).unwrap();
    assert!(
        log.contains("found 1 Kubernetes cluster(s) (EKS/AKS)"),
        "{log}"
    );
    // The cluster child's kubeconfig names this program as its exec plugin, and holds no token.
    let kubeconfig =
        std::fs::read_to_string(home.path().join("logs/acme.us-east-1.prod.kubeconfig")).unwrap();
    assert!(kubeconfig.contains("kube-token"), "{kubeconfig}");
    assert!(!kubeconfig.contains("k8s-aws-v1"), "{kubeconfig}");
    let rec = kube.record();
    assert_eq!(rec.unauthorized, 0, "{:?}", rec.refusals);
    assert_eq!(sts.record().verified.get("prod"), Some(&1));
}
