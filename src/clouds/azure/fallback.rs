//! The built-in type mapping used when no azure-native schema is available: namespace -> module
//! with the known exceptions, a table of known renames for the most used types, and otherwise the
//! singular of the last type segment in PascalCase. It is a guess for the long tail (the exact
//! mapping needs the schema), so the scanner warns when it is used.

/// The exact mapping's instructions, shown in the fallback warning.
pub const HOW_TO_GET_EXACT_MAPPING: &str = "type tokens are guessed from ARM types (right for the common types, not for all): for the exact mapping run `pulumi package get-schema azure-native > azure-native-schema.json` and set `pulumi-cloud-import:schemaFile` (or `-c schemaFile=<file>`) to that file";

/// ARM types (lowercase `Namespace/type[/childType...]`) whose token is not the namespace's module
/// plus the singular of the last segment.
const RENAMES: &[(&str, &str)] = &[
    ("microsoft.web/sites", "web:WebApp"),
    ("microsoft.web/sites/slots", "web:WebAppSlot"),
    ("microsoft.web/serverfarms", "web:AppServicePlan"),
    ("microsoft.web/sites/config", "web:WebAppSiteConfig"),
    (
        "microsoft.insights/components",
        "applicationinsights:Component",
    ),
    ("microsoft.insights/webtests", "applicationinsights:WebTest"),
    (
        "microsoft.insights/workbooks",
        "applicationinsights:Workbook",
    ),
    (
        "microsoft.insights/workbooktemplates",
        "applicationinsights:WorkbookTemplate",
    ),
    // ARM often lists Insights ids in lower case, which the PascalCase guess cannot undo.
    (
        "microsoft.insights/autoscalesettings",
        "monitor:AutoscaleSetting",
    ),
    ("microsoft.insights/actiongroups", "monitor:ActionGroup"),
    (
        "microsoft.insights/activitylogalerts",
        "monitor:ActivityLogAlert",
    ),
    ("microsoft.insights/metricalerts", "monitor:MetricAlert"),
    (
        "microsoft.insights/scheduledqueryrules",
        "monitor:ScheduledQueryRule",
    ),
    (
        "microsoft.insights/datacollectionrules",
        "monitor:DataCollectionRule",
    ),
    (
        "microsoft.insights/datacollectionendpoints",
        "monitor:DataCollectionEndpoint",
    ),
    (
        "microsoft.insights/privatelinkscopes",
        "monitor:PrivateLinkScope",
    ),
    (
        "microsoft.alertsmanagement/smartdetectoralertrules",
        "alertsmanagement:SmartDetectorAlertRule",
    ),
    (
        "microsoft.network/connections",
        "network:VirtualNetworkGatewayConnection",
    ),
    ("microsoft.search/searchservices", "search:Service"),
    ("microsoft.network/dnszones", "dns:Zone"),
    (
        "microsoft.network/dnszones/dnssecconfigs",
        "dns:DnssecConfig",
    ),
    (
        "microsoft.network/privatednszones",
        "privatedns:PrivateZone",
    ),
    (
        "microsoft.network/privatednszones/virtualnetworklinks",
        "privatedns:VirtualNetworkLink",
    ),
    ("microsoft.network/frontdoors", "frontdoor:FrontDoor"),
    (
        "microsoft.network/frontdoorwebapplicationfirewallpolicies",
        "frontdoor:Policy",
    ),
    (
        "microsoft.network/trafficmanagerprofiles",
        "trafficmanager:Profile",
    ),
    ("microsoft.network/dnsresolvers", "dnsresolver:DnsResolver"),
    (
        "microsoft.network/networksecuritygroups/securityrules",
        "network:SecurityRule",
    ),
    (
        "microsoft.network/loadbalancers/backendaddresspools",
        "network:LoadBalancerBackendAddressPool",
    ),
    ("microsoft.cache/redis", "redis:Redis"),
    (
        "microsoft.cache/redisenterprise",
        "redisenterprise:RedisEnterprise",
    ),
    ("microsoft.devices/iothubs", "iothub:IotHubResource"),
    (
        "microsoft.devices/provisioningservices",
        "deviceprovisioningservices:IotDpsResource",
    ),
    ("microsoft.signalrservice/webpubsub", "webpubsub:WebPubSub"),
    (
        "microsoft.apimanagement/service",
        "apimanagement:ApiManagementService",
    ),
    ("microsoft.compute/hostgroups", "compute:DedicatedHostGroup"),
    (
        "microsoft.compute/hostgroups/hosts",
        "compute:DedicatedHost",
    ),
    (
        "microsoft.compute/virtualmachines/extensions",
        "compute:VirtualMachineExtension",
    ),
    (
        "microsoft.compute/virtualmachinescalesets/extensions",
        "compute:VirtualMachineScaleSetExtension",
    ),
    ("microsoft.compute/galleries/images", "compute:GalleryImage"),
    (
        "microsoft.dbforpostgresql/flexibleservers",
        "dbforpostgresql:Server",
    ),
    (
        "microsoft.dbforpostgresql/servers",
        "dbforpostgresql:SingleServer",
    ),
    ("microsoft.dbformysql/flexibleservers", "dbformysql:Server"),
    ("microsoft.dbformysql/servers", "dbformysql:SingleServer"),
    (
        "microsoft.documentdb/databaseaccounts/sqldatabases",
        "cosmosdb:SqlResourceSqlDatabase",
    ),
    (
        "microsoft.documentdb/databaseaccounts/mongodbdatabases",
        "cosmosdb:MongoDBResourceMongoDBDatabase",
    ),
    (
        "microsoft.eventhub/namespaces/authorizationrules",
        "eventhub:NamespaceAuthorizationRule",
    ),
    (
        "microsoft.servicebus/namespaces/authorizationrules",
        "servicebus:NamespaceAuthorizationRule",
    ),
    (
        "microsoft.eventgrid/systemtopics/eventsubscriptions",
        "eventgrid:SystemTopicEventSubscription",
    ),
    (
        "microsoft.storage/storageaccounts/blobservices",
        "storage:BlobServiceProperties",
    ),
    (
        "microsoft.storage/storageaccounts/blobservices/containers",
        "storage:BlobContainer",
    ),
    (
        "microsoft.storage/storageaccounts/fileservices/shares",
        "storage:FileShare",
    ),
    (
        "microsoft.storage/storageaccounts/queueservices/queues",
        "storage:Queue",
    ),
    (
        "microsoft.storage/storageaccounts/tableservices/tables",
        "storage:Table",
    ),
    (
        "microsoft.authorization/locks",
        "authorization:ManagementLockAtResourceGroupLevel",
    ),
    (
        "microsoft.cdn/cdnwebapplicationfirewallpolicies",
        "cdn:Policy",
    ),
    ("microsoft.cdn/profiles/origingroups", "cdn:AFDOriginGroup"),
    (
        "microsoft.cdn/profiles/customdomains",
        "cdn:AFDCustomDomain",
    ),
    (
        "microsoft.resources/resourcegroups",
        "resources:ResourceGroup",
    ),
];

