//! One scan of an account-region, start to end: the registry's types, then every type listed
//! through Cloud Control with `listConcurrency` listings in flight, then the types whose list handler
//! needs properties, fanned out from their parents' listed resources (parents before children, in
//! rounds, so a child of a child works too). Every registry type ends as listed, `TypeSkipped` with
//! its reason, or `Incomplete`; every resource is reported once per (type, identifier).
//!
//! Parents' listed models are kept in memory until their children have been listed; models of types
//! that turn out to be nobody's parent are dropped as soon as the fan-out plans are known.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};
use tokio::sync::mpsc;

use super::api::Api;
use super::errors::{ApiError, Class};
use super::fanout::{self, Plan, ValuesPlan};
use super::global::{self, GlobalMode};
use super::list::{Listed, Pager};

mod children;
use super::token::token_for;
use super::types::{self, ListHandler, Relation};
use crate::discover::{Discovered, ScanEvent};

/// What a scan needs besides the clients.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub region: String,
    pub scope: String,
    pub global_mode: GlobalMode,
    pub global_region: String,
    pub list_concurrency: usize,
    /// Tokens the installed aws-native plugin knows; `None` lists every registry type.
    pub known_tokens: Option<Arc<HashSet<String>>>,
    /// The account, when the credentials say (SSO, `AWS_ACCOUNT_ID`); some list handlers need it.
    pub account_id: Option<String>,
}

/// How a type's listing ended.
#[derive(Debug, Clone)]
enum Final {
    Listed,
    Skipped(String),
    /// The credentials may not list it: a gap only where the stack holds some of it (`held`).
    Denied(String),
    Incomplete(String),
}

/// Phase one's result for a type.
enum FirstTry {
    Done(Final),
    /// The list handler rejected a plain request: it may need properties.
    NeedsProperties(ApiError),
}

/// A list handler's required property sets and the type's declared relationships.
type NeedsProperties = (Vec<Vec<String>>, BTreeMap<String, Vec<Relation>>);

struct ListFailure {
    error: ApiError,
    pages: u64,
}

struct Run {
    api: Arc<Api>,
    cfg: ScanConfig,
    tx: mpsc::Sender<ScanEvent>,
    seen: Mutex<HashSet<(String, String)>>,
    store: Mutex<HashMap<String, Vec<Listed>>>,
    found: AtomicU64,
    types_total: AtomicU64,
    types_done: AtomicU64,
    access_denied: AtomicU64,
    closed: AtomicBool,
}

/// Runs the scan, sending events to `tx` until done or until the receiver is dropped.
pub async fn run(api: Arc<Api>, cfg: ScanConfig, tx: mpsc::Sender<ScanEvent>) {
    let run = Run {
        api,
        cfg,
        tx,
        seen: Mutex::new(HashSet::new()),
        store: Mutex::new(HashMap::new()),
        found: AtomicU64::new(0),
        types_total: AtomicU64::new(0),
        types_done: AtomicU64::new(0),
        access_denied: AtomicU64::new(0),
        closed: AtomicBool::new(false),
    };
    run.scan().await;
}

impl Run {
    async fn emit(&self, ev: ScanEvent) -> bool {
        if self.tx.send(ev).await.is_err() {
            self.closed.store(true, Ordering::SeqCst);
        }
        !self.closed.load(Ordering::SeqCst)
    }

    async fn finish_type(&self, type_name: &str, outcome: &Final) {
        match outcome {
            Final::Listed => {}
            Final::Skipped(reason) => {
                self.emit(ScanEvent::TypeSkipped {
                    cloud_type: type_name.to_string(),
                    reason: reason.clone(),
                })
                .await;
            }
            Final::Denied(reason) => {
                self.emit(ScanEvent::Denied {
                    cloud_type: type_name.to_string(),
                    namespaces: None,
                    reason: reason.clone(),
                })
                .await;
            }
            Final::Incomplete(reason) => {
                self.emit(ScanEvent::Incomplete {
                    what: format!("{type_name} in {}", self.cfg.region),
                    reason: reason.clone(),
                })
                .await;
            }
        }
        let done = self.types_done.fetch_add(1, Ordering::SeqCst) + 1;
        let total = self.types_total.load(Ordering::SeqCst);
        if done.is_multiple_of(25) || done == total {
            self.emit(ScanEvent::Progress(self.progress())).await;
        }
    }

    fn progress(&self) -> String {
        format!(
            "AWS {}: {}/{} types listed, {} resources, {} throttles",
            self.cfg.region,
            self.types_done.load(Ordering::SeqCst),
            self.types_total.load(Ordering::SeqCst),
            self.found.load(Ordering::SeqCst),
            self.api.governor.throttles()
        )
    }

