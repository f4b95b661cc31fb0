//! Listing one resource type: metadata-only, paged lists (`limit`/`continue`), with recovery from an
//! expired continue token (410) and the shared retry/rate helpers for 429s, 5xx and transport errors.
//!
//! Lists ask for `PartialObjectMetadataList`, so the API server sends names, labels, annotations and
//! owners only: a Secret's data never reaches this process.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, ListParams};
use kube::Client;
use tokio::sync::mpsc;
use tokio::sync::OnceCell;

use super::discovery::ListTarget;
use super::exclusions::{kind_exclusion, object_exclusion};
use super::read_path::{read_inputs, ReadInputs};
use crate::cloud::Cloud;
use crate::discover::{Discovered, ScanEvent};
use crate::http::paging::PageTokens;
use crate::http::verdict::{transport, verdict};
use crate::http::ServiceError;
use crate::retry::{RateGovernor, RetryPolicy, Verdict};

/// Objects per page: the API server's own recommendation for chunked lists.
pub const PAGE_SIZE: u32 = 500;
/// 410s tolerated for one type before it is reported as not listed.
const MAX_EXPIRED_RESTARTS: u32 = 5;

pub struct Lister {
    pub client: Client,
    pub governor: Arc<RateGovernor>,
    pub policy: RetryPolicy,
    pub default_exclusions: bool,
    pub scope: String,
    pub page_size: u32,
    /// What each `ReadResource` carries.
    pub read_inputs: ReadInputs,
    /// `namespaces`: list namespaced types only in these.
    pub only_namespaces: Option<Vec<String>>,
    /// With `namespaces`: whether cluster-scoped types are listed too (`clusterScoped`).
    pub cluster_scoped: bool,
    /// Every namespace's name, listed once and only when a type needs listing per namespace.
    pub namespaces: OnceCell<Result<Vec<String>, String>>,
}

/// The read id pulumi-kubernetes takes: `namespace/name`, or `name` when cluster-scoped.
pub fn object_id(meta: &ObjectMeta) -> String {
    let name = meta.name.clone().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name,
    }
}

/// The shared HTTP verdict for a kube error. A 429's `Retry-After` header has already paused the
/// governor (see `retry_after_layer`); the Status body's `retryAfterSeconds` counts too.
pub fn classify(e: &kube::Error) -> Verdict {
    match e {
        kube::Error::Api(s) => {
            let wait = s
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|secs| *secs > 0)
                .map(|secs| Duration::from_secs(secs.into()));
            verdict(Cloud::Kubernetes, s.code, &s.reason, wait)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => transport(),
        _ => Verdict::Fail,
    }
}

/// One line for a kube error: status, reason and the API server's message for an answer (kube's own
/// `Display` appends a debug dump of the whole Status), the error and its causes otherwise.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => ServiceError {
            status: s.code,
            code: s.reason.clone(),
            message: s.message.clone(),
            retry_after: None,
        }
        .to_string(),
        other => crate::oneline::chain(other),
    }
}

/// How listing one scope (the cluster, or one namespace) of a type ended.
pub enum Ended {
    Done,
    /// The consumer went away: stop everything.
    Gone,
    /// 403, with the reason to show.
    Denied(String),
    /// 404, with the reason to show.
    NotFound(String),
    /// Failed after retries; already reported as incomplete.
    Failed,
}

