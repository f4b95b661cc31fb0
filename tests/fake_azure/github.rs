//! A fake GitHub Actions OIDC token endpoint (the `ACTIONS_ID_TOKEN_REQUEST_URL` a job with
//! `id-token: write` gets): `GET <url>?api-version=2.0&audience=<aud>` with
//! `Authorization: Bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>` answers `{"count": 1, "value": "<jwt>"}`;
//! a missing or wrong request token gets 401, a missing audience is answered with the default one
//! (which Entra would then reject), modelled here as 400 so a test notices.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub const PATH: &str = "/_apis/distributedtask/hubs/Build/plans/p1/jobs/j1/idtoken";

pub struct GithubOidc {
    pub request_token: String,
    pub jwt: String,
    pub served: AtomicU32,
}

async fn idtoken(
    State(gh): State<Arc<GithubOidc>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(gh.request_token.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    if q.get("audience").map(String::as_str) != Some("api://AzureADTokenExchange") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "unexpected audience"})),
        )
            .into_response();
    }
    gh.served.fetch_add(1, Ordering::SeqCst);
    Json(json!({"count": 1, "value": gh.jwt})).into_response()
}

pub fn router(gh: Arc<GithubOidc>) -> Router {
    Router::new().route(PATH, get(idtoken)).with_state(gh)
}
