//! Signing in to managed clusters with the cloud credentials already at hand, in-process: EKS with
//! a presigned STS token (`clouds::aws::eks_token`), AKS with an Entra token for the AKS server
//! application (`clouds::azure::aks_token`). No `aws` or `kubelogin` binary is needed.
//!
//! A kubeconfig says which through its user's exec plugin:
//! - this program's own `kube-token eks|aks ...` (what `fleet up` writes for the clusters a cloud
//!   plan found, so that the `kubernetes` provider plugin, which can only run a binary, gets its
//!   tokens from us too);
//! - `aws eks get-token --cluster-name N` or `kubelogin get-token --server-id ID` when that binary
//!   is not installed: we stand in for it rather than fail (and say so).
//!
//! The scanner then strips the exec plugin from its client and sends the token from a
//! [`TokenSource`] instead, refreshed before it expires so that long scans keep working.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context, Result};
use aws_config::SdkConfig;
use clap::{Args, Parser, Subcommand};
use kube::config::ExecConfig;
use serde_json::json;

use crate::clouds::aws::{eks_token, sdk};
use crate::clouds::azure::aks_token::{self, AksTokens};
use crate::clouds::bearer::BearerToken;

/// The subcommand of this program that prints a token as a client-go exec plugin does.
pub const SUBCOMMAND: &str = "kube-token";
/// Tokens are replaced this long before they expire (a request in flight must not carry a token
/// that lapses on the way).
const REFRESH_BEFORE: Duration = Duration::from_secs(120);

/// `pulumi-cloud-import kube-token`: also the parser of our own exec plugin's arguments in a
/// kubeconfig, so the two can never disagree.
#[derive(Debug, Parser)]
#[command(
    name = "pulumi-cloud-import kube-token",
    about = "Prints a Kubernetes ExecCredential with a token for an EKS or AKS cluster (a kubeconfig exec plugin)"
)]
pub struct KubeTokenCli {
    #[command(subcommand)]
    pub auth: ClusterAuth,
}

/// How to sign in to one managed cluster. Holds names only, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ClusterAuth {
    /// An EKS cluster: a presigned STS GetCallerIdentity token (as `aws eks get-token`).
    Eks(EksArgs),
    /// An AKS cluster with Entra ID: a token for the AKS server application (as `kubelogin`).
    Aks(AksArgs),
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct EksArgs {
    /// The cluster's name (what its authenticator is configured with).
    #[arg(long)]
    pub cluster_name: String,
    /// The cluster's region (default: the AWS configuration's).
    #[arg(long)]
    pub region: Option<String>,
    /// A role to assume first (STS AssumeRole).
    #[arg(long)]
    pub role_arn: Option<String>,
    /// The profile of the AWS config files.
    #[arg(long)]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct AksArgs {
    /// The AKS server application id (the token's audience).
    #[arg(long, default_value = aks_token::AKS_SERVER_ID)]
    pub server_id: String,
}

impl ClusterAuth {
    /// The exec plugin arguments that make this program print this auth's tokens.
    pub fn exec_args(&self) -> Vec<String> {
        let mut args = vec![SUBCOMMAND.to_string()];
        match self {
            ClusterAuth::Eks(e) => {
                args.extend([
                    "eks".into(),
                    "--cluster-name".into(),
                    e.cluster_name.clone(),
                ]);
                for (flag, v) in [
                    ("--region", &e.region),
                    ("--role-arn", &e.role_arn),
                    ("--profile", &e.profile),
                ] {
                    if let Some(v) = v {
                        args.extend([flag.to_string(), v.clone()]);
                    }
                }
            }
            ClusterAuth::Aks(a) => {
                args.extend(["aks".into(), "--server-id".into(), a.server_id.clone()]);
            }
        }
        args
    }

    /// What signs in, for messages: `EKS cluster "prod"`.
    pub fn describe(&self) -> String {
        match self {
            ClusterAuth::Eks(e) => format!("EKS cluster {:?}", e.cluster_name),
            ClusterAuth::Aks(_) => "AKS cluster".to_string(),
        }
    }
}

