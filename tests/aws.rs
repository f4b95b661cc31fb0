//! The AWS scanner against a fake Cloud Control and CloudFormation registry, through the real
//! aws-sdk clients (SigV4-signed requests, JSON 1.0 and query/XML protocols on loopback).

mod fake_aws;

use std::collections::{BTreeMap, BTreeSet};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudcontrol::config::Credentials;
use cloud_import::clouds::aws::{AwsOptions, AwsScanner, Endpoints, GlobalMode};
use cloud_import::discover::{ScanEvent, Scanner};
use fake_aws::{Account, FakeAws, FakeType, Res, ACCESS_KEY};
use futures::StreamExt;
use serde_json::json;

async fn sdk(region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            ACCESS_KEY,
            "fake-secret",
            None,
            None,
            "test",
        ))
        .load()
        .await
}

async fn scanner(fake: &FakeAws, region: &str, options: AwsOptions) -> AwsScanner {
    AwsScanner::from_sdk_config(
        &sdk(region).await,
        options,
        Endpoints {
            cloudcontrol: Some(fake.cloudcontrol_url.clone()),
            cloudformation: Some(fake.cloudformation_url.clone()),
        },
    )
    .await
    .expect("scanner")
}

/// What a scan reported, by kind.
#[derive(Default, Debug)]
struct Report {
    found: Vec<(String, String, String)>,
    skipped_types: BTreeMap<String, String>,
    /// Types the credentials may not list (a gap only where the stack holds some).
    denied: BTreeMap<String, String>,
    incomplete: Vec<(String, String)>,
    scopes: BTreeSet<String>,
}

impl Report {
    fn found_set(&self) -> BTreeSet<(String, String)> {
        self.found
            .iter()
            .map(|(t, id, _)| (t.clone(), id.clone()))
            .collect()
    }
}

async fn run(s: AwsScanner) -> Report {
    let events: Vec<ScanEvent> = Box::new(s).discover().collect().await;
    let mut r = Report::default();
    for ev in events {
        match ev {
            ScanEvent::Found(d) => {
                r.scopes.insert(d.scope.clone());
                r.found.push((d.cloud_type, d.id, d.token));
            }
            ScanEvent::TypeSkipped { cloud_type, reason } => {
                assert!(
                    r.skipped_types.insert(cloud_type.clone(), reason).is_none(),
                    "{cloud_type} skipped twice"
                );
            }
            ScanEvent::Incomplete { what, reason } => r.incomplete.push((what, reason)),
            ScanEvent::Denied {
                cloud_type, reason, ..
            } => {
                r.denied.insert(cloud_type, reason);
            }
            ScanEvent::Skipped { .. } | ScanEvent::Progress(_) => {}
        }
    }
    r
}

/// An account with plain, paged, composite-id, fanned-out, unsupported, denied, non-provisionable,
/// third-party and global types.
fn account() -> Account {
    let mut a = Account::default();
    let mut vpcs = FakeType::new("AWS::EC2::VPC")
        .with_resources("VpcId", "vpc", 7)
        .pages(&[1, 3, 2]);
    // Listings shift while paged: a resource can come back on a later page.
    let again = vpcs.resources[0].clone();
    vpcs.resources.push(again);
    a.add(vpcs);
    a.add(FakeType::new("AWS::EC2::Subnet"));
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
            .with_resources("Name", "cluster", 3)
            .pages(&[2]),
    );
    let mut ng = FakeType::new("AWS::EKS::Nodegroup").pages(&[1]);
    ng.list_required = vec!["ClusterName".into()];
    ng.relations = vec![(
        "ClusterName".into(),
        "AWS::EKS::Cluster".into(),
        "/properties/Name".into(),
    )];
    for c in 0..3 {
        for n in 0..2 {
            ng.resources.push(Res {
                identifier: format!("cluster-{c}|ng-{n}"),
                properties: json!({"ClusterName": format!("cluster-{c}"), "Id": format!("cluster-{c}|ng-{n}")}),
            });
        }
    }
    a.add(ng);
    a.add(FakeType::new("AWS::ApiGateway::RestApi").with_resources("RestApiId", "api", 2));
    // No relationshipRef: the parent is found by the registry's naming convention.
    let mut stage = FakeType::new("AWS::ApiGateway::Stage").pages(&[1, 2]);
    stage.list_required = vec!["RestApiId".into()];
    for api in 0..2 {
        for s in ["prod", "dev", "test"] {
            stage.resources.push(Res {
                identifier: format!("api-{api}|{s}"),
                properties: json!({"RestApiId": format!("api-{api}"), "StageName": s}),
            });
        }
    }
    a.add(stage);
    let mut perm = FakeType::new("AWS::Lambda::Permission");
    perm.no_list = true;
    a.add(perm);
    let mut denied = FakeType::new("AWS::Athena::WorkGroup").with_resources("Name", "wg", 2);
    denied.access_denied = true;
    a.add(denied);
    let mut old = FakeType::new("AWS::SDB::Domain").with_resources("Id", "sdb", 2);
    old.provisioning = "NON_PROVISIONABLE";
    a.add(old);
    let mut third = FakeType::new("Acme::Widget::Thing").with_resources("Id", "w", 2);
    third.aws_owned = false;
    a.add(third);
    let mut orphan = FakeType::new("AWS::AmplifyUIBuilder::Component");
    orphan.list_required = vec!["AppId".into(), "EnvironmentName".into()];
    a.add(orphan);
    let mut immutable =
        FakeType::new("AWS::EC2::VPCGatewayAttachment").with_resources("Id", "att", 2);
    immutable.provisioning = "IMMUTABLE";
    a.add(immutable);
    a.add(
        FakeType::new("AWS::IAM::Role")
            .with_resources("RoleName", "role", 4)
            .pages(&[3]),
    );
    a
}

