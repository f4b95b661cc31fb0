//! End to end for AWS: the built program, launched as a Pulumi language host launches it, lists a
//! fake account (Cloud Control + CloudFormation registry, reached by the real aws-sdk through the
//! `AWS_ENDPOINT_URL_*` variables aws-config honours) and reads every resource into the fake Pulumi
//! engine over gRPC. Covered: tokens, ids, parents and provider references of the reads; global types
//! only in the designated region's run (`globalRegion`); a persistently failing type ending the update
//! as failed (exit 32, no shutdown signal); the provider schema restricting tokens; listing paced by
//! the `rateLimit` setting; and `--import`.

mod fake_aws;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fake_aws::{Account, FakeAws, FakeType, Res, ACCESS_KEY};
use serde_json::json;
use support::checks::{
    self, assert_counts_add_up, assert_ended_with_shutdown, bool_field, check_import_file, logs,
    string_field, EngineRun,
};
use support::fake_monitor::{number, Call, FakeMonitor, MonitorOptions, PreviousStack};
use support::program::{self, host_env};

/// The aws-native version this release pins (`Cloud::Aws.pinned_version`).
const AWS_NATIVE_VERSION: &str = "1.74.1";

/// Registry type -> the aws-native token it must be read as, written out by hand from aws-native's
/// naming (not computed by our code).
const TOKENS: &[(&str, &str)] = &[
    ("AWS::EC2::VPC", "aws-native:ec2:Vpc"),
    ("AWS::S3::AccessPoint", "aws-native:s3:AccessPoint"),
    ("AWS::EKS::Cluster", "aws-native:eks:Cluster"),
    ("AWS::EKS::Nodegroup", "aws-native:eks:Nodegroup"),
    ("AWS::RDS::DBInstance", "aws-native:rds:DbInstance"),
    ("AWS::IAM::Role", "aws-native:iam:Role"),
    ("AWS::IAM::ManagedPolicy", "aws-native:iam:ManagedPolicy"),
];

/// Global (account-wide) types of the fake account: listed only in the designated region.
const GLOBAL: &[&str] = &["AWS::IAM::Role", "AWS::IAM::ManagedPolicy"];

fn token(cloud_type: &str) -> &'static str {
    TOKENS
        .iter()
        .find(|(t, _)| *t == cloud_type)
        .map(|(_, tok)| *tok)
        .unwrap_or_else(|| panic!("no token for {cloud_type}"))
}

/// An account with paged, composite-id, fanned-out, global and unlistable types.
fn account() -> Account {
    let mut a = Account::default();
    a.add(
        FakeType::new("AWS::EC2::VPC")
            .with_resources("VpcId", "vpc", 7)
            .pages(&[1, 3, 2]),
    );
    let mut ap = FakeType::new("AWS::S3::AccessPoint");
    ap.resources = (0..3)
        .map(|i| Res {
            identifier: format!("bucket-{i}|ap-{i}"),
            properties: json!({"Bucket": format!("bucket-{i}"), "Name": format!("ap-{i}")}),
        })
        .collect();
    a.add(ap);
    a.add(
        FakeType::new("AWS::EKS::Cluster")
            .with_resources("Name", "cluster", 2)
            .pages(&[1]),
    );
    // Listed per cluster: its list handler needs ClusterName.
    let mut ng = FakeType::new("AWS::EKS::Nodegroup");
    ng.list_required = vec!["ClusterName".into()];
    ng.relations = vec![(
        "ClusterName".into(),
        "AWS::EKS::Cluster".into(),
        "/properties/Name".into(),
    )];
    for c in 0..2 {
        for n in 0..2 {
            ng.resources.push(Res {
                identifier: format!("cluster-{c}|ng-{n}"),
                properties: json!({"ClusterName": format!("cluster-{c}"), "NodegroupName": format!("ng-{n}")}),
            });
        }
    }
    a.add(ng);
    a.add(FakeType::new("AWS::RDS::DBInstance").with_resources("DBInstanceIdentifier", "db", 2));
    a.add(
        FakeType::new("AWS::IAM::Role")
            .with_resources("RoleName", "role", 3)
            .pages(&[2]),
    );
    // IAM policy ARNs contain `::`, which must never reach a resource name.
    let mut policies = FakeType::new("AWS::IAM::ManagedPolicy");
    policies.resources = (0..2)
        .map(|i| {
            let arn = format!("arn:aws:iam::123456789012:policy/audit-{i}");
            Res {
                identifier: arn.clone(),
                properties: json!({"PolicyArn": arn}),
            }
        })
        .collect();
    a.add(policies);
    let mut perm = FakeType::new("AWS::Lambda::Permission");
    perm.no_list = true;
    a.add(perm);
    a
}

