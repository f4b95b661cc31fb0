//! The AKS bearer token for clusters with Microsoft Entra ID integration, made in-process: what
//! `kubelogin get-token` prints, without the `kubelogin` binary.
//!
//! Such a cluster accepts an Entra access token whose audience is the AKS server application (the
//! same well-known id in every tenant), so the token comes from the same azure_identity credential
//! the ARM scan uses (see `credentials`), asked for the scope `<server id>/.default`. The
//! credential caches and refreshes its tokens itself.

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{anyhow, Result};
use azure_core::credentials::TokenCredential;
use azure_core::http::{new_http_client, ClientOptions, Transport};

use super::credentials::{self, AzureCloud};
pub use crate::clouds::bearer::BearerToken;

/// The Entra application id of the AKS API server, the audience of every AKS user token.
pub const AKS_SERVER_ID: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";

/// Makes tokens for one AKS server application id.
pub struct AksTokens {
    credential: Arc<dyn TokenCredential>,
    scope: String,
}

impl AksTokens {
    /// The credential chosen from `env` as for an ARM scan, for `server_id` (default
    /// [`AKS_SERVER_ID`]).
    pub fn new(env: &dyn Fn(&str) -> Option<String>, server_id: Option<&str>) -> Result<AksTokens> {
        let cloud = AzureCloud::from_lookup(env).map_err(|e| anyhow!("{e}"))?;
        let http = new_http_client(None);
        let options = ClientOptions {
            transport: Some(Transport::new(http.clone())),
            ..Default::default()
        };
        let credential = credentials::credential(env, &cloud, &options, http)
            .map_err(|e| anyhow!("{e}"))?
            .credential;
        Ok(AksTokens {
            credential,
            scope: scope(server_id.unwrap_or(AKS_SERVER_ID)),
        })
    }

    pub async fn token(&self) -> Result<BearerToken> {
        let token = self
            .credential
            .get_token(&[self.scope.as_str()], None)
            .await
            .map_err(|e| {
                anyhow!(
                    "no Entra token for the AKS server ({}): {}",
                    self.scope,
                    crate::oneline::chain(&e)
                )
            })?;
        Ok(BearerToken {
            value: token.token.secret().to_string(),
            expires: SystemTime::from(token.expires_on),
        })
    }
}

/// The OAuth2 scope of a server application id.
pub fn scope(server_id: &str) -> String {
    format!("{}/.default", server_id.trim_end_matches("/.default"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_the_server_application_with_default() {
        assert_eq!(
            scope(AKS_SERVER_ID),
            "6dae42f8-4368-4678-94ff-3960e28e3630/.default"
        );
        assert_eq!(scope("abc/.default"), "abc/.default");
    }
}
