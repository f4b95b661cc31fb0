//! The pulumi-oci resource tokens of the most common OCI resources, used to map search types when no
//! provider schema can be had (no engine loader, no installed plugin, no `schemaFile`). Written by
//! us; a unit test checks every entry against the reference token list when it is present. Types
//! outside this list are skipped with the reason, and the run warns how to get the schema.

pub const TOKENS: &[&str] = &[
    "oci:ApiGateway/gateway:Gateway",
    "oci:Artifacts/containerRepository:ContainerRepository",
    "oci:ContainerEngine/cluster:Cluster",
    "oci:ContainerEngine/nodePool:NodePool",
    "oci:Core/bootVolume:BootVolume",
    "oci:Core/bootVolumeBackup:BootVolumeBackup",
    "oci:Core/cpe:Cpe",
    "oci:Core/dhcpOptions:DhcpOptions",
    "oci:Core/drg:Drg",
    "oci:Core/image:Image",
    "oci:Core/instance:Instance",
    "oci:Core/instanceConfiguration:InstanceConfiguration",
    "oci:Core/instancePool:InstancePool",
    "oci:Core/internetGateway:InternetGateway",
    "oci:Core/ipsec:Ipsec",
    "oci:Core/localPeeringGateway:LocalPeeringGateway",
    "oci:Core/natGateway:NatGateway",
    "oci:Core/networkSecurityGroup:NetworkSecurityGroup",
    "oci:Core/publicIp:PublicIp",
    "oci:Core/routeTable:RouteTable",
    "oci:Core/securityList:SecurityList",
    "oci:Core/serviceGateway:ServiceGateway",
    "oci:Core/subnet:Subnet",
    "oci:Core/vcn:Vcn",
    "oci:Core/volume:Volume",
    "oci:Core/volumeBackup:VolumeBackup",
    "oci:Core/volumeGroup:VolumeGroup",
    "oci:Database/autonomousDatabase:AutonomousDatabase",
    "oci:Database/dbSystem:DbSystem",
    "oci:Dns/zone:Zone",
    "oci:Events/rule:Rule",
    "oci:FileStorage/fileSystem:FileSystem",
    "oci:FileStorage/mountTarget:MountTarget",
    "oci:Functions/application:Application",
    "oci:Functions/function:Function",
    "oci:Identity/compartment:Compartment",
    "oci:Identity/dynamicGroup:DynamicGroup",
    "oci:Identity/group:Group",
    "oci:Identity/policy:Policy",
    "oci:Identity/tagNamespace:TagNamespace",
    "oci:Identity/user:User",
    "oci:Kms/key:Key",
    "oci:Kms/vault:Vault",
    "oci:LoadBalancer/loadBalancer:LoadBalancer",
    "oci:Logging/log:Log",
    "oci:Logging/logGroup:LogGroup",
    "oci:Mysql/mysqlDbSystem:MysqlDbSystem",
    "oci:NetworkLoadBalancer/networkLoadBalancer:NetworkLoadBalancer",
    "oci:ObjectStorage/bucket:Bucket",
    "oci:Ons/notificationTopic:NotificationTopic",
    "oci:Streaming/stream:Stream",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_token_is_a_real_pulumi_oci_token() {
        let Some(text) = crate::testdata::type_map("oci-import-ids.tsv") else {
            return;
        };
        let known: std::collections::HashSet<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('\t').next())
            .collect();
        let unknown: Vec<&&str> = TOKENS.iter().filter(|t| !known.contains(**t)).collect();
        assert!(unknown.is_empty(), "not pulumi-oci tokens: {unknown:?}");
    }
}