/// Which exec plugins we can stand in for, and why we do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StandIn {
    /// The plugin is this program's own `kube-token`.
    Own,
    /// The plugin is another program's that is not installed (its name).
    Missing(String),
}

/// Recognises an exec plugin this program can replace: its own `kube-token`, or `aws eks
/// get-token` / `kubelogin get-token` when `installed` says that binary is missing. The plugin's
/// own `env` entries for the AWS profile and region are honoured.
pub fn from_exec(
    exec: &ExecConfig,
    installed: impl Fn(&str) -> bool,
) -> Option<(ClusterAuth, StandIn)> {
    let command = exec.command.as_deref()?;
    let args = exec.args.clone().unwrap_or_default();
    let base = std::path::Path::new(command)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(command);
    let env = |name: &str| {
        exec.env.iter().flatten().find_map(|e| {
            (e.get("name").map(String::as_str) == Some(name))
                .then(|| e.get("value").cloned())
                .flatten()
        })
    };
    if args.first().map(String::as_str) == Some(SUBCOMMAND) {
        let mut argv = vec![format!("{base} {SUBCOMMAND}")];
        argv.extend(args.into_iter().skip(1));
        return KubeTokenCli::try_parse_from(argv)
            .ok()
            .map(|cli| (cli.auth, StandIn::Own));
    }
    if installed(command) {
        return None;
    }
    let flag = |names: &[&str]| -> Option<String> {
        args.iter().enumerate().find_map(|(i, a)| {
            names.iter().find_map(|n| {
                if a == n {
                    args.get(i + 1).cloned()
                } else {
                    a.strip_prefix(&format!("{n}=")).map(str::to_string)
                }
            })
        })
    };
    let has = |words: &[&str]| words.iter().all(|w| args.iter().any(|a| a == w));
    if base == "aws" && has(&["eks", "get-token"]) {
        let cluster_name = flag(&["--cluster-name", "--cluster-id"])?;
        let auth = ClusterAuth::Eks(EksArgs {
            cluster_name,
            region: flag(&["--region"]).or_else(|| env("AWS_REGION")),
            role_arn: flag(&["--role-arn"]),
            profile: flag(&["--profile"]).or_else(|| env("AWS_PROFILE")),
        });
        return Some((auth, StandIn::Missing(command.to_string())));
    }
    if base == "kubelogin" && has(&["get-token"]) {
        let server_id = flag(&["--server-id"]).unwrap_or_else(|| aks_token::AKS_SERVER_ID.into());
        let auth = ClusterAuth::Aks(AksArgs { server_id });
        return Some((auth, StandIn::Missing(command.to_string())));
    }
    None
}

/// Makes one kind of token.
enum Maker {
    Eks {
        sdk: Box<SdkConfig>,
        cluster: String,
        region: String,
    },
    Aks(AksTokens),
}

/// The current token of one cluster, made again shortly before it expires.
pub struct TokenSource {
    maker: Maker,
    current: tokio::sync::Mutex<Option<BearerToken>>,
}

impl TokenSource {
    /// Loads the credentials `auth` names (the AWS default chain with its profile and role, or the
    /// Azure credential chosen from the environment). Makes no network call for static keys.
    pub async fn new(auth: &ClusterAuth) -> Result<Arc<TokenSource>> {
        let maker = match auth {
            ClusterAuth::Eks(e) => {
                let base = sdk::load(e.profile.as_deref(), e.region.as_deref()).await;
                let region = match (&e.region, base.region()) {
                    (Some(r), _) => r.clone(),
                    (None, Some(r)) => r.to_string(),
                    (None, None) => {
                        return Err(anyhow!(
                        "no AWS region for the EKS cluster {:?}: pass --region or set AWS_REGION",
                        e.cluster_name
                    ))
                    }
                };
                let sdk = match &e.role_arn {
                    Some(arn) => sdk::assumed(&base, arn, Some(&region)).await,
                    None => base,
                };
                Maker::Eks {
                    sdk: Box::new(sdk),
                    cluster: e.cluster_name.clone(),
                    region,
                }
            }
            ClusterAuth::Aks(a) => {
                let env = |k: &str| std::env::var(k).ok();
                Maker::Aks(AksTokens::new(&env, Some(&a.server_id))?)
            }
        };
        Ok(Arc::new(TokenSource {
            maker,
            current: tokio::sync::Mutex::new(None),
        }))
    }

