//! Which types to list, from the account's own CloudFormation registry in the scanned region:
//! `ListTypes` for public AWS resource types that Cloud Control can provision (fully mutable or
//! immutable, i.e. not `NON_PROVISIONABLE`), and `DescribeType` only for the types whose list handler
//! turned out to need properties, to read `handlers.list.handlerSchema` and each property's
//! `relationshipRef` (the parent a value comes from).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudformation::types::{
    Category, DeprecatedStatus, ProvisioningType, RegistryType, TypeFilters, Visibility,
};
use serde_json::Value;

use super::api::Api;
use super::errors::ApiError;
use crate::http::paging::PageTokens;

/// All listable resource type names of the region, sorted, without duplicates.
pub async fn list_types(api: &Api) -> Result<BTreeSet<String>, ApiError> {
    let mut names = BTreeSet::new();
    // ListTypes takes one provisioning type per call.
    for provisioning in [ProvisioningType::FullyMutable, ProvisioningType::Immutable] {
        let mut next: Option<String> = None;
        let mut tokens = PageTokens::new();
        loop {
            let out = api
                .call(|| {
                    let req = api
                        .cloudformation
                        .list_types()
                        .visibility(Visibility::Public)
                        .r#type(RegistryType::Resource)
                        .provisioning_type(provisioning.clone())
                        .deprecated_status(DeprecatedStatus::Live)
                        .filters(TypeFilters::builder().category(Category::AwsTypes).build())
                        .max_results(100)
                        .set_next_token(next.clone());
                    async move { req.send().await.map_err(|e| ApiError::from_sdk(&e)) }
                })
                .await?;
            for summary in out.type_summaries() {
                // Public third-party types are activated per account; only AWS's own are read by
                // aws-native.
                if let Some(name) = summary.type_name().filter(|n| n.starts_with("AWS::")) {
                    names.insert(name.to_string());
                }
            }
            match tokens.next(out.next_token()) {
                Ok(None) => break,
                Ok(Some(t)) => next = Some(t.to_string()),
                Err(_) => {
                    return Err(ApiError::local(
                        "CloudFormation ListTypes returned the same NextToken twice",
                    ))
                }
            }
        }
    }
    Ok(names)
}

/// A property's declared link to another type's property (`relationshipRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub type_name: String,
    /// JSON pointer below the parent's `/properties`, e.g. `/Name`.
    pub pointer: String,
}

/// What a type's list handler needs, from its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListHandler {
    /// The schema declares no list handler.
    Absent,
    /// The list handler, with the property sets it accepts in its `ResourceModel` (any one set is
    /// enough; empty when it needs nothing) and the declared relationships of the type's properties.
    Present {
        alternatives: Vec<Vec<String>>,
        relations: BTreeMap<String, Vec<Relation>>,
        /// Properties whose schema allows only a fixed set of string values (WAFv2's `Scope`).
        enums: BTreeMap<String, Vec<String>>,
    },
}

/// `DescribeType` for one type, reduced to its list handler.
pub async fn describe_list_handler(api: &Api, type_name: &str) -> Result<ListHandler, ApiError> {
    let out = api
        .call(|| {
            let req = api
                .cloudformation
                .describe_type()
                .r#type(RegistryType::Resource)
                .type_name(type_name);
            async move { req.send().await.map_err(|e| ApiError::from_sdk(&e)) }
        })
        .await?;
    let schema = out
        .schema()
        .ok_or_else(|| ApiError::local(format!("DescribeType {type_name}: no schema")))?;
    parse_list_handler(schema).map_err(|e| ApiError::local(format!("{type_name} schema: {e}")))
}

