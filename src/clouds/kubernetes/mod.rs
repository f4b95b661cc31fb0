//! The Kubernetes scanner: every object of every listable type in one kubeconfig context, read with
//! the `kubernetes` provider. Discovery is in `discovery`, paged listing in `list`, default exclusions
//! in `exclusions`; this file loads the kubeconfig and wires them into a stream.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream;
use futures::StreamExt;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

use serde_json::{json, Map};

use crate::cloud::Cloud;
use crate::discover::{Events, ProviderSpec, ScanEvent, Scanner};
use crate::filter::TypeFilter;
use crate::input_error::InputError;
use crate::naming::name_for;
use crate::retry::{RateGovernor, RetryPolicy};
pub use options::KubernetesOptions;

pub mod bearer;
pub mod cluster_auth;
pub mod discovery;
pub mod exclusions;
pub mod list;
pub mod namespaces;
pub mod options;
pub mod read_path;
pub mod retry_after;

/// Types listed at once. The API server's priority-and-fairness limits apply per client.
const LIST_CONCURRENCY: usize = 4;
/// Client-side pacing: the original tool's 50 QPS, bursts of 100.
const REQUESTS_PER_SECOND: f64 = 50.0;

pub struct KubernetesScanner {
    client: Client,
    /// Paces every request of the scan; the client's `Retry-After` layer pauses it.
    governor: Arc<RateGovernor>,
    context: String,
    provider: ProviderSpec,
    default_exclusions: bool,
    page_size: u32,
    /// What each `ReadResource` carries.
    read_inputs: read_path::ReadInputs,
    /// `namespaces` and `clusterScoped`.
    only_namespaces: Option<Vec<String>>,
    cluster_scoped: bool,
    /// Types the include/exclude filters rule out are not listed at all.
    filter: TypeFilter,
    /// The managed cluster we sign in to ourselves (`cluster_auth`), for messages.
    signed_in: Option<String>,
    /// Said once the run's reporter exists: the kubeconfig's exec plugin we stand in for.
    pub note: Option<String>,
}

impl KubernetesScanner {
    pub async fn new(options: &KubernetesOptions) -> Result<Self, InputError> {
        let (mut config, context, from_kubeconfig, stand_in) =
            load_config(options.context.as_deref()).await?;
        // The provider plugin cannot run a missing exec plugin either: it gets a kubeconfig of the
        // same cluster whose exec plugin is this program (no secret in it).
        let provider_kubeconfig = match &stand_in {
            Some((auth, cluster_auth::StandIn::Missing(_))) => {
                provider_kubeconfig(&context, &config, auth)
            }
            _ => None,
        };
        // kube's own retry layer retries 503s many times with growing delays; ours is bounded and
        // shared with every other cloud.
        config.default_retry = false;
        // One list page that never comes back is no answer: retried, then an incomplete scan.
        config.read_timeout = Some(options.list_deadline);
        let governor = Arc::new(RateGovernor::new(
            REQUESTS_PER_SECOND,
            REQUESTS_PER_SECOND,
            100.0,
        ));
        let signed_in = stand_in.as_ref().map(|(auth, _)| auth.describe());
        let note = match &stand_in {
            Some((auth, cluster_auth::StandIn::Missing(program))) => Some(format!(
                "context {context:?}: {program:?} is not installed; signing in to the {} in-process instead",
                auth.describe()
            )),
            _ => None,
        };
        let tokens = match &stand_in {
            None => None,
            Some((auth, _)) => {
                // The exec plugin is ours to replace: the client sends our tokens instead.
                config.auth_info.exec = None;
                config.auth_info.token = None;
                // The first token now, so missing cloud credentials stop the run before any work.
                let source = async {
                    let source = cluster_auth::TokenSource::new(auth).await?;
                    source.get().await?;
                    anyhow::Ok(source)
                }
                .await
                .map_err(|e| {
                    InputError::new(format!(
                        "kubernetes context {context:?}: cannot sign in to the {}: {}",
                        auth.describe(),
                        format!("{e:#}").replace('\n', " ")
                    ))
                })?;
                Some(source)
            }
        };
        let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| {
            InputError::new(format!(
                "kubernetes context {context:?}: cannot build a client: {}",
                crate::oneline::chain(&e)
            ))
        })?;
        let client = match tokens {
            None => builder
                .with_layer(&retry_after::layer(governor.clone()))
                .build(),
            Some(source) => builder
                .with_layer(&bearer::layer(source))
                .with_layer(&retry_after::layer(governor.clone()))
                .build(),
        };

