//! OCI API-key credentials: tenancy, user, key fingerprint, region and the RSA private key, from the
//! `OCI_*` environment variables or a profile of the OCI config file.
//!
//! Every value is taken from its environment variable when set, else from the profile (the same
//! variables Pulumi Insights and the oci provider document). Any missing or unreadable value becomes
//! one [`InputError`] line naming the variable and the config key that could have supplied it; values
//! themselves are never printed.

use std::path::PathBuf;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::RsaPrivateKey;

use super::config_file::ConfigFile;
use crate::input_error::InputError;

/// Resolved credentials. The private key never leaves this struct except into the signer.
pub struct Credentials {
    pub tenancy: String,
    pub user: String,
    pub fingerprint: String,
    pub region: String,
    pub key: RsaPrivateKey,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Where the values come from: overrides from settings, and an environment lookup.
pub struct Sources<'a> {
    /// The `region` setting (flag `--region`), which wins over the environment and the file.
    pub region: Option<&'a str>,
    /// The `profile` setting (flag `--profile`), which wins over `OCI_CLI_PROFILE`.
    pub profile: Option<&'a str>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Credentials {
    /// The signature key id, `<tenancy>/<user>/<fingerprint>`.
    pub fn key_id(&self) -> String {
        format!("{}/{}/{}", self.tenancy, self.user, self.fingerprint)
    }

    pub fn resolve(src: &Sources<'_>) -> Result<Self, InputError> {
        let env = |k: &str| (src.env)(k).filter(|v| !v.trim().is_empty());
        let explicit_profile = src
            .profile
            .map(str::to_string)
            .or_else(|| env("OCI_CLI_PROFILE"));
        let profile = explicit_profile
            .clone()
            .unwrap_or_else(|| "DEFAULT".to_string());

        // The config file is optional when the environment supplies everything, unless it was named.
        let explicit_path = env("OCI_CONFIG_FILE");
        let path = explicit_path
            .clone()
            .map(|p| expand_home(&p, &env))
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".oci").join("config")));
        let file = match &path {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => Some(ConfigFile::parse(&text)),
                Err(e) if explicit_path.is_some() => {
                    return Err(InputError::new(format!(
                        "cannot read the OCI config file named by OCI_CONFIG_FILE: {}",
                        e.kind()
                    )));
                }
                Err(_) => None,
            },
            None => None,
        };
        if let Some(p) = &explicit_profile {
            if !file.as_ref().is_some_and(|f| f.has_profile(p)) {
                return Err(InputError::new(format!(
                    "OCI profile {p:?} (from --profile / pulumi-cloud-import:profile / OCI_CLI_PROFILE) is not in the OCI config file (~/.oci/config or OCI_CONFIG_FILE)"
                )));
            }
        }
        let file_value = |key: &str| file.as_ref().and_then(|f| f.get(&profile, key));
        let value = |var: &str, key: &str, what: &str| -> Result<String, InputError> {
            env(var)
                .or_else(|| file_value(key).map(str::to_string))
                .ok_or_else(|| {
                    InputError::new(format!(
                        "OCI {what} is not set: set {var}, or `{key}` in profile [{profile}] of the OCI config file"
                    ))
                })
        };

        let tenancy = value("OCI_TENANCY_OCID", "tenancy", "tenancy OCID")?;
        let user = value("OCI_USER_OCID", "user", "user OCID")?;
        let fingerprint = value("OCI_FINGERPRINT", "fingerprint", "API key fingerprint")?;
        let region = match src.region.filter(|r| !r.trim().is_empty()) {
            Some(r) => r.to_string(),
            None => value("OCI_REGION", "region", "region (or --region)")?,
        };
        let (key_path, key_source) = match env("OCI_PRIVATE_KEY_PATH") {
            Some(p) => (p, "OCI_PRIVATE_KEY_PATH".to_string()),
            None => (
                value("OCI_PRIVATE_KEY_PATH", "key_file", "private key file")?,
                format!("`key_file` of profile [{profile}]"),
            ),
        };
        let pass = env("OCI_PRIVATE_KEY_PASSWORD")
            .map(|p| (p, "OCI_PRIVATE_KEY_PASSWORD".to_string()))
            .or_else(|| {
                file_value("pass_phrase").map(|p| {
                    (
                        p.to_string(),
                        format!("`pass_phrase` of profile [{profile}]"),
                    )
                })
            });
        let pem = std::fs::read_to_string(expand_home(&key_path, &env)).map_err(|e| {
            InputError::new(format!(
                "cannot read the OCI private key file named by {key_source}: {}",
                e.kind()
            ))
        })?;
        let key = parse_private_key(&pem, pass.as_ref().map(|(p, s)| (p.as_str(), s.as_str())))
            .map_err(|why| {
                InputError::new(format!(
                    "the OCI private key file named by {key_source} {why}"
                ))
            })?;
        Ok(Credentials {
            tenancy,
            user,
            fingerprint,
            region,
            key,
        })
    }
}

/// Parses a PEM RSA private key: PKCS#8 (`PRIVATE KEY`), encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`,
/// the format `oci setup keys` and OpenSSL 3 write for a key with a pass phrase) or PKCS#1
/// (`RSA PRIVATE KEY`). `pass` is the pass phrase and the name of where it came from. The error text
/// completes the sentence "the key file ...".
pub fn parse_private_key(pem: &str, pass: Option<(&str, &str)>) -> Result<RsaPrivateKey, String> {
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        // OpenSSL's legacy per-PEM encryption (MD5-based key derivation): no maintained pure-Rust
        // crate decrypts it, and hand-written decryption of key material is not worth the risk.
        return Err("uses OpenSSL's legacy PEM encryption (Proc-Type: 4,ENCRYPTED), which is not supported: convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD.pem -out NEW.pem`".into());
    }
    if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let Some((pass, from)) = pass else {
            return Err(
                "is encrypted: set OCI_PRIVATE_KEY_PASSWORD or `pass_phrase` in the profile".into(),
            );
        };
        return RsaPrivateKey::from_pkcs8_encrypted_pem(pem, pass.as_bytes())
            .map_err(|_| format!("could not be decrypted with the pass phrase from {from} (wrong pass phrase, or not an RSA key)"));
    }
    if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return RsaPrivateKey::from_pkcs1_pem(pem)
            .map_err(|_| "is not a valid PKCS#1 RSA private key".to_string());
    }
    if pem.contains("-----BEGIN PRIVATE KEY-----") {
        return RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|_| "is not a valid PKCS#8 RSA private key".to_string());
    }
    Err("is not a PEM RSA private key".into())
}

/// `~/...` as the OCI tools accept it.
fn expand_home(path: &str, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match (path.strip_prefix("~/"), env("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}