/// (token, id) of every resource a scan of `region` must read.
fn expected(a: &Account, region: &str) -> BTreeSet<(String, String)> {
    a.types
        .values()
        .filter(|t| t.name != "AWS::Lambda::Permission")
        .filter(|t| region == "us-east-1" || !GLOBAL.contains(&t.name.as_str()))
        .flat_map(|t| {
            t.resources
                .iter()
                .map(|r| (token(&t.name).to_string(), r.identifier.clone()))
        })
        .collect()
}

/// The environment aws-config reads: static keys (no STS call is needed for them), the region, and
/// the fake's endpoints through the service-specific endpoint variables.
fn aws_env(fake: &FakeAws, region: &str) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", "fake-secret"),
        ("AWS_REGION", region),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        (
            "AWS_ENDPOINT_URL_CLOUDCONTROL",
            fake.cloudcontrol_url.as_str(),
        ),
        (
            "AWS_ENDPOINT_URL_CLOUDFORMATION",
            fake.cloudformation_url.as_str(),
        ),
        // Were STS ever called, it would fail on loopback instead of leaving the machine.
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The shared protocol checks, plus the provider's region.
fn check_engine_run(m: &FakeMonitor, region: &str) -> EngineRun {
    let run = checks::check_engine_run(m, "pulumi:providers:aws-native", AWS_NATIVE_VERSION);
    assert_eq!(
        string_field(&run.provider_inputs, "region").as_deref(),
        Some(region)
    );
    run
}

/// Stack config entries (`pulumi-cloud-import:<key>`).
type Config<'a> = &'a [(&'a str, &'a str)];

