//! End to end for OCI: the built program, launched as a Pulumi language host launches it, searches a
//! fake tenancy (`fake_oci`, which verifies every request's HTTP signature) with the `OCI_*`
//! credentials and reads every resource into the fake Pulumi engine over gRPC, mapped with a provider
//! schema file. Covered: tokens and read ids (OCIDs, bucket `n/{namespace}/b/{name}`), terminated and
//! unmappable resources counted as skipped, the `compartment` setting, a compartment that keeps
//! failing (500) or stays throttled (429) ending the update as failed (exit 32, no shutdown signal),
//! a run without a schema failing instead of looking complete, and `--import`.

mod fake_oci;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use fake_oci::{keys, FakeOci};
use prost_types::Struct;
use serde_json::{json, Value};
use support::checks::{
    self, assert_counts_add_up, assert_ended_with_shutdown, bool_field, check_import_file, logs,
    string_field,
};
use support::fake_monitor::{number, Call, FakeMonitor, MonitorOptions};
use support::program::{self, host_env};

const OCI_VERSION: &str = "4.20.0";
const REGION: &str = "us-phoenix-1";
const TENANCY: &str = "ocid1.tenancy.oc1..aaaae2e";
const USER: &str = "ocid1.user.oc1..aaaae2e";
const DEV: &str = "ocid1.compartment.oc1..dev";
const APP: &str = "ocid1.compartment.oc1..app";
const OPS: &str = "ocid1.compartment.oc1..ops";
const OLD: &str = "ocid1.compartment.oc1..old";

fn key_id() -> String {
    format!("{TENANCY}/{USER}/{}", keys::FINGERPRINT)
}

fn compartment(id: &str, name: &str, parent: &str, state: &str) -> Value {
    json!({"id": id, "name": name, "compartmentId": parent, "lifecycleState": state,
           "description": name, "timeCreated": "2024-01-01T00:00:00.000Z"})
}

/// A ResourceSummary as Resource Search returns it.
fn hit(kind: &str, id: &str, name: &str, compartment: &str, state: &str) -> Value {
    json!({"resourceType": kind, "identifier": id, "displayName": name,
           "compartmentId": compartment, "lifecycleState": state,
           "timeCreated": "2024-01-01T00:00:00.000Z", "availabilityDomain": null,
           "freeformTags": {}, "definedTags": {}, "additionalDetails": {}})
}

/// A tenancy: root -> dev -> app, root -> ops, and a deleted compartment `old` (never searched).
fn tenancy() -> FakeOci {
    let mut fake = FakeOci::new(TENANCY, &key_id(), keys::KEY_PUBLIC);
    fake.namespace = "acmens".into();
    fake.compartments = vec![
        compartment(DEV, "dev", TENANCY, "ACTIVE"),
        compartment(APP, "app", DEV, "ACTIVE"),
        compartment(OPS, "ops", TENANCY, "ACTIVE"),
        compartment(OLD, "old", TENANCY, "DELETED"),
    ];
    fake.resources = vec![
        hit("Compartment", DEV, "dev", TENANCY, "ACTIVE"),
        hit("Compartment", OPS, "ops", TENANCY, "ACTIVE"),
        hit("Compartment", APP, "app", DEV, "ACTIVE"),
        hit(
            "Vcn",
            "ocid1.vcn.oc1..root0001",
            "core",
            TENANCY,
            "AVAILABLE",
        ),
        hit(
            "Bucket",
            "ocid1.bucket.oc1..logs0001",
            "logs",
            TENANCY,
            "ACTIVE",
        ),
        hit(
            "Bucket",
            "ocid1.bucket.oc1..bkup0001",
            "backups",
            OPS,
            "ACTIVE",
        ),
        hit(
            "Instance",
            "ocid1.instance.oc1..web00001",
            "web",
            DEV,
            "RUNNING",
        ),
        hit(
            "Instance",
            "ocid1.instance.oc1..web00002",
            "web",
            DEV,
            "STOPPED",
        ),
        hit(
            "Instance",
            "ocid1.instance.oc1..gone0001",
            "gone",
            DEV,
            "TERMINATED",
        ),
        hit(
            "Vnic",
            "ocid1.vnic.oc1..vnic0001",
            "web-vnic",
            DEV,
            "AVAILABLE",
        ),
        hit(
            "Subnet",
            "ocid1.subnet.oc1..app00001",
            "app",
            APP,
            "AVAILABLE",
        ),
        hit(
            "ClustersCluster",
            "ocid1.cluster.oc1..oke00001",
            "oke",
            APP,
            "ACTIVE",
        ),
        hit("Vcn", "ocid1.vcn.oc1..ops00001", "ops", OPS, "AVAILABLE"),
        hit(
            "Vcn",
            "ocid1.vcn.oc1..del00001",
            "old-net",
            OPS,
            "TERMINATED",
        ),
        hit(
            "Instance",
            "ocid1.instance.oc1..inold001",
            "x",
            OLD,
            "RUNNING",
        ),
    ];
    fake
}