impl Lister {
    /// Lists `target` to the end, sending what it finds. A namespaced type the credentials may not
    /// list cluster-wide is listed namespace by namespace instead (see `namespaces`).
    pub async fn list(&self, target: &ListTarget, tx: &mpsc::Sender<ScanEvent>) {
        crate::discover::harness::fault_point(&target.cloud_type());
        // `namespaces`: a namespaced type is listed in those namespaces alone, a cluster-scoped
        // one as usual, and only when `clusterScoped` says so.
        match &self.only_namespaces {
            Some(only) if target.namespaced => return self.list_in(only, target, tx).await,
            Some(_) if !self.cluster_scoped => {
                let reason = "cluster-scoped, and the scan is limited to pulumi-cloud-import:namespaces (clusterScoped is false)".to_string();
                let cloud_type = target.cloud_type();
                let _ = tx.send(ScanEvent::TypeSkipped { cloud_type, reason }).await;
                return;
            }
            _ => {}
        }
        let ar = target.api_resource();
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let cloud_type = target.cloud_type();
        match self.list_scope(&api, target, None, tx).await {
            Ended::Denied(reason) if target.namespaced => {
                super::namespaces::list_each(self, target, reason, tx).await
            }
            // Forbidden is a gap in the scan, not a type to leave out: a successful update would drop
            // every object of the type read by an earlier run (a role narrowed between two runs).
            Ended::Denied(reason) => {
                let _ = tx.send(forbidden(&cloud_type, None, reason)).await;
            }
            // The type went away between discovery and its list: nothing of it exists to miss.
            Ended::NotFound(reason) => {
                let _ = tx.send(ScanEvent::TypeSkipped { cloud_type, reason }).await;
            }
            Ended::Done | Ended::Gone | Ended::Failed => {}
        }
    }

    /// A namespaced type, listed in the namespaces of the `namespaces` setting only.
    async fn list_in(&self, only: &[String], target: &ListTarget, tx: &mpsc::Sender<ScanEvent>) {
        let cloud_type = target.cloud_type();
        let ar = target.api_resource();
        let mut forbidden_in = Vec::new();
        let mut why = String::new();
        for ns in only {
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
            match self.list_scope(&api, target, Some(ns), tx).await {
                Ended::Denied(reason) => {
                    forbidden_in.push(ns.clone());
                    why = reason;
                }
                Ended::Gone => return,
                Ended::Done | Ended::NotFound(_) | Ended::Failed => {}
            }
        }
        if !forbidden_in.is_empty() {
            let _ = tx
                .send(forbidden(&cloud_type, Some(&forbidden_in), why))
                .await;
        }
    }

