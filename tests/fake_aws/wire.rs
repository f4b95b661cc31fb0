//! The two services' wire protocols: request checks (SigV4 header, target/action, content type),
//! rate limiting, and answers and errors in the shapes the real services use.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use super::Shared;

pub fn cloudcontrol_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", post(cloudcontrol))
        .with_state(shared)
}

pub fn cloudformation_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", post(cloudformation))
        .with_state(shared)
}

/// Checks `Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request,
/// SignedHeaders=..., Signature=<64 hex>` for the access key `key` and returns the region of the
/// credential scope.
pub fn check_sigv4(
    headers: &HeaderMap,
    service: &str,
    key: &str,
) -> Result<String, (u16, &'static str, String)> {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err((
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".into(),
        ));
    };
    let bad = |why: &str| (400u16, "IncompleteSignatureException", why.to_string());
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| bad("Authorization header requires AWS4-HMAC-SHA256"))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(bad(
            "Authorization header requires Credential, SignedHeaders and Signature",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" || scope[1].len() != 8 {
        return Err(bad("malformed credential scope"));
    }
    if scope[0] != key {
        return Err((
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.".into(),
        ));
    }
    if scope[3] != service {
        return Err(bad("credential should be scoped to correct service"));
    }
    let signed: Vec<&str> = signed.split(';').collect();
    if !signed.contains(&"host") || !signed.contains(&"x-amz-date") {
        return Err(bad("host and x-amz-date must be signed"));
    }
    if headers.get("x-amz-date").is_none() {
        return Err(bad("missing X-Amz-Date"));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("malformed signature"));
    }
    Ok(scope[2].to_string())
}

pub fn json_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"__type": code, "Message": message}).to_string();
    (
        StatusCode::from_u16(status).expect("status"),
        [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amzn-requestid", "fake-request"),
        ],
        body,
    )
        .into_response()
}

