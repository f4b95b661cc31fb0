//! End to end for `fleet` on AWS: the built program plans an organization of three accounts (one
//! suspended) against fake Organizations, STS and Account APIs reached by the real aws-sdk, then
//! `fleet up --import DIR` runs the three children of the two active accounts, each with the
//! credentials STS issued for its own account, which are the only ones its Cloud Control accepts.
//! Covered: ListAccounts and ListRegions paging, suspended accounts and disabled regions left out,
//! the role assumed per member, global types read exactly once per account across the fleet, each
//! child reading only its own account and region, and one child whose cloud fails leaving the
//! others complete (with a non-zero fleet exit and a table saying why).

mod fake_aws;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fake_aws::org::{FakeOrg, MemberSpec};
use fake_aws::{Account, FakeType};
use serde_json::Value;
use support::checks::check_import_file;
use support::program::{self, Output};

const AWS_NATIVE_VERSION: &str = "1.74.1";

fn registry(vpcs: &str, roles: &str) -> Account {
    let mut a = Account::default();
    a.add(FakeType::new("AWS::EC2::VPC").with_resources("VpcId", vpcs, 2));
    a.add(FakeType::new("AWS::IAM::Role").with_resources("RoleName", roles, 2));
    // Every account has the type; these have no clusters (the fleet plan lists it per region).
    a.add(FakeType::new("AWS::EKS::Cluster"));
    a
}

fn members() -> Vec<MemberSpec> {
    vec![
        (
            "111111111111",
            "alpha",
            "ACTIVE",
            "InventoryReader",
            vec![
                ("ap-east-1", "DISABLED"),
                ("us-east-1", "ENABLED_BY_DEFAULT"),
                ("us-west-2", "ENABLED"),
            ],
            registry("vpc-alpha", "role-alpha"),
        ),
        (
            "222222222222",
            "beta",
            "ACTIVE",
            "InventoryReader",
            vec![("us-east-1", "ENABLED_BY_DEFAULT")],
            registry("vpc-beta", "role-beta"),
        ),
        (
            "333333333333",
            "gamma",
            "SUSPENDED",
            "InventoryReader",
            vec![("us-east-1", "ENABLED_BY_DEFAULT")],
            registry("vpc-gamma", "role-gamma"),
        ),
        // Active, but without the role the fleet assumes: left out of the plan, with a note.
        (
            "444444444444",
            "delta",
            "ACTIVE",
            "SomeOtherRole",
            vec![("us-east-1", "ENABLED_BY_DEFAULT")],
            registry("vpc-delta", "role-delta"),
        ),
    ]
}

async fn fleet(args: &[&str], env: &[(String, String)], home: &Path) -> Output {
    let mut argv = vec!["fleet"];
    argv.extend_from_slice(args);
    program::run(&argv, env, home).await
}

