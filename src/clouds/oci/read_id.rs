//! The id each pulumi-oci resource's Read (and `pulumi import`) takes, built from a Resource Search
//! hit.
//!
//! Most resources are read by their OCID, which is the hit's `identifier`. A few need a composite id
//! (their `## Import` schema section documents it); those we can assemble from the hit are built here,
//! the others are skipped with the reason.

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

/// The read id of `hit`, read as `token`.
pub fn read_id(token: &str, hit: &ResourceSummary) -> ReadId {
    let detail = |k: &str| {
        hit.additional_details
            .as_ref()
            .and_then(|d| d.get(k))
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
        _ => ReadId::Ready(hit.identifier.clone()),
    }
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
            read_id(t, &hit(serde_json::json!({"namespace": "acme"}))),
            ReadId::Ready("n/acme/b/logs".into())
        );
        assert_eq!(
            read_id(t, &hit(serde_json::json!({}))),
            ReadId::Bucket {
                name: "logs".into()
            }
        );
    }

    #[test]
    fn logs_need_their_group_and_most_types_use_the_ocid() {
        assert!(matches!(
            read_id("oci:Logging/log:Log", &hit(serde_json::json!({}))),
            ReadId::Unavailable(_)
        ));
        assert_eq!(
            read_id(
                "oci:Logging/log:Log",
                &hit(serde_json::json!({"logGroupId": "ocid1.loggroup.oc1..g"}))
            ),
            ReadId::Ready("logGroupId/ocid1.loggroup.oc1..g/logId/ocid1.bucket.oc1..b".into())
        );
        assert_eq!(
            read_id("oci:Core/vcn:Vcn", &hit(serde_json::json!({}))),
            ReadId::Ready("ocid1.bucket.oc1..b".into())
        );
    }
}
