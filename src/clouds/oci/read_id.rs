//! The id each pulumi-oci resource's Read (and `pulumi import`) takes, built from a Resource Search
//! hit.
//!
//! Most resources are read by their OCID, which is the hit's `identifier`. A few need a composite id
//! (their `## Import` schema section documents it); those we can assemble from the hit are built here,
//! the others are skipped with the reason. When the schema's import formats are known, any other type
//! documented with a composite id is skipped too, rather than read by an OCID its Read would reject.

use std::collections::HashMap;

use serde_json::Value;

use super::search::ResourceSummary;

/// What a resource's read id needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadId {
    /// The id is known.
    Ready(String),
    /// An Object Storage bucket: `n/{namespace}/b/{name}`, waiting for the tenancy's namespace when
    /// the hit does not carry it.
    Bucket { name: String },
    /// Cannot be built from a search hit.
    Unavailable(String),
}

/// The read id of `hit`, read as `token`. `import_format` is the id the schema's `## Import` section
/// documents for the token (`OCID` for a plain OCID), when known.
pub fn read_id(token: &str, hit: &ResourceSummary, import_format: Option<&str>) -> ReadId {
    // Search puts the extra identifiers of composite-id types in `identityContext`; returned fields
    // land in `additionalDetails`. Either may carry what an id needs.
    let detail = |k: &str| {
        [&hit.identity_context, &hit.additional_details]
            .into_iter()
            .flatten()
            .find_map(|d| d.get(k))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match token {
        "oci:ObjectStorage/bucket:Bucket" => {
            // A bucket's display name is its name; the OCID is not accepted by the provider's Read.
            let Some(name) = hit.display_name.clone().filter(|n| !n.is_empty()) else {
                return ReadId::Unavailable("the search result has no bucket name".into());
            };
            match detail("namespace").or_else(|| detail("namespaceName")) {
                Some(ns) => ReadId::Ready(bucket_id(&ns, &name)),
                None => ReadId::Bucket { name },
            }
        }
        "oci:Logging/log:Log" => match detail("logGroupId") {
            Some(group) => ReadId::Ready(format!("logGroupId/{group}/logId/{}", hit.identifier)),
            None => ReadId::Unavailable(
                "the read id needs the log group, which the search result does not carry".into(),
            ),
        },
        "oci:Kms/key:Key" => match detail("managementEndpoint") {
            Some(ep) => ReadId::Ready(format!("managementEndpoint/{ep}/keys/{}", hit.identifier)),
            None => ReadId::Unavailable(
                "the read id needs the vault's management endpoint, which the search result does not carry".into(),
            ),
        },
        "oci:Identity/domainsApp:DomainsApp"
        | "oci:Dns/resolverEndpoint:ResolverEndpoint"
        | "oci:Database/vmClusterNetwork:VmClusterNetwork"
        | "oci:LogAnalytics/logAnalyticsEntity:LogAnalyticsEntity" => ReadId::Unavailable(
            "the read id is a composite of values the search result does not carry".into(),
        ),
        "oci:Mysql/mysqlConfiguration:MysqlConfiguration" => {
            ReadId::Ready(format!("configurations/{}", hit.identifier))
        }
        _ => match import_format {
            Some(f) if is_composite(f) => ReadId::Unavailable(format!(
                "the provider reads this type by the composite id `{f}`, which a search result does not carry"
            )),
            _ => ReadId::Ready(hit.identifier.clone()),
        },
    }
}

/// Whether an import format is more than the resource's own OCID (`OCID`, `id`, or one placeholder
/// such as `{repositoryId}`).
pub fn is_composite(format: &str) -> bool {
    let single =
        format.starts_with('{') && format.ends_with('}') && format.matches('{').count() == 1;
    !(format == "OCID" || format == "id" || format == "-" || single || format.is_empty())
}

/// The import id format of each resource of a parsed Pulumi package schema, from the
/// `pulumi import <token> <name> <id>` example of its description's `## Import` section; `"id"` (the
/// OCID) is returned as `OCID`.
pub fn import_formats(schema: &Value) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(resources) = schema.get("resources").and_then(Value::as_object) else {
        return out;
    };
    for (token, spec) in resources {
        let Some(desc) = spec.get("description").and_then(Value::as_str) else {
            continue;
        };
        if let Some(format) = import_format(token, desc) {
            out.insert(token.clone(), format);
        }
    }
    out
}

