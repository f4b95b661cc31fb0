//! End to end for Azure: the built program, launched as a Pulumi language host launches it, lists a
//! fake subscription (HTTPS fake Resource Manager and Entra token endpoint, reached by the real
//! azure_core / azure_identity clients) and reads every resource into the fake Pulumi engine over
//! gRPC: resource groups first, each resource parented by its group's URN and read only after the
//! group's read returned, one read per resource, the location filter with `global` kept; a group
//! whose read fails leaves its resources parented to the stack; a page failing after retries ends
//! the update as failed (exit 32); and `--import`, where parents are entry names.

mod fake_azure;
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use fake_azure::{estate, secret_env, start_estate, tls, Fakes, SUB};
use prost_types::value::Kind;
use prost_types::Struct;
use support::checks::{assert_ended_with_shutdown, check_import_file};
use support::fake_monitor::{number, Call, FakeMonitor, MonitorOptions, PreviousStack};
use support::program::{self, host_env};

/// The azure-native version this release pins (`Cloud::Azure.pinned_version`).
const AZURE_NATIVE_VERSION: &str = "3.29.0";
const RG_TOKEN: &str = "azure-native:resources:ResourceGroup";
const URN_PREFIX: &str = "urn:pulumi:dev::pulumi-cloud-import::";

/// Estate key -> the azure-native token its id matches in `tests/fake_azure/schema.json`, written
/// out by hand from the fixture's import ids (not computed by our code).
const TOKENS: &[(&str, &str)] = &[
    ("vnet", "azure-native:network:VirtualNetwork"),
    ("subnet-a", "azure-native:network:Subnet"),
    ("subnet-b", "azure-native:network:Subnet"),
    ("subnet-c", "azure-native:network:Subnet"),
    ("nsg", "azure-native:network:NetworkSecurityGroup"),
    ("rule", "azure-native:network:SecurityRule"),
    ("sa", "azure-native:storage:StorageAccount"),
    ("container", "azure-native:storage:BlobContainer"),
    ("app", "azure-native:web:WebApp"),
    ("zone", "azure-native:dns:Zone"),
    ("record", "azure-native:dns:RecordSet"),
];

/// Groups read for `westus2`: the two homed there (one empty) and `rg-east`, homed in eastus but
/// holding a westus2 web app and a global DNS zone. `rg-empty-east` has nothing in scope.
const GROUPS_IN_WESTUS2: &[&str] = &["rg-west", "rg-east", "rg-empty-west"];

fn rg_id(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}

fn schema_path() -> String {
    format!(
        "{}/tests/fake_azure/schema.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// What a `westus2` run must read: (token, id) of every group and resource in scope.
fn expected_westus2(ids: &BTreeMap<&'static str, String>) -> BTreeMap<String, String> {
    let mut want: BTreeMap<String, String> = TOKENS
        .iter()
        .map(|(key, token)| (ids[key].clone(), token.to_string()))
        .collect();
    for g in GROUPS_IN_WESTUS2 {
        want.insert(rg_id(g), RG_TOKEN.to_string());
    }
    want
}

/// The group id a resource id lives under.
fn group_of(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    // "", "subscriptions", sub, "resourceGroups", name, ...
    rg_id(parts[4])
}

/// The credential and TLS environment that reaches the fakes, for the child process.
fn azure_env(fakes: &Fakes) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = secret_env(fakes).into_iter().collect();
    env.push(("SSL_CERT_FILE".into(), tls::ca_file().display().to_string()));
    env
}

fn engine_env(monitor: &FakeMonitor, fakes: &Fakes, location: &str) -> Vec<(String, String)> {
    let schema = schema_path();
    let mut env = host_env(
        monitor,
        &[
            ("cloud", "azure"),
            ("subscription", SUB),
            ("location", location),
            ("armEndpoint", &fakes.arm_url),
            ("schemaFile", &schema),
        ],
    );
    env.extend(azure_env(fakes));
    env
}

fn reads(calls: &[Call]) -> Vec<(usize, &cloud_import::proto::ReadResourceRequest, &String)> {
    calls
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            Call::Read(r, urn) => Some((i, r, urn)),
            _ => None,
        })
        .collect()
}