    async fn scan(&self) {
        let registry = match types::list_types(&self.api).await {
            Ok(t) => t,
            Err(e) => {
                self.emit(ScanEvent::Incomplete {
                    what: format!("AWS resource types in {}", self.cfg.region),
                    reason: format!("CloudFormation ListTypes failed: {e}"),
                })
                .await;
                return;
            }
        };
        let mut to_list: Vec<(String, String)> = Vec::new();
        for t in &registry {
            let skip = match token_for(t) {
                None => Some("not an AWS::<Service>::<Resource> type name".to_string()),
                Some(token) => {
                    let unknown = self
                        .cfg
                        .known_tokens
                        .as_ref()
                        .is_some_and(|k| !k.contains(&token));
                    if unknown {
                        Some(format!(
                            "the installed aws-native plugin has no resource {token}"
                        ))
                    } else if let Some(reason) = global::exclusion(
                        t,
                        self.cfg.global_mode,
                        &self.cfg.region,
                        &self.cfg.global_region,
                    ) {
                        Some(reason)
                    } else {
                        to_list.push((t.clone(), token));
                        None
                    }
                }
            };
            if let Some(reason) = skip {
                let ev = ScanEvent::TypeSkipped {
                    cloud_type: t.clone(),
                    reason,
                };
                if !self.emit(ev).await {
                    return;
                }
            }
        }
        self.types_total
            .store(to_list.len() as u64, Ordering::SeqCst);
        self.emit(ScanEvent::Progress(format!(
            "AWS {}: listing {} of the registry's {} resource types",
            self.cfg.region,
            to_list.len(),
            registry.len()
        )))
        .await;
        let listed: BTreeSet<String> = to_list.iter().map(|(t, _)| t.clone()).collect();
        let tokens: HashMap<String, String> = to_list.iter().cloned().collect();

        // Phase one: every type, plainly.
        let mut status: HashMap<String, Final> = HashMap::new();
        let mut needing: Vec<(String, ApiError)> = Vec::new();
        let mut results = stream::iter(to_list.clone())
            .map(|(t, token)| async move {
                let outcome = self.first_try(&t, &token).await;
                (t, outcome)
            })
            .buffer_unordered(self.cfg.list_concurrency);
        while let Some((t, outcome)) = results.next().await {
            match outcome {
                FirstTry::Done(fin) => {
                    self.finish_type(&t, &fin).await;
                    status.insert(t, fin);
                }
                FirstTry::NeedsProperties(e) => needing.push((t, e)),
            }
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
        }
        drop(results);

        // Phase two: what the types that need properties need, and from whom.
        let described: Vec<(String, ApiError, Result<ListHandler, ApiError>)> =
            stream::iter(needing)
                .map(|(t, first)| async move {
                    let h = types::describe_list_handler(&self.api, &t).await;
                    (t, first, h)
                })
                .buffer_unordered(self.cfg.list_concurrency)
                .collect()
                .await;
        let mut handlers: BTreeMap<String, NeedsProperties> = BTreeMap::new();
        let mut first_errors: HashMap<String, ApiError> = HashMap::new();
        let mut values_plans: Vec<(String, ValuesPlan)> = Vec::new();
        for (t, first, handler) in described {
            let fin = match handler {
                Ok(ListHandler::Present {
                    alternatives,
                    relations,
                    mut enums,
                }) if !alternatives.is_empty() => {
                    // QuickSight's list handlers need the caller's own account id.
                    if let Some(account) = &self.cfg.account_id {
                        enums.insert("AwsAccountId".to_string(), vec![account.clone()]);
                    }
                    if let Some(values) = ValuesPlan::find(&alternatives, &enums) {
                        values_plans.push((t, values));
                    } else {
                        handlers.insert(t.clone(), (alternatives, relations));
                        first_errors.insert(t, first);
                    }
                    continue;
                }
                Ok(ListHandler::Present { .. }) => {
                    Final::Skipped(format!("Cloud Control rejected the list request: {first}"))
                }
                Ok(ListHandler::Absent) => {
                    Final::Skipped(format!("the type has no list handler ({first})"))
                }
                Err(e) => self.failure_to_final(&e, "DescribeType"),
            };
            self.finish_type(&t, &fin).await;
            status.insert(t, fin);
        }
        // Types listed once per allowed value need no parent: list them now (they may be parents).
        for (t, plan) in &values_plans {
            let fin = self.fan_out_values(t, &tokens[t], plan, true).await;
            self.finish_type(t, &fin).await;
            status.insert(t.clone(), fin);
        }
        let needs: BTreeMap<String, Vec<Vec<String>>> = handlers
            .iter()
            .map(|(t, (alts, _))| (t.clone(), alts.clone()))
            .collect();
        let mut pending: Vec<(String, Plan)> = Vec::new();
        for (t, (alts, relations)) in &handlers {
            match fanout::plan(t, alts, relations, &listed, &needs) {
                Ok(plan) => pending.push((t.clone(), plan)),
                Err(reason) => {
                    let fin = Final::Skipped(format!("{reason} ({})", first_errors[t]));
                    self.finish_type(t, &fin).await;
                    status.insert(t.clone(), fin);
                }
            }
        }
        self.keep_only_parents_of(&pending);

        // Rounds: children whose parent type has finished.
        while !pending.is_empty() {
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            let (ready, waiting): (Vec<_>, Vec<_>) = pending
                .into_iter()
                .partition(|(_, plan)| status.contains_key(&plan.parent));
            if ready.is_empty() {
                for (t, plan) in &waiting {
                    let fin = Final::Skipped(format!(
                        "its parent type {} needs a parent that needs it in turn",
                        plan.parent
                    ));
                    self.finish_type(t, &fin).await;
                }
                break;
            }
            let still_parents: HashSet<&str> =
                waiting.iter().map(|(_, p)| p.parent.as_str()).collect();
            for (t, plan) in &ready {
                let keep = still_parents.contains(t.as_str());
                let fin = match &status[&plan.parent] {
                    Final::Skipped(r) => Final::Skipped(format!(
                        "its list handler needs values from {}, which was skipped: {r}",
                        plan.parent
                    )),
                    Final::Denied(r) => Final::Denied(format!(
                        "its list handler needs values from {}, which may not be listed: {r}",
                        plan.parent
                    )),
                    Final::Incomplete(_) => Final::Incomplete(format!(
                        "its list handler needs values from {}, whose listing is incomplete",
                        plan.parent
                    )),
                    Final::Listed => self.fan_out(t, &tokens[t], plan, keep).await,
                };
                self.finish_type(t, &fin).await;
                status.insert(t.clone(), fin);
            }
            pending = waiting;
            self.keep_only_parents_of(&pending);
        }
        self.store.lock().expect("store lock").clear();
        self.emit(ScanEvent::Progress(format!(
            "{}; {} types denied",
            self.progress(),
            self.access_denied.load(Ordering::SeqCst)
        )))
        .await;
    }

