//! One Azure discovery run: resource groups, then the subscription's resources per location (and
//! `global`), then the child collections of the parents that have them, emitted as they are paged.
//!
//! Order guarantee: a resource group is emitted (with `is_parent`) before any resource that names it
//! as parent. Groups in a scanned location are emitted as the group list is paged; a group homed in
//! another location is emitted lazily, just before its first resource in a scanned location. Only
//! the group table (at most a few thousand per subscription) is held in memory; resources stream.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::arm::{Arm, ArmError};
use super::children::{child_lists, ChildList};
use super::fallback::fallback_token;
use super::mapping::TypeMap;
use super::Locations;
use crate::discover::harness::surface_panic;
use crate::discover::{Discovered, Events, ResourceKey, ScanEvent};

pub const RESOURCE_GROUP_TOKEN: &str = "azure-native:resources:ResourceGroup";
const RESOURCE_GROUP_TYPE: &str = "Microsoft.Resources/resourceGroups";
const RESOURCES_API: &str = "2021-04-01";
/// Child collections listed at once (each is one or a few GETs through the shared governor).
const CHILD_CONCURRENCY: usize = 8;

pub struct Scan {
    pub subscription: String,
    pub locations: Locations,
    pub arm: Arm,
    pub types: Option<Arc<TypeMap>>,
    /// Whether this scan lists the location `global` (a fleet gives it to one child per
    /// subscription: `globalResources`).
    pub global: bool,
}

struct Group {
    id: String,
    location: String,
    emitted: bool,
}

/// Everything a resource needs to be turned into an event.
#[derive(Clone)]
struct Ctx {
    subscription: String,
    types: Option<Arc<TypeMap>>,
    tx: Events,
}

impl Ctx {
    /// False once the consumer has gone away.
    async fn send(&self, ev: ScanEvent) -> bool {
        self.tx.send(ev).await.is_ok()
    }

    fn name_basis(&self, id: &str) -> String {
        let prefix = format!("/subscriptions/{}/", self.subscription);
        match id.get(..prefix.len()) {
            Some(head) if head.eq_ignore_ascii_case(&prefix) => id[prefix.len()..].to_string(),
            _ => id.trim_start_matches('/').to_string(),
        }
    }

    /// The event for one listed resource (a Found, or a Skipped when no token fits). Child
    /// resources carry no location: theirs is their parent's, `inherited_location`.
    fn event(
        &self,
        item: &Value,
        parent: Option<ResourceKey>,
        inherited_location: &str,
    ) -> Option<ScanEvent> {
        let id = item.get("id")?.as_str()?.to_string();
        let arm_type = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let kind = item.get("kind").and_then(Value::as_str);
        let location = item
            .get("location")
            .and_then(Value::as_str)
            .unwrap_or(inherited_location);
        let token = match &self.types {
            Some(map) => map.token_for(&id, kind).map(str::to_string),
            None => fallback_token(&id),
        };
        let Some(token) = token else {
            return Some(ScanEvent::Skipped {
                token: fallback_token(&id).unwrap_or_default(),
                cloud_type: arm_type,
                id,
                reason: "no azure-native resource type has an id template matching this id".into(),
            });
        };
        let scope = if location.is_empty() {
            self.subscription.clone()
        } else {
            format!("{}/{}", self.subscription, normalise_location(location))
        };
        Some(ScanEvent::Found(Discovered {
            name_basis: Some(self.name_basis(&id)),
            parent,
            is_parent: false,
            secret_outputs: Vec::new(),
            read_inputs: Default::default(),
            namespace: None,
            token,
            id,
            cloud_type: arm_type,
            scope,
        }))
    }
}

