//! What the stack held before this run, and the rule that depends on it: a type (or a namespace of
//! one) this run may not list fails the run only when the stack holds some of it.
//!
//! Why: on a successful update the engine drops every resource the program did not read again, so
//! a run that succeeds without listing a type the stack holds would silently empty that type (a
//! role narrowed between two runs). Failing every such run is no answer either: a read-only role
//! cannot list some types at all, and those were never in the stack.
//!
//! Where the knowledge comes from: every run stores, in the stack's `held` output, each cloud type
//! it read, with the Kubernetes namespaces it read it in. The next run reads its own stack's outputs
//! through the engine's builtin `pulumi:pulumi:readStackOutputs` (what a `StackReference` to itself
//! does, without adding a resource to the stack) before it registers anything. A failed run keeps
//! the previous state, so it carries the previous `held` forward for what it could not list. Where
//! the outputs cannot be read, or an earlier version left none, the rule is the strict one: a type
//! that cannot be listed fails the run.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// The output key.
pub const OUTPUT: &str = "held";

/// Cloud type -> the namespaces its read resources were in (empty: resources outside namespaces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held(BTreeMap<String, BTreeSet<String>>);

/// What this run knows about the stack it reads into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Previous {
    /// The stack's earlier runs held this (empty for a new stack).
    Known(Held),
    /// It cannot be known (no stack: `--import`/`--list`; outputs that cannot be read); why.
    Unknown(String),
}

impl Previous {
    /// From the stack's outputs as `readStackOutputs` returns them. A stack with no outputs at all is
    /// a new stack (or one whose every update failed before its end); outputs without `held` come
    /// from a version of this program that did not record it.
    pub fn from_outputs(outputs: &Value) -> Previous {
        let Some(map) = outputs.as_object() else {
            return Previous::Unknown("its outputs are not an object".into());
        };
        if map.is_empty() {
            return Previous::Known(Held::default());
        }
        match map.get(OUTPUT).and_then(Value::as_object) {
            Some(held) => Previous::Known(Held(
                held.iter()
                    .map(|(t, ns)| {
                        let ns = ns
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(String::from)
                                    .collect()
                            })
                            .unwrap_or_default();
                        (t.clone(), ns)
                    })
                    .collect(),
            )),
            None => Previous::Unknown(format!("its outputs have no `{OUTPUT}` yet")),
        }
    }

    /// Whether a run that could not list `cloud_type` (in `namespaces`, or at all) must fail, and
    /// why, as a phrase for the error line.
    pub fn must_fail(&self, cloud_type: &str, namespaces: Option<&[String]>) -> Option<String> {
        match self {
            Previous::Unknown(why) => Some(format!("the stack may hold some of it ({why})")),
            Previous::Known(held) => {
                let had = held.0.get(cloud_type)?;
                match namespaces {
                    None => Some("the stack holds resources of it from an earlier run".into()),
                    Some(ns) => {
                        let held_in: Vec<&str> = ns
                            .iter()
                            .filter(|n| had.contains(*n))
                            .map(String::as_str)
                            .collect();
                        (!held_in.is_empty()).then(|| {
                            format!(
                                "the stack holds resources of it in {} from an earlier run",
                                held_in.join(", ")
                            )
                        })
                    }
                }
            }
        }
    }
}

impl Held {
    pub fn insert(&mut self, cloud_type: &str, namespace: Option<&str>) {
        let entry = self.0.entry(cloud_type.to_string()).or_default();
        if let Some(ns) = namespace {
            entry.insert(ns.to_string());
        }
    }

    /// What the stack holds after a run that read `self` and was `complete`: exactly what it read,
    /// or, when the run fails and the engine keeps the previous state, that plus `previous`.
    pub fn after_run(&self, complete: bool, previous: &Previous) -> Held {
        let mut out = self.clone();
        if let (false, Previous::Known(before)) = (complete, previous) {
            for (t, ns) in &before.0 {
                out.0
                    .entry(t.clone())
                    .or_default()
                    .extend(ns.iter().cloned());
            }
        }
        out
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(t, ns)| (t.clone(), json!(ns)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(pairs: &[(&str, Option<&str>)]) -> Held {
        let mut h = Held::default();
        for (t, ns) in pairs {
            h.insert(t, *ns);
        }
        h
    }

    #[test]
    fn a_type_never_held_may_go_unlisted_one_held_may_not() {
        let before = Previous::Known(held(&[("AWS::EC2::VPC", None)]));
        assert!(before.must_fail("AWS::EC2::VPC", None).is_some());
        assert!(before.must_fail("AWS::IAM::Role", None).is_none());
        let unknown = Previous::Unknown("no stack".into());
        assert!(unknown.must_fail("AWS::IAM::Role", None).is_some());
    }

    #[test]
    fn namespaces_count_one_by_one() {
        let before = Previous::Known(held(&[
            ("apps/v1/DaemonSet", Some("team-a")),
            ("apps/v1/DaemonSet", Some("team-b")),
        ]));
        let ns = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(before
            .must_fail("apps/v1/DaemonSet", Some(&ns(&["kube-system"])))
            .is_none());
        let why = before
            .must_fail("apps/v1/DaemonSet", Some(&ns(&["kube-system", "team-b"])))
            .unwrap();
        assert!(
            why.contains("team-b") && !why.contains("kube-system"),
            "{why}"
        );
    }

    #[test]
    fn outputs_round_trip_and_a_failed_run_carries_the_past_forward() {
        let read = held(&[("v1/ConfigMap", Some("a")), ("v1/Namespace", None)]);
        let outputs = json!({"read": 3, OUTPUT: read.to_json()});
        let previous = Previous::from_outputs(&outputs);
        assert_eq!(previous, Previous::Known(read.clone()));
        assert_eq!(
            Previous::from_outputs(&json!({})),
            Previous::Known(Held::default())
        );
        assert!(matches!(
            Previous::from_outputs(&json!({"read": 3})),
            Previous::Unknown(_)
        ));
        let now = held(&[("v1/Secret", Some("b"))]);
        assert_eq!(now.after_run(true, &previous), now);
        let carried = now.after_run(false, &previous);
        assert_eq!(
            carried,
            held(&[
                ("v1/ConfigMap", Some("a")),
                ("v1/Namespace", None),
                ("v1/Secret", Some("b"))
            ])
        );
    }
}