pub async fn cloudcontrol(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let stats = &s.stats;
    let _busy = super::InFlight::enter(stats);
    stats.cc_requests.fetch_add(1, Ordering::SeqCst);
    let region = match check_sigv4(&headers, "cloudcontrolapi", &s.access_key) {
        Ok(r) => r,
        Err((status, code, msg)) => {
            stats.unsigned_rejected.fetch_add(1, Ordering::SeqCst);
            return json_error(status, code, &msg);
        }
    };
    *stats
        .regions
        .lock()
        .unwrap()
        .entry(format!("cloudcontrolapi/{region}"))
        .or_default() += 1;
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    if target == Some("CloudApiService.GetResource") {
        return get_resource(&s, &body);
    }
    if target != Some("CloudApiService.ListResources") {
        return json_error(400, "UnknownOperationException", "unknown operation");
    }
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
    if ct != Some("application/x-amz-json-1.0") {
        return json_error(400, "SerializationException", "bad content type");
    }
    if !s.cc_bucket.lock().unwrap().take() {
        stats.throttled.fetch_add(1, Ordering::SeqCst);
        // The real service's availability layer names its exception with a namespace.
        return json_error(
            400,
            "com.amazon.coral.availability#ThrottlingException",
            "Rate exceeded",
        );
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return json_error(400, "SerializationException", "body is not JSON");
    };
    if let Some(latency) = s.account.list_latency {
        tokio::time::sleep(latency).await;
    }
    let Some(type_name) = req.get("TypeName").and_then(Value::as_str) else {
        return json_error(400, "ValidationException", "TypeName is required");
    };
    let Some(t) = s.account.types.get(type_name) else {
        return json_error(
            400,
            "TypeNotFoundException",
            &format!("The type {type_name} cannot be found."),
        );
    };
    *stats
        .listed
        .lock()
        .unwrap()
        .entry(type_name.to_string())
        .or_default() += 1;
    {
        let mut left = s.failures_left.lock().unwrap();
        if let Some(n) = left.get_mut(type_name) {
            if *n > 0 {
                if *n != u64::MAX {
                    *n -= 1;
                }
                stats.server_errors.fetch_add(1, Ordering::SeqCst);
                return json_error(500, "ServiceInternalErrorException", "internal error");
            }
        }
    }
    if t.no_list {
        return json_error(
            400,
            "UnsupportedActionException",
            &format!("Resource type {type_name} does not support LIST action"),
        );
    }
    if t.access_denied {
        return json_error(
            400,
            "com.amazon.coral.service#AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/audit is not authorized to perform this action",
        );
    }
    let model: Option<Value> = req
        .get("ResourceModel")
        .and_then(Value::as_str)
        .and_then(|m| serde_json::from_str(m).ok());
    let missing: Vec<&String> = t
        .list_required
        .iter()
        .filter(|p| model.as_ref().and_then(|m| m.get(*p)).is_none())
        .collect();
    if !missing.is_empty() {
        return json_error(
            400,
            "InvalidRequestException",
            &format!(
                "Missing or invalid ResourceModel property in {type_name} list handler request input.Required property: (#: required key [{}] not found)",
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    for (value, only_in) in &t.value_regions {
        let asked = model
            .as_ref()
            .and_then(|m| m.as_object())
            .is_some_and(|m| m.values().any(|v| v == value.as_str()));
        if asked && *only_in != region {
            return json_error(
                400,
                "InvalidRequestException",
                &format!("{value} is only valid in {only_in}"),
            );
        }
    }
    let items = s.account.matching(t, model.as_ref());
    // Token "p<page>.<offset>": the handler's own page sizes, whatever MaxResults says.
    let (page, offset) = match req.get("NextToken").and_then(Value::as_str) {
        None => (0usize, 0usize),
        Some(tok) => {
            let parsed = tok
                .strip_prefix('p')
                .and_then(|r| r.split_once('.'))
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
            match parsed {
                Some(p) => p,
                None => return json_error(400, "InvalidRequestException", "invalid NextToken"),
            }
        }
    };
    let size = t.page_sizes[page % t.page_sizes.len()].max(1);
    let end = (offset + size).min(items.len());
    let descriptions: Vec<Value> = items[offset.min(end)..end]
        .iter()
        .map(|r| json!({"Identifier": r.identifier, "Properties": r.properties.to_string()}))
        .collect();
    let mut out = json!({"TypeName": type_name, "ResourceDescriptions": descriptions});
    if t.repeat_token && end < items.len() {
        out["NextToken"] = json!(format!("p{}.{}", 1, size.min(items.len())));
    } else if end < items.len() {
        out["NextToken"] = json!(format!("p{}.{end}", page + 1));
    }
    (
        [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amzn-requestid", "fake-request"),
        ],
        out.to_string(),
    )
        .into_response()
}

/// `GetResource`: the read handler's model, the listed properties plus the account's
/// `read_models`, as a JSON string in `ResourceDescription.Properties`; an unknown identifier is
/// `ResourceNotFoundException`, as the real service answers.
fn get_resource(s: &Shared, body: &[u8]) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return json_error(400, "SerializationException", "body is not JSON");
    };
    let (Some(type_name), Some(id)) = (
        req.get("TypeName").and_then(Value::as_str),
        req.get("Identifier").and_then(Value::as_str),
    ) else {
        return json_error(
            400,
            "ValidationException",
            "TypeName and Identifier are required",
        );
    };
    let found = s
        .account
        .types
        .get(type_name)
        .and_then(|t| t.resources.iter().find(|r| r.identifier == id));
    let Some(found) = found else {
        return json_error(
            400,
            "ResourceNotFoundException",
            &format!("{type_name} Handler returned status FAILED: Resource of type '{type_name}' with identifier '{id}' was not found."),
        );
    };
    let mut model = found.properties.clone();
    if let (Some(m), Some(Value::Object(extra))) = (
        model.as_object_mut(),
        s.account
            .read_models
            .get(&(type_name.to_string(), id.to_string())),
    ) {
        m.extend(extra.clone());
    }
    let out = json!({
        "TypeName": type_name,
        "ResourceDescription": {"Identifier": id, "Properties": model.to_string()},
    });
    (
        [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amzn-requestid", "fake-request"),
        ],
        out.to_string(),
    )
        .into_response()
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn query_error(status: u16, code: &str, message: &str) -> Response {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>fake-request</RequestId></ErrorResponse>",
        xml_escape(message)
    );
    (
        StatusCode::from_u16(status).expect("status"),
        [("content-type", "text/xml")],
        body,
    )
        .into_response()
}

fn query_ok(action: &str, result: String) -> Response {
    let body = format!(
        "<{action}Response xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata></{action}Response>"
    );
    ([("content-type", "text/xml")], body).into_response()
}

/// Default registry page size of the fake (see `Account::list_types_page`).
const LIST_TYPES_PAGE: usize = 7;

pub async fn cloudformation(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let stats = &s.stats;
    let _busy = super::InFlight::enter(stats);
    stats.cfn_requests.fetch_add(1, Ordering::SeqCst);
    let region = match check_sigv4(&headers, "cloudformation", &s.access_key) {
        Ok(r) => r,
        Err((status, code, msg)) => {
            stats.unsigned_rejected.fetch_add(1, Ordering::SeqCst);
            return query_error(status, code, &msg);
        }
    };
    *stats
        .regions
        .lock()
        .unwrap()
        .entry(format!("cloudformation/{region}"))
        .or_default() += 1;
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return query_error(
            400,
            "InvalidAction",
            "expected a form-encoded query request",
        );
    }
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("Version").map(String::as_str) != Some("2010-05-15") {
        return query_error(400, "InvalidAction", "missing or wrong Version");
    }
    if !s.cfn_bucket.lock().unwrap().take() {
        stats.throttled.fetch_add(1, Ordering::SeqCst);
        return query_error(400, "Throttling", "Rate exceeded");
    }
    let get = |k: &str| form.get(k).map(String::as_str);
    match get("Action") {
        Some("ListTypes") => {
            let max: usize = get("MaxResults")
                .and_then(|m| m.parse().ok())
                .unwrap_or(100);
            let page = max
                .clamp(1, 100)
                .min(s.account.list_types_page.unwrap_or(LIST_TYPES_PAGE));
            let wanted: Vec<_> = s
                .account
                .types
                .values()
                // Every fake type is public; ListTypes defaults to PRIVATE visibility.
                .filter(|_| get("Visibility") == Some("PUBLIC"))
                .filter(|t| get("ProvisioningType").is_none_or(|p| p == t.provisioning))
                .filter(|t| get("Filters.Category") != Some("AWS_TYPES") || t.aws_owned)
                .filter(|_| get("Type").is_none_or(|ty| ty == "RESOURCE"))
                .collect();
            let start: usize = match get("NextToken") {
                None => 0,
                Some(tok) => match tok.strip_prefix("types-").and_then(|n| n.parse().ok()) {
                    Some(n) => n,
                    None => return query_error(400, "ValidationError", "invalid NextToken"),
                },
            };
            let end = (start + page).min(wanted.len());
            let mut result = String::from("<TypeSummaries>");
            for t in &wanted[start.min(end)..end] {
                result.push_str(&format!(
                    "<member><Type>RESOURCE</Type><TypeName>{}</TypeName><Description>fake</Description></member>",
                    xml_escape(&t.name)
                ));
            }
            result.push_str("</TypeSummaries>");
            if end < wanted.len() {
                result.push_str(&format!("<NextToken>types-{end}</NextToken>"));
            }
            query_ok("ListTypes", result)
        }
        Some("DescribeType") => {
            let Some(name) = get("TypeName") else {
                return query_error(400, "ValidationError", "TypeName is required");
            };
            *stats
                .described
                .lock()
                .unwrap()
                .entry(name.to_string())
                .or_default() += 1;
            let Some(t) = s.account.types.get(name) else {
                return query_error(
                    404,
                    "TypeNotFoundException",
                    &format!("The type {name} cannot be found."),
                );
            };
            let result = format!(
                "<Type>RESOURCE</Type><TypeName>{}</TypeName><Schema>{}</Schema><ProvisioningType>{}</ProvisioningType><Visibility>PUBLIC</Visibility>",
                xml_escape(name),
                xml_escape(&t.schema().to_string()),
                t.provisioning
            );
            query_ok("DescribeType", result)
        }
        _ => query_error(400, "InvalidAction", "unknown action"),
    }
}
