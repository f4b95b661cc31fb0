//! A fake AWS organization: the management account's Organizations (`ListAccounts`) and STS
//! (`AssumeRole`), the Account API of each member (`ListRegions`, `GetAccountInformation`), and one
//! Cloud Control + CloudFormation endpoint for every member, routed by the access key that signed
//! the request to that member's [`FakeAws`], as the real endpoints tell accounts apart by identity.
//!
//! What it models of the real services:
//! - every request is SigV4-signed for its service (`organizations`, `sts`, `account`,
//!   `cloudcontrolapi`, `cloudformation`); the management key may call Organizations and STS, and
//!   the Account API of its own account; an assumed key works only with its session token
//!   (`X-Amz-Security-Token`), as AWS rejects temporary keys without it;
//! - Organizations speaks AWS JSON 1.1 (`X-Amz-Target: AWSOrganizationsV20161128.ListAccounts`) and
//!   pages with `NextToken` (one account per page here, so paging is exercised); suspended accounts
//!   are listed with `Status`/`State` `SUSPENDED`;
//! - STS speaks awsQuery (`Action=AssumeRole&Version=2011-06-15`): a role that does not exist in
//!   the account, or an account outside the organization, answers `AccessDenied`; the credentials
//!   it returns are fresh per call and expire in an hour;
//! - the Account API is REST JSON (`POST /listRegions`, `POST /getAccountInformation`), filters
//!   regions by `RegionOptStatusContains` and pages with `NextToken`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use super::wire::{self, check_sigv4, json_error, query_error, xml_escape};
use super::{serve, Account, FakeAws};

/// The management account's access key (the identity `fleet plan` runs with).
pub const MANAGEMENT_KEY: &str = "AKIDFAKEMANAGEMENT01";
/// The management account's id.
pub const MANAGEMENT_ID: &str = "000000000000";

/// One member account.
pub struct Member {
    pub id: String,
    pub name: String,
    /// `ACTIVE` or `SUSPENDED`.
    pub status: &'static str,
    /// The role `AssumeRole` may assume in it.
    pub role: String,
    /// (region, opt-in status: `ENABLED`, `ENABLED_BY_DEFAULT`, `DISABLED`...).
    pub regions: Vec<(String, &'static str)>,
    /// Its Cloud Control / CloudFormation, accepting this member's assumed key.
    pub fake: FakeAws,
    /// The access key every assumed session of this member gets (the secret and token vary).
    pub key: String,
}

#[derive(Default)]
pub struct OrgStats {
    pub list_accounts_pages: AtomicU64,
    pub assumed: Mutex<Vec<String>>,
    pub list_regions_pages: AtomicU64,
    pub rejected: AtomicU64,
}

pub struct OrgShared {
    pub members: Vec<Member>,
    /// (member id, region) whose CloudFormation refuses every call: a child whose cloud fails.
    pub broken: HashSet<(String, String)>,
    pub stats: OrgStats,
    /// Session token issued -> member index.
    sessions: Mutex<HashMap<String, usize>>,
    serial: AtomicU64,
}

pub struct FakeOrg {
    pub organizations_url: String,
    pub sts_url: String,
    pub account_url: String,
    pub cloudcontrol_url: String,
    pub cloudformation_url: String,
    pub shared: Arc<OrgShared>,
}

/// (id, name, status, role, regions, the account's registry).
pub type MemberSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Account,
);

impl FakeOrg {
    pub async fn start(specs: Vec<MemberSpec>, broken: &[(&str, &str)]) -> FakeOrg {
        let mut members = Vec::new();
        for (i, (id, name, status, role, regions, account)) in specs.into_iter().enumerate() {
            let key = format!("ASIAFAKEMEMBER{i:06}");
            members.push(Member {
                id: id.into(),
                name: name.into(),
                status,
                role: role.into(),
                regions: regions
                    .into_iter()
                    .map(|(r, s)| (r.to_string(), s))
                    .collect(),
                fake: FakeAws::start_for_key(account, 1000.0, &key).await,
                key,
            });
        }
        let shared = Arc::new(OrgShared {
            members,
            broken: broken
                .iter()
                .map(|(a, r)| (a.to_string(), r.to_string()))
                .collect(),
            stats: OrgStats::default(),
            sessions: Mutex::default(),
            serial: AtomicU64::new(0),
        });
        let url = |a| format!("http://{a}");
        FakeOrg {
            organizations_url: url(serve(
                Router::new()
                    .route("/", post(organizations))
                    .with_state(shared.clone()),
            )
            .await),
            sts_url: url(serve(
                Router::new()
                    .route("/", post(sts))
                    .with_state(shared.clone()),
            )
            .await),
            account_url: url(serve(
                Router::new()
                    .fallback(account_api)
                    .with_state(shared.clone()),
            )
            .await),
            cloudcontrol_url: url(serve(
                Router::new()
                    .route("/", post(cloudcontrol))
                    .with_state(shared.clone()),
            )
            .await),
            cloudformation_url: url(serve(
                Router::new()
                    .route("/", post(cloudformation))
                    .with_state(shared.clone()),
            )
            .await),
            shared,
        }
    }