    /// A token valid for at least [`REFRESH_BEFORE`] more.
    pub async fn get(&self) -> Result<BearerToken> {
        let mut current = self.current.lock().await;
        let fresh = current
            .as_ref()
            .is_some_and(|t| still_fresh(t, SystemTime::now()));
        if !fresh {
            *current = Some(self.make().await?);
        }
        Ok(current.clone().expect("set above"))
    }

    async fn make(&self) -> Result<BearerToken> {
        match &self.maker {
            Maker::Eks {
                sdk,
                cluster,
                region,
            } => eks_token::token(sdk, cluster, region, SystemTime::now())
                .await
                .with_context(|| format!("EKS cluster {cluster:?}")),
            Maker::Aks(tokens) => tokens.token().await,
        }
    }
}

/// Whether `token` may still be sent at `now`: more than [`REFRESH_BEFORE`] before it expires.
fn still_fresh(token: &BearerToken, now: SystemTime) -> bool {
    token
        .expires
        .duration_since(now)
        .is_ok_and(|left| left > REFRESH_BEFORE)
}

/// The client-go `ExecCredential` (v1beta1) an exec plugin prints.
pub fn exec_credential(token: &BearerToken) -> String {
    let expires = time::OffsetDateTime::from(token.expires)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    json!({
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {"token": token.value, "expirationTimestamp": expires},
    })
    .to_string()
}

/// A kubeconfig with one context `name` for the cluster at `server` (its CA as base64 PEM), whose
/// user runs `program kube-token ...` for `auth`: what `fleet up` hands a cluster child, so that its
/// scan and its `kubernetes` provider reach the cluster alike. Holds no secret.
pub fn kubeconfig(
    name: &str,
    server: &str,
    ca_data: Option<&str>,
    auth: &ClusterAuth,
    program: &str,
) -> String {
    let mut cluster = json!({"server": server});
    if let Some(ca) = ca_data {
        cluster["certificate-authority-data"] = json!(ca);
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": program,
            "args": auth.exec_args(),
            "interactiveMode": "Never",
            "provideClusterInfo": false,
        }}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    });
    serde_saphyr::to_string(&config).expect("a kubeconfig always serializes")
}

