//! A fake Azure Resource Manager for one subscription. It models the real service's wire
//! behaviour that the scanner depends on:
//! - bearer authentication: no or unknown token -> 401 with `WWW-Authenticate` and ARM's error shape
//!   `{"error": {"code": "InvalidAuthenticationToken", "message": ...}}`;
//! - `api-version` is required (400 `MissingApiVersionParameter`);
//! - `GET /subscriptions` (the fake's own subscription, named `fake subscription`, then
//!   `other_subscriptions`, paged like every list), `GET /subscriptions/{id}`,
//!   `/subscriptions/{id}/resourcegroups` and
//!   `/subscriptions/{id}/resources` (paths are case-insensitive, as in ARM), the latter with
//!   `$filter=location eq '<location>'` (other filters: 400 `InvalidFilterInQueryString`);
//! - child collections under a resource id (`.../virtualNetworks/v/subnets`), an empty list when the
//!   parent exists without children, 404 `ResourceNotFound` when it does not;
//! - paging by absolute `nextLink` URLs carrying a `$skiptoken`;
//! - throttling: a 250-read bucket refilled at 25/s reported in
//!   `x-ms-ratelimit-remaining-subscription-reads`, and injected `429 TooManyRequests` with
//!   `Retry-After` (seconds);
//! - AKS: the subscription's managed clusters, and `POST .../listClusterUserCredential` (a read
//!   action) answering the user kubeconfig base64-encoded, as ARM does;
//! - injected persistent `500 InternalServerError` and `403 AuthorizationFailed` on chosen paths.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::entra::Entra;

pub struct FakeArm {
    pub subscription: String,
    pub groups: Vec<Value>,
    pub resources: Vec<Value>,
    /// Child lists by lowercased `{parent id}{/collection path}`.
    pub children: HashMap<String, Vec<Value>>,
    /// AKS clusters (`GET .../providers/Microsoft.ContainerService/managedClusters`), each with the
    /// user kubeconfig `POST {id}/listClusterUserCredential` returns (base64 in `kubeconfigs[0]`).
    pub managed_clusters: Vec<(Value, String)>,
    /// Further entries of `GET /subscriptions` (their own paths answer `SubscriptionNotFound`).
    pub other_subscriptions: Vec<Value>,
    pub page_size: usize,
    /// The next this-many requests are answered 429.
    pub throttle_next: AtomicU32,
    pub retry_after_secs: u32,
    /// Lowercased path prefixes answered 500 every time.
    pub fail_paths: Vec<String>,
    /// Lowercased path prefixes whose `nextLink` sticks: every page after the first links back to
    /// the second page again.
    pub stuck_paths: Vec<String>,
    /// Lowercased path prefixes answered 403 `AuthorizationFailed` (a role without that read).
    pub forbid_paths: Vec<String>,
    /// Every request (path and query) that got past authentication.
    pub requests: Mutex<Vec<String>>,
    pub throttled: AtomicU32,
    pub unauthorized: AtomicU32,
    pub entra: Arc<Entra>,
    pub base: Mutex<String>,
    bucket: Mutex<(f64, Instant)>,
}

impl FakeArm {
    pub fn new(subscription: &str, entra: Arc<Entra>) -> FakeArm {
        FakeArm {
            subscription: subscription.into(),
            groups: Vec::new(),
            resources: Vec::new(),
            children: HashMap::new(),
            other_subscriptions: Vec::new(),
            managed_clusters: Vec::new(),
            page_size: 2,
            stuck_paths: Vec::new(),
            throttle_next: AtomicU32::new(0),
            retry_after_secs: 1,
            fail_paths: Vec::new(),
            forbid_paths: Vec::new(),
            requests: Mutex::new(Vec::new()),
            throttled: AtomicU32::new(0),
            unauthorized: AtomicU32::new(0),
            entra,
            base: Mutex::new(String::new()),
            bucket: Mutex::new((250.0, Instant::now())),
        }
    }

    pub fn group(&mut self, name: &str, location: &str) {
        self.groups.push(json!({
            "id": format!("/subscriptions/{}/resourceGroups/{name}", self.subscription),
            "name": name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "properties": {"provisioningState": "Succeeded"},
        }));
    }

