//! Azure credentials: picks one azure_identity credential from the same `ARM_*` / `AZURE_*`
//! variables the azure-native provider and Pulumi ESC's `azure-login` use, in this order:
//! 1. client secret: `ARM_CLIENT_SECRET` (or `AZURE_CLIENT_SECRET`) with the client and tenant ids;
//! 2. OIDC / workload identity: `ARM_USE_OIDC` with `ARM_OIDC_TOKEN`, or a federated token file
//!    (`ARM_OIDC_TOKEN_FILE_PATH` or `AZURE_FEDERATED_TOKEN_FILE`), or GitHub Actions' token request
//!    endpoint (`ARM_OIDC_REQUEST_URL` + `ARM_OIDC_REQUEST_TOKEN`, or the `ACTIONS_ID_TOKEN_REQUEST_*`
//!    variables GitHub sets), with the client and tenant ids;
//! 3. managed identity: `ARM_USE_MSI=true`, or the App Service variables `IDENTITY_ENDPOINT` /
//!    `MSI_ENDPOINT`; `ARM_CLIENT_ID` selects a user-assigned identity;
//! 4. the Azure CLI login, when `az` is on `PATH` (and `ARM_USE_CLI` is not `false`).
//!
//! The Entra authority is `AZURE_AUTHORITY_HOST` when set, else the one of `ARM_ENVIRONMENT`
//! (`public`, `usgovernment`, `china`). No value read here is ever logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::headers::{HeaderName, AUTHORIZATION};
use azure_core::http::{ClientMethodOptions, ClientOptions, HttpClient, Method, Request, Url};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertion, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use crate::input_error::InputError;

/// An Azure cloud: where its Entra authority and its Resource Manager are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureCloud {
    pub authority_host: String,
    pub resource_manager: String,
    /// The token scope for Resource Manager.
    pub scope: String,
}

impl AzureCloud {
    /// From `ARM_ENVIRONMENT` (default public) and an `AZURE_AUTHORITY_HOST` override.
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<AzureCloud, InputError> {
        let name = env("ARM_ENVIRONMENT").unwrap_or_else(|| "public".into());
        let (authority, arm) = match name.to_ascii_lowercase().as_str() {
            "public" | "azurecloud" | "" => (
                "https://login.microsoftonline.com",
                "https://management.azure.com",
            ),
            "usgovernment" | "azureusgovernment" => (
                "https://login.microsoftonline.us",
                "https://management.usgovcloudapi.net",
            ),
            "china" | "azurechinacloud" => (
                "https://login.chinacloudapi.cn",
                "https://management.chinacloudapi.cn",
            ),
            _ => {
                return Err(InputError::new(format!(
                    "ARM_ENVIRONMENT must be public, usgovernment or china, not {name:?}"
                )))
            }
        };
        let authority_host = env("AZURE_AUTHORITY_HOST").unwrap_or_else(|| authority.into());
        if !authority_host.starts_with("https://") {
            return Err(InputError::new(
                "AZURE_AUTHORITY_HOST must be an https:// URL",
            ));
        }
        Ok(AzureCloud {
            authority_host,
            resource_manager: arm.into(),
            scope: format!("{arm}/.default"),
        })
    }

    fn cloud_configuration(&self) -> Arc<CloudConfiguration> {
        let mut custom = CustomConfiguration::default();
        custom.authority_host = self.authority_host.clone();
        Arc::new(CloudConfiguration::Custom(custom))
    }
}

/// The credential chosen, and what it is (for messages: never a value).
pub struct Credential {
    pub credential: Arc<dyn TokenCredential>,
    pub source: &'static str,
}

fn first(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
}

fn truthy(v: Option<String>) -> bool {
    v.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

fn require(
    env: &dyn Fn(&str) -> Option<String>,
    names: &[&str],
    why: &str,
) -> Result<String, InputError> {
    first(env, names).ok_or_else(|| {
        InputError::new(format!(
            "{why} needs {} (or {})",
            names[0],
            names[1..].join(", ")
        ))
    })
}

/// A federated token given directly (`ARM_OIDC_TOKEN`, as Pulumi ESC's OIDC login sets it).
struct StaticAssertion(Secret);

impl std::fmt::Debug for StaticAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticAssertion(..)")
    }
}

#[async_trait::async_trait]
impl ClientAssertion for StaticAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        Ok(self.0.secret().to_string())
    }
}