/// Reads `handlers.list` and the properties' relationships from a resource schema.
pub fn parse_list_handler(schema: &str) -> Result<ListHandler, String> {
    let schema: Value = serde_json::from_str(schema).map_err(|e| e.to_string())?;
    let Some(list) = schema.pointer("/handlers/list") else {
        return Ok(ListHandler::Absent);
    };
    let handler_schema = list.get("handlerSchema").cloned().unwrap_or(Value::Null);
    let base = string_list(handler_schema.get("required"));
    let mut alternatives = Vec::new();
    for key in ["oneOf", "anyOf"] {
        for alt in handler_schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut set = base.clone();
            for p in string_list(alt.get("required")) {
                if !set.contains(&p) {
                    set.push(p);
                }
            }
            alternatives.push(set);
        }
    }
    if alternatives.is_empty() && !base.is_empty() {
        alternatives.push(base);
    }

    let mut relations = BTreeMap::new();
    let mut enums = BTreeMap::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let mut found = Vec::new();
            collect_relations(prop, &mut found);
            if !found.is_empty() {
                relations.insert(name.clone(), found);
            }
            // A local `$ref` to a definition is followed once (that is where enums usually live).
            let target = match prop.get("$ref").and_then(Value::as_str) {
                Some(r) => r.strip_prefix('#').and_then(|ptr| schema.pointer(ptr)),
                None => Some(prop),
            };
            let values = string_list(target.and_then(|t| t.get("enum")));
            if !values.is_empty() {
                enums.insert(name.clone(), values);
            }
        }
    }
    Ok(ListHandler::Present {
        alternatives,
        relations,
        enums,
    })
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// `relationshipRef` on the property itself, inside its `anyOf`/`oneOf` branches, or on its items.
fn collect_relations(prop: &Value, out: &mut Vec<Relation>) {
    if let Some(r) = prop.get("relationshipRef") {
        let type_name = r.get("typeName").and_then(Value::as_str);
        let path = r.get("propertyPath").and_then(Value::as_str);
        if let (Some(t), Some(p)) = (type_name, path) {
            if let Some(pointer) = p.strip_prefix("/properties") {
                out.push(Relation {
                    type_name: t.to_string(),
                    pointer: pointer.to_string(),
                });
            }
        }
    }
    for key in ["anyOf", "oneOf"] {
        for branch in prop
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_relations(branch, out);
        }
    }
    if let Some(items) = prop.get("items") {
        collect_relations(items, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_required_sets_and_relationships() {
        let schema = r#"{
          "typeName": "AWS::ElasticLoadBalancingV2::Listener",
          "properties": {
            "LoadBalancerArn": {"type": "string"},
            "CertificateArn": {"anyOf": [
              {"relationshipRef": {"typeName": "AWS::CertificateManager::Certificate", "propertyPath": "/properties/Id"}},
              {"relationshipRef": {"typeName": "AWS::IAM::ServerCertificate", "propertyPath": "/properties/Arn"}}
            ]}
          },
          "handlers": {"list": {"handlerSchema": {
            "oneOf": [{"required": ["LoadBalancerArn"]}, {"required": ["ListenerArns"]}],
            "properties": {"LoadBalancerArn": {"$ref": "resource-schema.json#/properties/LoadBalancerArn"}}
          }}}
        }"#;
        let ListHandler::Present {
            alternatives,
            relations,
            ..
        } = parse_list_handler(schema).unwrap()
        else {
            panic!("list handler expected");
        };
        assert_eq!(
            alternatives,
            vec![
                vec!["LoadBalancerArn".to_string()],
                vec!["ListenerArns".to_string()]
            ]
        );
        let cert = &relations["CertificateArn"];
        assert_eq!(cert.len(), 2);
        assert_eq!(cert[1].type_name, "AWS::IAM::ServerCertificate");
        assert_eq!(cert[1].pointer, "/Arn");

        let waf = r##"{"definitions": {"Scope": {"type": "string", "enum": ["CLOUDFRONT", "REGIONAL"]}},
          "properties": {"Scope": {"$ref": "#/definitions/Scope"}},
          "handlers": {"list": {"handlerSchema": {"required": ["Scope"]}}}}"##;
        let ListHandler::Present { enums, .. } = parse_list_handler(waf).unwrap() else {
            panic!("list handler expected");
        };
        assert_eq!(enums["Scope"], vec!["CLOUDFRONT", "REGIONAL"]);

        let none = r#"{"handlers": {"read": {}}}"#;
        assert_eq!(parse_list_handler(none).unwrap(), ListHandler::Absent);
        let plain = r#"{"handlers": {"list": {"permissions": []}}}"#;
        assert!(matches!(
            parse_list_handler(plain).unwrap(),
            ListHandler::Present { alternatives, .. } if alternatives.is_empty()
        ));
    }
}
