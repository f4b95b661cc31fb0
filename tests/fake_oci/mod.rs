//! A fake OCI endpoint on 127.0.0.1: Identity's ListCompartments, Resource Search's SearchResources
//! and Object Storage's GetNamespace, behind OCI's request-signature check.
//!
//! Real behaviour it models:
//! - every request must carry a valid `Authorization: Signature ...` header (keyId
//!   `tenancy/user/fingerprint`, rsa-sha256, signed headers `(request-target) date host`, plus
//!   `x-content-sha256 content-type content-length` on a POST, with `x-content-sha256` the base64
//!   SHA-256 of the body, and a `date` within 5 minutes); otherwise 401 with OCI's error body
//!   `{"code":"NotAuthenticated","message":...}`. The signature is checked with the configured
//!   PUBLIC key, from the received request, independently of the client's signer.
//! - ListCompartments accepts `compartmentIdInSubtree=true` only on the tenancy (400
//!   `InvalidParameter` otherwise), filters by `lifecycleState`, and pages by `limit` / `page` with
//!   an opaque `opc-next-page` header on every page but the last.
//! - SearchResources takes `{"type":"Structured","query":...}`; the fake understands
//!   `query all resources` and `query all resources where compartmentId = '<ocid>'`, pages the same
//!   way, and returns `{"items":[ResourceSummary...]}`.
//! - GetNamespace (`GET /n/`) returns the namespace as a JSON string.
//! - Identity's GetTenancy (`GET /20160918/tenancies/{id}`) and ListRegionSubscriptions
//!   (`GET /20160918/tenancies/{id}/regionSubscriptions`, an unpaged JSON array of
//!   `{regionKey, regionName, status, isHomeRegion}`); another tenancy's id is 404
//!   `NotAuthorizedOrNotFound`.
//! - Throttling: 429 `{"code":"TooManyRequests"}`; server faults: 500 `{"code":"InternalServerError"}`.
#![allow(dead_code)]

pub mod keys;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What the fake serves and how it misbehaves.
pub struct FakeOci {
    pub tenancy: String,
    pub key_id: String,
    pub public_key: RsaPublicKey,
    /// ListCompartments items (`id`, `name`, `compartmentId`, `lifecycleState`).
    pub compartments: Vec<Value>,
    /// ResourceSummary items; each has a `compartmentId`.
    pub resources: Vec<Value>,
    pub namespace: String,
    pub tenancy_name: String,
    /// ListRegionSubscriptions items.
    pub region_subscriptions: Vec<Value>,
    pub page_size: usize,
    /// The first this-many search calls are answered 429.
    pub throttle_first: AtomicU32,
    /// Searches of these compartments are always answered 429.
    pub always_throttle: HashSet<String>,
    /// Searches of these compartments are always answered 500.
    pub always_fail: HashSet<String>,
    /// Lists whose `opc-next-page` token sticks: every page after the first hands back the first
    /// page's token again. A compartment id (its search) or `compartments` (ListCompartments).
    pub stuck_paging: HashSet<String>,
    pub log: Mutex<Log>,
}

/// What the fake saw.
#[derive(Debug, Default, Clone)]
pub struct Log {
    pub verified: u32,
    pub rejected: u32,
    pub throttled: u32,
    pub searches: Vec<String>,
    pub namespace_calls: u32,
}

impl FakeOci {
    pub fn new(tenancy: &str, key_id: &str, public_pem: &str) -> Self {
        FakeOci {
            tenancy: tenancy.into(),
            key_id: key_id.into(),
            public_key: RsaPublicKey::from_public_key_pem(public_pem).expect("public key"),
            compartments: Vec::new(),
            resources: Vec::new(),
            namespace: "fakens".into(),
            tenancy_name: "acme".into(),
            region_subscriptions: Vec::new(),
            page_size: 2,
            throttle_first: AtomicU32::new(0),
            always_throttle: HashSet::new(),
            always_fail: HashSet::new(),
            stuck_paging: HashSet::new(),
            log: Mutex::new(Log::default()),
        }
    }