/// `pulumi-cloud-import kube-token ...` (argv from the program name on): prints one
/// ExecCredential to stdout, or one error line to stderr and exits non-zero.
pub fn main(argv: Vec<std::ffi::OsString>) -> u8 {
    let cli: KubeTokenCli = match crate::app::parse_subcommand(argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return crate::app::EXIT_FAILED;
        }
    };
    let made = runtime.block_on(async {
        let source = TokenSource::new(&cli.auth).await?;
        source.get().await
    });
    match made {
        Ok(token) => {
            println!("{}", exec_credential(&token));
            crate::app::EXIT_OK
        }
        Err(e) => {
            eprintln!(
                "error: {}: {}",
                cli.auth.describe(),
                format!("{e:#}").replace('\n', " ")
            );
            crate::app::EXIT_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(command: &str, args: &[&str], env: &[(&str, &str)]) -> ExecConfig {
        let env = env
            .iter()
            .map(|(k, v)| {
                [
                    ("name".to_string(), k.to_string()),
                    ("value".to_string(), v.to_string()),
                ]
                .into_iter()
                .collect()
            })
            .collect();
        ExecConfig {
            api_version: Some("client.authentication.k8s.io/v1beta1".into()),
            command: Some(command.into()),
            args: Some(args.iter().map(|a| a.to_string()).collect()),
            env: Some(env),
            drop_env: None,
            install_hint: None,
            interactive_mode: None,
            provide_cluster_info: false,
            cluster: None,
            other: Default::default(),
        }
    }

    #[test]
    fn a_token_is_replaced_two_minutes_before_it_expires() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = BearerToken {
            value: String::new(),
            expires: at + eks_token::TOKEN_LIFETIME,
        };
        assert!(still_fresh(&token, at));
        assert!(still_fresh(&token, at + Duration::from_secs(11 * 60)));
        assert!(!still_fresh(&token, at + Duration::from_secs(12 * 60)));
        assert!(!still_fresh(&token, at + Duration::from_secs(20 * 60)));
    }

    #[test]
    fn our_own_plugin_round_trips_through_its_arguments() {
        let auth = ClusterAuth::Eks(EksArgs {
            cluster_name: "prod".into(),
            region: Some("eu-west-1".into()),
            role_arn: Some("arn:aws:iam::1:role/R".into()),
            profile: None,
        });
        let args = auth.exec_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let e = exec("/opt/bin/pulumi-cloud-import", &args, &[]);
        assert_eq!(from_exec(&e, |_| true), Some((auth, StandIn::Own)));
        let aks = ClusterAuth::Aks(AksArgs {
            server_id: aks_token::AKS_SERVER_ID.into(),
        });
        let args = aks.exec_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(
            from_exec(&exec("pulumi-cloud-import", &args, &[]), |_| true),
            Some((aks, StandIn::Own))
        );
    }

    #[test]
    fn aws_and_kubelogin_are_stood_in_for_only_when_missing() {
        let aws = exec(
            "aws",
            &[
                "--region",
                "us-west-2",
                "eks",
                "get-token",
                "--cluster-name",
                "prod",
                "--output",
                "json",
            ],
            &[("AWS_PROFILE", "ops")],
        );
        assert_eq!(from_exec(&aws, |_| true), None);
        let (auth, why) = from_exec(&aws, |_| false).unwrap();
        assert_eq!(why, StandIn::Missing("aws".into()));
        assert_eq!(
            auth,
            ClusterAuth::Eks(EksArgs {
                cluster_name: "prod".into(),
                region: Some("us-west-2".into()),
                role_arn: None,
                profile: Some("ops".into()),
            })
        );
        let kubelogin = exec(
            "kubelogin",
            &["get-token", "--login", "azurecli", "--server-id=abc"],
            &[],
        );
        assert_eq!(
            from_exec(&kubelogin, |_| false).unwrap().0,
            ClusterAuth::Aks(AksArgs {
                server_id: "abc".into()
            })
        );
        assert_eq!(
            from_exec(&exec("gke-gcloud-auth-plugin", &[], &[]), |_| false),
            None
        );
    }

    #[test]
    fn the_exec_credential_and_kubeconfig_are_what_client_go_reads() {
        let token = BearerToken {
            value: "k8s-aws-v1.abc".into(),
            expires: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        };
        let v: serde_json::Value = serde_json::from_str(&exec_credential(&token)).unwrap();
        assert_eq!(v["status"]["token"], "k8s-aws-v1.abc");
        assert_eq!(v["status"]["expirationTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(v["apiVersion"], "client.authentication.k8s.io/v1beta1");

        let auth = ClusterAuth::Eks(EksArgs {
            cluster_name: "prod".into(),
            region: Some("us-east-1".into()),
            role_arn: None,
            profile: None,
        });
        let text = kubeconfig(
            "a/us-east-1/prod",
            "https://x.eks",
            Some("Q0E="),
            &auth,
            "/bin/p",
        );
        let parsed = kube::config::Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(parsed.current_context.as_deref(), Some("a/us-east-1/prod"));
        let user = parsed.auth_infos[0].auth_info.as_ref().unwrap();
        let (back, why) = from_exec(user.exec.as_ref().unwrap(), |_| true).unwrap();
        assert_eq!((back, why), (auth, StandIn::Own));
        let cluster = parsed.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://x.eks"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Q0E="));
    }
}
