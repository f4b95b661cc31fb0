//! OCI's HTTP request signature: the `Authorization: Signature ...` header every OCI API call carries.
//!
//! OCI uses a profile of the draft-cavage HTTP Signatures scheme: an RSA-SHA256 (PKCS#1 v1.5) signature
//! over a "signing string" of selected headers, with key id `<tenancy>/<user>/<fingerprint>`. The RSA
//! and SHA-256 work is done by the `rsa` and `sha2` crates; only the signing string and the header are
//! assembled here, by hand, because no maintained Rust crate implements OCI's variant of the scheme
//! (the header set and the body-hash header are OCI-specific).

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

/// Headers signed on every request, in order.
const BASE_HEADERS: [&str; 3] = ["(request-target)", "date", "host"];
/// Headers also signed on requests with a body (POST, PUT, PATCH), in order.
const BODY_HEADERS: [&str; 3] = ["x-content-sha256", "content-type", "content-length"];

/// Signs requests with one API key.
pub struct RequestSigner {
    key_id: String,
    key: SigningKey<Sha256>,
}

impl std::fmt::Debug for RequestSigner {
    // The key stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl RequestSigner {
    /// `key_id` is `<tenancy OCID>/<user OCID>/<key fingerprint>`.
    pub fn new(key_id: impl Into<String>, key: RsaPrivateKey) -> Self {
        RequestSigner {
            key_id: key_id.into(),
            key: SigningKey::<Sha256>::new(key),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `req` now: sets `date`, `host`, the body headers when the method carries a body, and
    /// `authorization`.
    pub fn sign(&self, req: &mut reqwest::Request) {
        self.sign_at(req, SystemTime::now())
    }

    /// Signs `req` as of `date` (tests use a fixed date to compare with a known answer).
    pub fn sign_at(&self, req: &mut reqwest::Request, date: SystemTime) {
        let method = req.method().as_str().to_ascii_lowercase();
        let url = req.url();
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        // The Host header as the HTTP client sends it: the port appears only when it is not the
        // scheme's default, which is what `Url::port` reports.
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => String::new(),
        };
        let has_body = matches!(method.as_str(), "post" | "put" | "patch");
        let body: Vec<u8> = req
            .body()
            .and_then(|b| b.as_bytes())
            .map(<[u8]>::to_vec)
            .unwrap_or_default();

        let headers = req.headers_mut();
        set(headers, "date", &httpdate::fmt_http_date(date));
        set(headers, "host", &host);
        let mut names: Vec<&str> = BASE_HEADERS.to_vec();
        if has_body {
            set(
                headers,
                "x-content-sha256",
                &BASE64.encode(Sha256::digest(&body)),
            );
            if !headers.contains_key("content-type") {
                set(headers, "content-type", "application/json");
            }
            set(headers, "content-length", &body.len().to_string());
            names.extend(BODY_HEADERS);
        }

        let mut pairs: Vec<(&str, String)> = Vec::with_capacity(names.len());
        for name in &names {
            let value = if *name == "(request-target)" {
                format!("{method} {target}")
            } else {
                headers
                    .get(*name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            pairs.push((name, value));
        }
        let text = signing_string(&pairs);
        let signature = BASE64.encode(self.key.sign(text.as_bytes()).to_bytes());
        let auth = format!(
            r#"Signature version="1",keyId="{}",algorithm="rsa-sha256",headers="{}",signature="{}""#,
            self.key_id,
            names.join(" "),
            signature
        );
        set(headers, "authorization", &auth);
    }
}

/// The text that is signed: one `name: value` line per signed header, in the order of the
/// `headers` parameter, joined by newlines (no trailing newline).
pub fn signing_string(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    // Values are built from URLs, dates, numbers and base64, all valid header text.
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}