fn normalise_location(l: &str) -> String {
    l.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn location_matches(locations: &Locations, global: bool, location: &str) -> bool {
    match locations {
        Locations::All => true,
        Locations::Some(list) => {
            let l = normalise_location(location);
            (global && l == "global") || list.contains(&l)
        }
    }
}

/// The resource group name of an id `/subscriptions/s/resourceGroups/<name>/...`.
fn group_name(id: &str) -> Option<&str> {
    let mut parts = id.split('/').filter(|s| !s.is_empty());
    let sub = parts.next()?;
    parts.next()?;
    let rg = parts.next()?;
    if sub.eq_ignore_ascii_case("subscriptions") && rg.eq_ignore_ascii_case("resourcegroups") {
        parts.next()
    } else {
        None
    }
}

struct Run {
    ctx: Ctx,
    arm: Arm,
    locations: Locations,
    global: bool,
    groups: HashMap<String, Group>,
}

impl Run {
    /// Emits a group the first time it is needed; returns its key, or `None` when the consumer left.
    async fn ensure_group(&mut self, name: &str) -> Option<ResourceKey> {
        let lower = name.to_ascii_lowercase();
        let subscription = &self.ctx.subscription;
        let group = self.groups.entry(lower).or_insert_with(|| Group {
            // Created after the group list was read: its id follows the ARM grammar.
            id: format!("/subscriptions/{subscription}/resourceGroups/{name}"),
            location: String::new(),
            emitted: false,
        });
        let key = ResourceKey {
            token: RESOURCE_GROUP_TOKEN.into(),
            id: group.id.clone(),
        };
        if !group.emitted {
            group.emitted = true;
            let scope = if group.location.is_empty() {
                subscription.clone()
            } else {
                format!("{subscription}/{}", group.location)
            };
            let found = Discovered {
                token: RESOURCE_GROUP_TOKEN.into(),
                id: group.id.clone(),
                cloud_type: RESOURCE_GROUP_TYPE.into(),
                scope,
                name_basis: Some(self.ctx.name_basis(&group.id)),
                parent: None,
                is_parent: true,
                secret_outputs: Vec::new(),
                read_inputs: Default::default(),
                namespace: None,
            };
            if !self.ctx.send(ScanEvent::Found(found)).await {
                return None;
            }
        }
        Some(key)
    }

    async fn list_groups(&mut self) -> bool {
        let url = self.arm.url(
            &format!("/subscriptions/{}/resourcegroups", self.ctx.subscription),
            &[("api-version", RESOURCES_API)],
        );
        let mut pages = self.arm.pages(url);
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    return self
                        .ctx
                        .send(ScanEvent::Incomplete {
                            what: format!(
                                "resource groups of subscription {}",
                                self.ctx.subscription
                            ),
                            reason: e.to_string(),
                        })
                        .await;
                }
            };
            for item in page.items {
                let (Some(id), Some(name)) = (
                    item.get("id").and_then(Value::as_str),
                    item.get("name").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let location =
                    normalise_location(item.get("location").and_then(Value::as_str).unwrap_or(""));
                let in_scope = location_matches(&self.locations, self.global, &location);
                self.groups.insert(
                    name.to_ascii_lowercase(),
                    Group {
                        id: id.to_string(),
                        location,
                        emitted: false,
                    },
                );
                if in_scope && self.ensure_group(name).await.is_none() {
                    return false;
                }
            }
        }
        true
    }

    /// The `$filter`s to list with: one per location plus `global`, or none for all locations.
    fn filters(&self) -> Vec<(String, Option<String>)> {
        match &self.locations {
            Locations::All => vec![("all locations".into(), None)],
            Locations::Some(list) => {
                let mut names: Vec<&str> = list.iter().map(String::as_str).collect();
                if self.global && !names.contains(&"global") {
                    names.push("global");
                }
                names
                    .into_iter()
                    .map(|l| (format!("location {l}"), Some(format!("location eq '{l}'"))))
                    .collect()
            }
        }
    }

    async fn list_resources(&mut self, children: &mut Children) -> bool {
        for (label, filter) in self.filters() {
            let mut query = vec![("api-version", RESOURCES_API)];
            if let Some(f) = &filter {
                query.push(("$filter", f.as_str()));
            }
            let url = self.arm.url(
                &format!("/subscriptions/{}/resources", self.ctx.subscription),
                &query,
            );
            let mut pages = self.arm.pages(url);
            let mut listed = 0usize;
            while let Some(page) = pages.next().await {
                let page = match page {
                    Ok(p) => p,
                    Err(e) => {
                        let what = format!(
                            "resources of subscription {} ({label})",
                            self.ctx.subscription
                        );
                        if !self
                            .ctx
                            .send(ScanEvent::Incomplete {
                                what,
                                reason: e.to_string(),
                            })
                            .await
                        {
                            return false;
                        }
                        break;
                    }
                };
                for item in page.items {
                    if !self.resource(item, children).await {
                        return false;
                    }
                    listed += 1;
                }
                let progress = format!("azure: {listed} resources listed ({label})");
                if !self.ctx.send(ScanEvent::Progress(progress)).await {
                    return false;
                }
            }
        }
        true
    }

    async fn resource(&mut self, item: Value, children: &mut Children) -> bool {
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            return true;
        };
        let parent = match group_name(id) {
            Some(name) => match self.ensure_group(name).await {
                Some(key) => Some(key),
                None => return false,
            },
            None => None,
        };
        let location = item
            .get("location")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(event) = self.ctx.event(&item, parent.clone(), "") else {
            return true;
        };
        let arm_type = item.get("type").and_then(Value::as_str).unwrap_or("");
        let lists: Vec<&'static ChildList> = child_lists(arm_type).collect();
        let id = id.to_string();
        if !self.ctx.send(event).await {
            return false;
        }
        for list in lists {
            children
                .spawn(
                    self.ctx.clone(),
                    self.arm.clone(),
                    id.clone(),
                    location.clone(),
                    list,
                    parent.clone(),
                )
                .await;
        }
        true
    }
}