fn expected(a: &Account, types: &[&str]) -> BTreeSet<(String, String)> {
    types
        .iter()
        .flat_map(|t| {
            a.types[*t]
                .resources
                .iter()
                .map(|r| (t.to_string(), r.identifier.clone()))
        })
        .collect()
}

#[tokio::test]
async fn lists_every_type_through_pages_and_fans_out_children_once() {
    let acct = account();
    let fake = FakeAws::start(acct.clone(), 1000.0).await;
    let s = scanner(&fake, "us-west-2", AwsOptions::default()).await;
    let provider = s.provider();
    assert_eq!(provider.token(), "pulumi:providers:aws-native");
    assert_eq!(provider.name, "aws-native-us-west-2");
    assert_eq!(provider.inputs.get("region"), Some(&json!("us-west-2")));
    let r = run(s).await;

    assert!(r.incomplete.is_empty(), "{:?}", r.incomplete);
    let want = expected(
        &acct,
        &[
            "AWS::EC2::VPC",
            "AWS::S3::AccessPoint",
            "AWS::EKS::Cluster",
            "AWS::EKS::Nodegroup",
            "AWS::ApiGateway::RestApi",
            "AWS::ApiGateway::Stage",
            "AWS::EC2::VPCGatewayAttachment",
        ],
    );
    assert_eq!(r.found_set(), want);
    assert_eq!(r.found.len(), want.len(), "a resource was reported twice");
    for (t, id, token) in &r.found {
        let want_token = match t.as_str() {
            "AWS::EC2::VPC" => "aws-native:ec2:Vpc",
            "AWS::S3::AccessPoint" => "aws-native:s3:AccessPoint",
            "AWS::EKS::Cluster" => "aws-native:eks:Cluster",
            "AWS::EKS::Nodegroup" => "aws-native:eks:Nodegroup",
            "AWS::ApiGateway::RestApi" => "aws-native:apigateway:RestApi",
            "AWS::ApiGateway::Stage" => "aws-native:apigateway:Stage",
            "AWS::EC2::VPCGatewayAttachment" => "aws-native:ec2:VpcGatewayAttachment",
            other => panic!("unexpected type {other} ({id})"),
        };
        assert_eq!(token, want_token, "{t} {id}");
    }
    assert_eq!(r.scopes, BTreeSet::from(["default/us-west-2".to_string()]));

    // Skipped with reasons: no list handler, unresolvable fan-out, global elsewhere; and denied.
    let skipped: BTreeSet<&str> = r.skipped_types.keys().map(String::as_str).collect();
    assert_eq!(
        skipped,
        BTreeSet::from([
            "AWS::Lambda::Permission",
            "AWS::AmplifyUIBuilder::Component",
            "AWS::IAM::Role",
        ])
    );
    assert!(r.skipped_types["AWS::Lambda::Permission"].contains("UnsupportedActionException"));
    let denied: Vec<&str> = r.denied.keys().map(String::as_str).collect();
    assert_eq!(denied, ["AWS::Athena::WorkGroup"]);
    assert!(r.denied["AWS::Athena::WorkGroup"].contains("access denied"));
    assert!(r.skipped_types["AWS::AmplifyUIBuilder::Component"].contains("AppId, EnvironmentName"));
    assert!(r.skipped_types["AWS::IAM::Role"].contains("us-east-1"));

    let stats = fake.stats();
    // DescribeType only for the types whose plain listing was refused for missing properties.
    let described: BTreeSet<String> = stats.described.lock().unwrap().keys().cloned().collect();
    assert_eq!(
        described,
        BTreeSet::from([
            "AWS::EKS::Nodegroup".to_string(),
            "AWS::ApiGateway::Stage".to_string(),
            "AWS::AmplifyUIBuilder::Component".to_string(),
        ])
    );
    let listed = stats.listed.lock().unwrap().clone();
    for never in ["AWS::SDB::Domain", "Acme::Widget::Thing", "AWS::IAM::Role"] {
        assert!(!listed.contains_key(never), "{never} was listed");
    }
    // VPC: 8 items (one repeated) in pages of 1, 3, 2, 1, 3 -> 5 calls.
    assert_eq!(listed["AWS::EC2::VPC"], 5);
    assert_eq!(FakeAws::count(&stats.unsigned_rejected), 0);
    let regions: BTreeSet<String> = stats.regions.lock().unwrap().keys().cloned().collect();
    assert_eq!(
        regions,
        BTreeSet::from([
            "cloudcontrolapi/us-west-2".to_string(),
            "cloudformation/us-west-2".to_string()
        ])
    );
}

