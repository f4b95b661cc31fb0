//! The AKS clusters of one subscription: ARM's list of `Microsoft.ContainerService/managedClusters`
//! (every page), then each cluster's user kubeconfig (`listClusterUserCredential`, a POST that is a
//! read action: it needs `Microsoft.ContainerService/managedClusters/listClusterUserCredential/action`,
//! which the built-in "Azure Kubernetes Service Cluster User Role" grants, and changes nothing) for
//! the API server URL and CA. With Entra ID integration that kubeconfig holds no secret; clusters
//! without it (local accounts: the kubeconfig would carry a static credential) are left out with a
//! note, since their credential would have to be stored.

use anyhow::{anyhow, Result};
use base64::Engine as _;
use futures::StreamExt;
use kube::config::Kubeconfig;
use serde_json::Value;

use super::clusters::{Found, Kind};
use crate::clouds::azure::aks_token::AKS_SERVER_ID;
use crate::clouds::azure::Arm;

const API: &str = "2024-09-01";

/// The clusters found, and notes on those left out.
pub async fn clusters(
    arm: &Arm,
    subscription: &str,
) -> Result<(Vec<(String, Found)>, Vec<String>)> {
    let url = arm.url(
        &format!(
            "/subscriptions/{subscription}/providers/Microsoft.ContainerService/managedClusters"
        ),
        &[("api-version", API)],
    );
    let mut listed = Vec::new();
    let mut pages = arm.pages(url);
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("listing the AKS clusters: {e}"))?;
        listed.extend(page.items);
    }
    drop(pages);
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for c in listed {
        let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (id, name, location) = (text("id"), text("name"), text("location"));
        if c.pointer("/properties/aadProfile")
            .is_none_or(Value::is_null)
        {
            notes.push(format!(
                "AKS cluster {name} left out: it signs in with local accounts, not Microsoft Entra ID, so its credential would have to be stored"
            ));
            continue;
        }
        let url = arm.url(
            &format!("{id}/listClusterUserCredential"),
            &[("api-version", API), ("format", "exec")],
        );
        let answer = match arm.post_read_action(&url).await {
            Ok(a) => a,
            Err(e) => {
                notes.push(format!(
                    "AKS cluster {name} left out: its user kubeconfig could not be read ({e}); the scan needs Microsoft.ContainerService/managedClusters/listClusterUserCredential/action (Azure Kubernetes Service Cluster User Role)"
                ));
                continue;
            }
        };
        match from_user_kubeconfig(&answer) {
            Ok((server, ca, server_id)) => found.push((
                location.to_ascii_lowercase(),
                Found {
                    name,
                    server,
                    ca_data: ca,
                    kind: Kind::Aks { id, server_id },
                },
            )),
            Err(e) => notes.push(format!("AKS cluster {name} left out: {e}")),
        }
    }
    Ok((found, notes))
}

/// (server, CA data, server application id) from `{"kubeconfigs": [{"value": <base64 YAML>}]}`.
fn from_user_kubeconfig(answer: &Value) -> Result<(String, Option<String>, String)> {
    let encoded = answer
        .pointer("/kubeconfigs/0/value")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("listClusterUserCredential returned no kubeconfig"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| anyhow!("its kubeconfig is not base64: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow!("its kubeconfig is not UTF-8"))?;
    let config =
        Kubeconfig::from_yaml(&text).map_err(|e| anyhow!("its kubeconfig does not parse: {e}"))?;
    let cluster = config
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| anyhow!("its kubeconfig names no cluster"))?;
    let server = cluster
        .server
        .clone()
        .ok_or_else(|| anyhow!("its kubeconfig names no server"))?;
    // kubelogin's `--server-id`, when the kubeconfig's exec plugin names one.
    let server_id = config
        .auth_infos
        .iter()
        .filter_map(|a| a.auth_info.as_ref()?.exec.as_ref()?.args.clone())
        .find_map(|args| {
            let at = args.iter().position(|a| a == "--server-id")?;
            args.get(at + 1).cloned()
        })
        .unwrap_or_else(|| AKS_SERVER_ID.to_string());
    Ok((
        server,
        cluster.certificate_authority_data.clone(),
        server_id,
    ))
}
