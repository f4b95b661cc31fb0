//! Which resource types the cluster serves: every top-level resource with the `list` verb, in its
//! group's preferred version. Uses aggregated discovery (`apidiscovery.k8s.io/v2`: two requests for
//! the whole cluster, broken aggregated APIs marked `Stale` instead of answering 503 for minutes) and
//! falls back to per-group discovery on servers older than 1.26, bounding the time spent per group.

use std::time::Duration;

use kube::core::discovery::v2::APIGroupDiscovery;
use kube::Client;

use super::exclusions::group_exclusion;

/// Per-group time budget of the classic fallback (a dead aggregated API answers 503s slowly).
const GROUP_TIMEOUT: Duration = Duration::from_secs(20);

/// One listable resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListTarget {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl ListTarget {
    /// What kube's dynamic API needs to list this type.
    pub fn api_resource(&self) -> kube::core::ApiResource {
        kube::core::ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    /// `kubernetes:<group or core>/<version>:<Kind>`, the pulumi-kubernetes token rule (custom
    /// resources included).
    pub fn token(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        format!("kubernetes:{group}/{}:{}", self.version, self.kind)
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The cloud's own name for the type, e.g. `apps/v1/Deployment`.
    pub fn cloud_type(&self) -> String {
        format!("{}/{}", self.api_version(), self.kind)
    }
}

/// What discovery found: types to list, and groups that could not be discovered.
#[derive(Debug, Default)]
pub struct Found {
    pub targets: Vec<ListTarget>,
    /// (group, reason) of groups left out on purpose: reported as not listed.
    pub skipped_groups: Vec<(String, String)>,
    /// (group, reason) of groups whose discovery failed: the scan is incomplete.
    pub failed_groups: Vec<(String, String)>,
}

pub async fn discover(client: &Client) -> Result<Found, kube::Error> {
    match aggregated(client).await {
        Ok(Some(found)) => Ok(found),
        // Servers before 1.26 ignore the aggregated Accept type and answer the classic documents,
        // which either do not parse as a discovery list or parse as an empty one.
        Ok(None) | Err(kube::Error::SerdeError(_)) => classic(client).await,
        Err(e) => Err(e),
    }
}

/// `None` when the server does not serve aggregated discovery: a server that does always lists the
/// core group under `/api`.
async fn aggregated(client: &Client) -> Result<Option<Found>, kube::Error> {
    let core = client.list_core_api_versions_aggregated().await?;
    if core.items.is_empty() {
        return Ok(None);
    }
    let groups = client.list_api_groups_aggregated().await?;
    let mut found = Found::default();
    for group in core.items.into_iter().chain(groups.items) {
        add_group(&mut found, group);
    }
    Ok(Some(found))
}

fn add_group(found: &mut Found, group: APIGroupDiscovery) {
    let name = group
        .metadata
        .as_ref()
        .and_then(|m| m.name.clone())
        .unwrap_or_default();
    if let Some(reason) = group_exclusion(&name) {
        found.skipped_groups.push((name, reason.to_string()));
        return;
    }
    // Versions come in descending preference: the first is the preferred one.
    let Some(preferred) = group.versions.into_iter().next() else {
        return;
    };
    let version = preferred.version.clone().unwrap_or_default();
    if preferred.freshness.as_deref() == Some("Stale") {
        found.failed_groups.push((
            group_label(&name, &version),
            "its aggregated API server is not answering (discovery marks it Stale)".into(),
        ));
        return;
    }
    for r in preferred.resources {
        let (Some(plural), Some(kind)) = (r.resource, r.response_kind.and_then(|k| k.kind)) else {
            continue;
        };
        if !r.verbs.iter().any(|v| v == "list") || plural.contains('/') {
            continue;
        }
        found.targets.push(ListTarget {
            group: name.clone(),
            version: version.clone(),
            kind,
            plural,
            namespaced: r.scope.as_deref() == Some("Namespaced"),
        });
    }
}

async fn classic(client: &Client) -> Result<Found, kube::Error> {
    let mut found = Found::default();
    let mut versions = vec![(String::new(), "v1".to_string())];
    for g in client.list_api_groups().await?.groups {
        if let Some(reason) = group_exclusion(&g.name) {
            found.skipped_groups.push((g.name, reason.to_string()));
            continue;
        }
        let preferred = g
            .preferred_version
            .map(|v| v.version)
            .or_else(|| g.versions.first().map(|v| v.version.clone()));
        if let Some(v) = preferred {
            versions.push((g.name, v));
        }
    }
    for (group, version) in versions {
        let gv = if group.is_empty() {
            version.clone()
        } else {
            format!("{group}/{version}")
        };
        let listed = tokio::time::timeout(GROUP_TIMEOUT, async {
            if group.is_empty() {
                client.list_core_api_resources(&version).await
            } else {
                client.list_api_group_resources(&gv).await
            }
        })
        .await;
        let list = match listed {
            Ok(Ok(list)) => list,
            Ok(Err(e)) => {
                found.failed_groups.push((gv, super::list::describe(&e)));
                continue;
            }
            Err(_) => {
                found
                    .failed_groups
                    .push((gv, format!("no answer within {}s", GROUP_TIMEOUT.as_secs())));
                continue;
            }
        };
        for r in list.resources {
            if r.name.contains('/') || !r.verbs.iter().any(|v| v == "list") {
                continue;
            }
            found.targets.push(ListTarget {
                group: group.clone(),
                version: version.clone(),
                kind: r.kind,
                plural: r.name,
                namespaced: r.namespaced,
            });
        }
    }
    Ok(found)
}

fn group_label(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_rule_matches_pulumi_kubernetes() {
        let t = |g: &str, v: &str, k: &str| ListTarget {
            group: g.into(),
            version: v.into(),
            kind: k.into(),
            plural: String::new(),
            namespaced: true,
        };
        assert_eq!(
            t("", "v1", "ConfigMap").token(),
            "kubernetes:core/v1:ConfigMap"
        );
        assert_eq!(
            t("apps", "v1", "Deployment").token(),
            "kubernetes:apps/v1:Deployment"
        );
        assert_eq!(
            t("stable.example.com", "v1", "CronTab").token(),
            "kubernetes:stable.example.com/v1:CronTab"
        );
        assert_eq!(t("", "v1", "Pod").cloud_type(), "v1/Pod");
    }

    /// Every row of the reference type map (when present) follows the rule.
    #[test]
    fn token_rule_holds_for_the_reference_type_map() {
        let Some(text) = crate::testdata::type_map("kubernetes.tsv") else {
            return;
        };
        let mut header: Vec<&str> = Vec::new();
        let mut checked = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            if header.is_empty() {
                header = cols;
                continue;
            }
            let col = |name: &str| header.iter().position(|h| *h == name).map(|i| cols[i]);
            let (Some(token), Some(gvk)) = (col("token"), col("gvk")) else {
                continue;
            };
            let parts: Vec<&str> = gvk.split('/').collect();
            let [group, version, kind] = parts[..] else {
                continue;
            };
            let target = ListTarget {
                group: if group == "core" {
                    String::new()
                } else {
                    group.to_string()
                },
                version: version.to_string(),
                kind: kind.to_string(),
                plural: String::new(),
                namespaced: true,
            };
            assert_eq!(target.token(), token, "row {line}");
            checked += 1;
        }
        eprintln!("kubernetes token rule: {checked} reference rows match");
        assert!(
            checked > 100,
            "only {checked} rows checked: the file's columns changed?"
        );
    }
}