/// Runs the program under a fresh fake engine with `cloud=aws` plus `config` as stack config.
async fn run_engine(
    fake: &FakeAws,
    region: &str,
    config: Config<'_>,
    extra_env: &[(&str, String)],
    home: &Path,
) -> (FakeMonitor, program::Output) {
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    let mut cfg = vec![("cloud", "aws")];
    cfg.extend_from_slice(config);
    let mut env = host_env(&monitor, &cfg);
    env.extend(aws_env(fake, region));
    env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let out = program::run(&[], &env, home).await;
    (monitor, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulumi_up_reads_every_resource_once_and_global_types_only_in_the_designated_region() {
    let acct = account();
    let fake = FakeAws::start(acct.clone(), 1000.0).await;
    let home = tempfile::tempdir().unwrap();

    let mut global_reads = BTreeMap::new();
    // (region, stack config, whether global types belong to this region's stack)
    let runs: [(&str, Config, bool); 3] = [
        ("us-west-2", &[], false),
        ("us-east-1", &[], true),
        ("eu-west-1", &[("globalRegion", "eu-west-1")], true),
    ];
    for (region, config, global) in runs {
        let (monitor, out) = run_engine(&fake, region, config, &[], home.path()).await;
        assert_eq!(out.code, Some(0), "{region} stderr: {}", out.stderr);
        assert_eq!(out.stdout, "", "stdout must stay quiet under Pulumi");
        assert_eq!(out.stderr, "", "stderr must stay quiet under Pulumi");
        let run = check_engine_run(&monitor, region);
        let mut want = expected(&acct, "us-east-1");
        if !global {
            want.retain(|(t, _)| !t.starts_with("aws-native:iam:"));
        }
        assert_eq!(run.reads, want, "{region}");
        global_reads.insert(
            region,
            run.reads
                .iter()
                .filter(|(t, _)| t.starts_with("aws-native:iam:"))
                .count(),
        );

        // The read id is the Cloud Control identifier as listed, composite ids `|`-joined.
        assert!(run
            .reads
            .contains(&("aws-native:eks:Nodegroup".into(), "cluster-1|ng-0".into())));
        assert!(run
            .reads
            .contains(&("aws-native:s3:AccessPoint".into(), "bucket-2|ap-2".into())));

        let rec = monitor.record();
        assert_ended_with_shutdown(&rec);
        drop(rec);

        let o = &run.outputs;
        assert_counts_add_up(o);
        assert_eq!(number(o, &["read"]), Some(run.reads.len() as f64));
        assert_eq!(number(o, &["failed"]), Some(0.0));
        assert_eq!(bool_field(o, "complete"), Some(true));
        assert_eq!(
            number(o, &["types", "aws-native:ec2:Vpc", "read"]),
            Some(7.0)
        );
        // The type without a list handler is reported as not listed, with a warning.
        let not_listed = format!("{:?}", o.fields.get("typesNotListed"));
        assert!(
            not_listed.contains("AWS::Lambda::Permission"),
            "{not_listed}"
        );
        let warnings = logs(&monitor, 2);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("AWS::Lambda::Permission")),
            "{warnings:?}"
        );
        // Elsewhere, the global types are not listed, for one reason given once.
        let global_warnings = warnings
            .iter()
            .filter(|w| w.contains("AWS::IAM::Role") || w.contains("AWS::IAM::ManagedPolicy"))
            .collect::<Vec<_>>();
        if global {
            assert!(global_warnings.is_empty(), "{region}: {global_warnings:?}");
        } else {
            assert_eq!(global_warnings.len(), 1, "{global_warnings:?}");
            assert!(
                global_warnings[0].contains("AWS::IAM::Role")
                    && global_warnings[0].contains("AWS::IAM::ManagedPolicy"),
                "{global_warnings:?}"
            );
        }
    }
    assert_eq!(global_reads["us-east-1"], 5, "global types in us-east-1");
    assert_eq!(global_reads["us-west-2"], 0, "no global types elsewhere");
    assert_eq!(global_reads["eu-west-1"], 5, "globalRegion moves them");

    // Each run signed for its own region, and global types were listed only where they belong.
    let stats = fake.stats();
    assert_eq!(FakeAws::count(&stats.unsigned_rejected), 0);
    let regions: BTreeSet<String> = stats.regions.lock().unwrap().keys().cloned().collect();
    let want_regions: BTreeSet<String> = ["cloudcontrolapi", "cloudformation"]
        .iter()
        .flat_map(|svc| runs.iter().map(move |(r, _, _)| format!("{svc}/{r}")))
        .collect();
    assert_eq!(regions, want_regions);
    let listed = stats.listed.lock().unwrap().clone();
    assert_eq!(
        listed["AWS::IAM::ManagedPolicy"], 2,
        "once per designated run"
    );
    assert_eq!(
        listed["AWS::EC2::VPC"],
        3 * 4,
        "7 VPCs in pages of 1, 3, 2, 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistently_failing_type_fails_the_update_without_shutdown() {
    let mut acct = Account::default();
    acct.add(FakeType::new("AWS::EC2::VPC").with_resources("VpcId", "vpc", 3));
    let mut broken = FakeType::new("AWS::SNS::Topic").with_resources("TopicArn", "topic", 2);
    broken.fail_5xx = u64::MAX;
    acct.add(broken);
    let fake = FakeAws::start(acct, 1000.0).await;
    let home = tempfile::tempdir().unwrap();

    let (monitor, out) = run_engine(&fake, "us-west-2", &[], &[], home.path()).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let run = check_engine_run(&monitor, "us-west-2");
    // Everything else was still read.
    let vpcs: BTreeSet<(String, String)> = (0..3)
        .map(|i| ("aws-native:ec2:Vpc".to_string(), format!("vpc-{i}")))
        .collect();
    assert_eq!(run.reads, vpcs);
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
        errors.iter().any(|e| e.contains("AWS::SNS::Topic")),
        "{errors:?}"
    );
    assert_counts_add_up(&run.outputs);
    assert_eq!(bool_field(&run.outputs, "complete"), Some(false));
    // Bounded retries: more than one attempt, not forever.
    let calls = fake.stats().listed.lock().unwrap()["AWS::SNS::Topic"];
    assert!((2..=10).contains(&calls), "{calls} list calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_schema_restricts_tokens_to_the_installed_plugin() {
    let acct = account();
    let fake = FakeAws::start(acct.clone(), 1000.0).await;
    let home = tempfile::tempdir().unwrap();
    // The installed aws-native knows every token of the account but the access point's.
    let resources: serde_json::Map<String, serde_json::Value> = TOKENS
        .iter()
        .filter(|(t, _)| *t != "AWS::S3::AccessPoint")
        .map(|(_, tok)| (tok.to_string(), json!({"description": "fake"})))
        .collect();
    let schema = home.path().join("aws-native.json");
    std::fs::write(
        &schema,
        json!({"name": "aws-native", "version": AWS_NATIVE_VERSION, "resources": resources})
            .to_string(),
    )
    .unwrap();
    let extra = [(
        "PULUMI_CLOUD_IMPORT_SCHEMA_FILE",
        schema.display().to_string(),
    )];
    let (monitor, out) = run_engine(&fake, "us-west-2", &[], &extra, home.path()).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let run = check_engine_run(&monitor, "us-west-2");
    let want: BTreeSet<_> = expected(&acct, "us-west-2")
        .into_iter()
        .filter(|(t, _)| t != "aws-native:s3:AccessPoint")
        .collect();
    assert_eq!(run.reads, want);
    let not_listed = format!("{:?}", run.outputs.fields.get("typesNotListed"));
    assert!(
        not_listed.contains("AWS::S3::AccessPoint")
            && not_listed.contains("aws-native:s3:AccessPoint"),
        "{not_listed}"
    );
    // The schema was found: no warning asking for one.
    let warnings = logs(&monitor, 2);
    assert!(
        !warnings.iter().any(|w| w.contains("no provider schema")),
        "{warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_is_paced_by_the_configured_rate_and_throttles_lose_nothing() {
    let mut acct = Account::default();
    for i in 0..6 {
        acct.add(
            FakeType::new(&format!("AWS::Svc{i}::Thing"))
                .with_resources("Id", &format!("t{i}"), 4)
                .pages(&[2]),
        );
    }
    let want: BTreeSet<(String, String)> = (0..6)
        .flat_map(|i| {
            (0..4).map(move |j| (format!("aws-native:svc{i}:Thing"), format!("t{i}-{j}")))
        })
        .collect();
    // The services allow 5 requests/s. Told 3/s through stack config, the run stays under the limit
    // (the default of 25/s would not); told 40/s, it is throttled, backs off, and loses nothing.
    for (rate, throttled) in [("3", false), ("40", true)] {
        let fake = FakeAws::start(acct.clone(), 5.0).await;
        let home = tempfile::tempdir().unwrap();
        let config = [("rateLimit", rate), ("listConcurrency", "8")];
        let (monitor, out) = run_engine(&fake, "us-west-2", &config, &[], home.path()).await;
        assert_eq!(out.code, Some(0), "rate {rate}: stderr: {}", out.stderr);
        let run = check_engine_run(&monitor, "us-west-2");
        assert_eq!(run.reads, want, "rate {rate}");
        assert_counts_add_up(&run.outputs);
        let throttles = FakeAws::count(&fake.stats().throttled);
        assert_eq!(
            throttles > 0,
            throttled,
            "rate {rate}: {throttles} throttles"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_mode_writes_the_provider_first_and_every_resource_by_reference() {
    let acct = account();
    let fake = FakeAws::start(acct.clone(), 1000.0).await;
    let home = tempfile::tempdir().unwrap();
    let out_path = home.path().join("import.json");
    let env = aws_env(&fake, "us-east-1");
    let out = program::run(
        &[
            "--import",
            "--cloud",
            "aws",
            "--out",
            out_path.to_str().unwrap(),
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let text = std::fs::read_to_string(&out_path).unwrap();
    let file = check_import_file(&text, "pulumi:providers:aws-native", AWS_NATIVE_VERSION);
    assert_eq!(file.provider["inputs"]["region"], "us-east-1");
    let got = file.keys;
    assert_eq!(got, expected(&acct, "us-east-1"));
}

/// A type the role may not list fails the update only when the stack holds some of it: a
/// read-only role that never could list a type runs clean (with a warning naming it), a role
/// narrowed after a run that read the type fails, and the stack keeps what it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_type_fails_the_update_only_when_the_stack_holds_some_of_it() {
    let mut acct = Account::default();
    acct.add(FakeType::new("AWS::EC2::VPC").with_resources("VpcId", "vpc", 2));
    let mut denied = FakeType::new("AWS::Athena::WorkGroup").with_resources("Name", "wg", 2);
    denied.access_denied = true;
    acct.add(denied);
    let fake = FakeAws::start(acct, 1000.0).await;
    let home = tempfile::tempdir().unwrap();
    let run = |previous: PreviousStack| {
        let fake = &fake;
        let home = home.path().to_path_buf();
        async move {
            let monitor = FakeMonitor::start(MonitorOptions {
                previous,
                ..Default::default()
            })
            .await;
            let mut env = host_env(&monitor, &[("cloud", "aws")]);
            env.extend(aws_env(fake, "us-west-2"));
            let out = program::run(&[], &env, &home).await;
            (monitor, out)
        }
    };

    let (monitor, out) = run(PreviousStack::New).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let warnings = logs(&monitor, 2);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("AWS::Athena::WorkGroup") && w.contains("access denied")),
        "{warnings:?}"
    );
    let run1 = check_engine_run(&monitor, "us-west-2");
    let held = checks::to_json(&run1.outputs)["held"].clone();
    assert_eq!(held, serde_json::json!({"AWS::EC2::VPC": []}));

    let before = serde_json::json!({"held": {"AWS::EC2::VPC": [], "AWS::Athena::WorkGroup": []}});
    let (monitor, out) = run(PreviousStack::Outputs(before.clone())).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let errors = logs(&monitor, 3);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("AWS::Athena::WorkGroup") && e.contains("the stack holds")),
        "{errors:?}"
    );
    assert!(
        !monitor
            .record()
            .calls
            .iter()
            .any(|c| matches!(c, Call::Shutdown)),
        "must not let the engine discard state"
    );
    // The failed update's outputs still say the stack holds them, for the next run.
    let outputs = monitor.outputs().pop().expect("outputs").outputs.unwrap();
    assert_eq!(checks::to_json(&outputs)["held"], before["held"]);
}