/// (token, read id) of everything the scan of the whole tenancy must read, written out by hand.
fn expected() -> BTreeSet<(String, String)> {
    [
        ("oci:Identity/compartment:Compartment", DEV),
        ("oci:Identity/compartment:Compartment", OPS),
        ("oci:Identity/compartment:Compartment", APP),
        ("oci:Core/vcn:Vcn", "ocid1.vcn.oc1..root0001"),
        ("oci:Core/vcn:Vcn", "ocid1.vcn.oc1..ops00001"),
        ("oci:ObjectStorage/bucket:Bucket", "n/acmens/b/logs"),
        ("oci:ObjectStorage/bucket:Bucket", "n/acmens/b/backups"),
        ("oci:Core/instance:Instance", "ocid1.instance.oc1..web00001"),
        ("oci:Core/instance:Instance", "ocid1.instance.oc1..web00002"),
        ("oci:Core/subnet:Subnet", "ocid1.subnet.oc1..app00001"),
        (
            "oci:ContainerEngine/cluster:Cluster",
            "ocid1.cluster.oc1..oke00001",
        ),
    ]
    .iter()
    .map(|(t, id)| (t.to_string(), id.to_string()))
    .collect()
}

/// Resources skipped: two terminated (an instance, a VCN) and the VNIC, which has no pulumi-oci type.
const SKIPPED: f64 = 3.0;

/// A description with an `## Import` section in the shape pulumi-oci's schema uses.
fn described(token: &str, id: &str) -> Value {
    json!({"description": format!(
        "Provides the resource.\n\n## Import\n\nThese can be imported using the `id`, e.g.\n\n```sh\n$ pulumi import {token} test_resource \"{id}\"\n```\n"
    )})
}

/// A small oci provider schema file, as `pulumi package get-schema oci@4.20.0` writes it.
fn write_schema(dir: &Path) -> PathBuf {
    let mut resources = serde_json::Map::new();
    for token in [
        "oci:Core/instance:Instance",
        "oci:Core/vcn:Vcn",
        "oci:Core/subnet:Subnet",
        "oci:Core/vnicAttachment:VnicAttachment",
        "oci:Identity/compartment:Compartment",
        "oci:ContainerEngine/cluster:Cluster",
    ] {
        resources.insert(token.into(), described(token, "id"));
    }
    resources.insert(
        "oci:ObjectStorage/bucket:Bucket".into(),
        described(
            "oci:ObjectStorage/bucket:Bucket",
            "n/{namespaceName}/b/{bucketName}",
        ),
    );
    let path = dir.join("oci-schema.json");
    std::fs::write(
        &path,
        json!({"name": "oci", "version": OCI_VERSION, "resources": resources}).to_string(),
    )
    .unwrap();
    path
}