        let mut inputs = Map::new();
        if from_kubeconfig {
            inputs.insert("context".into(), json!(context));
        }
        if let Some(text) = provider_kubeconfig {
            inputs.insert("kubeconfig".into(), json!(text));
        }
        if let Some(settings) = options.client_settings.input() {
            inputs.insert("kubeClientSettings".into(), settings);
        }
        let provider = ProviderSpec {
            package: Cloud::Kubernetes.package().into(),
            name: format!("kubernetes-{}", name_for(&context, &context)),
            version: options.provider_version.clone(),
            inputs,
        };
        Ok(KubernetesScanner {
            client,
            governor,
            context,
            provider,
            default_exclusions: options.default_exclusions,
            page_size: options.page_size,
            read_inputs: options.read_inputs,
            only_namespaces: options.namespaces.clone(),
            cluster_scoped: options.cluster_scoped,
            filter: options.filter.clone(),
            signed_in,
            note,
        })
    }
}

/// The kubeconfig (KUBECONFIG or ~/.kube/config) and its chosen context, or in-cluster config when
/// running in a pod without one. Returns the config, the context name, and whether it came from a
/// kubeconfig.
async fn load_config(wanted: Option<&str>) -> Result<Loaded, InputError> {
    let env_paths = std::env::var("KUBECONFIG").ok().filter(|v| !v.is_empty());
    let default_path = home_kubeconfig();
    let have_file = env_paths.is_some() || default_path.as_deref().is_some_and(Path::exists);
    if !have_file {
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
            let config = Config::incluster()
                .map_err(|e| InputError::new(format!("in-cluster Kubernetes config: {e}")))?;
            return Ok((config, "in-cluster".into(), false, None));
        }
        return Err(InputError::new(
            "no kubeconfig: set KUBECONFIG or create ~/.kube/config (or run inside a pod)",
        ));
    }
    let source = match &env_paths {
        Some(p) => format!("KUBECONFIG={p}"),
        None => "~/.kube/config".into(),
    };
    let paths: Vec<PathBuf> = match &env_paths {
        Some(p) => std::env::split_paths(p)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => default_path.into_iter().collect(),
    };
    let kubeconfig = read_kubeconfig(&paths)?;
    let context = match wanted.or(kubeconfig.current_context.as_deref()) {
        Some(c) => c.to_string(),
        None => {
            return Err(InputError::new(format!(
                "the kubeconfig ({source}) has no current-context: pass --context or set pulumi-cloud-import:context"
            )))
        }
    };
    let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context) else {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        return Err(InputError::new(format!(
            "context {context:?} is not in the kubeconfig ({source}); it has: {}",
            known.join(", ")
        )));
    };
    let user = named.context.as_ref().and_then(|c| c.user.as_deref());
    let exec = user.and_then(|u| {
        kubeconfig
            .auth_infos
            .iter()
            .find(|a| a.name == u)
            .and_then(|a| a.auth_info.as_ref())
            .and_then(|a| a.exec.clone())
    });
    let stand_in = exec
        .as_ref()
        .and_then(|e| cluster_auth::from_exec(e, installed));
    if stand_in.is_none() {
        check_exec_plugin(exec.as_ref(), user, &context)?;
    }
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| InputError::new(format!("kubeconfig context {context:?}: {e}")))?;
    Ok((config, context, true, stand_in))
}

/// What `load_config` found: the client config, the context's name, whether it came from a
/// kubeconfig, and the managed-cluster sign-in we do ourselves instead of its exec plugin.
type Loaded = (
    Config,
    String,
    bool,
    Option<(cluster_auth::ClusterAuth, cluster_auth::StandIn)>,
);

/// A kubeconfig for the provider plugin: the client config's cluster (its URL, and its CA
/// certificates back as base64 PEM), signed in by this program's `kube-token`.
fn provider_kubeconfig(
    context: &str,
    config: &Config,
    auth: &cluster_auth::ClusterAuth,
) -> Option<String> {
    use base64::Engine as _;
    let program = std::env::current_exe().ok()?;
    let server = config.cluster_url.to_string();
    let ca = config.root_cert.as_ref().map(|certs| {
        let pems: Vec<pem::Pem> = certs
            .iter()
            .map(|der| pem::Pem::new("CERTIFICATE", der.clone()))
            .collect();
        base64::engine::general_purpose::STANDARD.encode(pem::encode_many(&pems))
    });
    Some(cluster_auth::kubeconfig(
        context,
        server.trim_end_matches('/'),
        ca.as_deref(),
        auth,
        &program.display().to_string(),
    ))
}

