//! Fan-out for types whose list handler needs properties (`AWS::EKS::Nodegroup` needs `ClusterName`):
//! which parent type's resources supply the values, and the `ResourceModel` to list with for each
//! parent resource.
//!
//! A required property's parent is, in order of trust: the type its schema's `relationshipRef`
//! names; else a type of the same service whose name the property extends by `Id`, `Name`, `Arn` or
//! nothing (`ClusterName` -> `AWS::EKS::Cluster`, `RestApiId` -> `AWS::ApiGateway::RestApi`,
//! `DomainName` -> `AWS::ApiGateway::DomainName`), the convention the registry's schemas follow.
//! When a handler needs several properties, one parent must supply all of them: either each is
//! linked to it, or the parent's own list handler needs the others too, so its listed model carries
//! them (`AppConfig::HostedConfigurationVersion` from `ConfigurationProfile`, whose models carry
//! `ApplicationId`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::types::Relation;

/// How one required property gets its value from a parent resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub property: String,
    /// JSON pointers into the parent's listed properties, tried in order.
    pub pointers: Vec<String>,
    /// When none is present, a single-part parent identifier is the value (the parent's one
    /// primary-identifier property is what the child refers to).
    pub identifier_fallback: bool,
}

/// Where a fanned-out type's `ResourceModel`s come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub parent: String,
    pub bindings: Vec<Binding>,
}

/// A list handler that needs one property whose schema allows a fixed set of values (WAFv2's
/// `Scope`: `REGIONAL`, `CLOUDFRONT`): the type is listed once per value, no parent needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuesPlan {
    pub property: String,
    pub values: Vec<String>,
}

impl ValuesPlan {
    /// The single-property set with an enum, if the handler accepts one.
    pub fn find(
        alternatives: &[Vec<String>],
        enums: &BTreeMap<String, Vec<String>>,
    ) -> Option<Self> {
        alternatives.iter().find_map(|set| match set.as_slice() {
            [only] => enums.get(only).map(|values| ValuesPlan {
                property: only.clone(),
                values: values.clone(),
            }),
            _ => None,
        })
    }

    pub fn models(&self) -> Vec<String> {
        self.values
            .iter()
            .map(|v| serde_json::json!({ self.property.as_str(): v }).to_string())
            .collect()
    }
}

/// Chooses the parent type for `child` given its handler's required property sets. `listed` are the
/// types this scan lists; `needs` are the required sets of other types that need properties.
pub fn plan(
    child: &str,
    alternatives: &[Vec<String>],
    relations: &BTreeMap<String, Vec<Relation>>,
    listed: &BTreeSet<String>,
    needs: &BTreeMap<String, Vec<Vec<String>>>,
) -> Result<Plan, String> {
    for set in alternatives {
        if let Some(plan) = plan_for_set(child, set, relations, listed, needs) {
            return Ok(plan);
        }
    }
    let sets: Vec<String> = alternatives
        .iter()
        .map(|s| format!("[{}]", s.join(", ")))
        .collect();
    Err(format!(
        "its list handler needs {} and no type listed in this scan supplies {}",
        sets.join(" or "),
        if sets.len() > 1 { "any of them" } else { "it" }
    ))
}

/// (parent type, pointer into the parent's properties) candidates for one property.
fn candidates(
    child: &str,
    property: &str,
    relations: &BTreeMap<String, Vec<Relation>>,
    listed: &BTreeSet<String>,
) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = relations
        .get(property)
        .into_iter()
        .flatten()
        .filter(|r| r.type_name != child && listed.contains(&r.type_name))
        .map(|r| (r.type_name.clone(), Some(r.pointer.clone())))
        .collect();
    let Some(service_prefix) = child.rsplit_once("::").map(|(s, _)| format!("{s}::")) else {
        return out;
    };
    let lower = property.to_ascii_lowercase();
    let mut by_name: Vec<(String, Option<String>)> = listed
        .iter()
        .filter(|t| t.as_str() != child)
        .filter_map(|t| {
            // Case-insensitive: `VpcId` names `AWS::EC2::VPC`, `IpamPoolId` `AWS::EC2::IPAMPool`.
            let short = t.strip_prefix(&service_prefix)?.to_ascii_lowercase();
            let rest = lower.strip_prefix(&short)?;
            let rest_text = &property[property.len() - rest.len()..];
            match rest {
                "" => Some((t.clone(), None)),
                "id" | "name" | "arn" | "identifier" => {
                    Some((t.clone(), Some(format!("/{rest_text}"))))
                }
                _ => None,
            }
        })
        .collect();
    // The longest type name is the most specific match (`DomainName` before `Domain`).
    by_name.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
    for c in by_name {
        if !out.iter().any(|(t, _)| *t == c.0) {
            out.push(c);
        }
    }
    out
}

