//! A fake Microsoft Entra token endpoint: `POST /{tenant}/oauth2/v2.0/token` with the OAuth2
//! client-credentials grant, as azure_identity's ClientSecretCredential and
//! ClientAssertionCredential/WorkloadIdentityCredential send it (form fields `grant_type`,
//! `client_id`, `scope`, and `client_secret` or `client_assertion_type` +
//! `client_assertion`). Answers like Entra: 200 with `token_type`, `expires_in`, `access_token`;
//! 400/401 with `error`, `error_description` ("AADSTS..."), `error_codes`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The AKS server application's scope: its tokens are for AKS API servers, not for ARM.
pub const AKS_SCOPE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";

/// Who may get a token, and the tokens handed out (shared with the fake ARM).
pub struct Entra {
    pub tenant: String,
    pub client_id: String,
    /// The accepted client secret, if secrets are allowed.
    pub secret: Option<String>,
    /// The accepted federated assertion (the OIDC token), if assertions are allowed.
    pub assertion: Option<String>,
    pub issued: Mutex<Vec<String>>,
    /// Tokens issued for the AKS server application (their audience is AKS, so ARM refuses them).
    pub issued_for_aks: Mutex<Vec<String>>,
    /// Grants seen, by kind ("secret" / "assertion").
    pub grants: Mutex<HashMap<&'static str, u32>>,
    counter: AtomicU64,
}

impl Entra {
    pub fn new(tenant: &str, client_id: &str) -> Entra {
        Entra {
            tenant: tenant.into(),
            client_id: client_id.into(),
            secret: None,
            assertion: None,
            issued: Mutex::new(Vec::new()),
            issued_for_aks: Mutex::new(Vec::new()),
            grants: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(1),
        }
    }

    pub fn is_valid(&self, token: &str) -> bool {
        self.issued.lock().unwrap().iter().any(|t| t == token)
    }

    /// Whether `token` was issued with the AKS server application as its audience.
    pub fn is_aks_token(&self, token: &str) -> bool {
        self.issued_for_aks
            .lock()
            .unwrap()
            .iter()
            .any(|t| t == token)
    }

    pub fn grants(&self, kind: &str) -> u32 {
        self.grants.lock().unwrap().get(kind).copied().unwrap_or(0)
    }
}

fn error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    (
        status,
        Json(json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}"),
            "error_codes": [code],
        })),
    )
        .into_response()
}

async fn token(
    State(entra): State<Arc<Entra>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str);
    if tenant != entra.tenant {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            "Tenant not found.",
        );
    }
    if field("grant_type") != Some("client_credentials") {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != Some(entra.client_id.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application not found in the directory.",
        );
    }
    let for_aks = field("scope") == Some(AKS_SCOPE);
    if field("scope") != Some(ARM_SCOPE) && !for_aks {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
        );
    }
    let kind = if let Some(secret) = field("client_secret") {
        if entra.secret.as_deref() != Some(secret) {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided.",
            );
        }
        "secret"
    } else if field("client_assertion_type") == Some(ASSERTION_TYPE) {
        if entra.assertion.is_none() || entra.assertion.as_deref() != field("client_assertion") {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                700211,
                "No matching federated identity record found for presented assertion.",
            );
        }
        "assertion"
    } else {
        return error(StatusCode::UNAUTHORIZED, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    };
    *entra.grants.lock().unwrap().entry(kind).or_default() += 1;
    let n = entra.counter.fetch_add(1, Ordering::SeqCst);
    let access_token = if for_aks {
        let t = format!("fake-aks-token-{n}");
        entra.issued_for_aks.lock().unwrap().push(t.clone());
        t
    } else {
        let t = format!("fake-arm-token-{n}");
        entra.issued.lock().unwrap().push(t.clone());
        t
    };
    Json(json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": access_token,
    }))
    .into_response()
}

pub fn router(entra: Arc<Entra>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .with_state(entra)
}