    pub fn log(&self) -> Log {
        self.log.lock().unwrap().clone()
    }

    /// Serves on an ephemeral loopback port; returns the base URL.
    pub async fn serve(self: Arc<Self>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(self);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

async fn handle(
    State(fake): State<Arc<FakeOci>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(why) = verify(&fake, &method, &uri, &headers, &body) {
        fake.log.lock().unwrap().rejected += 1;
        return error(StatusCode::UNAUTHORIZED, "NotAuthenticated", &why);
    }
    fake.log.lock().unwrap().verified += 1;
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    match (method.as_str(), uri.path()) {
        ("GET", "/20160918/compartments") => compartments(&fake, &query),
        ("POST", "/20180409/resources") => search(&fake, &query, &body),
        ("GET", p) if p.starts_with("/20160918/tenancies/") => {
            let rest = &p["/20160918/tenancies/".len()..];
            let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
            match (id == fake.tenancy, tail) {
                (true, "") => axum::Json(
                    json!({"id": fake.tenancy, "name": fake.tenancy_name, "homeRegionKey": "PHX"}),
                )
                .into_response(),
                (true, "regionSubscriptions") => {
                    axum::Json(json!(fake.region_subscriptions)).into_response()
                }
                _ => error(
                    StatusCode::NOT_FOUND,
                    "NotAuthorizedOrNotFound",
                    "Authorization failed or requested resource not found.",
                ),
            }
        }
        ("GET", "/n/") => {
            fake.log.lock().unwrap().namespace_calls += 1;
            axum::Json(json!(fake.namespace)).into_response()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NotAuthorizedOrNotFound",
            "no such API",
        ),
    }
}

/// Checks the request signature the way OCI's front end does (see the module comment).
fn verify(
    fake: &FakeOci,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("missing authorization header")?;
    let params = auth
        .strip_prefix("Signature ")
        .ok_or("authorization is not a Signature")?;
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for part in params.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or("malformed signature parameter")?;
        fields.insert(k.trim(), v.trim().trim_matches('"'));
    }
    if fields.get("version") != Some(&"1") {
        return Err("unsupported signature version".into());
    }
    if fields.get("keyId") != Some(&fake.key_id.as_str()) {
        return Err("unknown keyId".into());
    }
    if fields.get("algorithm") != Some(&"rsa-sha256") {
        return Err("unsupported algorithm".into());
    }
    let signed: Vec<&str> = fields
        .get("headers")
        .ok_or("no headers parameter")?
        .split(' ')
        .collect();
    let mut required = vec!["(request-target)", "date", "host"];
    if matches!(*method, Method::POST | Method::PUT) {
        required.extend(["x-content-sha256", "content-type", "content-length"]);
        let sent = headers
            .get("x-content-sha256")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if sent != BASE64.encode(Sha256::digest(body)) {
            return Err("x-content-sha256 does not match the body".into());
        }
    }
    for r in &required {
        if !signed.contains(r) {
            return Err(format!("header {r} is not signed"));
        }
    }
    let date = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .ok_or("missing or bad date header")?;
    let skew = match SystemTime::now().duration_since(date) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if skew > Duration::from_secs(300) {
        return Err("date is more than 5 minutes off".into());
    }
    let mut lines = Vec::new();
    for name in &signed {
        let value = if *name == "(request-target)" {
            let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            format!("{} {target}", method.as_str().to_ascii_lowercase())
        } else {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .ok_or(format!("signed header {name} is missing"))?
                .to_string()
        };
        lines.push(format!("{name}: {value}"));
    }
    let sig = BASE64
        .decode(fields.get("signature").ok_or("no signature")?)
        .map_err(|_| "signature is not base64")?;
    let sig = Signature::try_from(sig.as_slice()).map_err(|_| "bad signature length")?;
    VerifyingKey::<Sha256>::new(fake.public_key.clone())
        .verify(lines.join("\n").as_bytes(), &sig)
        .map_err(|_| "signature does not verify".to_string())
}

/// `limit`/`page` paging with an opaque token: the page's items and the next token, or a 400.
fn page(
    fake: &FakeOci,
    items: Vec<Value>,
    query: &HashMap<String, String>,
    stuck: bool,
) -> Result<(Vec<Value>, Option<String>), Box<Response>> {
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(usize::MAX)
        .min(fake.page_size)
        .max(1);
    let start = match query.get("page") {
        None => 0,
        Some(p) => match p
            .strip_prefix("opaque-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => {
                return Err(Box::new(error(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameter",
                    "bad page token",
                )));
            }
        },
    };
    let end = (start + limit).min(items.len());
    let chunk = items.get(start..end).unwrap_or(&[]).to_vec();
    let next_start = if stuck { limit } else { end };
    Ok((
        chunk,
        (end < items.len()).then(|| format!("opaque-{next_start}")),
    ))
}

