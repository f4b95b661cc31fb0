//! Oracle Cloud (OCI) scanner: every resource of a tenancy's compartment tree (or of one compartment
//! and its subtree), listed with Resource Search and read with the `oci` provider.
//!
//! Flow: Identity lists the tenancy's active compartments; the root (tenancy or `compartment`) and
//! every compartment below it is searched with a structured query, a few compartments at a time;
//! each hit is mapped to a pulumi-oci token ([`mapping`]), given its read id ([`read_id`]) and yielded,
//! or skipped with the reason (deleted or terminated, no pulumi-oci type, id not buildable). A
//! compartment that cannot be listed after retries makes the scan incomplete.

pub mod auth;
pub mod builtin;
pub mod config_file;
pub mod mapping;
pub mod options;
pub mod read_id;
pub mod search;
pub mod signer;
mod tree;

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use self::auth::{Credentials, Sources};
use self::mapping::Mapper;
use self::read_id::ReadId;
use self::search::{Endpoints, OciApi, ResourceSummary};
use self::signer::RequestSigner;
use self::tree::Tree;
use crate::cloud::Cloud;
use crate::discover::{Discovered, Events, ProviderSpec, ScanEvent, Scanner};
use crate::http::paging::PageTokens;
use crate::input_error::InputError;
use crate::retry::RetryPolicy;
pub use options::OciOptions;

/// Lifecycle states of resources that are gone or going: listed by Search for a while after
/// deletion, but there is nothing to read.
const GONE_STATES: [&str; 4] = ["DELETED", "DELETING", "TERMINATED", "TERMINATING"];
/// Compartments searched at once; all calls share one rate governor anyway.
const CONCURRENT_COMPARTMENTS: usize = 4;

/// The OCI scanner for one tenancy and region.
#[derive(Debug)]
pub struct OciScanner {
    region: String,
    tenancy: String,
    compartment: Option<String>,
    version: String,
    api: OciApi,
    mapper: Arc<Mapper>,
    /// Token -> import id format from the schema's `## Import` sections, when known.
    import_formats: Arc<HashMap<String, String>>,
}

impl OciScanner {
    /// Builds the scanner from its options and the process environment.
    pub async fn new(options: &OciOptions) -> Result<Self, InputError> {
        Self::with_env(options, &|k| std::env::var(k).ok())
    }

    /// Builds the scanner from its options and an environment lookup (tests pass their own).
    pub fn with_env(
        options: &OciOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, InputError> {
        let creds = Credentials::resolve(&Sources {
            region: options.region.as_deref(),
            profile: options.profile.as_deref(),
            env,
        })?;
        let region = creds.region.trim().to_string();
        if !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(InputError::new(format!(
                "OCI region {region:?} (from --region, OCI_REGION or `region` in the OCI config file) is not a region identifier such as us-phoenix-1"
            )));
        }
        let endpoints = match &options.endpoint {
            Some(single) => single.clone(),
            None => Endpoints::for_region(&region).map_err(|_| {
                InputError::new(format!(
                    "OCI region {region:?} does not form a valid endpoint"
                ))
            })?,
        };
        let signer = RequestSigner::new(creds.key_id(), creds.key.clone());
        Ok(OciScanner {
            version: options.provider_version.clone(),
            tenancy: creds.tenancy.clone(),
            region,
            compartment: options.compartment.clone(),
            api: OciApi::new(signer, endpoints, RetryPolicy::default()),
            mapper: Arc::new(Mapper::default()),
            import_formats: Arc::new(HashMap::new()),
        })
    }