/// A federated token fetched from GitHub Actions' OIDC endpoint for each new Entra token:
/// `GET <request url>&audience=api://AzureADTokenExchange` with the request token as bearer,
/// answered with `{"value": "<jwt>"}`.
struct GithubAssertion {
    url: Url,
    request_token: Secret,
    http: Arc<dyn HttpClient>,
}

impl std::fmt::Debug for GithubAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GithubAssertion(..)")
    }
}

#[async_trait::async_trait]
impl ClientAssertion for GithubAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        use azure_core::error::{Error, ErrorKind};
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("audience", "api://AzureADTokenExchange");
        let mut request = Request::new(url, Method::Get);
        request.insert_header(
            AUTHORIZATION,
            format!("Bearer {}", self.request_token.secret()),
        );
        request.insert_header(HeaderName::from_static("accept"), "application/json");
        let response = self.http.execute_request(&request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?;
        if !status.is_success() {
            return Err(Error::with_message(
                ErrorKind::Credential,
                format!(
                    "the GitHub OIDC token request answered HTTP {}",
                    u16::from(status)
                ),
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        v.get("value")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::with_message(
                    ErrorKind::Credential,
                    "the GitHub OIDC token answer has no value",
                )
            })
    }
}

fn on_path(env: &dyn Fn(&str) -> Option<String>, program: &str) -> bool {
    env("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir: PathBuf| is_executable(&dir.join(program)))
    })
}

fn is_executable(p: &Path) -> bool {
    p.is_file()
}

fn build_error(what: &str, e: azure_core::Error) -> InputError {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or("invalid configuration");
    InputError::new(format!("{what}: {line}"))
}

