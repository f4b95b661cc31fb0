//! The three read-only OCI APIs the scanner calls, signed and retried: Resource Search (the
//! inventory), Identity's compartment list (the tree to search) and Object Storage's GetNamespace
//! (needed to build bucket ids).
//!
//! Every call goes through the shared [`RetryPolicy`] and one [`RateGovernor`] for the tenancy, with
//! the shared HTTP verdict (`http::verdict`: 429 slows the governor and waits out `retry-after`, 5xx,
//! `409 IncorrectState` and transport errors are retried with backoff, anything else fails at once).
//! Lists are paged by the `opc-next-page` response header, passed back as the `page` query parameter
//! and checked by the shared repeated-token guard.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::signer::RequestSigner;
use crate::cloud::Cloud;
use crate::http::paging::{PageTokens, RepeatedToken};
use crate::http::verdict::{self, verdict};
use crate::http::ServiceError;
use crate::retry::{RateGovernor, RetryPolicy, Verdict};

/// Largest page Resource Search and Identity accept.
const PAGE_LIMIT: &str = "1000";

/// Base URLs of the services, per region or overridden (tests point all three at one fake).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub identity: Url,
    pub query: Url,
    pub object_storage: Url,
}

impl Endpoints {
    /// The public endpoints of a commercial-realm region (`oraclecloud.com`).
    pub fn for_region(region: &str) -> Result<Self, url::ParseError> {
        Ok(Endpoints {
            identity: Url::parse(&format!("https://identity.{region}.oraclecloud.com"))?,
            query: Url::parse(&format!("https://query.{region}.oraclecloud.com"))?,
            object_storage: Url::parse(&format!("https://objectstorage.{region}.oraclecloud.com"))?,
        })
    }

    /// One base URL for every service.
    pub fn single(base: &str) -> Result<Self, url::ParseError> {
        let url = Url::parse(base)?;
        Ok(Endpoints {
            identity: url.clone(),
            query: url.clone(),
            object_storage: url,
        })
    }
}

/// A failed call, after retries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The service answered with an error: OCI bodies are `{"code": ..., "message": ...}`.
    #[error("{0}")]
    Status(ServiceError),
    #[error("request failed: {0}")]
    Transport(String),
    #[error("unexpected response: {0}")]
    Decode(String),
    #[error("{0}")]
    RepeatedToken(#[from] RepeatedToken),
}

fn classify(e: &ApiError) -> Verdict {
    match e {
        ApiError::Status(s) => verdict(Cloud::Oci, s.status, &s.code, s.retry_after),
        ApiError::Transport(_) => verdict::transport(),
        ApiError::Decode(_) | ApiError::RepeatedToken(_) => Verdict::Fail,
    }
}

/// A compartment, as Identity's ListCompartments returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Compartment {
    pub id: String,
    pub name: String,
    /// The parent compartment.
    pub compartment_id: String,
    #[serde(default)]
    pub lifecycle_state: String,
}

/// One Resource Search hit (`ResourceSummary`), with the fields the scanner uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSummary {
    pub resource_type: String,
    pub identifier: String,
    #[serde(default)]
    pub compartment_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub lifecycle_state: Option<String>,
    /// Filled only for queries with a `return` clause.
    #[serde(default)]
    pub additional_details: Option<Map<String, Value>>,
    /// Extra identifiers for types a single OCID cannot fetch.
    #[serde(default)]
    pub identity_context: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct SearchCollection {
    #[serde(default)]
    items: Vec<ResourceSummary>,
}

/// A signed, retried client for the APIs above.
#[derive(Debug, Clone)]
pub struct OciApi {
    http: reqwest::Client,
    signer: Arc<RequestSigner>,
    endpoints: Endpoints,
    governor: Arc<RateGovernor>,
    policy: RetryPolicy,
}

impl OciApi {
    pub fn new(signer: RequestSigner, endpoints: Endpoints, policy: RetryPolicy) -> Self {
        OciApi {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(20))
                .timeout(crate::http::CALL_DEADLINE)
                .build()
                .unwrap_or_default(),
            signer: Arc::new(signer),
            endpoints,
            // Resource Search and Identity allow on the order of tens of calls per second per
            // tenancy; start below that and let the governor find the real limit.
            governor: Arc::new(RateGovernor::new(10.0, 30.0, 5.0)),
            policy,
        }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn governor(&self) -> &RateGovernor {
        &self.governor
    }