#[tokio::test]
async fn global_types_are_imported_once_per_account() {
    let acct = account();
    let fake = FakeAws::start(acct.clone(), 1000.0).await;
    let roles = expected(&acct, &["AWS::IAM::Role"]);
    let has_roles = |r: &Report| roles.is_subset(&r.found_set());

    let east = run(scanner(&fake, "us-east-1", AwsOptions::default()).await).await;
    let west = run(scanner(&fake, "us-west-2", AwsOptions::default()).await).await;
    assert!(has_roles(&east));
    assert!(!west.found_set().iter().any(|(t, _)| t == "AWS::IAM::Role"));

    let elsewhere = AwsOptions {
        global_region: "eu-west-1".into(),
        ..AwsOptions::default()
    };
    let east2 = run(scanner(&fake, "us-east-1", elsewhere.clone()).await).await;
    assert!(!east2.found_set().iter().any(|(t, _)| t == "AWS::IAM::Role"));
    let eu = run(scanner(&fake, "eu-west-1", elsewhere).await).await;
    assert!(has_roles(&eu));

    let all = AwsOptions {
        global_mode: GlobalMode::All,
        ..AwsOptions::default()
    };
    assert!(has_roles(
        &run(scanner(&fake, "us-west-2", all).await).await
    ));
    let none = AwsOptions {
        global_mode: GlobalMode::None,
        ..AwsOptions::default()
    };
    let r = run(scanner(&fake, "us-east-1", none).await).await;
    assert!(!r.found_set().iter().any(|(t, _)| t == "AWS::IAM::Role"));
    assert!(r.skipped_types.contains_key("AWS::IAM::Role"));
}

