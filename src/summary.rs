//! The run's ledger: for every type token, how many resources were discovered, read, failed and
//! skipped (with reasons), plus the types and scopes that could not be listed. Every discovered
//! resource lands in exactly one of read/failed/skipped, so the counts add up.

use std::collections::BTreeMap;

use crate::held::{Held, Previous};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

/// Distinct failure/skip reasons remembered per type; further ones are counted under "other".
const MAX_REASONS_PER_TYPE: usize = 5;

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub discovered: u64,
    pub read: u64,
    pub failed: u64,
    pub skipped: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct TypeLedger {
    #[serde(flatten)]
    pub counts: Counts,
    /// Reason -> how many resources of this type failed or were skipped for it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reasons: BTreeMap<String, u64>,
}

/// Which of the three ends a resource came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Read,
    Failed,
    Skipped,
}

#[derive(Debug)]
pub struct Summary {
    started: Instant,
    pub types: BTreeMap<String, TypeLedger>,
    /// (cloud type, reason) of types that were deliberately not listed.
    pub types_skipped: Vec<(String, String)>,
    /// (cloud type, namespaces, reason) of types listed in some namespaces but not in these.
    pub namespaces_skipped: Vec<(String, Vec<String>, String)>,
    /// (what, reason) of listings that failed: the scan is incomplete.
    pub incomplete: Vec<(String, String)>,
    /// Children read under the stack because their parent's read failed or was not attempted.
    pub parent_fallbacks: u64,
    /// Every cloud type (and namespace) this run sent to be read.
    pub held: Held,
    /// What the stack held before the run.
    pub previous: Previous,
}

/// `aws-native:eks:Cluster`, `azure-native:containerservice:ManagedCluster` (any API version).
fn is_cluster_token(token: &str) -> bool {
    token == "aws-native:eks:Cluster"
        || (token.starts_with("azure-native:containerservice")
            && token.ends_with(":ManagedCluster"))
}

impl Default for Summary {
    fn default() -> Self {
        Self::new()
    }
}

impl Summary {
    pub fn new() -> Self {
        Summary {
            started: Instant::now(),
            types: BTreeMap::new(),
            types_skipped: Vec::new(),
            namespaces_skipped: Vec::new(),
            incomplete: Vec::new(),
            parent_fallbacks: 0,
            held: Held::default(),
            previous: Previous::Unknown("not read yet".into()),
        }
    }

    pub fn discovered(&mut self, token: &str) {
        self.ledger(token).counts.discovered += 1;
    }

    /// Records how a discovered resource ended; `reason` is required for failed and skipped.
    pub fn ended(&mut self, token: &str, end: End, reason: Option<&str>) {
        let ledger = self.ledger(token);
        match end {
            End::Read => ledger.counts.read += 1,
            End::Failed => ledger.counts.failed += 1,
            End::Skipped => ledger.counts.skipped += 1,
        }
        if let Some(reason) = reason {
            let key = if ledger.reasons.contains_key(reason)
                || ledger.reasons.len() < MAX_REASONS_PER_TYPE
            {
                reason.to_string()
            } else {
                "other reasons".to_string()
            };
            *ledger.reasons.entry(key).or_default() += 1;
        }
    }

    fn ledger(&mut self, token: &str) -> &mut TypeLedger {
        if !self.types.contains_key(token) {
            self.types.insert(token.to_string(), TypeLedger::default());
        }
        self.types.get_mut(token).expect("just inserted")
    }

    /// Managed Kubernetes clusters among the discovered resources (EKS, AKS): their contents are
    /// another scan's, which `fleet plan` sets up.
    pub fn clusters_found(&self) -> u64 {
        self.types
            .iter()
            .filter(|(token, _)| is_cluster_token(token))
            .map(|(_, l)| l.counts.discovered)
            .sum()
    }

    pub fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for l in self.types.values() {
            t.discovered += l.counts.discovered;
            t.read += l.counts.read;
            t.failed += l.counts.failed;
            t.skipped += l.counts.skipped;
        }
        t
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn is_complete(&self) -> bool {
        self.incomplete.is_empty()
    }

    /// The types that were not listed, grouped by reason: (reason, cloud types), in first-seen order.
    pub fn types_skipped_by_reason(&self) -> Vec<(&str, Vec<&str>)> {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (ty, reason) in &self.types_skipped {
            match groups.iter_mut().find(|(r, _)| r == reason) {
                Some((_, types)) => types.push(ty),
                None => groups.push((reason, vec![ty])),
            }
        }
        groups
    }

    /// One line for logs and progress.
    pub fn line(&self) -> String {
        let t = self.totals();
        format!(
            "discovered {}, read {}, failed {}, skipped {}, pending {} ({:.0}s)",
            t.discovered,
            t.read,
            t.failed,
            t.skipped,
            t.discovered.saturating_sub(t.read + t.failed + t.skipped),
            self.elapsed().as_secs_f64()
        )
    }

    /// The stack outputs: totals, duration, per-type counts and what was not listed.
    pub fn to_json(&self) -> Value {
        let t = self.totals();
        let mut out = json!({
            "discovered": t.discovered,
            "read": t.read,
            "failed": t.failed,
            "skipped": t.skipped,
            "durationSeconds": (self.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "complete": self.is_complete(),
            "parentFallbacks": self.parent_fallbacks,
            "types": self.types,
            "typesNotListed": self.types_skipped.iter()
                .map(|(t, r)| json!({"type": t, "reason": r})).collect::<Vec<_>>(),
            "namespacesNotListed": self.namespaces_skipped.iter()
                .map(|(t, ns, r)| json!({"type": t, "namespaces": ns, "reason": r}))
                .collect::<Vec<_>>(),
            "incomplete": self.incomplete.iter()
                .map(|(w, r)| json!({"what": w, "reason": r})).collect::<Vec<_>>(),
        });
        let held = self.held.after_run(self.is_complete(), &self.previous);
        out[crate::held::OUTPUT] = held.to_json();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_reasons_are_bounded() {
        let mut s = Summary::new();
        for i in 0..10 {
            s.discovered("k:a:B");
            s.ended("k:a:B", End::Failed, Some(&format!("reason {i}")));
        }
        s.discovered("k:a:B");
        s.ended("k:a:B", End::Read, None);
        let l = &s.types["k:a:B"];
        assert_eq!(
            l.counts,
            Counts {
                discovered: 11,
                read: 1,
                failed: 10,
                skipped: 0
            }
        );
        assert_eq!(l.reasons.len(), MAX_REASONS_PER_TYPE + 1);
        assert_eq!(l.reasons["other reasons"], 5);
        let j = s.to_json();
        assert_eq!(j["read"], 1);
        assert_eq!(j["types"]["k:a:B"]["failed"], 10);
        assert!(s.is_complete());
    }

    #[test]
    fn types_not_listed_group_by_reason() {
        let mut s = Summary::new();
        for (t, r) in [("A", "global"), ("B", "denied"), ("C", "global")] {
            s.types_skipped.push((t.into(), r.into()));
        }
        assert_eq!(
            s.types_skipped_by_reason(),
            vec![("global", vec!["A", "C"]), ("denied", vec!["B"])]
        );
    }
}