/// The `OCI_*` credentials, with the private key written to `dir`.
fn oci_env(dir: &Path) -> Vec<(String, String)> {
    let key_path = dir.join("oci_api_key.pem");
    std::fs::write(&key_path, keys::KEY_PKCS8).unwrap();
    [
        ("OCI_TENANCY_OCID", TENANCY.to_string()),
        ("OCI_USER_OCID", USER.to_string()),
        ("OCI_FINGERPRINT", keys::FINGERPRINT.to_string()),
        ("OCI_REGION", REGION.to_string()),
        ("OCI_PRIVATE_KEY_PATH", key_path.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Runs the program under the fake engine with `config` on top of `cloud=oci` and the endpoint.
async fn run_engine(
    base: &str,
    config: &[(&str, &str)],
    home: &Path,
) -> (FakeMonitor, program::Output) {
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let mut cfg = vec![("cloud", "oci"), ("endpoint", base)];
    cfg.extend_from_slice(config);
    let mut env = host_env(&monitor, &cfg);
    env.extend(oci_env(home));
    let out = program::run(&[], &env, home).await;
    (monitor, out)
}

/// The shared protocol checks, plus the provider's inputs: the region and nothing else (key
/// material never goes into provider inputs, which are stored in plain text). Returns (token, id) of
/// the reads and the stack outputs.
fn check_engine_run(m: &FakeMonitor) -> (BTreeSet<(String, String)>, Struct) {
    let run = checks::check_engine_run(m, "pulumi:providers:oci", OCI_VERSION);
    assert_eq!(
        string_field(&run.provider_inputs, "region").as_deref(),
        Some(REGION)
    );
    assert_eq!(
        run.provider_inputs.fields.len(),
        1,
        "{:?}",
        run.provider_inputs.fields.keys()
    );
    (run.reads, run.outputs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulumi_up_reads_the_tenancy_with_mapped_tokens_and_read_ids() {
    let fake = tenancy();
    // Two throttled searches: retried, nothing lost.
    fake.throttle_first.store(2, Ordering::SeqCst);
    let fake = Arc::new(fake);
    let base = fake.clone().serve().await;
    let home = tempfile::tempdir().unwrap();
    let schema = write_schema(home.path());
    let schema = schema.display().to_string();

    let (monitor, out) = run_engine(&base, &[("schemaFile", &schema)], home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "", "stdout must stay quiet under Pulumi");
    let (reads, outputs) = check_engine_run(&monitor);
    assert_eq!(reads, expected());

    let rec = monitor.record();
    assert_ended_with_shutdown(&rec);
    drop(rec);

    assert_counts_add_up(&outputs);
    assert_eq!(number(&outputs, &["read"]), Some(expected().len() as f64));
    assert_eq!(number(&outputs, &["skipped"]), Some(SKIPPED));
    assert_eq!(number(&outputs, &["failed"]), Some(0.0));
    assert_eq!(bool_field(&outputs, "complete"), Some(true));
    // The terminated instance is counted as skipped under its type.
    assert_eq!(
        number(
            &outputs,
            &["types", "oci:Core/instance:Instance", "skipped"]
        ),
        Some(1.0)
    );
    assert_eq!(
        number(&outputs, &["types", "oci:Core/instance:Instance", "read"]),
        Some(2.0)
    );

    let log = fake.log();
    assert_eq!(log.rejected, 0, "every request carried a valid signature");
    assert_eq!(log.throttled, 2);
    assert_eq!(log.namespace_calls, 1, "the namespace is fetched once");
    let searched: BTreeSet<String> = log.searches.into_iter().collect();
    assert_eq!(
        searched,
        BTreeSet::from([APP, DEV, OPS, TENANCY].map(String::from)),
        "the deleted compartment is not searched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compartment_that_keeps_failing_fails_the_update_without_shutdown() {
    compartment_fails(500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compartment_that_stays_throttled_fails_the_update_without_shutdown() {
    compartment_fails(429).await;
}

/// `ops` answers every search with `status` (500 InternalServerError or 429 TooManyRequests).
async fn compartment_fails(status: u16) {
    let mut fake = tenancy();
    match status {
        500 => fake.always_fail.insert(OPS.to_string()),
        _ => fake.always_throttle.insert(OPS.to_string()),
    };
    let fake = Arc::new(fake);
    let base = fake.clone().serve().await;
    let home = tempfile::tempdir().unwrap();
    let schema = write_schema(home.path());
    let schema = schema.display().to_string();

    let (monitor, out) = run_engine(&base, &[("schemaFile", &schema)], home.path()).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let (reads, outputs) = check_engine_run(&monitor);
    // Everything outside `ops` was still read; nothing of `ops`.
    let outside_ops: BTreeSet<_> = expected()
        .into_iter()
        .filter(|(_, id)| !id.contains("ops0") && id != "n/acmens/b/backups")
        .collect();
    assert_eq!(reads, outside_ops);
    assert!(
        !monitor
            .record()
            .calls
            .iter()
            .any(|c| matches!(c, Call::Shutdown)),
        "must not let the engine discard state"
    );
    let errors = logs(&monitor, 3);
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&format!("{REGION}/ops")) && e.contains(&status.to_string())),
        "{errors:?}"
    );
    assert_counts_add_up(&outputs);
    assert_eq!(bool_field(&outputs, "complete"), Some(false));
    // Bounded retries of the failing compartment (throttles get more of them).
    let ops_searches = fake.log().searches.iter().filter(|c| *c == OPS).count();
    assert!((2..=40).contains(&ops_searches), "{ops_searches} searches");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compartment_setting_limits_the_scan_to_its_subtree() {
    let fake = Arc::new(tenancy());
    let base = fake.clone().serve().await;
    let home = tempfile::tempdir().unwrap();
    let schema = write_schema(home.path());
    let schema = schema.display().to_string();

    let config = [("schemaFile", schema.as_str()), ("compartment", DEV)];
    let (monitor, out) = run_engine(&base, &config, home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (reads, outputs) = check_engine_run(&monitor);
    let dev_subtree: BTreeSet<(String, String)> = [
        ("oci:Identity/compartment:Compartment", APP),
        ("oci:Core/instance:Instance", "ocid1.instance.oc1..web00001"),
        ("oci:Core/instance:Instance", "ocid1.instance.oc1..web00002"),
        ("oci:Core/subnet:Subnet", "ocid1.subnet.oc1..app00001"),
        (
            "oci:ContainerEngine/cluster:Cluster",
            "ocid1.cluster.oc1..oke00001",
        ),
    ]
    .iter()
    .map(|(t, id)| (t.to_string(), id.to_string()))
    .collect();
    assert_eq!(reads, dev_subtree);
    // The terminated instance and the VNIC of `dev`.
    assert_eq!(number(&outputs, &["skipped"]), Some(2.0));
    assert_counts_add_up(&outputs);
    let searched: BTreeSet<String> = fake.log().searches.into_iter().collect();
    assert_eq!(searched, BTreeSet::from([APP, DEV].map(String::from)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_schema_the_common_types_are_read_with_a_warning() {
    let fake = Arc::new(tenancy());
    let base = fake.clone().serve().await;
    let home = tempfile::tempdir().unwrap();

    let (monitor, out) = run_engine(&base, &[], home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (reads, outputs) = check_engine_run(&monitor);
    // The built-in list covers this tenancy's instances, VCNs, subnets, buckets and clusters: they
    // are read with the same tokens and ids as with the schema.
    let want: BTreeSet<(String, String)> = expected()
        .into_iter()
        .filter(|(t, _)| cloud_import::clouds::oci::builtin::TOKENS.contains(&t.as_str()))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(reads, want);
    assert_counts_add_up(&outputs);
    let warnings = logs(&monitor, 2);
    assert!(
        warnings.iter().any(|w| w.contains("no provider schema")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("built-in list")),
        "{warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_mode_writes_the_provider_first_and_every_resource_by_reference() {
    let fake = Arc::new(tenancy());
    let base = fake.clone().serve().await;
    let home = tempfile::tempdir().unwrap();
    let schema = write_schema(home.path());
    let out_path = home.path().join("import.json");
    let env = oci_env(home.path());
    let out = program::run(
        &[
            "--import",
            "--cloud",
            "oci",
            "--out",
            out_path.to_str().unwrap(),
            "-c",
            &format!("endpoint={base}"),
            "-c",
            &format!("schemaFile={}", schema.display()),
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let text = std::fs::read_to_string(&out_path).unwrap();
    let file = check_import_file(&text, "pulumi:providers:oci", OCI_VERSION);
    assert_eq!(file.provider["inputs"]["region"], REGION);
    let got = file.keys;
    assert_eq!(got, expected());
    assert!(
        !std::fs::read_to_string(&out_path)
            .unwrap()
            .contains("PRIVATE KEY"),
        "no key material in the import file"
    );
}