/// A JSON answer with the `opc-next-page` header when there is a next page.
fn paged(body: Value, next: Option<String>) -> Response {
    let mut resp = axum::Json(body).into_response();
    if let Some(n) = next {
        resp.headers_mut()
            .insert("opc-next-page", n.parse().expect("token is header text"));
    }
    resp
}

fn compartments(fake: &FakeOci, query: &HashMap<String, String>) -> Response {
    let subtree = query.get("compartmentIdInSubtree").map(String::as_str) == Some("true");
    let parent = query.get("compartmentId").cloned().unwrap_or_default();
    if subtree && parent != fake.tenancy {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "compartmentIdInSubtree may only be set on the root compartment",
        );
    }
    let state = query.get("lifecycleState");
    let items: Vec<Value> = fake
        .compartments
        .iter()
        .filter(|c| subtree || c["compartmentId"] == parent.as_str())
        .filter(|c| state.is_none_or(|s| c["lifecycleState"] == s.as_str()))
        .cloned()
        .collect();
    let stuck = fake.stuck_paging.contains("compartments");
    match page(fake, items, query, stuck) {
        // ListCompartments returns a bare array.
        Ok((chunk, next)) => paged(Value::Array(chunk), next),
        Err(resp) => *resp,
    }
}

fn search(fake: &FakeOci, query: &HashMap<String, String>, body: &[u8]) -> Response {
    let Ok(details) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "body is not JSON",
        );
    };
    if details["type"] != "Structured" {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "type must be Structured",
        );
    }
    let text = details["query"].as_str().unwrap_or("");
    let compartment = if text == "query all resources" {
        None
    } else if let Some(rest) = text.strip_prefix("query all resources where compartmentId = '") {
        match rest.strip_suffix('\'') {
            Some(c) => Some(c.to_string()),
            None => return error(StatusCode::BAD_REQUEST, "InvalidParameter", "bad query"),
        }
    } else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "unsupported query",
        );
    };
    {
        let mut log = fake.log.lock().unwrap();
        log.searches.push(compartment.clone().unwrap_or_default());
    }
    let throttle = fake
        .throttle_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if throttle
        || compartment
            .as_ref()
            .is_some_and(|c| fake.always_throttle.contains(c))
    {
        fake.log.lock().unwrap().throttled += 1;
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests for the tenant",
        );
    }
    if compartment
        .as_ref()
        .is_some_and(|c| fake.always_fail.contains(c))
    {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal error",
        );
    }
    let items: Vec<Value> = fake
        .resources
        .iter()
        .filter(|r| {
            compartment
                .as_ref()
                .is_none_or(|c| r["compartmentId"] == c.as_str())
        })
        .cloned()
        .collect();
    let stuck = compartment
        .as_ref()
        .is_some_and(|c| fake.stuck_paging.contains(c));
    match page(fake, items, query, stuck) {
        // SearchResources returns a ResourceSummaryCollection.
        Ok((chunk, next)) => paged(json!({ "items": chunk }), next),
        Err(resp) => *resp,
    }
}
