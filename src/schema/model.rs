//! The parts of a Pulumi package schema (`schema.json`, as `GetSchema` returns it) this tool uses:
//! the package identity and, per resource token, its description, properties and aliases.
//! Everything else in the document is skipped while parsing, which keeps a tens-of-MB schema fast to
//! load and small in memory.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

/// A parsed provider schema.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Schema {
    /// The package name, e.g. `aws-native`.
    #[serde(default)]
    pub name: String,
    /// The package version, when the schema states it (plugins fill it in; hand-written files may not).
    #[serde(default)]
    pub version: Option<String>,
    /// Resource token -> resource.
    #[serde(default)]
    pub resources: HashMap<String, ResourceSpec>,
}

/// One resource of the schema.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpec {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub input_properties: BTreeMap<String, PropertySpec>,
    #[serde(default)]
    pub properties: BTreeMap<String, PropertySpec>,
    #[serde(default)]
    pub required_inputs: Vec<String>,
    #[serde(default)]
    pub is_component: bool,
    #[serde(default)]
    pub deprecation_message: Option<String>,
    #[serde(default)]
    aliases: Vec<AliasSpec>,
}

/// A property's type: a primitive `type` (`string`, `array`, ...) or a `$ref` to a named type.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PropertySpec {
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default, rename = "$ref")]
    pub reference: Option<String>,
}

// Older schemas write aliases as `{"type": "<token>"}` objects; accept a bare token string too.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum AliasSpec {
    Token(String),
    Spec {
        #[serde(default, rename = "type")]
        type_: Option<String>,
    },
}

impl ResourceSpec {
    /// The other type tokens this resource was known as (e.g. older azure-native API versions).
    pub fn alias_types(&self) -> impl Iterator<Item = &str> {
        self.aliases.iter().filter_map(|a| match a {
            AliasSpec::Token(t) => Some(t.as_str()),
            AliasSpec::Spec { type_ } => type_.as_deref(),
        })
    }
}

impl Schema {
    /// Parses a schema document.
    pub fn parse(json: &[u8]) -> Result<Schema, String> {
        serde_json::from_slice(json).map_err(|e| {
            format!(
                "not a Pulumi package schema (JSON error at line {}, column {}: {})",
                e.line(),
                e.column(),
                e.classify_name()
            )
        })
    }

    /// Whether `token` is a resource of this package.
    pub fn has_resource(&self, token: &str) -> bool {
        self.resources.contains_key(token)
    }

    /// Resource tokens, sorted.
    pub fn resource_tokens(&self) -> Vec<&str> {
        let mut tokens: Vec<&str> = self.resources.keys().map(String::as_str).collect();
        tokens.sort_unstable();
        tokens
    }

    /// Checks the schema is the one asked for. A schema that does not state its version is taken
    /// as the asked version (it came from a source keyed by that version, or from the user's file).
    pub fn check_identity(&self, package: &str, version: &str) -> Result<(), String> {
        if self.name != package {
            return Err(format!(
                "it is the schema of package {:?}, not {package:?}",
                self.name
            ));
        }
        match self.version.as_deref() {
            Some(v) if !v.is_empty() && v.trim_start_matches('v') != version => Err(format!(
                "it is the schema of {package} {v}, but this run reads with {version}"
            )),
            _ => Ok(()),
        }
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"{
        "name": "azure-native", "version": "3.29.0", "language": {"csharp": {}},
        "types": {"azure-native:storage:Sku": {"type": "object"}},
        "resources": {
            "azure-native:storage:StorageAccount": {
                "description": "The storage account.",
                "inputProperties": {"sku": {"$ref": "#/types/azure-native:storage:Sku"}, "kind": {"type": "string"}},
                "requiredInputs": ["sku"],
                "aliases": [{"type": "azure-native:storage/v20230101:StorageAccount"}, "azure-native:storage/v20220901:StorageAccount"]
            },
            "azure-native:storage:BlobContainer": {}
        }
    }"##;

    #[test]
    fn keeps_tokens_descriptions_properties_and_both_alias_shapes() {
        let schema = Schema::parse(DOC.as_bytes()).unwrap();
        assert_eq!(
            schema.resource_tokens(),
            [
                "azure-native:storage:BlobContainer",
                "azure-native:storage:StorageAccount"
            ]
        );
        let account = &schema.resources["azure-native:storage:StorageAccount"];
        assert_eq!(account.description, "The storage account.");
        assert_eq!(
            account.input_properties["sku"].reference.as_deref(),
            Some("#/types/azure-native:storage:Sku")
        );
        assert_eq!(
            account.input_properties["kind"].type_.as_deref(),
            Some("string")
        );
        assert_eq!(
            account.alias_types().collect::<Vec<_>>(),
            [
                "azure-native:storage/v20230101:StorageAccount",
                "azure-native:storage/v20220901:StorageAccount"
            ]
        );
    }

    #[test]
    fn identity_check_names_the_mismatch() {
        let schema = Schema::parse(DOC.as_bytes()).unwrap();
        assert!(schema.check_identity("azure-native", "3.29.0").is_ok());
        let err = schema.check_identity("azure-native", "3.30.0").unwrap_err();
        assert!(err.contains("3.29.0") && err.contains("3.30.0"), "{err}");
        let err = schema.check_identity("oci", "3.29.0").unwrap_err();
        assert!(err.contains("\"azure-native\""), "{err}");
    }

    #[test]
    fn a_non_schema_is_an_error_with_a_position() {
        let err = Schema::parse(b"{\"name\": 3}").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        assert!(Schema::parse(b"[1,").is_err());
    }
}