fn import_ids(path: &Path) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    check_import_file(&text, "pulumi:providers:aws-native", AWS_NATIVE_VERSION).keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_then_import_an_organization_with_globals_once_and_a_failing_child_isolated() {
    let org = FakeOrg::start(members(), &[("111111111111", "us-west-2")]).await;
    let home = tempfile::tempdir().unwrap();
    let env = org.env();

    // Plan.
    let out = fleet(
        &[
            "plan",
            "--cloud",
            "aws",
            "--organization",
            "--role-name",
            "InventoryReader",
            "--name",
            "acme",
            "--out",
            "fleet.yaml",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "plan stderr: {}", out.stderr);
    let plan_text = std::fs::read_to_string(home.path().join("fleet.yaml")).unwrap();
    assert!(!plan_text.contains("fake-management-secret"), "{plan_text}");
    assert!(!plan_text.contains("FakeSessionToken"), "{plan_text}");
    let plan: Value = serde_saphyr::from_str(&plan_text).expect("the plan is YAML");
    let children = plan["children"].as_array().expect("children");
    let names: Vec<&str> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["alpha/us-east-1", "alpha/us-west-2", "beta/us-east-1"],
        "{plan_text}"
    );
    let by_name: BTreeMap<&str, &Value> = names.iter().copied().zip(children.iter()).collect();
    let alpha_west = by_name["alpha/us-west-2"];
    assert_eq!(alpha_west["stack"], "alpha.us-west-2");
    assert_eq!(alpha_west["rateLimitGroup"], "aws/111111111111/us-west-2");
    assert_eq!(alpha_west["settings"]["cloud"], "aws");
    assert_eq!(alpha_west["settings"]["region"], "us-west-2");
    assert_eq!(alpha_west["settings"]["globalRegion"], "us-east-1");
    assert_eq!(
        alpha_west["credentials"]["roleArn"],
        "arn:aws:iam::111111111111:role/InventoryReader"
    );
    assert_eq!(
        by_name["beta/us-east-1"]["credentials"]["roleArn"],
        "arn:aws:iam::222222222222:role/InventoryReader"
    );
    let stats = &org.shared.stats;
    assert_eq!(
        FakeAwsCount::get(&stats.list_accounts_pages),
        4,
        "one account per page"
    );
    assert!(
        plan_text.starts_with("# Note: account delta (444444444444) left out: "),
        "{plan_text}"
    );
    assert!(plan_text.contains("AccessDenied"), "{plan_text}");
    // alpha's enabled regions come in two pages, beta's in one.
    assert_eq!(FakeAwsCount::get(&stats.list_regions_pages), 3);
    assert!(
        stats
            .assumed
            .lock()
            .unwrap()
            .iter()
            .all(|a| !a.contains("333333333333")),
        "a suspended account is not assumed into"
    );
    assert_eq!(FakeAwsCount::get(&stats.rejected), 0);

    // The plan listed each region's EKS clusters; what the children list comes after.
    let after_plan: BTreeMap<&str, BTreeMap<String, u64>> = ["111111111111", "222222222222"]
        .into_iter()
        .map(|id| (id, fake_aws::org::regions_seen(org.member(id))))
        .collect();

    // Up, without Pulumi.
    let out = fleet(
        &[
            "up",
            "--file",
            "fleet.yaml",
            "--import",
            "out",
            "--parallel",
            "4",
            "--logs",
            "logs",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(
        out.code,
        Some(1),
        "one child failed: {}\n{}",
        out.stdout,
        out.stderr
    );
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert!(rows[0].starts_with("CHILD"), "{}", out.stdout);
    let row = |name: &str| {
        *rows
            .iter()
            .find(|r| r.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}: {}", out.stdout))
    };
    let cols = |r: &str| r.split_whitespace().map(String::from).collect::<Vec<_>>();
    // CHILD STACK READ FAILED SKIPPED DURATION EXIT [WHY]
    let east = cols(row("alpha/us-east-1"));
    assert_eq!(
        (east[2].as_str(), east[3].as_str(), east[6].as_str()),
        ("4", "0", "0"),
        "{}",
        out.stdout
    );
    let beta = cols(row("beta/us-east-1"));
    assert_eq!(
        (beta[2].as_str(), beta[6].as_str()),
        ("4", "0"),
        "{}",
        out.stdout
    );
    let west = row("alpha/us-west-2");
    assert!(cols(west)[6] == "32", "{}", out.stdout);
    assert!(west.contains("incomplete"), "the table says why: {west}");
    assert!(
        out.stdout.contains("3 children: 2 succeeded, 1 failed"),
        "{}",
        out.stdout
    );

    let dir = home.path().join("out");
    let alpha_east = import_ids(&dir.join("alpha.us-east-1.json"));
    let beta_east = import_ids(&dir.join("beta.us-east-1.json"));
    let ids = |set: &BTreeSet<(String, String)>, token: &str| -> BTreeSet<String> {
        set.iter()
            .filter(|(t, _)| t == token)
            .map(|(_, id)| id.clone())
            .collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        ids(&alpha_east, "aws-native:ec2:Vpc"),
        set(&["vpc-alpha-0", "vpc-alpha-1"])
    );
    assert_eq!(
        ids(&alpha_east, "aws-native:iam:Role"),
        set(&["role-alpha-0", "role-alpha-1"])
    );
    assert_eq!(
        ids(&beta_east, "aws-native:ec2:Vpc"),
        set(&["vpc-beta-0", "vpc-beta-1"])
    );
    assert_eq!(
        ids(&beta_east, "aws-native:iam:Role"),
        set(&["role-beta-0", "role-beta-1"])
    );

    // Global types exactly once across the fleet: every role in one file only, and listed by
    // Cloud Control once per account.
    let mut roles = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            if let Ok(file) = serde_json::from_str::<Value>(&text) {
                for r in file["resources"].as_array().into_iter().flatten() {
                    if r["type"] == "aws-native:iam:Role" {
                        roles.push(r["id"].as_str().unwrap().to_string());
                    }
                }
            }
        }
    }
    roles.sort();
    assert_eq!(
        roles,
        ["role-alpha-0", "role-alpha-1", "role-beta-0", "role-beta-1"]
    );
    for id in ["111111111111", "222222222222"] {
        let m = org.member(id);
        let listed = m.fake.shared.stats.listed.lock().unwrap().clone();
        assert_eq!(listed.get("AWS::IAM::Role"), Some(&1), "{id}: {listed:?}");
        // Each child only its own scope: the account's Cloud Control saw only the regions of its
        // healthy children (alpha's us-west-2 failed before listing).
        let regions = fake_aws::org::regions_seen(m);
        let cc: Vec<&String> = regions
            .iter()
            .filter(|(k, n)| {
                k.starts_with("cloudcontrolapi/") && after_plan[id].get(*k) != Some(*n)
            })
            .map(|(k, _)| k)
            .collect();
        assert_eq!(cc, ["cloudcontrolapi/us-east-1"], "{id}: {regions:?}");
    }
    assert_eq!(
        FakeAwsCount::get(&org.member("333333333333").fake.shared.stats.cc_requests),
        0,
        "the suspended account is never scanned"
    );
    // The management key never reached a member's Cloud Control: only assumed keys route there.
    assert_eq!(FakeAwsCount::get(&stats.rejected), 0);
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join("logs/fleet-summary.json")).unwrap(),
    )
    .unwrap();
    let summary = summary.as_array().unwrap();
    assert_eq!(summary.len(), 3);
    assert_eq!(summary[1]["child"], "alpha/us-west-2");
    assert_eq!(
        (summary[1]["ok"].clone(), summary[1]["exitCode"].clone()),
        (Value::Bool(false), Value::from(32))
    );
    assert_eq!(summary[0]["read"], 4);
    let log = std::fs::read_to_string(home.path().join("logs/alpha.us-west-2.log")).unwrap();
    assert!(log.contains("--import"), "{log}");
    assert!(
        !log.contains("fake-secret-"),
        "no secret in the logs: {log}"
    );

    // --only a child runs just that child; --only an account runs its children.
    let out = fleet(
        &[
            "up",
            "--file",
            "fleet.yaml",
            "--import",
            "only",
            "--only",
            "beta/us-east-1",
            "--logs",
            "logs2",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("1 children: 1 succeeded, 0 failed"),
        "{}",
        out.stdout
    );
    let out = fleet(
        &[
            "up",
            "--file",
            "fleet.yaml",
            "--import",
            "only",
            "--only",
            "alpha",
            "--logs",
            "logs3",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("2 children: 1 succeeded, 1 failed"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_account_plan_names_it_and_designates_one_global_region() {
    let org = FakeOrg::start(members(), &[]).await;
    let home = tempfile::tempdir().unwrap();
    let env = org.env();
    // The account's own enabled regions (account:ListRegions) and name (GetAccountInformation).
    let out = fleet(&["plan", "--cloud", "aws"], &env, home.path()).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let plan: Value = serde_saphyr::from_str(&out.stdout).unwrap();
    assert_eq!(plan["parent"]["name"], "management", "{}", out.stdout);
    let children = plan["children"].as_array().unwrap();
    let names: Vec<&str> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["management/eu-west-1", "management/us-east-1"]);
    for c in children {
        assert_eq!(c["settings"]["globalRegion"], "us-east-1", "{}", out.stdout);
        assert!(c.get("credentials").is_none(), "{}", out.stdout);
        assert_eq!(
            c["rateLimitGroup"],
            format!(
                "aws/000000000000/{}",
                c["settings"]["region"].as_str().unwrap()
            )
        );
    }

    // Regions given, us-east-1 not among them: the chosen region reads the globals.
    let out = fleet(
        &[
            "plan",
            "--cloud",
            "aws",
            "--regions",
            "eu-west-1,us-west-2",
            "--global-region",
            "us-west-2",
            "--profile",
            "audit",
            "-c",
            "exclude=AWS::S3::*",
        ],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let plan: Value = serde_saphyr::from_str(&out.stdout).unwrap();
    let children = plan["children"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    for c in children {
        assert_eq!(c["settings"]["globalRegion"], "us-west-2", "{}", out.stdout);
        assert_eq!(c["settings"]["exclude"], "AWS::S3::*", "{}", out.stdout);
        assert_eq!(c["credentials"]["profile"], "audit", "{}", out.stdout);
    }

    // --role-name without --organization is refused by the command line.
    let out = fleet(
        &["plan", "--cloud", "aws", "--role-name", "R"],
        &env,
        home.path(),
    )
    .await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

/// Reads the fakes' atomic counters.
struct FakeAwsCount;
impl FakeAwsCount {
    fn get(c: &std::sync::atomic::AtomicU64) -> u64 {
        c.load(std::sync::atomic::Ordering::SeqCst)
    }
}
