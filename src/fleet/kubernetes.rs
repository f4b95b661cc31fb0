//! Kubernetes children: one per context of the kubeconfig (`KUBECONFIG`, else `~/.kube/config`),
//! or the `--contexts` named. Reading the file makes no call to any cluster. Children that reach
//! the same API server share its priority-and-fairness limits, so they share a rate limit group.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context, Result};
use kube::config::Kubeconfig;

use super::plan::{child, Child, Credentials};

#[derive(Debug, Clone, Default)]
pub struct KubernetesPlanArgs {
    pub contexts: Option<Vec<String>>,
    pub name: Option<String>,
    pub esc_environment: Option<String>,
}

pub fn plan(
    args: &KubernetesPlanArgs,
    extra: &BTreeMap<String, String>,
) -> Result<(String, Vec<Child>)> {
    let config = Kubeconfig::read().context("reading the kubeconfig")?;
    let servers: BTreeMap<&str, &str> = config
        .clusters
        .iter()
        .filter_map(|c| {
            let server = c.cluster.as_ref()?.server.as_deref()?;
            Some((c.name.as_str(), server))
        })
        .collect();
    let mut children = Vec::new();
    let wanted = args.contexts.as_ref();
    if let Some(list) = wanted {
        for w in list {
            if !config.contexts.iter().any(|c| &c.name == w) {
                return Err(anyhow!("the kubeconfig has no context {w:?}"));
            }
        }
    }
    for ctx in &config.contexts {
        if wanted.is_some_and(|w| !w.contains(&ctx.name)) {
            continue;
        }
        let cluster = ctx
            .context
            .as_ref()
            .map(|c| c.cluster.as_str())
            .unwrap_or("");
        let server = servers.get(cluster).copied().unwrap_or(cluster);
        let mut settings = extra.clone();
        settings.insert("cloud".into(), "kubernetes".into());
        settings.insert("context".into(), ctx.name.clone());
        // EKS context names are ARNs (`arn:aws:eks:...:cluster/prod`): `/` would make a level.
        children.push(child(
            ctx.name.replace('/', "-"),
            format!("kubernetes/{server}"),
            settings,
            Credentials {
                esc_environment: args.esc_environment.clone(),
                ..Credentials::default()
            },
        ));
    }
    Ok((
        args.name.clone().unwrap_or_else(|| "kubernetes".into()),
        children,
    ))
}