    /// Adds a tracked resource; returns its id.
    pub fn resource(
        &mut self,
        group: &str,
        arm_type: &str,
        name: &str,
        location: &str,
        kind: Option<&str>,
    ) -> String {
        let (ns, ty) = arm_type.split_once('/').unwrap();
        let id = format!(
            "/subscriptions/{}/resourceGroups/{group}/providers/{ns}/{ty}/{name}",
            self.subscription
        );
        let mut v = json!({"id": id, "name": name, "type": arm_type, "location": location});
        if let Some(k) = kind {
            v["kind"] = json!(k);
        }
        self.resources.push(v);
        id
    }

    /// Adds a child (proxy) resource listed at `{parent}{collection}`; returns its id.
    pub fn child(
        &mut self,
        parent: &str,
        collection: &str,
        child_type: &str,
        name: &str,
    ) -> String {
        let id = format!("{parent}{collection}/{name}");
        self.children
            .entry(format!("{parent}{collection}").to_ascii_lowercase())
            .or_default()
            .push(json!({"id": id, "name": name, "type": child_type}));
        id
    }

    /// Adds a child listed at `{parent}{collection}` whose id is not `{collection}/{name}` (DNS
    /// record sets: `.../dnsZones/z/A/www`, listed at `.../dnsZones/z/recordsets`).
    pub fn child_with_id(
        &mut self,
        parent: &str,
        collection: &str,
        child_type: &str,
        relative_id: &str,
    ) -> String {
        let id = format!("{parent}/{relative_id}");
        let name = relative_id.rsplit('/').next().unwrap_or(relative_id);
        self.children
            .entry(format!("{parent}{collection}").to_ascii_lowercase())
            .or_default()
            .push(json!({"id": id, "name": name, "type": child_type}));
        id
    }

    pub fn request_log(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn remaining_reads(&self) -> f64 {
        let mut b = self.bucket.lock().unwrap();
        let now = Instant::now();
        b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * 25.0).min(250.0);
        b.1 = now;
        b.0 = (b.0 - 1.0).max(0.0);
        b.0
    }
}