    pub fn member(&self, id: &str) -> &Member {
        self.shared
            .members
            .iter()
            .find(|m| m.id == id)
            .expect("member")
    }

    /// The variables that point the real SDK at these fakes, for the management identity.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", MANAGEMENT_KEY),
            ("AWS_SECRET_ACCESS_KEY", "fake-management-secret"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            (
                "AWS_ENDPOINT_URL_ORGANIZATIONS",
                self.organizations_url.as_str(),
            ),
            ("AWS_ENDPOINT_URL_STS", self.sts_url.as_str()),
            ("AWS_ENDPOINT_URL_ACCOUNT", self.account_url.as_str()),
            (
                "AWS_ENDPOINT_URL_CLOUDCONTROL",
                self.cloudcontrol_url.as_str(),
            ),
            (
                "AWS_ENDPOINT_URL_CLOUDFORMATION",
                self.cloudformation_url.as_str(),
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// The access key of the request's SigV4 credential scope.
fn signing_key(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    Some(cred.split('/').next()?.to_string())
}

/// The member an assumed key with its session token belongs to.
fn member_of(s: &OrgShared, headers: &HeaderMap) -> Option<usize> {
    let key = signing_key(headers)?;
    let token = headers.get("x-amz-security-token")?.to_str().ok()?;
    let i = *s.sessions.lock().unwrap().get(token)?;
    (s.members[i].key == key).then_some(i)
}

async fn organizations(
    State(s): State<Arc<OrgShared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err((status, code, msg)) = check_sigv4(&headers, "organizations", MANAGEMENT_KEY) {
        s.stats.rejected.fetch_add(1, Ordering::SeqCst);
        return json_error(status, code, &msg);
    }
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    if target != Some("AWSOrganizationsV20161128.ListAccounts") {
        return json_error(400, "UnknownOperationException", "unknown operation");
    }
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
    if ct != Some("application/x-amz-json-1.1") {
        return json_error(400, "SerializationException", "bad content type");
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let start: usize = match req.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => match t.strip_prefix("acct-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return json_error(400, "InvalidInputException", "invalid NextToken"),
        },
    };
    s.stats.list_accounts_pages.fetch_add(1, Ordering::SeqCst);
    let page: Vec<Value> = s
        .members
        .iter()
        .skip(start)
        .take(1)
        .map(|m| {
            json!({
                "Id": m.id, "Arn": format!("arn:aws:organizations::000000000000:account/o-fake/{}", m.id),
                "Email": format!("{}@example.com", m.id), "Name": m.name,
                "Status": m.status, "State": m.status,
                "JoinedMethod": "CREATED", "JoinedTimestamp": 1.7e9,
            })
        })
        .collect();
    let mut out = json!({"Accounts": page});
    if start + 1 < s.members.len() {
        out["NextToken"] = json!(format!("acct-{}", start + 1));
    }
    (
        [("content-type", "application/x-amz-json-1.1")],
        out.to_string(),
    )
        .into_response()
}

async fn sts(State(s): State<Arc<OrgShared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err((status, code, msg)) = check_sigv4(&headers, "sts", MANAGEMENT_KEY) {
        s.stats.rejected.fetch_add(1, Ordering::SeqCst);
        return query_error(status, code, &msg);
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str);
    if get("Action") != Some("AssumeRole") || get("Version") != Some("2011-06-15") {
        return query_error(400, "InvalidAction", "unknown action");
    }
    let (Some(arn), Some(session)) = (get("RoleArn"), get("RoleSessionName")) else {
        return query_error(
            400,
            "ValidationError",
            "RoleArn and RoleSessionName are required",
        );
    };
    // arn:aws:iam::<account>:role/<name>
    let parsed = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.split_once(":role/"));
    let found = parsed.and_then(|(account, role)| {
        s.members
            .iter()
            .position(|m| m.id == account && m.role == role && m.status == "ACTIVE")
    });
    let Some(i) = found else {
        return query_error(
            403,
            "AccessDenied",
            &format!("User: arn:aws:iam::000000000000:user/mgmt is not authorized to perform: sts:AssumeRole on resource: {arn}"),
        );
    };
    let n = s.serial.fetch_add(1, Ordering::SeqCst);
    let token = format!("FakeSessionToken{n:08}");
    s.sessions.lock().unwrap().insert(token.clone(), i);
    s.stats.assumed.lock().unwrap().push(arn.to_string());
    let m = &s.members[i];
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let expires = expires
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let result = format!(
        "<AssumedRoleUser><Arn>arn:aws:sts::{id}:assumed-role/{role}/{session}</Arn><AssumedRoleId>AROAFAKE{n}:{session}</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>fake-secret-{n}</SecretAccessKey><SessionToken>{token}</SessionToken><Expiration>{expires}</Expiration></Credentials>",
        id = m.id,
        role = xml_escape(&m.role),
        session = xml_escape(session),
        key = m.key,
    );
    let body = format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>{result}</AssumeRoleResult><ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata></AssumeRoleResponse>"
    );
    ([("content-type", "text/xml")], body).into_response()
}

fn rest_error(status: u16, code: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [
            ("content-type", "application/json"),
            ("x-amzn-errortype", code),
        ],
        json!({"message": message}).to_string(),
    )
        .into_response()
}