fn logs(calls: &[Call], severity: i32) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Log(l) if l.severity == severity => Some(l.message.clone()),
            _ => None,
        })
        .collect()
}

fn outputs(calls: &[Call]) -> Struct {
    calls
        .iter()
        .find_map(|c| match c {
            Call::Outputs(o) => o.outputs.clone(),
            _ => None,
        })
        .expect("stack outputs registered")
}

fn boolean(s: &Struct, key: &str) -> Option<bool> {
    match s.fields.get(key)?.kind {
        Some(Kind::BoolValue(b)) => Some(b),
        _ => None,
    }
}

fn list_len(s: &Struct, key: &str) -> Option<usize> {
    match &s.fields.get(key)?.kind {
        Some(Kind::ListValue(l)) => Some(l.values.len()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pulumi_up_reads_groups_first_and_parents_resources_by_their_group() {
    let (arm, ids) = estate();
    let fakes = start_estate(arm).await;
    let want = expected_westus2(&ids);
    let monitor = FakeMonitor::start(MonitorOptions {
        // Slow enough that a child sent without waiting for its group's answer would overtake it.
        latency: Duration::from_millis(40),
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut env = engine_env(&monitor, &fakes, "westus2");
    env.push(("PULUMI_CLOUD_IMPORT_WORKERS".into(), "6".into()));

    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "", "stdout must stay quiet under Pulumi");
    assert_eq!(out.stderr, "", "stderr must stay quiet under Pulumi");

    let rec = monitor.record();
    assert!(
        rec.violations.is_empty(),
        "engine rule violations: {:?}",
        rec.violations
    );
    // Stack, then the azure-native provider for the subscription.
    let Call::Register(stack, stack_urn) = &rec.calls[0] else {
        panic!("first call: {:?}", rec.calls[0])
    };
    assert_eq!(stack.r#type, "pulumi:pulumi:Stack");
    assert_eq!(stack_urn, &monitor.stack_urn());
    let Call::Register(provider, provider_urn) = &rec.calls[1] else {
        panic!("second call: {:?}", rec.calls[1])
    };
    assert_eq!(provider.r#type, "pulumi:providers:azure-native");
    assert_eq!(provider.version, AZURE_NATIVE_VERSION);
    assert_eq!(provider.parent, *stack_urn);
    assert!(provider.custom);
    let inputs = provider.object.as_ref().expect("provider inputs");
    assert_eq!(
        inputs
            .fields
            .get("subscriptionId")
            .and_then(|v| match &v.kind {
                Some(Kind::StringValue(s)) => Some(s.as_str()),
                _ => None,
            }),
        Some(SUB)
    );
    assert_ended_with_shutdown(&rec);

    let reads = reads(&rec.calls);
    // One read per resource, each with the token its id maps to; nothing out of the location
    // (the eastus VM, the empty eastus group), while the global DNS zone and its record are in.
    let mut got = BTreeMap::new();
    let mut urns = HashSet::new();
    for (_, r, urn) in &reads {
        assert!(urns.insert((*urn).clone()), "URN read twice: {urn}");
        assert!(
            got.insert(r.id.clone(), r.r#type.clone()).is_none(),
            "read twice: {}",
            r.id
        );
        assert!(
            r.provider.starts_with(&format!("{provider_urn}::")),
            "provider ref {}",
            r.provider
        );
        assert!(
            !r.name.contains("::") && !r.name.contains(SUB),
            "{}",
            r.name
        );
    }
    assert_eq!(got, want);
    assert!(!got.contains_key(&ids["vm-east"]));
    assert!(!got.contains_key(&rg_id("rg-empty-east")));

    // Groups hang off the stack; every other resource off its group's URN, the one the engine
    // answered for the group's read, so its URN's type is qualified by the group's.
    let group_reads: HashMap<String, (usize, String)> = reads
        .iter()
        .filter(|(_, r, _)| r.r#type == RG_TOKEN)
        .map(|(i, r, urn)| (r.id.to_ascii_lowercase(), (*i, (*urn).clone())))
        .collect();
    for (_, r, urn) in reads.iter().filter(|(_, r, _)| r.r#type == RG_TOKEN) {
        assert_eq!(r.parent, *stack_urn, "group {}", r.id);
        assert_eq!(*urn, &format!("{URN_PREFIX}{RG_TOKEN}::{}", r.name));
    }
    let done_at = |urn: &str| rec.reads_done.iter().position(|u| u == urn);
    for (i, r, urn) in reads.iter().filter(|(_, r, _)| r.r#type != RG_TOKEN) {
        let group = group_of(&r.id).to_ascii_lowercase();
        let (group_at, group_urn) = &group_reads[&group];
        assert_eq!(&r.parent, group_urn, "parent of {}", r.id);
        assert!(group_at < i, "{} was read before its group", r.id);
        assert_eq!(
            *urn,
            &format!("{URN_PREFIX}{RG_TOKEN}${}::{}", r.r#type, r.name),
            "URN of {}",
            r.id
        );
        // The group's provider read had finished before this one did (and, by the parent URN
        // above, before this one was sent: the URN is only known from the group's answer).
        let (group_done, done) = (done_at(group_urn).unwrap(), done_at(urn).unwrap());
        assert!(group_done < done, "{} finished before its group", r.id);
    }

    let outputs = outputs(&rec.calls);
    let n = |k: &str| number(&outputs, &[k]).unwrap() as usize;
    assert_eq!(n("read"), want.len());
    assert_eq!(n("failed"), 0);
    assert_eq!(n("skipped"), 0);
    assert_eq!(n("parentFallbacks"), 0);
    assert_eq!(boolean(&outputs, "complete"), Some(true));
    assert_eq!(
        number(&outputs, &["types", "azure-native:network:Subnet", "read"]),
        Some(3.0)
    );
    assert!(logs(&rec.calls, 3).is_empty(), "{:?}", logs(&rec.calls, 3));
    drop(rec);

    // The listing asked ARM for the location and for `global`, through paged nextLinks.
    let log = fakes.arm.request_log();
    let resource_lists: Vec<&String> = log.iter().filter(|r| r.contains("/resources?")).collect();
    assert!(
        resource_lists.iter().any(|r| r.contains("westus2")),
        "{log:?}"
    );
    assert!(
        resource_lists.iter().any(|r| r.contains("global")),
        "{log:?}"
    );
    assert!(
        resource_lists.iter().all(|r| r.contains("filter")),
        "one location must not list the whole subscription: {log:?}"
    );
    assert!(log.iter().any(|r| r.contains("skiptoken")), "{log:?}");
    assert_eq!(fakes.entra.grants("secret"), 1, "one token, cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_of_a_group_whose_read_failed_fall_back_to_the_stack() {
    let (arm, ids) = estate();
    let fakes = start_estate(arm).await;
    let want = expected_westus2(&ids);
    let failing_group = rg_id("rg-west");
    let monitor = FakeMonitor::start(MonitorOptions {
        failing_ids: [failing_group.clone()].into_iter().collect(),
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let env = engine_env(&monitor, &fakes, "westus2");

    let out = program::run(&[], &env, home.path()).await;
    // A failed read is counted and warned about, not a failed update.
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let rec = monitor.record();
    assert!(rec.violations.is_empty(), "{:?}", rec.violations);
    let stack_urn = monitor.stack_urn();
    let reads = reads(&rec.calls);
    let group_urns: HashMap<String, String> = reads
        .iter()
        .filter(|(_, r, _)| r.r#type == RG_TOKEN)
        .map(|(_, r, urn)| (r.id.clone(), (*urn).clone()))
        .collect();

    let mut fell_back = 0;
    let mut got = BTreeMap::new();
    for (_, r, urn) in &reads {
        assert!(got.insert(r.id.clone(), r.r#type.clone()).is_none());
        if r.r#type == RG_TOKEN {
            continue;
        }
        let group = group_of(&r.id);
        if group == failing_group {
            // Parented to the stack, so its URN carries its own type only.
            assert_eq!(r.parent, stack_urn, "{}", r.id);
            assert_eq!(*urn, &format!("{URN_PREFIX}{}::{}", r.r#type, r.name));
            fell_back += 1;
        } else {
            assert_eq!(r.parent, group_urns[&group], "{}", r.id);
        }
    }
    // Everything was still read, once.
    assert_eq!(got, want);
    let in_failing_group = want
        .keys()
        .filter(|id| id.starts_with(&format!("{failing_group}/")))
        .count();
    assert_eq!(
        in_failing_group, 8,
        "vnet, 3 subnets, nsg, rule, account, container"
    );
    assert_eq!(fell_back, in_failing_group);

    let outputs = outputs(&rec.calls);
    assert_eq!(
        number(&outputs, &["parentFallbacks"]),
        Some(in_failing_group as f64)
    );
    assert_eq!(number(&outputs, &["failed"]), Some(1.0));
    assert_eq!(number(&outputs, &["types", RG_TOKEN, "failed"]), Some(1.0));
    assert_eq!(number(&outputs, &["read"]), Some((want.len() - 1) as f64));
    let warnings = logs(&rec.calls, 2);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(RG_TOKEN) && w.contains(&failing_group)),
        "{warnings:?}"
    );
    let infos = logs(&rec.calls, 1);
    assert!(
        infos.iter().chain(&warnings).any(|m| m.contains(&format!(
            "{in_failing_group} resources parented to the stack"
        ))),
        "the final line says so: {infos:?} {warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_page_failing_after_retries_exits_32_without_signalling_shutdown() {
    let (mut arm, ids) = estate();
    arm.fail_paths = vec![format!("/subscriptions/{SUB}/resources").to_ascii_lowercase()];
    let fakes = start_estate(arm).await;
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    let env = engine_env(&monitor, &fakes, "westus2");

    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let rec = monitor.record();
    assert!(rec.violations.is_empty(), "{:?}", rec.violations);
    assert!(
        !rec.calls.iter().any(|c| matches!(c, Call::Shutdown)),
        "must not let the engine discard state"
    );
    let errors = logs(&rec.calls, 3);
    assert!(
        errors.iter().any(|e| e.contains("incomplete")
            && e.contains(&format!("resources of subscription {SUB}"))
            && e.contains("500")),
        "{errors:?}"
    );
    // Each listing (westus2, global) was tried a bounded number of times.
    let attempts = cloud_import::retry::RetryPolicy::default().max_attempts as usize;
    let tried = fakes
        .arm
        .request_log()
        .iter()
        .filter(|r| r.contains("/resources?"))
        .count();
    assert_eq!(tried, 2 * attempts);
    // What could be listed was still read: the groups homed in the location, and nothing else.
    let read: HashSet<String> = reads(&rec.calls)
        .iter()
        .map(|(_, r, _)| r.id.clone())
        .collect();
    let want: HashSet<String> = ["rg-west", "rg-empty-west"]
        .iter()
        .map(|g| rg_id(g))
        .collect();
    assert_eq!(read, want);
    assert!(!read.contains(&ids["vnet"]));
    let outputs = outputs(&rec.calls);
    assert_eq!(boolean(&outputs, "complete"), Some(false));
    assert_eq!(list_len(&outputs, "incomplete"), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_list_failing_after_retries_exits_32_after_reading_the_rest() {
    let (mut arm, ids) = estate();
    arm.fail_paths = vec![format!("{}/subnets", ids["vnet"]).to_ascii_lowercase()];
    let fakes = start_estate(arm).await;
    let mut want = expected_westus2(&ids);
    for subnet in ["subnet-a", "subnet-b", "subnet-c"] {
        want.remove(&ids[subnet]);
    }
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    let env = engine_env(&monitor, &fakes, "westus2");

    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let rec = monitor.record();
    assert!(rec.violations.is_empty(), "{:?}", rec.violations);
    assert!(!rec.calls.iter().any(|c| matches!(c, Call::Shutdown)));
    let errors = logs(&rec.calls, 3);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("subnets") && e.contains(&ids["vnet"]) && e.contains("500")),
        "{errors:?}"
    );
    // Every other resource was read, once, under its group, before the run ended as failed.
    let mut got = BTreeMap::new();
    for (_, r, _) in reads(&rec.calls) {
        assert!(got.insert(r.id.clone(), r.r#type.clone()).is_none());
    }
    assert_eq!(got, want);
    assert_eq!(rec.reads_done.len(), want.len());
    let outputs = outputs(&rec.calls);
    assert_eq!(number(&outputs, &["read"]), Some(want.len() as f64));
    assert_eq!(list_len(&outputs, "incomplete"), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_listing_that_panics_exits_32_without_signalling_shutdown() {
    let (arm, _) = estate();
    let fakes = start_estate(arm).await;
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    let mut env = engine_env(&monitor, &fakes, "westus2");
    // The debug build's fault hook panics the child listing task of this type.
    env.push((
        "PULUMI_CLOUD_IMPORT_TEST_PANIC".into(),
        "Microsoft.Network/virtualNetworks/subnets".into(),
    ));
    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let rec = monitor.record();
    assert!(
        !rec.calls.iter().any(|c| matches!(c, Call::Shutdown)),
        "a crashed child listing must not let the engine discard state"
    );
    let errors = logs(&rec.calls, 3);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("discovery was incomplete") && e.contains("panicked")),
        "{errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_locations_read_every_group_and_skip_ids_without_a_template() {
    let (arm, ids) = estate();
    let fakes = start_estate(arm).await;
    let mut want = expected_westus2(&ids);
    want.insert(rg_id("rg-empty-east"), RG_TOKEN.to_string());
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    let env = engine_env(&monitor, &fakes, "all");

    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let rec = monitor.record();
    assert!(rec.violations.is_empty(), "{:?}", rec.violations);
    let Call::Register(provider, _) = &rec.calls[1] else {
        panic!("second call: {:?}", rec.calls[1])
    };
    assert_eq!(provider.name, format!("azure-native-{SUB}-all"));
    let mut got = BTreeMap::new();
    for (_, r, _) in reads(&rec.calls) {
        assert!(got.insert(r.id.clone(), r.r#type.clone()).is_none());
    }
    // The eastus VM is listed now, but the schema fixture has no template for virtual machines:
    // it is counted as skipped, never read under a guessed token.
    assert_eq!(got, want);
    let outputs = outputs(&rec.calls);
    assert_eq!(number(&outputs, &["skipped"]), Some(1.0));
    assert_eq!(
        number(&outputs, &["discovered"]),
        Some((want.len() + 1) as f64)
    );
    assert!(matches!(
        rec.calls.last(),
        Some(Call::Shutdown) | Some(Call::Log(_))
    ));
    drop(rec);
    let log = fakes.arm.request_log();
    let lists: Vec<&String> = log.iter().filter(|r| r.contains("/resources?")).collect();
    assert!(
        !lists.is_empty() && lists.iter().all(|r| !r.contains("filter")),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_file_parents_resources_by_their_group_entry_name() {
    let (arm, ids) = estate();
    let fakes = start_estate(arm).await;
    let want = expected_westus2(&ids);
    let home = tempfile::tempdir().unwrap();
    let out_path = home.path().join("import.json");
    let arm_endpoint = format!("armEndpoint={}", fakes.arm_url);
    let schema = format!("schemaFile={}", schema_path());
    let out = program::run(
        &[
            "--import",
            "--cloud",
            "azure",
            "--location",
            "westus2",
            "-c",
            &arm_endpoint,
            "-c",
            &schema,
            "--out",
            out_path.to_str().unwrap(),
        ],
        &azure_env(&fakes),
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    // The generic rules (provider first, names, references by name, parents before children).
    let text = std::fs::read_to_string(&out_path).unwrap();
    let file = check_import_file(&text, "pulumi:providers:azure-native", AZURE_NATIVE_VERSION);
    assert_eq!(file.provider["inputs"]["subscriptionId"], SUB);
    let resources = &file.entries;

    // Group entries by id: their name is what children reference.
    let mut group_names: HashMap<String, String> = HashMap::new();
    let mut got = BTreeMap::new();
    for r in resources {
        let (ty, name, id) = (
            r["type"].as_str().unwrap(),
            r["name"].as_str().unwrap(),
            r["id"].as_str().unwrap(),
        );
        assert!(got.insert(id.to_string(), ty.to_string()).is_none());
        if ty == RG_TOKEN {
            assert!(r.get("parent").is_none(), "a group has no parent: {r}");
            group_names.insert(id.to_string(), name.to_string());
        }
    }
    assert_eq!(got, want);
    for r in resources {
        if r["type"] == RG_TOKEN {
            continue;
        }
        let id = r["id"].as_str().unwrap();
        assert_eq!(
            r["parent"],
            group_names[&group_of(id)].as_str(),
            "parent of {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_groups_parent_their_resources_to_the_stack_without_counting_a_failure() {
    let (arm, ids) = estate();
    let fakes = start_estate(arm).await;
    let want = expected_westus2(&ids);
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    let mut env = engine_env(&monitor, &fakes, "westus2");
    // Stack config as the language host passes it, with the groups excluded by the filter.
    for (k, v) in env.iter_mut() {
        if k == "PULUMI_CONFIG" {
            let mut config: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(v).unwrap();
            config.insert(
                "pulumi-cloud-import:exclude".into(),
                "azure-native:resources:*".into(),
            );
            *v = serde_json::Value::Object(config).to_string();
        }
    }

    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let rec = monitor.record();
    assert!(rec.violations.is_empty(), "{:?}", rec.violations);
    let reads = reads(&rec.calls);
    assert!(reads.iter().all(|(_, r, _)| r.r#type != RG_TOKEN));
    assert!(reads
        .iter()
        .all(|(_, r, _)| r.parent == monitor.stack_urn()));
    let groups = want.values().filter(|t| *t == RG_TOKEN).count();
    assert_eq!(reads.len(), want.len() - groups);
    let outputs = outputs(&rec.calls);
    assert_eq!(number(&outputs, &["parentFallbacks"]), Some(0.0));
    assert_eq!(number(&outputs, &["failed"]), Some(0.0));
    assert_eq!(number(&outputs, &["skipped"]), Some(groups as f64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_schema_the_run_warns_how_to_get_the_exact_mapping() {
    let (arm, _) = estate();
    let fakes = start_estate(arm).await;
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let home = tempfile::tempdir().unwrap();
    let mut env = host_env(
        &monitor,
        &[
            ("cloud", "azure"),
            ("subscription", SUB),
            ("location", "westus2"),
            ("armEndpoint", &fakes.arm_url),
        ],
    );
    env.extend(azure_env(&fakes));

    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let rec = monitor.record();
    let warnings = logs(&rec.calls, 2);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("no provider schema for azure-native 3.29.0")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("schemaFile")),
        "{warnings:?}"
    );
    // The built-in rules still read the common types.
    assert!(reads(&rec.calls)
        .iter()
        .any(|(_, r, _)| r.r#type == RG_TOKEN));
}

/// A child type the role may not read (403 on its list under a parent) fails the update only when
/// the stack holds resources of it; otherwise it is named in a warning and the run succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_child_type_fails_the_update_only_when_the_stack_holds_some_of_it() {
    const SUBNETS: &str = "Microsoft.Network/virtualNetworks/subnets";
    let (mut arm, ids) = estate();
    arm.forbid_paths = vec![format!("{}/subnets", ids["vnet"]).to_ascii_lowercase()];
    let fakes = start_estate(arm).await;
    let home = tempfile::tempdir().unwrap();
    for (previous, code) in [
        (PreviousStack::New, 0),
        (
            PreviousStack::Outputs(serde_json::json!({"held": {SUBNETS: []}})),
            32,
        ),
    ] {
        let monitor = FakeMonitor::start(MonitorOptions {
            previous,
            ..Default::default()
        })
        .await;
        let env = engine_env(&monitor, &fakes, "westus2");
        let out = program::run(&[], &env, home.path()).await;
        assert_eq!(out.code, Some(code), "stderr: {}", out.stderr);
        let rec = monitor.record();
        let severity = if code == 0 { 2 } else { 3 };
        let lines = logs(&rec.calls, severity);
        assert!(
            lines
                .iter()
                .any(|l| l.contains(SUBNETS) && l.contains("403")),
            "{lines:?}"
        );
        assert!(reads(&rec.calls)
            .iter()
            .any(|(_, r, _)| r.id == ids["vnet"]));
    }
}
