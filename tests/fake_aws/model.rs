//! The fake account's contents: registry types with their schemas and list behaviour, and their
//! resources.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// One resource as Cloud Control lists it: its identifier and the properties the list handler
/// returns (the primary identifier's properties and, for children, the parent's).
#[derive(Debug, Clone)]
pub struct Res {
    pub identifier: String,
    pub properties: Value,
}

/// One registry type and how its list handler behaves.
#[derive(Debug, Clone)]
pub struct FakeType {
    pub name: String,
    /// `FULLY_MUTABLE`, `IMMUTABLE` or `NON_PROVISIONABLE`.
    pub provisioning: &'static str,
    /// Published by AWS (`AWS_TYPES`) rather than a third party.
    pub aws_owned: bool,
    pub resources: Vec<Res>,
    /// Page sizes the list handler uses, cycled (Cloud Control ignores MaxResults).
    pub page_sizes: Vec<usize>,
    /// The schema has no list handler: `UnsupportedActionException`.
    pub no_list: bool,
    /// The caller may not list it: `AccessDeniedException`.
    pub access_denied: bool,
    /// Properties the list handler needs in `ResourceModel`; resources are filtered by them.
    pub list_required: Vec<String>,
    /// `relationshipRef`s declared on properties: property -> (type, property path).
    pub relations: Vec<(String, String, String)>,
    /// The next this many list calls answer HTTP 500 (`u64::MAX`: always).
    pub fail_5xx: u64,
    /// The list handler hands back the same NextToken forever.
    pub repeat_token: bool,
    /// A required property whose schema is an enum (through a `#/definitions` `$ref`, as WAFv2's
    /// `Scope`), with its values.
    pub enum_property: Option<(String, Vec<String>)>,
    /// (value, region): the enum value is accepted only in that region (WAFv2's `CLOUDFRONT` scope
    /// only in us-east-1); elsewhere the handler answers `InvalidRequestException`.
    pub value_regions: Vec<(String, String)>,
}

impl FakeType {
    pub fn new(name: &str) -> Self {
        FakeType {
            name: name.to_string(),
            provisioning: "FULLY_MUTABLE",
            aws_owned: true,
            resources: Vec::new(),
            page_sizes: vec![100],
            no_list: false,
            access_denied: false,
            list_required: Vec::new(),
            relations: Vec::new(),
            fail_5xx: 0,
            repeat_token: false,
            enum_property: None,
            value_regions: Vec::new(),
        }
    }

    /// `n` resources identified by `<prefix>-<i>`, with the identifier as the `key` property.
    pub fn with_resources(mut self, key: &str, prefix: &str, n: usize) -> Self {
        for i in 0..n {
            let id = format!("{prefix}-{i}");
            self.resources.push(Res {
                identifier: id.clone(),
                properties: json!({ key: id }),
            });
        }
        self
    }

    pub fn pages(mut self, sizes: &[usize]) -> Self {
        self.page_sizes = sizes.to_vec();
        self
    }

    /// The type's CloudFormation resource schema, as `DescribeType` returns it.
    pub fn schema(&self) -> Value {
        let mut properties = serde_json::Map::new();
        for r in &self.resources {
            if let Some(obj) = r.properties.as_object() {
                for k in obj.keys() {
                    properties.insert(k.clone(), json!({"type": "string"}));
                }
            }
        }
        for p in &self.list_required {
            properties.insert(p.clone(), json!({"type": "string"}));
        }
        for (prop, ty, path) in &self.relations {
            // The registry's current schemas wrap relationships in anyOf.
            properties.insert(
                prop.clone(),
                json!({"type": "string", "anyOf": [{"relationshipRef": {"typeName": ty, "propertyPath": path}}]}),
            );
        }
        let mut definitions = serde_json::Map::new();
        if let Some((prop, values)) = &self.enum_property {
            definitions.insert(prop.clone(), json!({"type": "string", "enum": values}));
            properties.insert(
                prop.clone(),
                json!({"$ref": format!("#/definitions/{prop}")}),
            );
        }
        let mut handlers = json!({
            "read": {"permissions": ["x:Get"]},
        });
        if !self.no_list {
            let mut list = json!({"permissions": ["x:List"]});
            if !self.list_required.is_empty() {
                let props: serde_json::Map<String, Value> = self
                    .list_required
                    .iter()
                    .map(|p| {
                        (
                            p.clone(),
                            json!({"$ref": format!("resource-schema.json#/properties/{p}")}),
                        )
                    })
                    .collect();
                list["handlerSchema"] =
                    json!({"properties": props, "required": self.list_required});
            }
            handlers["list"] = list;
        }
        json!({
            "typeName": self.name,
            "description": "fake",
            "definitions": definitions,
            "properties": properties,
            "primaryIdentifier": ["/properties/Id"],
            "handlers": handlers,
        })
    }
}

/// The account: its registry.
#[derive(Debug, Clone, Default)]
pub struct Account {
    pub types: BTreeMap<String, FakeType>,
    /// Most types per `ListTypes` page (CloudFormation honours MaxResults up to 100); small by
    /// default so paging is exercised with a small registry.
    pub list_types_page: Option<usize>,
    /// Time Cloud Control takes to answer a `ListResources` call (its handlers call the service
    /// behind; real answers take tens to hundreds of milliseconds).
    pub list_latency: Option<std::time::Duration>,
    /// (type, identifier) -> properties `GetResource` returns beyond the listed ones (the read
    /// handler's full model: `AWS::EKS::Cluster`'s `Endpoint` and `CertificateAuthorityData`).
    pub read_models: BTreeMap<(String, String), Value>,
}

impl Account {
    pub fn add(&mut self, t: FakeType) -> &mut Self {
        self.types.insert(t.name.clone(), t);
        self
    }

    /// Resources Cloud Control would list for a type and model, in order.
    pub fn matching(&self, t: &FakeType, model: Option<&Value>) -> Vec<Res> {
        t.resources
            .iter()
            .filter(|r| {
                t.list_required
                    .iter()
                    .all(|p| model.and_then(|m| m.get(p)) == r.properties.get(p))
            })
            .cloned()
            .collect()
    }
}