fn plan_for_set(
    child: &str,
    set: &[String],
    relations: &BTreeMap<String, Vec<Relation>>,
    listed: &BTreeSet<String>,
    needs: &BTreeMap<String, Vec<Vec<String>>>,
) -> Option<Plan> {
    let per_prop: Vec<Vec<(String, Option<String>)>> = set
        .iter()
        .map(|p| candidates(child, p, relations, listed))
        .collect();
    // The last required property is usually the most specific (`ApplicationId`,
    // `ConfigurationProfileId`), so its parent is tried first.
    let parents = per_prop.iter().rev().flatten().map(|(t, _)| t.clone());
    for parent in parents {
        let parent_needs: BTreeSet<&String> =
            needs.get(&parent).into_iter().flatten().flatten().collect();
        let mut bindings = Vec::new();
        for (prop, cands) in set.iter().zip(&per_prop) {
            let own = format!("/{prop}");
            if let Some((_, pointer)) = cands.iter().find(|(t, _)| *t == parent) {
                let mut pointers = vec![own];
                if let Some(p) = pointer.clone().filter(|p| !pointers.contains(p)) {
                    pointers.push(p);
                }
                bindings.push(Binding {
                    property: prop.clone(),
                    pointers,
                    identifier_fallback: set.len() == 1,
                });
            } else if parent_needs.contains(prop) {
                bindings.push(Binding {
                    property: prop.clone(),
                    pointers: vec![own],
                    identifier_fallback: false,
                });
            } else {
                break;
            }
        }
        if bindings.len() == set.len() {
            return Some(Plan { parent, bindings });
        }
    }
    None
}

