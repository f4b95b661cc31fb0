//! A fake STS that answers presigned `GetCallerIdentity` requests, and the EKS token check that
//! aws-iam-authenticator (the EKS API server's token webhook) makes with it.
//!
//! What it models:
//! - STS verifies a presigned request's SigV4 signature in full: the canonical request from the
//!   query (every parameter but `X-Amz-Signature`, URI-encoded and sorted), the signed headers
//!   with the values this request carries, the empty payload's hash, and the HMAC key chain from
//!   the secret of the access key in `X-Amz-Credential`. Wrong secret, another cluster's
//!   `x-k8s-aws-id`, or a changed parameter: 403 `SignatureDoesNotMatch`. Written here by hand on
//!   purpose: the product signs with aws-sigv4, and a check by the same library would prove little.
//! - STS honours a presigned GetCallerIdentity for 15 minutes after `X-Amz-Date`, ignoring
//!   `X-Amz-Expires` (what aws-iam-authenticator documents); later: 403 `ExpiredToken`.
//! - Answers and errors are JSON, as STS answers a request with `Accept: application/json` (the
//!   authenticator always asks so, and reads only the status of an error).
//! - aws-iam-authenticator's own checks before it calls STS ([`verify_eks_token`]): the
//!   `k8s-aws-v1.` prefix and unpadded URL-safe base64, the host (only the configured STS), path
//!   `/`, its whitelist of query parameters, `Action=GetCallerIdentity`, `x-k8s-aws-id` among the
//!   signed headers, `X-Amz-Expires` within 0..=900; then it replays the URL with the header set to
//!   the cluster it serves, and maps the returned ARN (unmapped identities are refused).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

/// One identity STS knows: its secret, and who it is.
#[derive(Clone, Debug)]
pub struct Principal {
    pub secret: String,
    pub account: String,
    pub arn: String,
}

#[derive(Default, Debug)]
pub struct StsRecord {
    /// Verified GetCallerIdentity calls, by the cluster id they carried.
    pub verified: BTreeMap<String, u32>,
    /// Refusals, by error code.
    pub refused: BTreeMap<String, u32>,
}

pub struct StsShared {
    pub keys: HashMap<String, Principal>,
    pub record: Mutex<StsRecord>,
}

pub struct FakeSts {
    pub url: String,
    pub shared: Arc<StsShared>,
}

impl FakeSts {
    pub async fn start(keys: &[(&str, Principal)]) -> FakeSts {
        let shared = Arc::new(StsShared {
            keys: keys
                .iter()
                .map(|(k, p)| (k.to_string(), p.clone()))
                .collect(),
            record: Mutex::default(),
        });
        let app = Router::new()
            .route("/", get(presigned))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSts {
            url: format!("http://{addr}"),
            shared,
        }
    }

    pub fn record(&self) -> std::sync::MutexGuard<'_, StsRecord> {
        self.shared.record.lock().unwrap()
    }
}

fn sts_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"Error": {"Code": code, "Message": message, "Type": "Sender"}});
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// RFC 3986 encoding as SigV4 canonicalises it (unreserved characters kept, everything else %XX).
fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_amz_date(s: &str) -> Option<SystemTime> {
    // `YYYYMMDDTHHMMSSZ`
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    if s.len() != 16 || &s[8..9] != "T" || !s.ends_with('Z') {
        return None;
    }
    let month = time::Month::try_from(n(4..6)? as u8).ok()?;
    let date = time::Date::from_calendar_date(n(0..4)? as i32, month, n(6..8)? as u8).ok()?;
    let t = date
        .with_hms(n(9..11)? as u8, n(11..13)? as u8, n(13..15)? as u8)
        .ok()?
        .assume_utc();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(t.unix_timestamp().try_into().ok()?))
}