/// Reads and merges the kubeconfig files (the first to set a value wins, as kubectl merges them). A
/// file that cannot be read or parsed is one line naming it and the first error: the YAML parser's
/// own message spans several lines with a source excerpt.
fn read_kubeconfig(paths: &[PathBuf]) -> Result<Kubeconfig, InputError> {
    let mut merged = Kubeconfig::default();
    for path in paths {
        let bad = |e: KubeconfigError| {
            InputError::new(format!(
                "cannot read the kubeconfig {}: {}",
                path.display(),
                first_error(&e)
            ))
        };
        let one = Kubeconfig::read_from(path).map_err(bad)?;
        merged = merged.merge(one).map_err(bad)?;
    }
    Ok(merged)
}

fn first_error(e: &KubeconfigError) -> String {
    let text = match e {
        KubeconfigError::ReadConfig(io, _) => io.to_string(),
        KubeconfigError::Parse(yaml) => format!("not a kubeconfig: {yaml}"),
        other => other.to_string(),
    };
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    first.trim().to_string()
}

fn home_kubeconfig() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

/// A missing exec credential plugin (aws, gke-gcloud-auth-plugin, kubelogin...) would otherwise fail
/// every request with an obscure error; say so before starting.
fn check_exec_plugin(
    exec: Option<&kube::config::ExecConfig>,
    user: Option<&str>,
    context: &str,
) -> Result<(), InputError> {
    let Some(command) = exec.and_then(|e| e.command.clone()) else {
        return Ok(());
    };
    if installed(&command) {
        Ok(())
    } else {
        let user = user.unwrap_or_default();
        Err(InputError::new(format!(
            "kubeconfig user {user:?} (context {context:?}) signs in with the exec plugin {command:?}, which is not installed or not on PATH: install it or pick another context"
        )))
    }
}

/// Whether an exec plugin's command exists (a path, or a name on `PATH`).
fn installed(command: &str) -> bool {
    if command.contains('/') {
        Path::new(command).is_file()
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|dir| dir.join(command).is_file()))
            .unwrap_or(false)
    }
}

impl Scanner for KubernetesScanner {
    fn provider(&self) -> ProviderSpec {
        self.provider.clone()
    }

    fn scan(self: Box<Self>, out: Events) -> BoxFuture<'static, ()> {
        Box::pin(self.run(out))
    }
}

impl KubernetesScanner {
    async fn run(self: Box<Self>, tx: Events) {
        let governor = self.governor.clone();
        let policy = RetryPolicy::default();
        let found = policy
            .run(Some(&governor), list::classify, || {
                discovery::discover(&self.client)
            })
            .await;
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                let what = format!("kubernetes API discovery in context {:?}", self.context);
                let mut reason = list::describe(&e);
                let refused = matches!(&e, kube::Error::Api(s) if s.code == 401);
                if let (true, Some(cluster)) = (refused, &self.signed_in) {
                    // The token was made and sent: the cluster does not know the identity.
                    reason.push_str(&format!(
                        "; the {cluster} refused this identity's token: grant it read access in the cluster (an EKS access entry or aws-auth mapping, an AKS role binding; see the README)"
                    ));
                }
                let _ = tx.send(ScanEvent::Incomplete { what, reason }).await;
                return;
            }
        };
        for (group, reason) in found.skipped_groups {
            let _ = tx
                .send(ScanEvent::TypeSkipped {
                    cloud_type: group,
                    reason,
                })
                .await;
        }
        for (group, reason) in found.failed_groups {
            let what = format!("kubernetes API group {group}");
            let _ = tx.send(ScanEvent::Incomplete { what, reason }).await;
        }
        let lister = list::Lister {
            client: self.client.clone(),
            governor,
            policy,
            default_exclusions: self.default_exclusions,
            scope: self.context.clone(),
            page_size: self.page_size,
            read_inputs: self.read_inputs,
            only_namespaces: self.only_namespaces.clone(),
            cluster_scoped: self.cluster_scoped,
            namespaces: Default::default(),
        };
        // Listing a type only to drop everything it holds would cost API calls for nothing.
        let (targets, filtered): (Vec<_>, Vec<_>) = found
            .targets
            .into_iter()
            .partition(|t| self.filter.allows(&t.token()));
        for t in filtered {
            let reason = "excluded by the include/exclude filters".to_string();
            let _ = tx
                .send(ScanEvent::TypeSkipped {
                    cloud_type: t.cloud_type(),
                    reason,
                })
                .await;
        }
        let total = targets.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        stream::iter(targets)
            .for_each_concurrent(LIST_CONCURRENCY, |target| {
                let (tx, lister, done) = (tx.clone(), &lister, &done);
                async move {
                    lister.list(&target, &tx).await;
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    let _ = tx
                        .send(ScanEvent::Progress(format!("listed {n}/{total} types")))
                        .await;
                }
            })
            .await;
    }
}