/// Child listings in flight, bounded by a semaphore.
struct Children {
    permits: Arc<Semaphore>,
    tasks: JoinSet<()>,
}

impl Children {
    async fn spawn(
        &mut self,
        ctx: Ctx,
        arm: Arm,
        parent_id: String,
        location: String,
        list: &'static ChildList,
        group: Option<ResourceKey>,
    ) {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return;
        };
        // Reap finished listings so the set stays as small as the number in flight.
        while let Some(done) = self.tasks.try_join_next() {
            surface_panic(done);
        }
        self.tasks.spawn(async move {
            list_children(&ctx, &arm, &parent_id, &location, list, group).await;
            drop(permit);
        });
    }
}

async fn list_children(
    ctx: &Ctx,
    arm: &Arm,
    parent_id: &str,
    location: &str,
    list: &ChildList,
    group: Option<ResourceKey>,
) {
    crate::discover::harness::fault_point(list.child_type);
    let path = format!("{}{}", parent_id, list.path);
    let url = arm.url(&path, &[("api-version", list.api_version)]);
    let mut pages = arm.pages(url);
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => {
                for item in p.items {
                    if let Some(ev) = ctx.event(&item, group.clone(), location) {
                        if !ctx.send(ev).await {
                            return;
                        }
                    }
                }
            }
            Err(e) => {
                let ev = child_failure(parent_id, list, &e);
                ctx.send(ev).await;
                return;
            }
        }
    }
}

/// A 4xx on a child list is a property of that parent (feature not enabled, the parent just
/// deleted): the type is skipped there, unless it is a refusal (401/403), which is a gap wherever
/// the stack holds resources of the type (`held`). Anything else outlived the retries.
fn child_failure(parent_id: &str, list: &ChildList, e: &ArmError) -> ScanEvent {
    match e.status() {
        Some(401 | 403) => ScanEvent::Denied {
            cloud_type: list.child_type.into(),
            namespaces: None,
            reason: format!("access denied under {parent_id}: {e}"),
        },
        Some(s) if (400..500).contains(&s) && s != 429 => ScanEvent::TypeSkipped {
            cloud_type: list.child_type.into(),
            reason: format!("not listable under {parent_id}: {e}"),
        },
        _ => ScanEvent::Incomplete {
            what: format!("{} under {parent_id}", list.child_type),
            reason: e.to_string(),
        },
    }
}

/// Lists the subscription: resource groups, then resources, then their child lists.
pub async fn run(scan: Scan, tx: Events) {
    let ctx = Ctx {
        subscription: scan.subscription,
        types: scan.types,
        tx,
    };
    // Without a type table the scanner guesses tokens; the scanner factory has already warned
    // (through the run's reporter) how to get the exact mapping.
    let mut run = Run {
        ctx,
        arm: scan.arm,
        locations: scan.locations,
        global: scan.global,
        groups: HashMap::new(),
    };
    let mut children = Children {
        permits: Arc::new(Semaphore::new(CHILD_CONCURRENCY)),
        tasks: JoinSet::new(),
    };
    if run.list_groups().await {
        run.list_resources(&mut children).await;
    }
    // A child listing that panicked must crash this task too, so the harness reports the scan
    // as incomplete instead of losing that subtree silently.
    while let Some(done) = children.tasks.join_next().await {
        surface_panic(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_and_locations() {
        assert_eq!(
            group_name("/subscriptions/s/resourceGroups/RG1/providers/Microsoft.Web/sites/a"),
            Some("RG1")
        );
        assert_eq!(
            group_name("/subscriptions/s/providers/Microsoft.Web/sites/a"),
            None
        );
        let l = Locations::Some(vec!["westus2".into()]);
        assert!(location_matches(&l, true, "West US 2"));
        assert!(location_matches(&l, true, "global"));
        assert!(!location_matches(&l, false, "global"));
        assert!(!location_matches(&l, true, "eastus"));
    }
}