    /// Every compartment of the tenancy, at any depth (ListCompartments with
    /// `compartmentIdInSubtree=true`, which Identity allows only on the root compartment), active or
    /// not; the caller filters.
    pub async fn list_compartments(&self, tenancy: &str) -> Result<Vec<Compartment>, ApiError> {
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        let mut tokens = PageTokens::new();
        loop {
            let mut url = self
                .endpoints
                .identity
                .join("/20160918/compartments")
                .map_err(decode)?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("compartmentId", tenancy)
                    .append_pair("compartmentIdInSubtree", "true")
                    .append_pair("accessLevel", "ANY")
                    .append_pair("lifecycleState", "ACTIVE")
                    .append_pair("limit", PAGE_LIMIT);
                if let Some(p) = &page {
                    q.append_pair("page", p);
                }
            }
            let (body, next) = self.call(Method::GET, url, None).await?;
            let items: Vec<Compartment> = serde_json::from_value(body).map_err(decode)?;
            out.extend(items);
            match tokens.next(next)? {
                Some(n) => page = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// One page of a structured Resource Search query, and the token of the next page.
    pub async fn search_page(
        &self,
        query: &str,
        page: Option<&str>,
    ) -> Result<(Vec<ResourceSummary>, Option<String>), ApiError> {
        let mut url = self
            .endpoints
            .query
            .join("/20180409/resources")
            .map_err(decode)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", PAGE_LIMIT);
            if let Some(p) = page {
                q.append_pair("page", p);
            }
        }
        let body = serde_json::json!({ "type": "Structured", "query": query });
        let (body, next) = self.call(Method::POST, url, Some(body)).await?;
        let page: SearchCollection = serde_json::from_value(body).map_err(decode)?;
        Ok((page.items, next))
    }

    /// The tenancy's Object Storage namespace (GetNamespace), part of every bucket id.
    pub async fn namespace(&self) -> Result<String, ApiError> {
        let url = self.endpoints.object_storage.join("/n/").map_err(decode)?;
        let (body, _) = self.call(Method::GET, url, None).await?;
        body.as_str()
            .map(str::to_string)
            .ok_or_else(|| ApiError::Decode("GetNamespace did not return a string".into()))
    }

    /// One signed call with retries; returns the JSON body and the `opc-next-page` header.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<(Value, Option<String>), ApiError> {
        let body = body.map(|b| b.to_string());
        self.policy
            .run(Some(&self.governor), classify, || {
                self.once(method.clone(), url.clone(), body.clone())
            })
            .await
    }

    async fn once(
        &self,
        method: Method,
        url: Url,
        body: Option<String>,
    ) -> Result<(Value, Option<String>), ApiError> {
        let mut builder = self
            .http
            .request(method, url)
            .header("accept", "application/json");
        if let Some(b) = body {
            builder = builder.header("content-type", "application/json").body(b);
        }
        let mut req = builder.build().map_err(transport)?;
        // Signed per attempt: the date header must be fresh (OCI rejects clock skew over 5 minutes).
        self.signer.sign(&mut req);
        let resp = self.http.execute(req).await.map_err(transport)?;
        let status = resp.status();
        let next = resp
            .headers()
            .get("opc-next-page")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(crate::http::retry_after::parse);
        let bytes = resp.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(status_error(status, &bytes, retry_after));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(decode)?;
        Ok((value, next))
    }
}

fn status_error(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> ApiError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |k: &str| {
        parsed
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    ApiError::Status(ServiceError {
        status: status.as_u16(),
        code: field("code"),
        message: field("message"),
        retry_after,
    })
}

fn transport(e: reqwest::Error) -> ApiError {
    // Without the URL: it may carry query values we do not print.
    ApiError::Transport(e.without_url().to_string())
}

fn decode(e: impl std::fmt::Display) -> ApiError {
    ApiError::Decode(e.to_string())
}
