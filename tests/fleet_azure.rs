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
