//! RBAC per namespace: a namespaced type whose cluster-wide list is forbidden (403) is listed
//! namespace by namespace, since RoleBindings commonly grant `list` in some namespaces only. What is
//! allowed is imported; the namespaces that stay forbidden are reported like a type-wide 403, and
//! fail the run only where the stack holds objects of the type from an earlier run (see `held`).
//! When namespaces cannot be listed at all, or every namespace is forbidden too, the type is
//! reported as not listed.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, ListParams};
use tokio::sync::mpsc;

use super::discovery::ListTarget;
use super::list::{classify, describe, forbidden as forbidden_event, Ended, Lister};
use crate::discover::ScanEvent;
use crate::http::paging::PageTokens;

/// Lists `target` in each namespace; `denied` is why the cluster-wide list was refused.
pub async fn list_each(
    lister: &Lister,
    target: &ListTarget,
    denied: String,
    tx: &mpsc::Sender<ScanEvent>,
) {
    let cloud_type = target.cloud_type();
    let all = match lister
        .namespaces
        .get_or_init(|| namespace_names(lister))
        .await
    {
        Ok(all) => all,
        Err(why) => {
            let reason =
                format!("{denied}; and the namespaces cannot be listed to try each: {why}");
            let _ = tx.send(forbidden_event(&cloud_type, None, reason)).await;
            return;
        }
    };
    let ar = target.api_resource();
    let mut forbidden = Vec::new();
    let mut listed = 0usize;
    for ns in all {
        let api: Api<DynamicObject> = Api::namespaced_with(lister.client.clone(), ns, &ar);
        match lister.list_scope(&api, target, Some(ns), tx).await {
            Ended::Done => listed += 1,
            Ended::Denied(_) => forbidden.push(ns.clone()),
            // The namespace was deleted since it was listed, or the failure is already reported.
            Ended::NotFound(_) | Ended::Failed => {}
            Ended::Gone => return,
        }
    }
    if listed == 0 && !forbidden.is_empty() {
        let reason = format!("{denied}, and in every namespace");
        let _ = tx.send(forbidden_event(&cloud_type, None, reason)).await;
    } else if !forbidden.is_empty() {
        let reason = "access denied (403) in these namespaces; listed in the others".to_string();
        let _ = tx
            .send(forbidden_event(&cloud_type, Some(&forbidden), reason))
            .await;
    }
}

/// Every namespace's name, paged like any list.
async fn namespace_names(lister: &Lister) -> Result<Vec<String>, String> {
    let api: Api<Namespace> = Api::all(lister.client.clone());
    let mut names = Vec::new();
    let mut tokens = PageTokens::new();
    let mut cont: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(lister.page_size);
        if let Some(c) = &cont {
            lp = lp.continue_token(c);
        }
        let page = lister
            .policy
            .run(Some(&lister.governor), classify, || api.list_metadata(&lp))
            .await
            .map_err(|e| describe(&e))?;
        names.extend(page.items.into_iter().filter_map(|n| n.metadata.name));
        match tokens.next(page.metadata.continue_) {
            Ok(Some(next)) => cont = Some(next),
            Ok(None) => return Ok(names),
            Err(repeated) => return Err(repeated.to_string()),
        }
    }
}