#[tokio::test]
async fn throttling_is_paced_and_retried_without_losing_resources() {
    let mut acct = Account::default();
    for i in 0..12 {
        acct.add(
            FakeType::new(&format!("AWS::Svc{i}::Thing"))
                .with_resources("Id", &format!("t{i}"), 5)
                .pages(&[2]),
        );
    }
    // The service allows 8 requests/s; the scanner is told 40 and must learn.
    let fake = FakeAws::start(acct.clone(), 8.0).await;
    let options = AwsOptions {
        rate_limit: 40.0,
        list_concurrency: 8,
        ..AwsOptions::default()
    };
    let s = scanner(&fake, "us-west-2", options).await;
    let throttles = s.throttle_counter();
    let r = run(s).await;
    assert!(r.incomplete.is_empty(), "{:?}", r.incomplete);
    let all: Vec<String> = acct.types.keys().cloned().collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_eq!(r.found_set(), expected(&acct, &all));
    assert!(
        FakeAws::count(&fake.stats().throttled) > 0,
        "the fake never throttled"
    );
    assert_eq!(throttles(), FakeAws::count(&fake.stats().throttled));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_incomplete() {
    let mut acct = Account::default();
    let mut flaky = FakeType::new("AWS::SQS::Queue").with_resources("QueueUrl", "q", 3);
    flaky.fail_5xx = 2;
    acct.add(flaky);
    let mut broken = FakeType::new("AWS::SNS::Topic").with_resources("TopicArn", "topic", 3);
    broken.fail_5xx = u64::MAX;
    acct.add(broken);
    acct.add(FakeType::new("AWS::EC2::VPC").with_resources("VpcId", "vpc", 2));
    let fake = FakeAws::start(acct.clone(), 1000.0).await;
    let r = run(scanner(&fake, "us-west-2", AwsOptions::default()).await).await;

    assert_eq!(
        r.found_set(),
        expected(&acct, &["AWS::SQS::Queue", "AWS::EC2::VPC"])
    );
    assert_eq!(r.incomplete.len(), 1, "{:?}", r.incomplete);
    assert!(
        r.incomplete[0].0.starts_with("AWS::SNS::Topic"),
        "{:?}",
        r.incomplete
    );
    assert!(r.incomplete[0].1.contains("ServiceInternalErrorException"));
    // Bounded: the retry policy's attempts, not forever.
    let calls = fake.stats().listed.lock().unwrap()["AWS::SNS::Topic"];
    assert!((2..=10).contains(&calls), "{calls} calls");
}

#[tokio::test]
async fn a_repeated_next_token_ends_the_type_as_incomplete() {
    let mut acct = Account::default();
    let mut stuck = FakeType::new("AWS::Logs::LogGroup")
        .with_resources("LogGroupName", "lg", 5)
        .pages(&[2]);
    stuck.repeat_token = true;
    acct.add(stuck);
    let fake = FakeAws::start(acct.clone(), 1000.0).await;
    let r = run(scanner(&fake, "us-west-2", AwsOptions::default()).await).await;
    assert_eq!(r.incomplete.len(), 1, "{:?}", r.incomplete);
    assert!(
        r.incomplete[0].1.contains("same NextToken"),
        "{:?}",
        r.incomplete
    );
    // The pages before the loop were still reported.
    assert!(r.found.len() >= 2);
    assert!(fake.stats().listed.lock().unwrap()["AWS::Logs::LogGroup"] <= 3);
}

#[tokio::test]
async fn unknown_tokens_are_skipped_with_a_reason() {
    let acct = account();
    let fake = FakeAws::start(acct.clone(), 1000.0).await;
    let known = ["aws-native:ec2:Vpc".to_string()].into_iter().collect();
    let s = scanner(&fake, "us-west-2", AwsOptions::default())
        .await
        .with_known_tokens(known);
    let r = run(s).await;
    assert_eq!(r.found_set(), expected(&acct, &["AWS::EC2::VPC"]));
    assert!(r.skipped_types["AWS::EKS::Cluster"].contains("aws-native:eks:Cluster"));
}

#[tokio::test]
async fn unsigned_requests_are_rejected_by_the_fake() {
    let fake = FakeAws::start(account(), 1000.0).await;
    let resp = reqwest::Client::new()
        .post(&fake.cloudcontrol_url)
        .header("x-amz-target", "CloudApiService.ListResources")
        .header("content-type", "application/x-amz-json-1.0")
        .body(r#"{"TypeName":"AWS::EC2::VPC"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");
    assert_eq!(FakeAws::count(&fake.stats().unsigned_rejected), 1);
}

#[tokio::test]
async fn missing_region_or_credentials_is_an_input_error() {
    let no_creds = SdkConfig::builder()
        .region(Region::new("us-west-2"))
        .behavior_version(BehaviorVersion::latest())
        .build();
    let err = AwsScanner::from_sdk_config(&no_creds, AwsOptions::default(), Endpoints::default())
        .await
        .err()
        .expect("no credentials must fail");
    assert!(err.to_string().contains("credentials"), "{err}");
    assert!(!err.to_string().contains('\n'));

    let no_region = SdkConfig::builder()
        .credentials_provider(
            aws_sdk_cloudcontrol::config::SharedCredentialsProvider::new(Credentials::new(
                ACCESS_KEY, "s", None, None, "test",
            )),
        )
        .behavior_version(BehaviorVersion::latest())
        .build();
    let err = AwsScanner::from_sdk_config(&no_region, AwsOptions::default(), Endpoints::default())
        .await
        .err()
        .expect("no region must fail");
    assert!(err.to_string().contains("region"), "{err}");
}

#[tokio::test]
async fn fan_out_nests_and_lists_enum_valued_types_per_value() {
    let mut acct = Account::default();
    acct.add(FakeType::new("AWS::AppConfig::Application").with_resources(
        "ApplicationId",
        "app",
        2,
    ));
    let mut profiles = FakeType::new("AWS::AppConfig::ConfigurationProfile").pages(&[1]);
    profiles.list_required = vec!["ApplicationId".into()];
    let mut versions = FakeType::new("AWS::AppConfig::HostedConfigurationVersion");
    versions.list_required = vec!["ApplicationId".into(), "ConfigurationProfileId".into()];
    for a in 0..2 {
        for c in 0..2 {
            profiles.resources.push(Res {
                identifier: format!("app-{a}|cp-{c}"),
                properties: json!({"ApplicationId": format!("app-{a}"), "ConfigurationProfileId": format!("cp-{c}")}),
            });
            versions.resources.push(Res {
                identifier: format!("app-{a}|cp-{c}|1"),
                properties: json!({"ApplicationId": format!("app-{a}"), "ConfigurationProfileId": format!("cp-{c}"), "VersionNumber": "1"}),
            });
        }
    }
    acct.add(profiles);
    acct.add(versions);
    let mut acls = FakeType::new("AWS::WAFv2::WebACL");
    acls.list_required = vec!["Scope".into()];
    acls.enum_property = Some(("Scope".into(), vec!["CLOUDFRONT".into(), "REGIONAL".into()]));
    acls.value_regions = vec![("CLOUDFRONT".into(), "us-east-1".into())];
    for (i, scope) in ["CLOUDFRONT", "REGIONAL", "REGIONAL"].iter().enumerate() {
        acls.resources.push(Res {
            identifier: format!("acl-{i}|{i}|{scope}"),
            properties: json!({"Scope": scope, "Name": format!("acl-{i}")}),
        });
    }
    acct.add(acls);
    let fake = FakeAws::start(acct.clone(), 1000.0).await;

    let west = run(scanner(&fake, "us-west-2", AwsOptions::default()).await).await;
    assert!(west.incomplete.is_empty(), "{:?}", west.incomplete);
    assert!(west.skipped_types.is_empty(), "{:?}", west.skipped_types);
    let mut want = expected(
        &acct,
        &[
            "AWS::AppConfig::Application",
            "AWS::AppConfig::ConfigurationProfile",
            "AWS::AppConfig::HostedConfigurationVersion",
        ],
    );
    want.insert(("AWS::WAFv2::WebACL".into(), "acl-1|1|REGIONAL".into()));
    want.insert(("AWS::WAFv2::WebACL".into(), "acl-2|2|REGIONAL".into()));
    assert_eq!(west.found_set(), want);

    let east = run(scanner(&fake, "us-east-1", AwsOptions::default()).await).await;
    assert!(east.found_set().contains(&(
        "AWS::WAFv2::WebACL".to_string(),
        "acl-0|0|CLOUDFRONT".to_string()
    )));
}

#[tokio::test]
async fn the_callers_account_id_feeds_handlers_that_need_it() {
    let mut acct = Account::default();
    let mut analyses = FakeType::new("AWS::QuickSight::Analysis");
    analyses.list_required = vec!["AwsAccountId".into()];
    analyses.resources = vec![Res {
        identifier: "123456789012|analysis-1".into(),
        properties: json!({"AwsAccountId": "123456789012", "AnalysisId": "analysis-1"}),
    }];
    acct.add(analyses);
    let fake = FakeAws::start(acct, 1000.0).await;
    let endpoints = || Endpoints {
        cloudcontrol: Some(fake.cloudcontrol_url.clone()),
        cloudformation: Some(fake.cloudformation_url.clone()),
    };

    let with_account = Credentials::builder()
        .access_key_id(ACCESS_KEY)
        .secret_access_key("fake-secret")
        .account_id("123456789012")
        .provider_name("test")
        .build();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(with_account)
        .load()
        .await;
    let s = AwsScanner::from_sdk_config(&sdk, AwsOptions::default(), endpoints())
        .await
        .unwrap();
    let r = run(s).await;
    assert_eq!(
        r.found_set(),
        BTreeSet::from([(
            "AWS::QuickSight::Analysis".to_string(),
            "123456789012|analysis-1".to_string()
        )])
    );
    assert_eq!(
        r.scopes,
        BTreeSet::from(["123456789012/us-west-2".to_string()])
    );

    // Static keys alone do not say which account they belong to: skipped, with the reason.
    let r = run(scanner(&fake, "us-west-2", AwsOptions::default()).await).await;
    assert!(r.found.is_empty());
    assert!(r.skipped_types["AWS::QuickSight::Analysis"].contains("AwsAccountId"));
}