    /// Drops stored models of types no pending child needs.
    fn keep_only_parents_of(&self, pending: &[(String, Plan)]) {
        let parents: HashSet<&str> = pending.iter().map(|(_, p)| p.parent.as_str()).collect();
        let fanned: HashSet<&str> = pending.iter().map(|(t, _)| t.as_str()).collect();
        // A pending child may itself become a parent later: its models are kept when listed.
        self.store
            .lock()
            .expect("store lock")
            .retain(|t, _| parents.contains(t.as_str()) || fanned.contains(t.as_str()));
    }

    /// A type that failed for good, as its final state.
    fn failure_to_final(&self, e: &ApiError, call: &str) -> Final {
        match e.class {
            Class::Unsupported => {
                Final::Skipped(format!("not supported by Cloud Control here: {e}"))
            }
            Class::AccessDenied => {
                self.access_denied.fetch_add(1, Ordering::SeqCst);
                Final::Denied(format!("access denied ({call}): {e}"))
            }
            _ => Final::Incomplete(format!("{call} failed: {e}")),
        }
    }

    async fn first_try(&self, type_name: &str, token: &str) -> FirstTry {
        match self.list_into(type_name, token, None, true).await {
            Ok(()) => FirstTry::Done(Final::Listed),
            Err(f) if f.error.class == Class::InvalidRequest && f.pages == 0 => {
                FirstTry::NeedsProperties(f.error)
            }
            Err(f) => FirstTry::Done(self.failure_to_final(&f.error, "ListResources")),
        }
    }

    /// Lists one type (optionally with a `ResourceModel`), reporting each new resource.
    async fn list_into(
        &self,
        type_name: &str,
        token: &str,
        model: Option<String>,
        keep: bool,
    ) -> Result<(), ListFailure> {
        let mut pager = Pager::new(&self.api, type_name, model);
        loop {
            let items = match pager.next_page().await {
                Ok(Some(items)) => items,
                Ok(None) => return Ok(()),
                Err(error) => {
                    return Err(ListFailure {
                        error,
                        pages: pager.pages,
                    })
                }
            };
            for item in items {
                let new = self
                    .seen
                    .lock()
                    .expect("seen lock")
                    .insert((type_name.to_string(), item.identifier.clone()));
                if !new {
                    continue;
                }
                self.found.fetch_add(1, Ordering::SeqCst);
                let d = Discovered::new(token, &item.identifier, type_name, &self.cfg.scope);
                if !self.emit(ScanEvent::Found(d)).await {
                    return Ok(());
                }
                if keep {
                    let mut store = self.store.lock().expect("store lock");
                    store.entry(type_name.to_string()).or_default().push(item);
                }
            }
        }
    }
}
