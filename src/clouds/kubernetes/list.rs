//! Listing one resource type: metadata-only, paged lists (`limit`/`continue`), with recovery from an
//! expired continue token (410) and the shared retry/rate helpers for 429s, 5xx and transport errors.
//!
//! Lists ask for `PartialObjectMetadataList`, so the API server sends names, labels, annotations and
//! owners only: a Secret's data never reaches this process.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::ApiResource;
use kube::Client;
use tokio::sync::mpsc;

use super::discovery::ListTarget;
use super::exclusions::{kind_exclusion, object_exclusion};
use crate::discover::{Discovered, ScanEvent};
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
}

/// The read id pulumi-kubernetes takes: `namespace/name`, or `name` when cluster-scoped.
pub fn object_id(meta: &ObjectMeta) -> String {
    let name = meta.name.clone().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name,
    }
}

pub fn classify(e: &kube::Error) -> Verdict {
    match e {
        kube::Error::Api(s) if s.code == 429 => Verdict::Throttled(None),
        kube::Error::Api(s) if s.code >= 500 && s.code != 501 => Verdict::Retry,
        kube::Error::HyperError(_) | kube::Error::Service(_) => Verdict::Retry,
        _ => Verdict::Fail,
    }
}

impl Lister {
    /// Lists `target` to the end, sending what it finds. Returns early if the receiver is gone.
    pub async fn list(&self, target: &ListTarget, tx: &mpsc::Sender<ScanEvent>) {
        let ar = ApiResource {
            group: target.group.clone(),
            version: target.version.clone(),
            api_version: target.api_version(),
            kind: target.kind.clone(),
            plural: target.plural.clone(),
        };
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let token = target.token();
        let cloud_type = target.cloud_type();
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
                        }
                    }
                    continue;
                }
                Err(kube::Error::Api(s)) if s.code == 403 || s.code == 404 => {
                    let what = if s.code == 403 {
                        "access denied"
                    } else {
                        "not found"
                    };
                    let reason = format!("{what} ({}): {}", s.code, s.message);
                    let _ = tx.send(ScanEvent::TypeSkipped { cloud_type, reason }).await;
                    return;
                }
                Err(e) => {
                    let what = format!("kubernetes {}", target.cloud_type());
                    let _ = tx
                        .send(ScanEvent::Incomplete {
                            what,
                            reason: e.to_string(),
                        })
                        .await;
                    return;
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
                        ..Discovered::new(&token, id, &cloud_type, &self.scope)
                    }),
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            match list.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(next) if cont.as_ref() == Some(&next) => {
                    let what = format!("kubernetes {}", target.cloud_type());
                    let reason =
                        "the API server returned the same continue token twice".to_string();
                    let _ = tx.send(ScanEvent::Incomplete { what, reason }).await;
                    return;
                }
                Some(next) => cont = Some(next),
                None => return,
            }
        }
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
            annotations: Some(BTreeMap::from([(LAST_APPLIED.to_string(), "{}".to_string())])),
            ..Default::default()
        };
        assert_eq!(secret_outputs("", "Secret", &applied), vec!["metadata"]);
        assert!(secret_outputs("", "ConfigMap", &applied).is_empty());
        assert!(secret_outputs("", "Secret", &ObjectMeta::default()).is_empty());
    }
}
