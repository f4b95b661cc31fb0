//! Azure scanner tests: the real azure_core / azure_identity clients against a fake Entra token
//! endpoint and a fake Resource Manager over HTTPS (see `fake_azure`), and the id-template type
//! mapping against a schema fixture and, when present, the shared azure-native type map.

mod fake_azure;
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use clap::Parser;
use futures::StreamExt;
use serde_json::Value;

use cloud_import::clouds::azure::{fallback_token, AzureOptions, AzureScanner, TypeMap};
use cloud_import::discover::{ScanEvent, Scanner};
use cloud_import::settings::{Cli, Settings};
use fake_azure::entra::Entra;
use fake_azure::tls::serve_https;
use fake_azure::{estate, secret_env, start, start_estate, Fakes, CLIENT, SUB, TENANT};

const RG_TOKEN: &str = "azure-native:resources:ResourceGroup";

fn settings(fakes: &Fakes, location: &str, extra: &[&str]) -> Settings {
    let arm_endpoint = format!("armEndpoint={}", fakes.arm_url);
    let mut argv = vec![
        "pulumi-cloud-import",
        "--list",
        "--cloud",
        "azure",
        "--location",
        location,
        "-c",
        &arm_endpoint,
    ];
    argv.extend_from_slice(extra);
    let cli = Cli::try_parse_from(argv).expect("flags");
    Settings::from_sources(cli, |_| None).expect("settings")
}

async fn scanner(
    settings: &Settings,
    env: &HashMap<String, String>,
) -> Result<AzureScanner, String> {
    let options = AzureOptions::from_settings(settings).map_err(|e| e.to_string())?;
    AzureScanner::from_lookup(&options, &|k| env.get(k).cloned())
        .await
        .map_err(|e| e.to_string())
}

async fn collect(scanner: AzureScanner) -> Vec<ScanEvent> {
    Box::new(scanner).discover().collect().await
}