/// Chooses and builds the credential (see the module comment). `client_options` carries the HTTP
/// transport shared with the ARM client.
pub fn credential(
    env: &dyn Fn(&str) -> Option<String>,
    cloud: &AzureCloud,
    client_options: &ClientOptions,
    http: Arc<dyn HttpClient>,
) -> Result<Credential, InputError> {
    let mut options = client_options.clone();
    options.cloud = Some(cloud.cloud_configuration());
    let client_id_vars = ["ARM_CLIENT_ID", "AZURE_CLIENT_ID"];
    let tenant_vars = ["ARM_TENANT_ID", "AZURE_TENANT_ID"];

    if let Some(secret) = first(env, &["ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET"]) {
        let why = "a client secret credential (ARM_CLIENT_SECRET)";
        let client_id = require(env, &client_id_vars, why)?;
        let tenant = require(env, &tenant_vars, why)?;
        let c = ClientSecretCredential::new(
            &tenant,
            client_id,
            Secret::new(secret),
            Some(ClientSecretCredentialOptions {
                client_options: options,
            }),
        )
        .map_err(|e| build_error("ARM_CLIENT_SECRET credential", e))?;
        return Ok(Credential {
            credential: c,
            source: "client secret",
        });
    }

    let oidc_token = first(env, &["ARM_OIDC_TOKEN"]);
    let token_file = first(
        env,
        &["ARM_OIDC_TOKEN_FILE_PATH", "AZURE_FEDERATED_TOKEN_FILE"],
    );
    if truthy(env("ARM_USE_OIDC")) || oidc_token.is_some() || token_file.is_some() {
        let why = "OIDC (ARM_USE_OIDC)";
        let client_id = require(env, &client_id_vars, why)?;
        let tenant = require(env, &tenant_vars, why)?;
        let assertion_options = ClientAssertionCredentialOptions {
            client_options: options,
        };
        if let Some(token) = oidc_token {
            let c = ClientAssertionCredential::new(
                tenant,
                client_id,
                StaticAssertion(Secret::new(token)),
                Some(assertion_options),
            )
            .map_err(|e| build_error("ARM_OIDC_TOKEN credential", e))?;
            return Ok(Credential {
                credential: c,
                source: "OIDC token",
            });
        }
        let request_url = first(
            env,
            &["ARM_OIDC_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_URL"],
        );
        let request_token = first(
            env,
            &["ARM_OIDC_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
        );
        if let (None, Some(url), Some(request_token)) = (&token_file, request_url, request_token) {
            let url = Url::parse(&url)
                .ok()
                .filter(|u| u.scheme() == "https")
                .ok_or_else(|| InputError::new("ARM_OIDC_REQUEST_URL must be an https:// URL"))?;
            let assertion = GithubAssertion {
                url,
                request_token: Secret::new(request_token),
                http,
            };
            let c = ClientAssertionCredential::new(
                tenant,
                client_id,
                assertion,
                Some(assertion_options),
            )
            .map_err(|e| build_error("GitHub OIDC credential", e))?;
            return Ok(Credential {
                credential: c,
                source: "GitHub Actions OIDC",
            });
        }
        let Some(path) = token_file else {
            return Err(InputError::new(
                "ARM_USE_OIDC is set but neither ARM_OIDC_TOKEN, a token file (ARM_OIDC_TOKEN_FILE_PATH or AZURE_FEDERATED_TOKEN_FILE) nor ARM_OIDC_REQUEST_URL with ARM_OIDC_REQUEST_TOKEN is",
            ));
        };
        let c = WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
            credential_options: assertion_options,
            client_id: Some(client_id),
            tenant_id: Some(tenant),
            token_file_path: Some(PathBuf::from(path)),
        }))
        .map_err(|e| build_error("federated token file credential", e))?;
        return Ok(Credential {
            credential: c,
            source: "federated token file",
        });
    }

    if truthy(env("ARM_USE_MSI")) || first(env, &["IDENTITY_ENDPOINT", "MSI_ENDPOINT"]).is_some() {
        let c = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
            user_assigned_id: first(env, &client_id_vars).map(UserAssignedId::ClientId),
            client_options: options,
        }))
        .map_err(|e| build_error("managed identity credential", e))?;
        return Ok(Credential {
            credential: c,
            source: "managed identity",
        });
    }

    let cli_allowed = env("ARM_USE_CLI").is_none_or(|v| truthy(Some(v)));
    if cli_allowed && (on_path(env, "az") || on_path(env, "az.cmd")) {
        let c = AzureCliCredential::new(Some(AzureCliCredentialOptions {
            tenant_id: first(env, &tenant_vars),
            ..Default::default()
        }))
        .map_err(|e| build_error("Azure CLI credential", e))?;
        return Ok(Credential {
            credential: c,
            source: "Azure CLI",
        });
    }

    Err(InputError::new(
        "no Azure credentials: set ARM_CLIENT_ID, ARM_CLIENT_SECRET and ARM_TENANT_ID, or ARM_USE_OIDC with ARM_OIDC_TOKEN (or AZURE_FEDERATED_TOKEN_FILE), or ARM_USE_MSI=true, or log in with `az login`",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn pick(pairs: &[(&str, &str)]) -> Result<&'static str, String> {
        let env = lookup(pairs);
        let cloud = AzureCloud::from_lookup(&env).map_err(|e| e.to_string())?;
        let http = azure_core::http::new_http_client(None);
        credential(&env, &cloud, &ClientOptions::default(), http)
            .map(|c| c.source)
            .map_err(|e| e.to_string())
    }

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn chooses_by_the_variables_present() {
        assert_eq!(
            pick(&[
                ("ARM_CLIENT_ID", "app"),
                ("ARM_CLIENT_SECRET", "s"),
                ("ARM_TENANT_ID", TENANT)
            ]),
            Ok("client secret")
        );
        assert_eq!(
            pick(&[
                ("AZURE_CLIENT_ID", "app"),
                ("AZURE_CLIENT_SECRET", "s"),
                ("AZURE_TENANT_ID", TENANT)
            ]),
            Ok("client secret")
        );
        assert_eq!(
            pick(&[
                ("ARM_USE_OIDC", "true"),
                ("ARM_OIDC_TOKEN", "jwt"),
                ("ARM_CLIENT_ID", "app"),
                ("ARM_TENANT_ID", TENANT)
            ]),
            Ok("OIDC token")
        );
        assert_eq!(pick(&[("ARM_USE_MSI", "true")]), Ok("managed identity"));
    }

    #[test]
    fn missing_pieces_are_one_line_errors_naming_the_variable() {
        let err = pick(&[("ARM_CLIENT_SECRET", "s"), ("ARM_TENANT_ID", TENANT)]).unwrap_err();
        assert!(err.contains("ARM_CLIENT_ID"), "{err}");
        assert!(!err.contains('\n'));
        let err = pick(&[
            ("ARM_USE_OIDC", "true"),
            ("ARM_CLIENT_ID", "a"),
            ("ARM_TENANT_ID", TENANT),
        ])
        .unwrap_err();
        assert!(err.contains("ARM_OIDC_TOKEN"), "{err}");
        let err = pick(&[("PATH", "/nonexistent")]).unwrap_err();
        assert!(err.starts_with("no Azure credentials"), "{err}");
        let err = pick(&[("AZURE_AUTHORITY_HOST", "http://login")]).unwrap_err();
        assert!(err.contains("AZURE_AUTHORITY_HOST"), "{err}");
    }
}