async fn presigned(
    State(s): State<Arc<StsShared>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let refuse = |code: &str, message: &str| {
        *s.record
            .lock()
            .unwrap()
            .refused
            .entry(code.to_string())
            .or_default() += 1;
        sts_error(403, code, message)
    };
    let raw = raw.unwrap_or_default();
    let params: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("Action").as_deref() != Some("GetCallerIdentity") {
        return sts_error(
            400,
            "InvalidAction",
            "only GetCallerIdentity is presignable here",
        );
    }
    let (Some(credential), Some(date), Some(signed), Some(signature)) = (
        get("X-Amz-Credential"),
        get("X-Amz-Date"),
        get("X-Amz-SignedHeaders"),
        get("X-Amz-Signature"),
    ) else {
        return refuse(
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        );
    };
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[3] != "sts" || scope[4] != "aws4_request" {
        return refuse("IncompleteSignature", "malformed credential scope");
    }
    let Some(principal) = s.keys.get(scope[0]) else {
        return refuse(
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
    };
    let Some(at) = parse_amz_date(&date) else {
        return refuse("IncompleteSignature", "malformed X-Amz-Date");
    };
    if !date.starts_with(scope[1]) {
        return refuse(
            "SignatureDoesNotMatch",
            "credential date is not the request's date",
        );
    }
    if SystemTime::now() > at + Duration::from_secs(15 * 60) {
        return refuse(
            "ExpiredToken",
            "The security token included in the request is expired",
        );
    }

    let mut query: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let value = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let empty_hash = hex(&Sha256::digest(b""));
    let canonical =
        format!("GET\n/\n{canonical_query}\n{canonical_headers}\n{signed}\n{empty_hash}");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{}/{}/sts/aws4_request\n{}",
        scope[1],
        scope[2],
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac(format!("AWS4{}", principal.secret).as_bytes(), scope[1]);
    let k = hmac(&k, scope[2]);
    let k = hmac(&k, "sts");
    let k = hmac(&k, "aws4_request");
    if hex(&hmac(&k, &to_sign)) != signature {
        return refuse(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    let cluster = headers
        .get("x-k8s-aws-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    *s.record
        .lock()
        .unwrap()
        .verified
        .entry(cluster)
        .or_default() += 1;
    let body = json!({"GetCallerIdentityResponse": {
        "GetCallerIdentityResult": {
            "Account": principal.account, "Arn": principal.arn, "UserId": "AIDAFAKEUSERID",
        },
        "ResponseMetadata": {"RequestId": "fake-request"},
    }});
    ([("content-type", "application/json")], body.to_string()).into_response()
}

/// aws-iam-authenticator's verdict on a bearer token for `cluster`, with STS at `sts_url`: the
/// ARN it authenticates, or why not. `mapped` are the ARNs the cluster grants access to (access
/// entries or the aws-auth ConfigMap); an identity STS vouches for but the cluster does not map is
/// refused too.
pub async fn verify_eks_token(
    token: &str,
    sts_url: &str,
    cluster: &str,
    mapped: &[String],
) -> Result<String, String> {
    let encoded = token
        .strip_prefix("k8s-aws-v1.")
        .ok_or("token is missing the k8s-aws-v1. prefix")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| format!("not unpadded URL-safe base64: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    let parsed = url::Url::parse(&text).map_err(|e| format!("not a URL: {e}"))?;
    let sts = url::Url::parse(sts_url).unwrap();
    if parsed.host_str() != sts.host_str() || parsed.port() != sts.port() {
        return Err(format!(
            "unexpected hostname {:?} in pre-signed URL",
            parsed.host_str()
        ));
    }
    if parsed.path() != "/" {
        return Err("unexpected path in pre-signed URL".into());
    }
    const ALLOWED: &[&str] = &[
        "action",
        "version",
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-signedheaders",
    ];
    let mut lower = HashMap::new();
    for (k, v) in parsed.query_pairs() {
        let k = k.to_ascii_lowercase();
        if !ALLOWED.contains(&k.as_str()) {
            return Err(format!("non-whitelisted query parameter {k:?}"));
        }
        if lower.insert(k, v.into_owned()).is_some() {
            return Err("query parameter with multiple values".into());
        }
    }
    if lower.get("action").map(String::as_str) != Some("GetCallerIdentity") {
        return Err("unexpected action parameter in pre-signed URL".into());
    }
    let signed = lower
        .get("x-amz-signedheaders")
        .cloned()
        .unwrap_or_default();
    if !signed
        .split(';')
        .any(|h| h.eq_ignore_ascii_case("x-k8s-aws-id"))
    {
        return Err("client did not sign the x-k8s-aws-id header in the pre-signed URL".into());
    }
    let expires: i64 = lower
        .get("x-amz-expires")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    if !(0..=900).contains(&expires) {
        return Err(format!(
            "invalid X-Amz-Expires parameter in pre-signed URL: {expires}"
        ));
    }
    let response = reqwest::Client::new()
        .get(parsed.as_str())
        .header("x-k8s-aws-id", cluster)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("error during GET: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status != 200 {
        return Err(format!("sts getCallerIdentity failed: {status}: {body}"));
    }
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let arn = v["GetCallerIdentityResponse"]["GetCallerIdentityResult"]["Arn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !mapped.contains(&arn) {
        return Err(format!("ARN is not mapped: {arn}"));
    }
    Ok(arn)
}