impl Plan {
    /// The `ResourceModel` JSON for listing children of one parent resource.
    pub fn model_for(
        &self,
        identifier: &str,
        properties: Option<&Value>,
    ) -> Result<String, String> {
        let mut model = Map::new();
        for b in &self.bindings {
            let value = b
                .pointers
                .iter()
                .find_map(|p| properties.and_then(|v| v.pointer(p)))
                .filter(|v| !v.is_null())
                .cloned()
                .or_else(|| {
                    (b.identifier_fallback && !identifier.contains('|'))
                        .then(|| Value::String(identifier.to_string()))
                })
                .ok_or_else(|| {
                    format!(
                        "{} {identifier} has no {} in its listed model",
                        self.parent, b.property
                    )
                })?;
            model.insert(b.property.clone(), value);
        }
        Ok(Value::Object(model).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }
    fn req(sets: &[&[&str]]) -> Vec<Vec<String>> {
        sets.iter()
            .map(|s| s.iter().map(|p| p.to_string()).collect())
            .collect()
    }

    #[test]
    fn relationship_ref_wins_and_names_the_property() {
        let listed = set(&[
            "AWS::EKS::Cluster",
            "AWS::EKS::Nodegroup",
            "AWS::EKS::Addon",
        ]);
        let mut relations = BTreeMap::new();
        relations.insert(
            "ClusterName".to_string(),
            vec![Relation {
                type_name: "AWS::EKS::Cluster".into(),
                pointer: "/Name".into(),
            }],
        );
        let p = plan(
            "AWS::EKS::Nodegroup",
            &req(&[&["ClusterName"]]),
            &relations,
            &listed,
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(p.parent, "AWS::EKS::Cluster");
        let props: Value = serde_json::json!({"Name": "prod"});
        assert_eq!(
            p.model_for("prod", Some(&props)).unwrap(),
            r#"{"ClusterName":"prod"}"#
        );
        // No properties listed: the single-part identifier is the cluster's name.
        assert_eq!(
            p.model_for("dev", None).unwrap(),
            r#"{"ClusterName":"dev"}"#
        );
        assert!(p.model_for("a|b", None).is_err());
    }

    #[test]
    fn naming_convention_finds_same_service_parents() {
        let listed = set(&[
            "AWS::ApiGateway::RestApi",
            "AWS::ApiGateway::Stage",
            "AWS::ApiGateway::DomainName",
            "AWS::ApiGateway::BasePathMapping",
        ]);
        let none = BTreeMap::new();
        let p = plan(
            "AWS::ApiGateway::Stage",
            &req(&[&["RestApiId"]]),
            &none,
            &listed,
            &none_needs(),
        )
        .unwrap();
        assert_eq!(p.parent, "AWS::ApiGateway::RestApi");
        assert_eq!(p.bindings[0].pointers, vec!["/RestApiId", "/Id"]);
        let p = plan(
            "AWS::ApiGateway::BasePathMapping",
            &req(&[&["DomainName"]]),
            &none,
            &listed,
            &none_needs(),
        )
        .unwrap();
        assert_eq!(p.parent, "AWS::ApiGateway::DomainName");
    }

    fn none_needs() -> BTreeMap<String, Vec<Vec<String>>> {
        BTreeMap::new()
    }

    #[test]
    fn several_properties_come_from_the_most_specific_parent() {
        let listed = set(&[
            "AWS::AppConfig::Application",
            "AWS::AppConfig::ConfigurationProfile",
            "AWS::AppConfig::HostedConfigurationVersion",
        ]);
        let mut needs = BTreeMap::new();
        needs.insert(
            "AWS::AppConfig::ConfigurationProfile".to_string(),
            req(&[&["ApplicationId"]]),
        );
        let p = plan(
            "AWS::AppConfig::HostedConfigurationVersion",
            &req(&[&["ApplicationId", "ConfigurationProfileId"]]),
            &BTreeMap::new(),
            &listed,
            &needs,
        )
        .unwrap();
        assert_eq!(p.parent, "AWS::AppConfig::ConfigurationProfile");
        let props = serde_json::json!({"ApplicationId": "app1", "ConfigurationProfileId": "cp1"});
        let model: Value =
            serde_json::from_str(&p.model_for("app1|cp1", Some(&props)).unwrap()).unwrap();
        assert_eq!(model, props);

        // Without the parent's own needs there is no single parent: skipped with a reason.
        let err = plan(
            "AWS::AppConfig::HostedConfigurationVersion",
            &req(&[&["ApplicationId", "ConfigurationProfileId"]]),
            &BTreeMap::new(),
            &listed,
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(
            err.contains("[ApplicationId, ConfigurationProfileId]"),
            "{err}"
        );
    }
}

/// Checks the parent rule on the real registry's list requirements (the shared type map), without
/// the schemas' `relationshipRef`s, which only add parents. Skips when the data is absent.
#[cfg(test)]
mod type_map {
    use super::*;

    #[test]
    fn resolves_real_parents_from_the_type_map() {
        let Some(text) = crate::testdata::type_map("aws.tsv") else {
            return;
        };
        let mut listed = BTreeSet::new();
        let mut needs: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 5 || cols[3] != "yes" {
                continue;
            }
            listed.insert(cols[0].to_string());
            if cols[4] != "-" {
                let alts = cols[4]
                    .split(';')
                    .map(|set| set.split(',').map(str::to_string).collect())
                    .collect();
                needs.insert(cols[0].to_string(), alts);
            }
        }
        let none = BTreeMap::new();
        let mut resolved = BTreeMap::new();
        for (t, alts) in &needs {
            if let Ok(p) = plan(t, alts, &none, &listed, &needs) {
                resolved.insert(t.clone(), p.parent);
            }
        }
        if std::env::var_os("AWS_FANOUT_DUMP").is_some() {
            for (c, p) in &resolved {
                eprintln!("{c} <- {p}");
            }
        }
        eprintln!(
            "fan-out: {} of {} types that need properties resolve to a parent by naming alone",
            resolved.len(),
            needs.len()
        );
        for (child, parent) in [
            ("AWS::EKS::Nodegroup", "AWS::EKS::Cluster"),
            ("AWS::ApiGateway::Stage", "AWS::ApiGateway::RestApi"),
            (
                "AWS::ElasticLoadBalancingV2::Listener",
                "AWS::ElasticLoadBalancingV2::LoadBalancer",
            ),
            (
                "AWS::AppConfig::HostedConfigurationVersion",
                "AWS::AppConfig::ConfigurationProfile",
            ),
        ] {
            assert_eq!(
                resolved.get(child).map(String::as_str),
                Some(parent),
                "{child}"
            );
        }
    }
}