fn arm_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn query_pairs(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

impl FakeArm {
    fn page(&self, path: &str, query: &HashMap<String, String>, items: Vec<Value>) -> Response {
        let start: usize = query
            .get("$skiptoken")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let end = (start + self.page_size).min(items.len());
        let mut body = json!({"value": items.get(start..end).unwrap_or(&[]).to_vec()});
        if end < items.len() {
            let mut next =
                url::Url::parse(&format!("{}{path}", self.base.lock().unwrap())).unwrap();
            {
                let mut q = next.query_pairs_mut();
                for (k, v) in query {
                    if k != "$skiptoken" {
                        q.append_pair(k, v);
                    }
                }
                let lower = path.to_ascii_lowercase();
                let stuck = self.stuck_paths.iter().any(|p| lower.starts_with(p));
                let next_start = if stuck { self.page_size } else { end };
                q.append_pair("$skiptoken", &next_start.to_string());
            }
            body["nextLink"] = json!(next.as_str());
        }
        Json(body).into_response()
    }

    fn route(&self, path: &str, query: &HashMap<String, String>) -> Response {
        let lower = path.to_ascii_lowercase();
        let sub = format!("/subscriptions/{}", self.subscription.to_ascii_lowercase());
        if lower == "/subscriptions" {
            let mut all = vec![json!({
                "id": format!("/subscriptions/{}", self.subscription),
                "subscriptionId": self.subscription,
                "displayName": "fake subscription",
                "state": "Enabled",
                "tenantId": super::TENANT,
            })];
            all.extend(self.other_subscriptions.iter().cloned());
            return self.page(path, query, all);
        }
        if !lower.starts_with(&sub) {
            return arm_error(
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                "The subscription could not be found.",
            );
        }
        let rest = &lower[sub.len()..];
        match rest {
            "" => Json(json!({
                "id": format!("/subscriptions/{}", self.subscription),
                "subscriptionId": self.subscription,
                "displayName": "fake subscription",
                "state": "Enabled",
            }))
            .into_response(),
            "/resourcegroups" => self.page(path, query, self.groups.clone()),
            "/providers/microsoft.containerservice/managedclusters" => {
                let items = self
                    .managed_clusters
                    .iter()
                    .map(|(c, _)| c.clone())
                    .collect();
                self.page(path, query, items)
            }
            "/resources" => {
                let items: Vec<Value> = match query.get("$filter") {
                    None => self.resources.clone(),
                    Some(f) => {
                        let Some(loc) = f
                            .strip_prefix("location eq '")
                            .and_then(|s| s.strip_suffix('\''))
                        else {
                            return arm_error(
                                StatusCode::BAD_REQUEST,
                                "InvalidFilterInQueryString",
                                "Invalid $filter.",
                            );
                        };
                        self.resources
                            .iter()
                            .filter(|r| {
                                r["location"]
                                    .as_str()
                                    .is_some_and(|l| l.eq_ignore_ascii_case(loc))
                            })
                            .cloned()
                            .collect()
                    }
                };
                self.page(path, query, items)
            }
            _ => {
                if let Some(items) = self.children.get(&lower) {
                    return self.page(path, query, items.clone());
                }
                let parent_exists = self.resources.iter().any(|r| {
                    let id = r["id"].as_str().unwrap_or("").to_ascii_lowercase();
                    lower.starts_with(&format!("{id}/"))
                });
                if parent_exists {
                    self.page(path, query, Vec::new())
                } else {
                    arm_error(
                        StatusCode::NOT_FOUND,
                        "ResourceNotFound",
                        "The Resource was not found.",
                    )
                }
            }
        }
    }
}

/// `POST {cluster id}/listClusterUserCredential`: the only POST the fake answers (a read action;
/// any other POST is refused as ARM refuses an unknown action).
fn list_user_credential(arm: &FakeArm, path: &str) -> Response {
    let lower = path.to_ascii_lowercase();
    let Some(id) = lower.strip_suffix("/listclusterusercredential") else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidResourceType",
            "The resource type could not be found for this action.",
        );
    };
    let found = arm
        .managed_clusters
        .iter()
        .find(|(c, _)| c["id"].as_str().unwrap_or("").to_ascii_lowercase() == id);
    match found {
        Some((_, kubeconfig)) => {
            use base64::Engine as _;
            let value = base64::engine::general_purpose::STANDARD.encode(kubeconfig);
            Json(json!({"kubeconfigs": [{"name": "clusterUser", "value": value}]})).into_response()
        }
        None => arm_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "The Resource was not found.",
        ),
    }
}

async fn handle(
    State(arm): State<Arc<FakeArm>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !token.is_some_and(|t| arm.entra.is_valid(t)) {
        arm.unauthorized.fetch_add(1, Ordering::SeqCst);
        let mut r = arm_error(
            StatusCode::UNAUTHORIZED,
            if token.is_some() {
                "InvalidAuthenticationToken"
            } else {
                "AuthenticationFailed"
            },
            "Authentication failed.",
        );
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static(
                "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\"",
            ),
        );
        return r;
    }
    let path = uri.path().to_string();
    let query = query_pairs(&uri);
    arm.requests
        .lock()
        .unwrap()
        .push(format!("{}?{}", path, uri.query().unwrap_or("")));
    let remaining = arm.remaining_reads();
    let mut response = if arm
        .throttle_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        arm.throttled.fetch_add(1, Ordering::SeqCst);
        let mut r = arm_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Number of read requests for subscription exceeded the limit.",
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(arm.retry_after_secs));
        r
    } else if !query.contains_key("api-version") {
        arm_error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    } else if arm
        .fail_paths
        .iter()
        .any(|p| path.to_ascii_lowercase().starts_with(p))
    {
        arm_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Encountered internal server error.",
        )
    } else if arm
        .forbid_paths
        .iter()
        .any(|p| path.to_ascii_lowercase().starts_with(p))
    {
        arm_error(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            "The client does not have authorization to perform action over scope.",
        )
    } else if method == axum::http::Method::POST {
        list_user_credential(&arm, &path)
    } else {
        arm.route(&path, &query)
    };
    response.headers_mut().insert(
        "x-ms-ratelimit-remaining-subscription-reads",
        HeaderValue::from(remaining as u64),
    );
    response
}

pub fn router(arm: Arc<FakeArm>) -> Router {
    Router::new().fallback(handle).with_state(arm)
}
