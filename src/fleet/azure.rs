//! Azure children: one per subscription the credentials see (ARM `GET /subscriptions`, every page)
//! and location that holds resources (the locations of the subscription's resources, or
//! `--locations`). One child per subscription, the first location in order, also lists the
//! location `global` (DNS zones, Front Door...); the others are given `globalResources: none`.
//!
//! Credentials are the ones the scanner itself uses (`ARM_*` / `AZURE_*` variables, workload
//! identity, managed identity, Azure CLI); every call is a GET, but for each AKS cluster's user
//! kubeconfig (`listClusterUserCredential`, a read action ARM models as a POST): unless
//! `--no-clusters`, every AKS cluster with Entra ID becomes a Kubernetes child below its location
//! (see `aks` and `clusters`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, Context, Result};
use azure_core::http::{new_http_client, ClientOptions, Transport, Url};
use futures::StreamExt;
use serde_json::Value;

use super::clusters::cluster_child;
use super::plan::{child, Child, Credentials};
use crate::clouds::azure::{credential, Arm, AzureCloud};
use crate::retry::RetryPolicy;

const SUBSCRIPTIONS_API: &str = "2022-12-01";
const RESOURCES_API: &str = "2021-04-01";

#[derive(Debug, Clone, Default)]
pub struct AzurePlanArgs {
    pub locations: Option<Vec<String>>,
    pub subscriptions: Option<Vec<String>>,
    pub name: Option<String>,
    pub esc_environment: Option<String>,
    /// Add a Kubernetes child for each AKS cluster found (with Entra ID integration).
    pub clusters: bool,
}

/// The principal ARM limits a run by: the client id when one is configured, else the signed-in
/// identity of the machine (Azure CLI, managed identity), the same for every child.
pub fn principal(env: &dyn Fn(&str) -> Option<String>) -> String {
    ["ARM_CLIENT_ID", "AZURE_CLIENT_ID"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "default".into())
}

pub async fn plan(
    args: &AzurePlanArgs,
    extra: &BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<Child>, Vec<String>)> {
    crate::install_crypto_provider();
    let cloud = AzureCloud::from_lookup(env)?;
    let endpoint_text = extra
        .get("armEndpoint")
        .cloned()
        .unwrap_or_else(|| cloud.resource_manager.clone());
    let endpoint = Url::parse(&endpoint_text)
        .with_context(|| format!("armEndpoint {endpoint_text:?} is not a URL"))?;
    let http = new_http_client(None);
    let client_options = ClientOptions {
        transport: Some(Transport::new(http.clone())),
        ..Default::default()
    };
    let cred = credential(env, &cloud, &client_options, http)?;
    let arm = Arm::new(
        cred.credential,
        &cloud.scope,
        endpoint,
        client_options,
        RetryPolicy::default(),
    );
    let principal = principal(env);

    let mut subscriptions = Vec::new();
    let mut pages = arm.pages(arm.url("/subscriptions", &[("api-version", SUBSCRIPTIONS_API)]));
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow!("listing subscriptions (ARM GET /subscriptions): {e}"))?;
        for s in page.items {
            let (Some(id), state) = (
                s.get("subscriptionId").and_then(Value::as_str),
                s.get("state").and_then(Value::as_str).unwrap_or("Enabled"),
            ) else {
                continue;
            };
            // Disabled and deleted subscriptions are read-only or gone; Warned and PastDue still read.
            if matches!(state, "Disabled" | "Deleted") {
                continue;
            }
            if let Some(only) = &args.subscriptions {
                if !only.iter().any(|o| o.eq_ignore_ascii_case(id)) {
                    continue;
                }
            }
            let name = s
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .replace('/', "-");
            subscriptions.push((id.to_string(), name));
        }
    }
    drop(pages);

    let mut children = Vec::new();
    let mut notes = Vec::new();
    for (id, name) in &subscriptions {
        let mut locations: Vec<String> = match &args.locations {
            Some(list) => list.iter().map(|l| normalise(l)).collect(),
            None => resource_locations(&arm, id)
                .await
                .with_context(|| format!("listing the resource locations of subscription {name}"))?
                .into_iter()
                .collect(),
        };
        locations.dedup();
        // `global` is not a child of its own: the designated child lists it, unless it is all there is.
        let regional: Vec<String> = locations
            .iter()
            .filter(|l| *l != "global")
            .cloned()
            .collect();
        let locations = if regional.is_empty() && locations.iter().any(|l| l == "global") {
            vec!["global".to_string()]
        } else {
            regional
        };
        for (i, location) in locations.iter().enumerate() {
            let mut settings = extra.clone();
            settings.insert("cloud".into(), "azure".into());
            settings.insert("subscription".into(), id.clone());
            settings.insert("location".into(), location.clone());
            settings.insert(
                "globalResources".into(),
                if i == 0 { "all" } else { "none" }.into(),
            );
            children.push(child(
                format!("{name}/{location}"),
                format!("azure/{id}/{principal}"),
                settings,
                Credentials {
                    esc_environment: args.esc_environment.clone(),
                    ..Credentials::default()
                },
            ));
        }
        if !args.clusters {
            continue;
        }
        // Each cluster below its location's child; a location the plan does not scan, and a
        // subscription whose clusters cannot be listed, leave a note instead.
        match super::aks::clusters(&arm, id).await {
            Ok((found, left_out)) => {
                notes.extend(left_out);
                for (location, f) in found {
                    if !locations.contains(&location) {
                        notes.push(format!(
                            "AKS cluster {} left out: its location {location} is not planned",
                            f.name
                        ));
                        continue;
                    }
                    let credentials = Credentials {
                        esc_environment: args.esc_environment.clone(),
                        ..Credentials::default()
                    };
                    children.push(cluster_child(
                        &format!("{name}/{location}"),
                        &f,
                        credentials,
                    ));
                }
            }
            Err(e) => notes.push(format!(
                "AKS clusters of subscription {name} not listed: {e:#}"
            )),
        }
    }
    for n in &notes {
        eprintln!("warning: {n}");
    }
    let parent = args.name.clone().unwrap_or_else(|| "azure".into());
    Ok((parent, children, notes))
}

fn normalise(l: &str) -> String {
    l.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The locations of a subscription's tracked resources, from the generic resource list.
async fn resource_locations(arm: &Arm, subscription: &str) -> Result<BTreeSet<String>> {
    let url = arm.url(
        &format!("/subscriptions/{subscription}/resources"),
        &[("api-version", RESOURCES_API)],
    );
    let mut out = BTreeSet::new();
    let mut pages = arm.pages(url);
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("{e}"))?;
        for r in page.items {
            if let Some(l) = r.get("location").and_then(Value::as_str) {
                out.insert(normalise(l));
            }
        }
    }
    Ok(out)
}