/// The azure-native module of a lowercased namespace (`microsoft.documentdb` -> `cosmosdb`).
pub fn module_for_namespace(ns: &str) -> String {
    let ns = ns.to_ascii_lowercase();
    let short = ns.strip_prefix("microsoft.").unwrap_or(&ns);
    match short {
        "documentdb" => "cosmosdb".into(),
        "insights" => "monitor".into(),
        "cache" => "redis".into(),
        "paloaltonetworks.cloudngfw" => "cloudngfw".into(),
        other => other.replace('.', ""),
    }
}

/// Lowercase singular of a lowercased plural type segment (`policies` -> `policy`).
pub fn singular(plural: &str) -> String {
    let p = plural.to_ascii_lowercase();
    for (suffix, replacement) in [
        ("ies", "y"),
        ("sses", "ss"),
        ("xes", "x"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("s", ""),
    ] {
        if let Some(stem) = p.strip_suffix(suffix) {
            return format!("{stem}{replacement}");
        }
    }
    p
}

/// PascalCase singular of a type segment as written (`virtualNetworks` -> `VirtualNetwork`).
fn pascal_singular(segment: &str) -> String {
    let lower_singular = singular(segment);
    // Keep the original casing of the kept prefix, then capitalise the first letter.
    let mut kept: String = segment.chars().take(lower_singular.len()).collect();
    if !kept.eq_ignore_ascii_case(&lower_singular) {
        kept = lower_singular;
    }
    let mut chars = kept.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The guessed token for an ARM id, or `None` for ids that are not ARM resource ids.
pub fn fallback_token(id: &str) -> Option<String> {
    let segs: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() == 4
        && segs[0].eq_ignore_ascii_case("subscriptions")
        && segs[2].eq_ignore_ascii_case("resourcegroups")
    {
        return Some("azure-native:resources:ResourceGroup".into());
    }
    let i = segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))?;
    let after = &segs[i + 1..];
    if after.len() < 3 {
        return None;
    }
    let ns = after[0];
    let types: Vec<&str> = after[1..].iter().step_by(2).copied().collect();
    let arm_type = format!("{}/{}", ns, types.join("/")).to_ascii_lowercase();
    if let Some((_, t)) = RENAMES.iter().find(|(k, _)| *k == arm_type) {
        return Some(format!("azure-native:{t}"));
    }
    // DNS record sets: the record type (`A`, `CNAME`, `SOA`...) stands where a type segment would.
    if types.len() == 2 {
        match types[0].to_ascii_lowercase().as_str() {
            "dnszones" if ns.eq_ignore_ascii_case("microsoft.network") => {
                return Some("azure-native:dns:RecordSet".into())
            }
            "privatednszones" if ns.eq_ignore_ascii_case("microsoft.network") => {
                return Some("azure-native:privatedns:PrivateRecordSet".into())
            }
            _ => {}
        }
    }
    let last = types.last()?;
    Some(format!(
        "azure-native:{}:{}",
        module_for_namespace(ns),
        pascal_singular(last)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_renames_and_singulars() {
        let rg = "/subscriptions/1/resourceGroups/rg";
        assert_eq!(
            fallback_token(&format!("{rg}/providers/Microsoft.Web/sites/a")).as_deref(),
            Some("azure-native:web:WebApp")
        );
        assert_eq!(
            fallback_token(&format!(
                "{rg}/providers/Microsoft.Network/virtualNetworks/v/subnets/s"
            ))
            .as_deref(),
            Some("azure-native:network:Subnet")
        );
        assert_eq!(
            fallback_token(&format!(
                "{rg}/providers/Microsoft.DocumentDB/databaseAccounts/d"
            ))
            .as_deref(),
            Some("azure-native:cosmosdb:DatabaseAccount")
        );
        assert_eq!(
            fallback_token(&format!(
                "{rg}/providers/Microsoft.Network/applicationSecurityGroups/x"
            ))
            .as_deref(),
            Some("azure-native:network:ApplicationSecurityGroup")
        );
        assert_eq!(
            fallback_token(rg).as_deref(),
            Some("azure-native:resources:ResourceGroup")
        );
        assert_eq!(
            fallback_token(&format!(
                "{rg}/providers/microsoft.insights/metricalerts/cpu"
            ))
            .as_deref(),
            Some("azure-native:monitor:MetricAlert")
        );
        assert_eq!(
            fallback_token(&format!(
                "{rg}/providers/Microsoft.Network/dnszones/z.com/CNAME/www"
            ))
            .as_deref(),
            Some("azure-native:dns:RecordSet")
        );
        assert_eq!(
            fallback_token(&format!(
                "{rg}/providers/Microsoft.Network/privateDnsZones/z/A/db"
            ))
            .as_deref(),
            Some("azure-native:privatedns:PrivateRecordSet")
        );
        assert_eq!(
            fallback_token(&format!(
                "{rg}/providers/Microsoft.Network/privateDnsZones/z/virtualNetworkLinks/l"
            ))
            .as_deref(),
            Some("azure-native:privatedns:VirtualNetworkLink")
        );
        assert_eq!(fallback_token("/subscriptions/1"), None);
        assert_eq!(singular("policies"), "policy");
        assert_eq!(singular("addresses"), "address");
    }
}
