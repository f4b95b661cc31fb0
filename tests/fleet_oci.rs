//! `fleet plan --cloud oci`: the tenancy's name (Identity GetTenancy) and its READY region
//! subscriptions (Identity ListRegionSubscriptions), from the fake Identity that checks every
//! request's HTTP signature.

mod fake_oci;
mod support;

use std::sync::Arc;

use fake_oci::{keys, FakeOci};
use serde_json::{json, Value};
use support::program;

const TENANCY: &str = "ocid1.tenancy.oc1..aaaafleet";
const USER: &str = "ocid1.user.oc1..aaaafleet";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_lists_the_ready_region_subscriptions() {
    let mut fake = FakeOci::new(
        TENANCY,
        &format!("{TENANCY}/{USER}/{}", keys::FINGERPRINT),
        keys::KEY_PUBLIC,
    );
    fake.region_subscriptions = vec![
        json!({"regionKey": "PHX", "regionName": "us-phoenix-1", "status": "READY", "isHomeRegion": true}),
        json!({"regionKey": "FRA", "regionName": "eu-frankfurt-1", "status": "READY", "isHomeRegion": false}),
        json!({"regionKey": "LHR", "regionName": "uk-london-1", "status": "IN_PROGRESS", "isHomeRegion": false}),
    ];
    let fake = Arc::new(fake);
    let base = fake.clone().serve().await;
    let home = tempfile::tempdir().unwrap();
    let key_path = home.path().join("key.pem");
    std::fs::write(&key_path, keys::KEY_PKCS8).unwrap();
    let env: Vec<(String, String)> = [
        ("OCI_TENANCY_OCID", TENANCY.to_string()),
        ("OCI_USER_OCID", USER.to_string()),
        ("OCI_FINGERPRINT", keys::FINGERPRINT.to_string()),
        ("OCI_REGION", "us-phoenix-1".to_string()),
        ("OCI_PRIVATE_KEY_PATH", key_path.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let endpoint = format!("endpoint={base}");
    let out = program::run(
        &["fleet", "plan", "--cloud", "oci", "-c", &endpoint],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let plan: Value = serde_saphyr::from_str(&out.stdout).unwrap();
    assert_eq!(plan["parent"]["name"], "acme");
    let children = plan["children"].as_array().unwrap();
    let names: Vec<&str> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["acme/eu-frankfurt-1", "acme/us-phoenix-1"],
        "{}",
        out.stdout
    );
    for c in children {
        assert_eq!(c["settings"]["cloud"], "oci");
        assert_eq!(c["settings"]["endpoint"], base.as_str());
        assert_eq!(
            c["rateLimitGroup"],
            format!(
                "oci/{TENANCY}/{}",
                c["settings"]["region"].as_str().unwrap()
            )
        );
    }
    assert!(!out.stdout.contains("PRIVATE KEY"));
    let log = fake.log();
    assert_eq!((log.verified, log.rejected), (2, 0));
}