    /// Maps search types against these resource tokens of the installed oci schema.
    pub fn with_schema_tokens<I, S>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.mapper = Arc::new(Mapper::new(tokens));
        self
    }

    /// Maps search types against a parsed oci package schema, and takes each resource's import id
    /// format from its description.
    pub fn with_schema(mut self, schema: &Value) -> Self {
        self.mapper = Arc::new(Mapper::from_schema(schema));
        self.import_formats = Arc::new(read_id::import_formats(schema));
        self
    }

    /// Import id formats per token (`OCID` or a template such as `n/{namespaceName}/b/{bucketName}`),
    /// when they come from somewhere other than [`OciScanner::with_schema`].
    pub fn with_import_formats<I>(mut self, formats: I) -> Self
    where
        I: IntoIterator<Item = (String, String)>,
    {
        self.import_formats = Arc::new(formats.into_iter().collect());
        self
    }

    /// Replaces the retry policy (tests use short delays).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.api = self.api.with_policy(policy);
        self
    }

    async fn run(self, tx: Events) {
        if self.mapper.is_empty() {
            // Without the schema nothing can be mapped: every hit is skipped, and the run must not
            // look complete.
            let _ = tx
                .send(ScanEvent::Incomplete {
                    what: "OCI type mapping".into(),
                    reason: "the oci provider schema was not loaded, so no resource can be mapped to a pulumi-oci type".into(),
                })
                .await;
        }
        let _ = tx
            .send(ScanEvent::Progress("listing OCI compartments".into()))
            .await;
        let listed = match self.api.list_compartments(&self.tenancy).await {
            Ok(all) => Some(
                all.into_iter()
                    .filter(|c| c.lifecycle_state.is_empty() || c.lifecycle_state == "ACTIVE")
                    .collect::<Vec<_>>(),
            ),
            Err(e) => {
                let _ = tx
                    .send(ScanEvent::Incomplete {
                        what: "the tenancy's compartment list (sub-compartments were not searched)"
                            .into(),
                        reason: e.to_string(),
                    })
                    .await;
                None
            }
        };
        let tree = Tree::new(&self.tenancy, listed.as_deref().unwrap_or(&[]));
        let root = self.compartment.clone().unwrap_or(self.tenancy.clone());
        if listed.is_some() && !tree.knows(&root) {
            let _ = tx
                .send(ScanEvent::Incomplete {
                    what: format!("compartment {root}"),
                    reason: "not an active compartment of the tenancy visible to this user".into(),
                })
                .await;
            return;
        }
        let targets: Vec<(String, String)> = tree
            .subtree(&root)
            .into_iter()
            .map(|id| {
                let scope = match tree.path(&id) {
                    p if p.is_empty() => self.region.clone(),
                    p => format!("{}/{p}", self.region),
                };
                (id, scope)
            })
            .collect();

        let this = &self;
        let namespace: OnceCell<Result<String, String>> = OnceCell::new();
        let namespace = &namespace;
        let tx = &tx;
        futures::stream::iter(targets)
            .for_each_concurrent(CONCURRENT_COMPARTMENTS, |(id, scope)| async move {
                this.search_compartment(&id, &scope, namespace, tx).await;
            })
            .await;
    }

    async fn search_compartment(
        &self,
        compartment: &str,
        scope: &str,
        namespace: &OnceCell<Result<String, String>>,
        tx: &Events,
    ) {
        let query = format!("query all resources where compartmentId = '{compartment}'");
        let mut page: Option<String> = None;
        let mut tokens = PageTokens::new();
        let mut count = 0usize;
        loop {
            let (hits, next) = match self.api.search_page(&query, page.as_deref()).await {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx
                        .send(ScanEvent::Incomplete {
                            what: format!("resources of compartment {scope}"),
                            reason: e.to_string(),
                        })
                        .await;
                    return;
                }
            };
            for hit in hits {
                count += 1;
                let event = self.event_for(hit, scope, namespace).await;
                if tx.send(event).await.is_err() {
                    return; // the consumer is gone
                }
            }
            match tokens.next(next) {
                Ok(Some(n)) => page = Some(n),
                Ok(None) => break,
                Err(repeated) => {
                    let _ = tx
                        .send(ScanEvent::Incomplete {
                            what: format!("resources of compartment {scope}"),
                            reason: repeated.to_string(),
                        })
                        .await;
                    return;
                }
            }
        }
        let _ = tx
            .send(ScanEvent::Progress(format!(
                "searched {scope}: {count} resources"
            )))
            .await;
    }

    async fn event_for(
        &self,
        hit: ResourceSummary,
        scope: &str,
        namespace: &OnceCell<Result<String, String>>,
    ) -> ScanEvent {
        let token = self.mapper.map(&hit.resource_type);
        let state = hit
            .lifecycle_state
            .as_deref()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let skipped = |token: &str, reason: String| ScanEvent::Skipped {
            token: token.to_string(),
            cloud_type: hit.resource_type.clone(),
            id: hit.identifier.clone(),
            reason,
        };
        if GONE_STATES.contains(&state.as_str()) {
            return skipped(
                token.as_deref().unwrap_or_default(),
                format!("lifecycle state is {state}"),
            );
        }
        let token = match token {
            Ok(t) => t,
            Err(why) => return skipped("", why),
        };
        let format = self.import_formats.get(&token).map(String::as_str);
        let id = match read_id::read_id(&token, &hit, format) {
            ReadId::Ready(id) => id,
            ReadId::Unavailable(why) => return skipped(&token, why),
            ReadId::Bucket { name } => {
                let ns = namespace
                    .get_or_init(|| async { self.api.namespace().await.map_err(|e| e.to_string()) })
                    .await;
                match ns {
                    Ok(ns) => read_id::bucket_id(ns, &name),
                    Err(e) => {
                        return ScanEvent::Incomplete {
                            what: format!("bucket {name} in {scope}"),
                            reason: format!("the Object Storage namespace could not be read: {e}"),
                        };
                    }
                }
            }
        };
        // Display names are not unique; the OCID's tail keeps the name unique and stable.
        let name_basis = hit
            .display_name
            .as_deref()
            .filter(|n| !n.is_empty() && id == hit.identifier)
            .map(|n| format!("{n}-{}", ocid_tail(&hit.identifier)));
        ScanEvent::Found(Discovered {
            name_basis,
            ..Discovered::new(token, id, hit.resource_type.clone(), scope)
        })
    }
}

impl Scanner for OciScanner {
    fn provider(&self) -> ProviderSpec {
        // Region only: the provider reads key material from the same OCI_* variables or config
        // file, and provider inputs are stored in plain text.
        let mut inputs = Map::new();
        inputs.insert("region".into(), Value::String(self.region.clone()));
        ProviderSpec {
            package: Cloud::Oci.package().into(),
            name: format!("oci-{}", self.region),
            version: self.version.clone(),
            inputs,
        }
    }

    fn scan(self: Box<Self>, out: Events) -> BoxFuture<'static, ()> {
        Box::pin((*self).run(out))
    }
}

fn is_ocid(s: &str) -> bool {
    s.starts_with("ocid1.")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The last characters of an OCID's unique part.
fn ocid_tail(ocid: &str) -> &str {
    let start = ocid.len().saturating_sub(8);
    ocid.get(start..).unwrap_or(ocid)
}