pub fn import_format(token: &str, description: &str) -> Option<String> {
    let section = &description[description.find("## Import")?..];
    let line = section
        .lines()
        .find(|l| l.contains("pulumi import ") && l.contains(token))?;
    let after = &line[line.find(token)? + token.len()..];
    // `<name> <id>`: the id is everything after the resource name, quotes removed.
    let id = after.trim().split_once(char::is_whitespace)?.1.trim();
    let id = id.trim_matches(|c| c == '"' || c == '\'');
    Some(if id == "id" {
        "OCID".into()
    } else {
        id.to_string()
    })
}

/// The provider's bucket id.
pub fn bucket_id(namespace: &str, name: &str) -> String {
    format!("n/{namespace}/b/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(details: Value) -> ResourceSummary {
        serde_json::from_value(serde_json::json!({
            "resourceType": "Bucket",
            "identifier": "ocid1.bucket.oc1..b",
            "displayName": "logs",
            "additionalDetails": details,
        }))
        .unwrap()
    }

    #[test]
    fn buckets_use_namespace_and_name() {
        let t = "oci:ObjectStorage/bucket:Bucket";
        assert_eq!(
            read_id(t, &hit(serde_json::json!({"namespace": "acme"})), None),
            ReadId::Ready("n/acme/b/logs".into())
        );
        assert_eq!(
            read_id(t, &hit(serde_json::json!({})), None),
            ReadId::Bucket {
                name: "logs".into()
            }
        );
    }

    #[test]
    fn logs_need_their_group_and_most_types_use_the_ocid() {
        assert!(matches!(
            read_id("oci:Logging/log:Log", &hit(serde_json::json!({})), None),
            ReadId::Unavailable(_)
        ));
        assert_eq!(
            read_id(
                "oci:Logging/log:Log",
                &hit(serde_json::json!({"logGroupId": "ocid1.loggroup.oc1..g"})),
                None
            ),
            ReadId::Ready("logGroupId/ocid1.loggroup.oc1..g/logId/ocid1.bucket.oc1..b".into())
        );
        assert_eq!(
            read_id(
                "oci:Core/vcn:Vcn",
                &hit(serde_json::json!({})),
                Some("OCID")
            ),
            ReadId::Ready("ocid1.bucket.oc1..b".into())
        );
        // A composite id we cannot build is never replaced by the OCID.
        assert!(matches!(
            read_id(
                "oci:Dns/rrset:Rrset",
                &hit(serde_json::json!({})),
                Some("zoneNameOrId/{zoneNameOrId}/domain/{domain}/rtype/{rtype}")
            ),
            ReadId::Unavailable(_)
        ));
        assert_eq!(
            read_id(
                "oci:Artifacts/containerRepository:ContainerRepository",
                &hit(serde_json::json!({})),
                Some("{repositoryId}")
            ),
            ReadId::Ready("ocid1.bucket.oc1..b".into())
        );
    }

    #[test]
    fn import_formats_come_from_the_schema_descriptions() {
        let schema = serde_json::json!({"resources": {
            "oci:ObjectStorage/bucket:Bucket": {"description":
                "Creates a bucket.\n\n## Import\n\nBuckets can be imported using the `id`, e.g.\n\n```sh\n$ pulumi import oci:ObjectStorage/bucket:Bucket test_bucket \"n/{namespaceName}/b/{bucketName}\"\n```\n"},
            "oci:Core/vcn:Vcn": {"description":
                "## Import\n\n```sh\n$ pulumi import oci:Core/vcn:Vcn test_vcn \"id\"\n```\n"},
            "oci:Core/thing:Thing": {"description": "No import section."}
        }});
        let f = import_formats(&schema);
        assert_eq!(
            f["oci:ObjectStorage/bucket:Bucket"],
            "n/{namespaceName}/b/{bucketName}"
        );
        assert_eq!(f["oci:Core/vcn:Vcn"], "OCID");
        assert!(!f.contains_key("oci:Core/thing:Thing"));
        assert!(is_composite(&f["oci:ObjectStorage/bucket:Bucket"]));
        assert!(!is_composite("OCID") && !is_composite("{repositoryId}"));
    }
}