    /// Lists one scope of `target` page by page: the whole cluster (`namespace` None, `api` from
    /// `Api::all_with`) or one namespace.
    pub async fn list_scope(
        &self,
        api: &Api<DynamicObject>,
        target: &ListTarget,
        namespace: Option<&str>,
        tx: &mpsc::Sender<ScanEvent>,
    ) -> Ended {
        let token = target.token();
        let cloud_type = target.cloud_type();
        let what = match namespace {
            None => format!("kubernetes {cloud_type}"),
            Some(ns) => format!("kubernetes {cloud_type} in namespace {ns}"),
        };
        let kind_reason = self
            .default_exclusions
            .then(|| kind_exclusion(&target.group, &target.kind))
            .flatten();

        let mut cont: Option<String> = None;
        // After a 410 without a fresh token: skip what was already sent. Lists come in etcd key order,
        // which is the byte order of `namespace/name`.
        let mut resume_after: Option<String> = None;
        let mut last_sent: Option<String> = None;
        let mut restarts = 0;
        let mut tokens = PageTokens::new();
        loop {
            let mut lp = ListParams::default().limit(self.page_size);
            if let Some(c) = &cont {
                lp = lp.continue_token(c);
            }
            let page = self
                .policy
                .run(Some(&self.governor), classify, || api.list_metadata(&lp))
                .await;
            let list = match page {
                Ok(list) => list,
                Err(kube::Error::Api(s)) if s.code == 410 && restarts < MAX_EXPIRED_RESTARTS => {
                    restarts += 1;
                    match s
                        .metadata
                        .and_then(|m| m.continue_)
                        .filter(|c| !c.is_empty())
                    {
                        Some(fresh) => cont = Some(fresh),
                        None => {
                            cont = None;
                            resume_after = last_sent.clone();
                            tokens.restart();
                        }
                    }
                    continue;
                }
                Err(kube::Error::Api(s)) if s.code == 403 => {
                    return Ended::Denied(format!("access denied (403): {}", s.message.trim()));
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    return Ended::NotFound(format!("not found (404): {}", s.message.trim()));
                }
                Err(e) => {
                    let reason = describe(&e);
                    let _ = tx.send(ScanEvent::Incomplete { what, reason }).await;
                    return Ended::Failed;
                }
            };
            for item in list.items {
                let meta = item.metadata;
                let id = object_id(&meta);
                if let Some(after) = &resume_after {
                    if id.as_str() <= after.as_str() {
                        continue;
                    }
                    resume_after = None;
                }
                last_sent = Some(id.clone());
                let reason = kind_reason.or_else(|| {
                    self.default_exclusions
                        .then(|| object_exclusion(&target.group, &target.kind, &meta))
                        .flatten()
                });
                let event = match reason {
                    Some(reason) => ScanEvent::Skipped {
                        token: token.clone(),
                        cloud_type: cloud_type.clone(),
                        id,
                        reason: reason.to_string(),
                    },
                    None => ScanEvent::Found(Discovered {
                        secret_outputs: secret_outputs(&target.group, &target.kind, &meta),
                        read_inputs: read_inputs(self.read_inputs, target, &meta),
                        namespace: meta.namespace.clone().filter(|ns| !ns.is_empty()),
                        ..Discovered::new(&token, id, &cloud_type, &self.scope)
                    }),
                };
                if tx.send(event).await.is_err() {
                    return Ended::Gone;
                }
            }
            match tokens.next(list.metadata.continue_) {
                Ok(Some(next)) => cont = Some(next),
                Ok(None) => return Ended::Done,
                Err(repeated) => {
                    let reason = repeated.to_string();
                    let _ = tx.send(ScanEvent::Incomplete { what, reason }).await;
                    return Ended::Failed;
                }
            }
        }
    }
}

/// What a 403 makes: a type (or namespaces of one) the credentials may not list, with the ways
/// out. Whether that fails the run depends on what the stack holds (`held`).
pub fn forbidden(cloud_type: &str, namespaces: Option<&[String]>, reason: String) -> ScanEvent {
    let way_out = match namespaces {
        None => "grant `list` on it, or leave the type out with pulumi-cloud-import:exclude",
        Some(_) => "grant `list` on it there, leave the type out with pulumi-cloud-import:exclude, or scan only the namespaces you may list with pulumi-cloud-import:namespaces",
    };
    ScanEvent::Denied {
        cloud_type: cloud_type.to_string(),
        namespaces: namespaces.map(<[String]>::to_vec),
        reason: format!("{reason}; {way_out}"),
    }
}

/// `kubectl apply` keeps the whole applied manifest in an annotation, so a Secret created that way
/// carries its values, in plain text, in its metadata. The provider marks only `data`/`stringData`
/// secret on a read, so the engine is asked to store the Secret's `metadata` encrypted as well. Other
/// Secrets keep their metadata searchable.
fn secret_outputs(group: &str, kind: &str, meta: &ObjectMeta) -> Vec<String> {
    let applied = meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(LAST_APPLIED));
    if group.is_empty() && kind == "Secret" && applied {
        vec!["metadata".into()]
    } else {
        Vec::new()
    }
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn only_kubectl_applied_secrets_get_secret_metadata() {
        let applied = ObjectMeta {
            annotations: Some(BTreeMap::from([(
                LAST_APPLIED.to_string(),
                "{}".to_string(),
            )])),
            ..Default::default()
        };
        assert_eq!(secret_outputs("", "Secret", &applied), vec!["metadata"]);
        assert!(secret_outputs("", "ConfigMap", &applied).is_empty());
        assert!(secret_outputs("", "Secret", &ObjectMeta::default()).is_empty());
    }
}