async fn account_api(
    State(s): State<Arc<OrgShared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The management account answers for itself with its own long-term key.
    let management = signing_key(&headers).as_deref() == Some(MANAGEMENT_KEY);
    let (id, name, key, regions) = if management {
        (
            MANAGEMENT_ID.to_string(),
            "management".to_string(),
            MANAGEMENT_KEY.to_string(),
            vec![
                ("eu-west-1".to_string(), "ENABLED_BY_DEFAULT"),
                ("me-south-1".to_string(), "DISABLED"),
                ("us-east-1".to_string(), "ENABLED_BY_DEFAULT"),
            ],
        )
    } else {
        let Some(i) = member_of(&s, &headers) else {
            s.stats.rejected.fetch_add(1, Ordering::SeqCst);
            return rest_error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            );
        };
        let m = &s.members[i];
        (
            m.id.clone(),
            m.name.clone(),
            m.key.clone(),
            m.regions.clone(),
        )
    };
    if let Err((status, code, msg)) = check_sigv4(&headers, "account", &key) {
        return rest_error(status, code, &msg);
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    match uri.path() {
        "/getAccountInformation" => (
            [("content-type", "application/json")],
            json!({"AccountId": id, "AccountName": name, "AccountCreatedDate": "2020-01-01T00:00:00Z"}).to_string(),
        )
            .into_response(),
        "/listRegions" => {
            s.stats.list_regions_pages.fetch_add(1, Ordering::SeqCst);
            let wanted: Option<Vec<String>> = req
                .get("RegionOptStatusContains")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect());
            let regions: Vec<&(String, &str)> = regions
                .iter()
                .filter(|(_, st)| wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == st)))
                .collect();
            let start: usize = req
                .get("NextToken")
                .and_then(Value::as_str)
                .and_then(|t| t.strip_prefix("r-"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let page: Vec<Value> = regions
                .iter()
                .skip(start)
                .take(1)
                .map(|(r, st)| json!({"RegionName": r, "RegionOptStatus": st}))
                .collect();
            let mut out = json!({"Regions": page});
            if start + 1 < regions.len() {
                out["NextToken"] = json!(format!("r-{}", start + 1));
            }
            ([("content-type", "application/json")], out.to_string()).into_response()
        }
        _ => rest_error(404, "UnknownOperationException", "unknown operation"),
    }
}

/// The member whose assumed key signed the request, and the request's region.
fn route(s: &OrgShared, headers: &HeaderMap) -> Result<(usize, String), ()> {
    let i = member_of(s, headers).ok_or(())?;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or(())?;
    let region = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(2))
        .ok_or(())?;
    Ok((i, region.to_string()))
}

async fn cloudcontrol(
    State(s): State<Arc<OrgShared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok((i, _)) = route(&s, &headers) else {
        s.stats.rejected.fetch_add(1, Ordering::SeqCst);
        return json_error(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    };
    wire::cloudcontrol(State(s.members[i].fake.shared.clone()), headers, body).await
}

async fn cloudformation(
    State(s): State<Arc<OrgShared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok((i, region)) = route(&s, &headers) else {
        s.stats.rejected.fetch_add(1, Ordering::SeqCst);
        return query_error(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
    };
    if s.broken.contains(&(s.members[i].id.clone(), region)) {
        return query_error(
            403,
            "AccessDenied",
            "User is not authorized to perform: cloudformation:ListTypes",
        );
    }
    wire::cloudformation(State(s.members[i].fake.shared.clone()), headers, body).await
}

/// Regions seen per member by its Cloud Control (from the SigV4 scopes).
pub fn regions_seen(m: &Member) -> BTreeMap<String, u64> {
    m.fake.shared.stats.regions.lock().unwrap().clone()
}