fn found(events: &[ScanEvent]) -> Vec<&cloud_import::discover::Discovered> {
    events
        .iter()
        .filter_map(|e| match e {
            ScanEvent::Found(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn rg_id(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_a_location_with_groups_first_children_and_paging() {
    let (arm, ids) = estate();
    let fakes = start_estate(arm).await;
    let s = settings(&fakes, "westus2", &[]);
    let scanner = scanner(&s, &secret_env(&fakes)).await.expect("scanner");
    let provider = scanner.provider();
    assert_eq!(provider.token(), "pulumi:providers:azure-native");
    assert_eq!(provider.name, format!("azure-native-{SUB}-westus2"));
    assert_eq!(
        provider.inputs.get("subscriptionId"),
        Some(&Value::String(SUB.into()))
    );
    assert_eq!(provider.inputs.len(), 1, "no secrets or other inputs");

    let events = collect(scanner).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ScanEvent::Incomplete { .. })),
        "{events:?}"
    );
    let found = found(&events);

    // One event per resource.
    let mut seen = HashSet::new();
    for d in &found {
        assert!(
            seen.insert((d.token.clone(), d.id.clone())),
            "read twice: {}",
            d.id
        );
    }
    let got: HashSet<&str> = found.iter().map(|d| d.id.as_str()).collect();
    let mut want: HashSet<String> = ids
        .iter()
        .filter(|(k, _)| **k != "vm-east")
        .map(|(_, v)| v.clone())
        .collect();
    // rg-east holds resources in westus2 (and a global zone), so it comes too; rg-empty-east not.
    for g in ["rg-west", "rg-east", "rg-empty-west"] {
        want.insert(rg_id(g));
    }
    let want: HashSet<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(got, want);

    // Groups are parents and come before every resource that names them.
    let mut emitted_parents = HashSet::new();
    for d in &found {
        if d.token == RG_TOKEN {
            assert!(d.is_parent && d.parent.is_none(), "{d:?}");
            emitted_parents.insert(d.key());
            continue;
        }
        let parent = d.parent.as_ref().expect("parented by its group");
        assert_eq!(parent.token, RG_TOKEN);
        assert!(
            d.id.starts_with(&format!("{}/", parent.id)),
            "{} under {}",
            d.id,
            parent.id
        );
        assert!(
            emitted_parents.contains(parent),
            "{} before its group",
            d.id
        );
        assert!(!d.is_parent);
        let basis = d.name_basis.as_deref().unwrap();
        assert!(!basis.contains(SUB) && d.id.ends_with(basis), "{basis}");
    }

    // Tokens without a schema come from the built-in mapping.
    let token_of = |key: &str| {
        found
            .iter()
            .find(|d| d.id == ids[key])
            .map(|d| d.token.clone())
            .unwrap()
    };
    assert_eq!(token_of("subnet-a"), "azure-native:network:Subnet");
    let subnet = found.iter().find(|d| d.id == ids["subnet-a"]).unwrap();
    assert_eq!(
        subnet.scope,
        format!("{SUB}/westus2"),
        "a child's location is its parent's"
    );
    assert_eq!(token_of("rule"), "azure-native:network:SecurityRule");
    assert_eq!(token_of("container"), "azure-native:storage:BlobContainer");
    assert_eq!(token_of("app"), "azure-native:web:WebApp");
    assert_eq!(token_of("zone"), "azure-native:dns:Zone");
    assert_eq!(token_of("record"), "azure-native:dns:RecordSet");

    // Lists were paged through absolute nextLinks, with the location filter kept, and `global`
    // was listed as well.
    let log = fakes.arm.request_log();
    assert!(
        log.iter()
            .any(|r| r.contains("%24skiptoken=2") && r.contains("westus2")),
        "{log:?}"
    );
    assert!(log.iter().any(|r| r.contains("global")), "{log:?}");
    assert_eq!(fakes.entra.grants("secret"), 1, "one token, cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_locations_and_exact_mapping_from_a_schema() {
    let (arm, ids) = estate();
    let fakes = start_estate(arm).await;
    let schema = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fake_azure/schema.json"
    ))
    .unwrap();
    let types = TypeMap::from_schema_json(&schema).expect("schema fixture");
    let s = settings(&fakes, "all", &[]);
    let scanner = scanner(&s, &secret_env(&fakes))
        .await
        .expect("scanner")
        .with_type_map(types);
    assert_eq!(scanner.provider().name, format!("azure-native-{SUB}-all"));
    let events = collect(scanner).await;
    let found = found(&events);
    // The empty east group is in, and the east VM is discovered; the schema fixture has no
    // template for virtual machines, so it is reported as skipped rather than guessed.
    assert!(found.iter().any(|d| d.id == rg_id("rg-empty-east")));
    assert!(!found.iter().any(|d| d.id == ids["vm-east"]));
    assert!(events.iter().any(|e| matches!(e,
        ScanEvent::Skipped { id, reason, .. } if *id == ids["vm-east"] && reason.contains("template"))));
    let app = found.iter().find(|d| d.id == ids["app"]).unwrap();
    assert_eq!(app.token, "azure-native:web:WebApp");
    let sa = found.iter().find(|d| d.id == ids["sa"]).unwrap();
    assert_eq!(sa.token, "azure-native:storage:StorageAccount");
    let log = fakes.arm.request_log();
    assert!(
        log.iter()
            .filter(|r| r.contains("/resources?"))
            .all(|r| !r.contains("filter")),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_wait_for_retry_after_and_complete() {
    let (arm, ids) = estate();
    arm.throttle_next.store(2, Ordering::SeqCst);
    let fakes = start_estate(arm).await;
    let s = settings(&fakes, "westus2", &[]);
    let events = collect(scanner(&s, &secret_env(&fakes)).await.expect("scanner")).await;
    assert_eq!(fakes.arm.throttled.load(Ordering::SeqCst), 2);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ScanEvent::Incomplete { .. })),
        "{events:?}"
    );
    assert!(found(&events).iter().any(|d| d.id == ids["subnet-c"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_failing_after_retries_makes_the_scan_incomplete() {
    let (mut arm, ids) = estate();
    arm.fail_paths = vec![format!("/subscriptions/{SUB}/resources").to_ascii_lowercase()];
    let fakes = start_estate(arm).await;
    let s = settings(&fakes, "westus2", &[]);
    let events = collect(scanner(&s, &secret_env(&fakes)).await.expect("scanner")).await;
    let incomplete: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ScanEvent::Incomplete { what, reason } => Some((what.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    // One per listing (westus2 and global), each after bounded retries.
    assert_eq!(incomplete.len(), 2, "{incomplete:?}");
    assert!(incomplete[0].1.contains("500"), "{incomplete:?}");
    let failed = fakes
        .arm
        .request_log()
        .iter()
        .filter(|r| r.contains("/resources?"))
        .count();
    let attempts = cloud_import::retry::RetryPolicy::default().max_attempts as usize;
    assert_eq!(failed, 2 * attempts, "bounded attempts per listing");
    // What could be listed still is.
    assert!(found(&events).iter().any(|d| d.id == rg_id("rg-west")));
    assert!(!found(&events).iter().any(|d| d.id == ids["vnet"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_lists_that_fail_are_incomplete_and_forbidden_ones_denied() {
    let (mut arm, ids) = estate();
    arm.fail_paths = vec![format!("{}/subnets", ids["vnet"]).to_ascii_lowercase()];
    arm.forbid_paths = vec![format!("{}/securityrules", ids["nsg"]).to_ascii_lowercase()];
    let fakes = start_estate(arm).await;
    let s = settings(&fakes, "westus2", &[]);
    let events = collect(scanner(&s, &secret_env(&fakes)).await.expect("scanner")).await;
    let incomplete: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            ScanEvent::Incomplete { what, .. } => Some(what),
            _ => None,
        })
        .collect();
    assert_eq!(incomplete.len(), 1, "{incomplete:?}");
    assert!(incomplete[0].contains("subnets") && incomplete[0].contains(&ids["vnet"]));
    // A refusal is a gap wherever the stack holds the type (the pipeline decides, see `held`).
    assert!(events.iter().any(|e| matches!(e,
        ScanEvent::Denied { cloud_type, reason, namespaces: None }
            if cloud_type.ends_with("securityRules") && reason.contains("403"))));
    let found = found(&events);
    assert!(found.iter().any(|d| d.id == ids["vnet"]));
    assert!(found.iter().any(|d| d.id == ids["container"]));
    assert!(!found
        .iter()
        .any(|d| d.id == ids["subnet-a"] || d.id == ids["rule"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_token_token_file_and_github_actions_use_the_assertion_grant() {
    let assertion = "eyJhbGciOiJSUzI1NiJ9.fake-federated-token.sig";
    let mut entra = Entra::new(TENANT, CLIENT);
    entra.assertion = Some(assertion.into());
    let entra = Arc::new(entra);
    let (mut arm, _) = estate();
    arm.entra = entra.clone();
    let fakes = start(arm, entra).await;
    let s = settings(&fakes, "westus2", &[]);

    let mut env = secret_env(&fakes);
    env.remove("ARM_CLIENT_SECRET");
    env.insert("ARM_USE_OIDC".into(), "true".into());
    env.insert("ARM_OIDC_TOKEN".into(), assertion.into());
    let events = collect(scanner(&s, &env).await.expect("OIDC scanner")).await;
    assert!(!found(&events).is_empty());
    assert_eq!(fakes.entra.grants("assertion"), 1);

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), assertion).unwrap();
    env.remove("ARM_OIDC_TOKEN");
    env.remove("ARM_USE_OIDC");
    env.insert(
        "AZURE_FEDERATED_TOKEN_FILE".into(),
        file.path().display().to_string(),
    );
    scanner(&s, &env).await.expect("token file scanner");
    assert_eq!(fakes.entra.grants("assertion"), 2);

    // GitHub Actions: the assertion is fetched from the job's token request endpoint.
    let gh = Arc::new(fake_azure::github::GithubOidc {
        request_token: "gh-request-token".into(),
        jwt: assertion.into(),
        served: Default::default(),
    });
    let gh_url = serve_https(fake_azure::github::router(gh.clone())).await;
    env.remove("AZURE_FEDERATED_TOKEN_FILE");
    env.insert("ARM_USE_OIDC".into(), "true".into());
    env.insert(
        "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
        format!("{gh_url}{}?api-version=2.0", fake_azure::github::PATH),
    );
    env.insert(
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
        "gh-request-token".into(),
    );
    scanner(&s, &env).await.expect("GitHub OIDC scanner");
    assert_eq!(gh.served.load(Ordering::SeqCst), 1);
    assert_eq!(fakes.entra.grants("assertion"), 3);
    env.insert("ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(), "stale".into());
    let err = scanner(&s, &env)
        .await
        .err()
        .expect("rejected request token");
    assert!(err.contains("GitHub") && err.contains("401"), "{err}");
    assert_eq!(fakes.entra.grants("secret"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_and_subscriptions_are_input_errors() {
    let (arm, _) = estate();
    let fakes = start_estate(arm).await;
    let s = settings(&fakes, "westus2", &[]);

    let mut env = secret_env(&fakes);
    env.insert("ARM_CLIENT_SECRET".into(), "wrong".into());
    let err = scanner(&s, &env).await.err().expect("rejected secret");
    assert!(
        err.contains("client secret") && !err.contains('\n'),
        "{err}"
    );
    assert!(!err.contains("wrong"), "the secret is not echoed: {err}");
    assert_eq!(fakes.arm.request_log().len(), 0, "nothing listed");

    let mut env = secret_env(&fakes);
    env.insert(
        "ARM_SUBSCRIPTION_ID".into(),
        "99999999-1111-2222-3333-444444444444".into(),
    );
    let err = scanner(&s, &env).await.err().expect("unknown subscription");
    assert!(err.contains("99999999") && err.contains("404"), "{err}");

    let mut env = secret_env(&fakes);
    for k in ["ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_TENANT_ID"] {
        env.remove(k);
    }
    env.insert("PATH".into(), "/nonexistent".into());
    let err = scanner(&s, &env).await.err().expect("no credentials");
    assert!(err.starts_with("no Azure credentials"), "{err}");

    let mut env = secret_env(&fakes);
    env.remove("ARM_SUBSCRIPTION_ID");
    let err = scanner(&s, &env).await.err().expect("no subscription");
    assert!(err.contains("ARM_SUBSCRIPTION_ID"), "{err}");
    env.insert("AZURE_SUBSCRIPTION_ID".into(), SUB.into());
    scanner(&s, &env)
        .await
        .expect("AZURE_SUBSCRIPTION_ID works too");
    // Pulumi ESC's azure-login writes `/subscriptions/<id>`.
    env.insert(
        "ARM_SUBSCRIPTION_ID".into(),
        format!("/subscriptions/{SUB}"),
    );
    let sc = scanner(&s, &env).await.expect("ESC form");
    assert_eq!(sc.provider().inputs["subscriptionId"], SUB);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_refuses_requests_without_a_valid_token() {
    let (arm, _) = estate();
    let fakes = start_estate(arm).await;
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(
                &std::fs::read(std::env::var("SSL_CERT_FILE").unwrap()).unwrap(),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let url = format!(
        "{}/subscriptions/{SUB}/resources?api-version=2021-04-01",
        fakes.arm_url
    );
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = client.get(&url).bearer_auth("forged").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
}

// ---- type mapping ----

fn fixture_map() -> TypeMap {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fake_azure/schema.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    TypeMap::from_schema(&serde_json::from_str(&text).unwrap())
}

#[test]
fn schema_templates_map_ids_most_specific_first() {
    let map = fixture_map();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fake_azure/schema.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let with_import = schema["resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["description"].as_str().unwrap().contains("## Import"))
        .count();
    assert_eq!(map.len(), with_import);
    let from_bytes = TypeMap::from_schema_json(
        &std::fs::read(format!(
            "{}/tests/fake_azure/schema.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(from_bytes.len(), with_import);
    let app =
        "/subscriptions/5/resourceGroups/r/providers/Microsoft.Web/sites/a/config/appsettings";
    assert_eq!(from_bytes.token_for(app, None), map.token_for(app, None));

    let rg = "/subscriptions/5/resourceGroups/Rg";
    let t = |id: &str, kind: Option<&str>| map.token_for(id, kind).map(str::to_string);
    let p = |s: &str| Some(format!("azure-native:{s}"));
    assert_eq!(t(rg, None), p("resources:ResourceGroup"));
    assert_eq!(
        t(&format!("{rg}/providers/Microsoft.Web/sites/a"), None),
        p("web:WebApp")
    );
    assert_eq!(
        t(
            &format!("{rg}/providers/microsoft.web/SITES/a/slots/s"),
            None
        ),
        p("web:WebAppSlot")
    );
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Web/sites/a/config/appsettings"),
            None
        ),
        p("web:WebAppApplicationSettings")
    );
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Web/sites/a/config/web"),
            None
        ),
        p("web:WebAppSiteConfig")
    );
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Web/sites/a/config/other"),
            None
        ),
        None
    );
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Storage/storageAccounts/x"),
            None
        ),
        p("storage:StorageAccount")
    );
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Storage/storageAccounts/x/blobServices/default"),
            None
        ),
        p("storage:BlobServiceProperties")
    );
    assert_eq!(t(&format!("{rg}/providers/Microsoft.Storage/storageAccounts/x/blobServices/default/containers/c"), None), p("storage:BlobContainer"));
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Network/dnsZones/z.com/A/www"),
            None
        ),
        p("dns:RecordSet")
    );
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Network/dnsZones/z.com"),
            None
        ),
        p("dns:Zone")
    );
    // Locks: at a group, on a resource, at a subscription.
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Authorization/locks/l"),
            None
        ),
        p("authorization:ManagementLockAtResourceGroupLevel")
    );
    assert_eq!(t(&format!("{rg}/providers/Microsoft.Storage/storageAccounts/x/providers/Microsoft.Authorization/locks/l"), None), p("authorization:ManagementLockAtResourceLevel"));
    assert_eq!(
        t(
            "/subscriptions/5/providers/Microsoft.Authorization/locks/l",
            None
        ),
        p("authorization:ManagementLockByScope")
    );
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Authorization/roleAssignments/r"),
            None
        ),
        p("authorization:RoleAssignment")
    );
    // Shared templates: kind decides, else the documented order.
    let env = format!("{rg}/providers/Microsoft.TimeSeriesInsights/environments/e");
    assert_eq!(
        t(&env, Some("Gen2")),
        p("timeseriesinsights:Gen2Environment")
    );
    assert_eq!(
        t(&env, Some("Gen1")),
        p("timeseriesinsights:Gen1Environment")
    );
    assert_eq!(t(&env, None), p("timeseriesinsights:Gen1Environment"));
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Cache/redis/c/firewallRules/f"),
            None
        ),
        p("redis:FirewallRule")
    );
    assert_eq!(
        t(
            &format!("{rg}/providers/Microsoft.Compute/virtualMachines/vm"),
            None
        ),
        None
    );
}

