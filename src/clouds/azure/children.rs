//! Child (proxy) resources that ARM's generic `/resources` list does not return, and the list calls
//! that find them under their parents.
//!
//! Only proxy types are listed here: tracked children (SQL databases, web app slots, private DNS
//! zone links...) already come from the generic list, and listing them again would read them twice.
//! Secret-bearing singletons (`config/appsettings`, Key Vault secrets) are deliberately left out so
//! no secret value is read into state by the tool's default run.

/// One child collection: under a parent of ARM type `parent_type`, GET `{parent id}{path}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildList {
    /// Parent ARM type, e.g. `Microsoft.Network/virtualNetworks`.
    pub parent_type: &'static str,
    /// Path under the parent id, e.g. `/subnets`.
    pub path: &'static str,
    /// The child's ARM type, for messages.
    pub child_type: &'static str,
    pub api_version: &'static str,
}

const fn c(
    parent_type: &'static str,
    path: &'static str,
    child_type: &'static str,
    api_version: &'static str,
) -> ChildList {
    ChildList {
        parent_type,
        path,
        child_type,
        api_version,
    }
}

/// The child collections enumerated (documented in docs/azure.md).
pub const CHILD_LISTS: &[ChildList] = &[
    c(
        "Microsoft.Network/virtualNetworks",
        "/subnets",
        "Microsoft.Network/virtualNetworks/subnets",
        "2024-05-01",
    ),
    c(
        "Microsoft.Network/virtualNetworks",
        "/virtualNetworkPeerings",
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
        "2024-05-01",
    ),
    c(
        "Microsoft.Network/networkSecurityGroups",
        "/securityRules",
        "Microsoft.Network/networkSecurityGroups/securityRules",
        "2024-05-01",
    ),
    c(
        "Microsoft.Network/dnsZones",
        "/recordsets",
        "Microsoft.Network/dnsZones/recordsets",
        "2018-05-01",
    ),
    c(
        "Microsoft.Network/privateDnsZones",
        "/ALL",
        "Microsoft.Network/privateDnsZones/recordsets",
        "2020-06-01",
    ),
    c(
        "Microsoft.Network/routeTables",
        "/routes",
        "Microsoft.Network/routeTables/routes",
        "2024-05-01",
    ),
    c(
        "Microsoft.Storage/storageAccounts",
        "/blobServices/default/containers",
        "Microsoft.Storage/storageAccounts/blobServices/containers",
        "2023-05-01",
    ),
    c(
        "Microsoft.Storage/storageAccounts",
        "/fileServices/default/shares",
        "Microsoft.Storage/storageAccounts/fileServices/shares",
        "2023-05-01",
    ),
    c(
        "Microsoft.Storage/storageAccounts",
        "/queueServices/default/queues",
        "Microsoft.Storage/storageAccounts/queueServices/queues",
        "2023-05-01",
    ),
    c(
        "Microsoft.Storage/storageAccounts",
        "/tableServices/default/tables",
        "Microsoft.Storage/storageAccounts/tableServices/tables",
        "2023-05-01",
    ),
    c(
        "Microsoft.Sql/servers",
        "/firewallRules",
        "Microsoft.Sql/servers/firewallRules",
        "2021-11-01",
    ),
    c(
        "Microsoft.DBforPostgreSQL/flexibleServers",
        "/databases",
        "Microsoft.DBforPostgreSQL/flexibleServers/databases",
        "2022-12-01",
    ),
    c(
        "Microsoft.DBforPostgreSQL/flexibleServers",
        "/firewallRules",
        "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
        "2022-12-01",
    ),
    c(
        "Microsoft.DBforMySQL/flexibleServers",
        "/databases",
        "Microsoft.DBforMySQL/flexibleServers/databases",
        "2023-12-30",
    ),
    c(
        "Microsoft.DBforMySQL/flexibleServers",
        "/firewallRules",
        "Microsoft.DBforMySQL/flexibleServers/firewallRules",
        "2023-12-30",
    ),
    c(
        "Microsoft.ContainerService/managedClusters",
        "/agentPools",
        "Microsoft.ContainerService/managedClusters/agentPools",
        "2024-05-01",
    ),
    c(
        "Microsoft.DocumentDB/databaseAccounts",
        "/sqlDatabases",
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases",
        "2024-05-15",
    ),
    c(
        "Microsoft.EventHub/namespaces",
        "/eventhubs",
        "Microsoft.EventHub/namespaces/eventhubs",
        "2024-01-01",
    ),
    c(
        "Microsoft.ServiceBus/namespaces",
        "/queues",
        "Microsoft.ServiceBus/namespaces/queues",
        "2021-11-01",
    ),
    c(
        "Microsoft.ServiceBus/namespaces",
        "/topics",
        "Microsoft.ServiceBus/namespaces/topics",
        "2021-11-01",
    ),
];

/// The child collections to list under a resource of ARM type `arm_type` (case-insensitive).
pub fn child_lists(arm_type: &str) -> impl Iterator<Item = &'static ChildList> + '_ {
    CHILD_LISTS
        .iter()
        .filter(move |c| c.parent_type.eq_ignore_ascii_case(arm_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_children_are_under_their_parent_type() {
        let paths: Vec<_> = child_lists("microsoft.network/VIRTUALNETWORKS")
            .map(|c| c.path)
            .collect();
        assert_eq!(paths, vec!["/subnets", "/virtualNetworkPeerings"]);
        for c in CHILD_LISTS {
            assert!(
                c.child_type.starts_with(c.parent_type),
                "{} is not under {}",
                c.child_type,
                c.parent_type
            );
        }
    }
}
