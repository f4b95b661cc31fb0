//! Fakes of Azure's Entra token endpoint and Resource Manager, served over HTTPS with a test CA so
//! the real azure_core / azure_identity clients talk to them unchanged, plus a small estate and the
//! environment a scanner (or the program, as a child process) needs to reach them.

// Shared by several test crates, each using part of it.
#![allow(dead_code)]

pub mod arm;
pub mod entra;
pub mod github;
// HTTPS for the fakes lives with the shared test support (the fake Kubernetes API uses it too).
pub use crate::support::tls;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arm::FakeArm;
use entra::Entra;
use tls::{serve_https, trust_test_ca};

pub const SUB: &str = "00000000-1111-2222-3333-444444444444";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
pub const SECRET: &str = "fake-client-secret";

/// Running fakes. For a child process, pass `secret_env(..)` plus `SSL_CERT_FILE` = [`tls::ca_file`] and
/// `-c armEndpoint=<arm_url>`.
pub struct Fakes {
    pub arm: Arc<FakeArm>,
    pub entra: Arc<Entra>,
    pub arm_url: String,
    pub entra_url: String,
}

pub async fn start(arm: FakeArm, entra: Arc<Entra>) -> Fakes {
    trust_test_ca();
    let arm = Arc::new(arm);
    let entra_url = serve_https(entra::router(entra.clone())).await;
    let arm_url = serve_https(arm::router(arm.clone())).await;
    *arm.base.lock().unwrap() = arm_url.clone();
    Fakes {
        arm,
        entra,
        arm_url,
        entra_url,
    }
}

pub fn entra_with_secret() -> Arc<Entra> {
    let mut e = Entra::new(TENANT, CLIENT);
    e.secret = Some(SECRET.into());
    Arc::new(e)
}

/// Starts fakes for `arm`, whose Entra accepts the client secret.
pub async fn start_estate(arm: FakeArm) -> Fakes {
    let entra = entra_with_secret();
    let mut arm = arm;
    arm.entra = entra.clone();
    start(arm, entra).await
}

/// The client-secret environment that reaches the fakes.
pub fn secret_env(fakes: &Fakes) -> HashMap<String, String> {
    [
        ("ARM_SUBSCRIPTION_ID", SUB),
        ("ARM_CLIENT_ID", CLIENT),
        ("ARM_CLIENT_SECRET", SECRET),
        ("ARM_TENANT_ID", TENANT),
        ("AZURE_AUTHORITY_HOST", fakes.entra_url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A small estate: groups in and out of the location, tracked resources, global ones, children.
pub fn estate() -> (FakeArm, BTreeMap<&'static str, String>) {
    let mut arm = FakeArm::new(SUB, entra_with_secret());
    let mut ids = BTreeMap::new();
    arm.group("rg-west", "westus2");
    arm.group("rg-east", "eastus");
    arm.group("rg-empty-west", "westus2");
    arm.group("rg-empty-east", "eastus");
    let vnet = arm.resource(
        "rg-west",
        "Microsoft.Network/virtualNetworks",
        "vnet1",
        "westus2",
        None,
    );
    ids.insert(
        "subnet-a",
        arm.child(
            &vnet,
            "/subnets",
            "Microsoft.Network/virtualNetworks/subnets",
            "a",
        ),
    );
    ids.insert(
        "subnet-b",
        arm.child(
            &vnet,
            "/subnets",
            "Microsoft.Network/virtualNetworks/subnets",
            "b",
        ),
    );
    ids.insert(
        "subnet-c",
        arm.child(
            &vnet,
            "/subnets",
            "Microsoft.Network/virtualNetworks/subnets",
            "c",
        ),
    );
    ids.insert("vnet", vnet);
    let nsg = arm.resource(
        "rg-west",
        "Microsoft.Network/networkSecurityGroups",
        "nsg1",
        "westus2",
        None,
    );
    ids.insert(
        "rule",
        arm.child(
            &nsg,
            "/securityRules",
            "Microsoft.Network/networkSecurityGroups/securityRules",
            "allow-ssh",
        ),
    );
    ids.insert("nsg", nsg);
    let sa = arm.resource(
        "rg-west",
        "Microsoft.Storage/storageAccounts",
        "sa1",
        "westus2",
        Some("StorageV2"),
    );
    ids.insert(
        "container",
        arm.child(
            &sa,
            "/blobServices/default/containers",
            "Microsoft.Storage/storageAccounts/blobServices/containers",
            "logs",
        ),
    );
    ids.insert("sa", sa);
    ids.insert(
        "app",
        arm.resource(
            "rg-east",
            "Microsoft.Web/sites",
            "app1",
            "westus2",
            Some("app,linux"),
        ),
    );
    ids.insert(
        "zone",
        arm.resource(
            "rg-east",
            "Microsoft.Network/dnsZones",
            "example.com",
            "global",
            None,
        ),
    );
    let record = arm.child_with_id(
        &ids["zone"],
        "/recordsets",
        "Microsoft.Network/dnszones/CNAME",
        "CNAME/www",
    );
    ids.insert("record", record);
    ids.insert(
        "vm-east",
        arm.resource(
            "rg-east",
            "Microsoft.Compute/virtualMachines",
            "vm9",
            "eastus",
            None,
        ),
    );
    (arm, ids)
}