/// Reads the shared azure-native type map: (template, token) rows.
fn shared_rows() -> Option<Vec<(String, String)>> {
    let path = format!(
        "{}/../shared/data/type-maps/azure.tsv",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next()?.split('\t').collect();
    let ti = header.iter().position(|h| *h == "arm_id_template")?;
    let ki = header.iter().position(|h| *h == "azure_native_token")?;
    Some(
        lines
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .filter(|f| f.len() > ti.max(ki))
            .map(|f| (f[ti].to_string(), f[ki].to_string()))
            .collect(),
    )
}

/// Scopes tried for a template that starts with a whole-scope placeholder (`/{scope}/providers/...`):
/// a resource in a namespace no template knows, a management group, a resource group, a
/// subscription. A scope-generic token is right when the id maps to it for one of them; for the
/// others a more specific template (say the resource-group lock) rightly wins.
const SCOPES: &[&str] = &[
    "subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/scope-rg/providers/Microsoft.Example/things/t1/subthings/s1",
    "providers/Microsoft.Management/managementGroups/mg1",
    "subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/scope-rg",
    "subscriptions/00000000-1111-2222-3333-444444444444",
];

/// Concrete ids from a template: placeholders become names, a leading scope placeholder each of
/// [`SCOPES`], a parent path one type/name pair.
fn concrete(template: &str) -> Vec<String> {
    let scoped = template.trim_start_matches('/').starts_with('{');
    let scopes: &[&str] = if scoped { SCOPES } else { &[""] };
    scopes
        .iter()
        .map(|scope| {
            let mut out = String::new();
            for (i, seg) in template.split('/').filter(|s| !s.is_empty()).enumerate() {
                out.push('/');
                if seg.starts_with('{') {
                    let inner = seg
                        .trim_matches(|c| c == '{' || c == '}')
                        .to_ascii_lowercase();
                    if i == 0 {
                        out.push_str(scope);
                    } else if inner.ends_with("path") {
                        out.push_str("parentTypes/parent1");
                    } else if inner.contains("namespace") {
                        out.push_str("Microsoft.Example");
                    } else {
                        out.push_str(&format!("n{i}x"));
                    }
                } else {
                    out.push_str(seg);
                }
            }
            out
        })
        .collect()
}

#[test]
fn shared_type_map_ids_map_to_their_tokens() {
    let Some(rows) = shared_rows() else {
        eprintln!("shared/data/type-maps/azure.tsv not present: skipped");
        return;
    };
    let map = TypeMap::from_import_ids(rows.iter().map(|(t, k)| (k.clone(), t.clone())));
    // Rows whose template (placeholders aside, case-insensitively) is shared are ambiguous.
    let norm = |t: &str| {
        t.split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "{}".to_string()
                } else {
                    s.to_ascii_lowercase()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut by_template: HashMap<String, HashSet<String>> = HashMap::new();
    for (t, k) in &rows {
        by_template.entry(norm(t)).or_default().insert(k.clone());
    }
    let (mut right, mut ambiguous_ok, mut wrong, mut unmapped, mut fallback_right) =
        (0, 0, Vec::new(), Vec::new(), 0);
    for (template, token) in &rows {
        let ids = concrete(template);
        let sharing = &by_template[&norm(template)];
        if fallback_token(&ids[0]).as_deref() == Some(token.as_str()) {
            fallback_right += 1;
        }
        let got: Vec<Option<&str>> = ids.iter().map(|id| map.token_for(id, None)).collect();
        if got.contains(&Some(token.as_str())) {
            right += 1;
        } else if got.iter().flatten().any(|t| sharing.contains(*t)) {
            ambiguous_ok += 1;
        } else if let Some(t) = got.iter().flatten().next() {
            wrong.push(format!("{} -> {t}, want {token}", ids[0]));
        } else {
            unmapped.push(ids[0].clone());
        }
    }
    let unambiguous = rows
        .iter()
        .filter(|(t, _)| by_template[&norm(t)].len() == 1)
        .count();
    eprintln!(
        "azure.tsv: {} rows, {unambiguous} unambiguous; exact mapping: {right} right, {ambiguous_ok} ambiguous rows mapped to a sharing token, {} wrong, {} unmapped; built-in fallback alone: {fallback_right} right",
        rows.len(),
        wrong.len(),
        unmapped.len()
    );
    assert!(wrong.is_empty(), "wrong tokens:\n{}", wrong.join("\n"));
    assert!(unmapped.is_empty(), "unmapped:\n{}", unmapped.join("\n"));
    assert!(right >= unambiguous);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_that_repeats_ends_that_list_as_incomplete() {
    let (mut arm, _) = estate();
    arm.page_size = 1;
    arm.stuck_paths = vec![format!("/subscriptions/{SUB}/resources").to_ascii_lowercase()];
    let fakes = start_estate(arm).await;
    let s = settings(&fakes, "westus2", &[]);
    let scanner = scanner(&s, &secret_env(&fakes)).await.expect("scanner");
    // Without the guard the resource list pages forever.
    let events = tokio::time::timeout(std::time::Duration::from_secs(60), collect(scanner))
        .await
        .expect("the scan must end");
    let incomplete: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            ScanEvent::Incomplete { what, reason } => Some((what.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert!(!incomplete.is_empty());
    for (what, reason) in &incomplete {
        assert!(reason.contains("same page token"), "{what}: {reason}");
    }
    // Resource groups page normally.
    assert!(found(&events).iter().any(|d| d.id == rg_id("rg-west")));
}
