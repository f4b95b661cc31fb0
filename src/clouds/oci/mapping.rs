//! Resource Search type names (`Instance`, `ClustersCluster`, `OnsTopic`, ...) to pulumi-oci type
//! tokens (`oci:Core/instance:Instance`, ...).
//!
//! Search names follow no single rule, so three steps are tried in order, each only ever answering
//! with a token the installed provider schema has:
//! 1. a table of known renames, written by us, for names no rule can find (`OnsTopic` is
//!    `oci:Ons/notificationTopic:NotificationTopic`);
//! 2. the token whose resource name equals the search name (`Vcn` -> `oci:Core/vcn:Vcn`); when several
//!    modules have one, the services whose search names carry no service prefix win (Core, Identity,
//!    Database...: `Policy` is Identity's, Waas's is `WaasPolicy`);
//! 3. the search name as a service prefix plus the resource name, where the prefix is the module,
//!    an abbreviation of it made of leading letters of its words (`Osmh` for OsManagementHub,
//!    `Event` for Events), or a known alias (`Vss` for VulnerabilityScanning).
//!
//! Anything else is not mapped and comes back with the reason.

use std::collections::{BTreeSet, HashMap};

/// Search types whose token no rule finds. Search names are compared case-insensitively.
const RENAMES: &[(&str, &str)] = &[
    ("ClustersCluster", "oci:ContainerEngine/cluster:Cluster"),
    ("IPSecConnection", "oci:Core/ipsec:Ipsec"),
    (
        "DynamicResourceGroup",
        "oci:Identity/dynamicGroup:DynamicGroup",
    ),
    (
        "ContainerRepo",
        "oci:Artifacts/containerRepository:ContainerRepository",
    ),
    ("GenericRepository", "oci:Artifacts/repository:Repository"),
    (
        "Certificate",
        "oci:CertificatesManagement/certificate:Certificate",
    ),
    ("CustomerDnsZone", "oci:Dns/zone:Zone"),
    ("OnsTopic", "oci:Ons/notificationTopic:NotificationTopic"),
    ("ServiceConnector", "oci:Sch/connector:Connector"),
    (
        "VisualBuilderInstance",
        "oci:VisualBuilder/vbInstance:VbInstance",
    ),
    ("GenAiAgent", "oci:GenerativeAi/agentAgent:AgentAgent"),
    (
        "GenAiAgentEndpoint",
        "oci:GenerativeAi/agentAgentEndpoint:AgentAgentEndpoint",
    ),
    ("WebAppFirewall", "oci:Waf/appFirewall:AppFirewall"),
    (
        "WebAppFirewallPolicy",
        "oci:Waf/appFirewallPolicy:AppFirewallPolicy",
    ),
];

/// Search-name service prefixes that are not derivable from the module name.
const MODULE_ALIASES: &[(&str, &str)] = &[
    ("Clusters", "ContainerEngine"),
    ("Vss", "VulnerabilityScanning"),
    ("Orm", "ResourceManager"),
    ("SecurityZones", "CloudGuard"),
    ("Postgresql", "Psql"),
    ("DIS", "DataIntegration"),
    ("DataLabeling", "DataLabellingService"),
    ("GenAi", "GenerativeAi"),
    ("Osmh", "OsManagementHub"),
];

/// Search types that exist but have no pulumi-oci resource, with why.
const NOT_RESOURCES: &[(&str, &str)] = &[
    (
        "Vnic",
        "a VNIC is owned by its instance and has no pulumi-oci resource (VnicAttachment is a different object)",
    ),
    (
        "Container",
        "a container belongs to its container instance and has no pulumi-oci resource",
    ),
    ("ContainerImage", "container images have no pulumi-oci resource"),
];

/// The services whose search names are not prefixed by the service (see the module comment).
const UNPREFIXED_MODULES: &[&str] = &[
    "Core",
    "Identity",
    "Database",
    "ObjectStorage",
    "FileStorage",
    "Kms",
    "LoadBalancer",
];

/// Maps search types against one provider schema's tokens.
#[derive(Debug, Default)]
pub struct Mapper {
    tokens: BTreeSet<String>,
    /// Lower-cased resource name (the part after the last `:`) -> tokens.
    by_name: HashMap<String, Vec<String>>,
}

impl Mapper {
    /// A mapper over the resource tokens of the installed schema.
    pub fn new<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut m = Mapper::default();
        for t in tokens {
            let t = t.as_ref();
            if split_token(t).is_none() {
                continue;
            }
            m.tokens.insert(t.to_string());
        }
        for t in &m.tokens {
            if let Some((_, name)) = split_token(t) {
                m.by_name
                    .entry(name.to_ascii_lowercase())
                    .or_default()
                    .push(t.clone());
            }
        }
        m
    }

    /// A mapper over the `resources` of a parsed Pulumi package schema.
    pub fn from_schema(schema: &serde_json::Value) -> Self {
        let keys = schema
            .get("resources")
            .and_then(|r| r.as_object())
            .map(|r| r.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        Mapper::new(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token for a search type, or why there is none.
    pub fn map(&self, search_type: &str) -> Result<String, String> {
        if self.tokens.is_empty() {
            return Err("the oci provider schema is not loaded, so no type can be mapped".into());
        }
        let lower = search_type.to_ascii_lowercase();
        if let Some((_, why)) = NOT_RESOURCES
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(search_type))
        {
            return Err((*why).to_string());
        }
        if let Some((_, tok)) = RENAMES
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(search_type))
        {
            if self.tokens.contains(*tok) {
                return Ok((*tok).to_string());
            }
        }

        let exact = self.by_name.get(&lower);
        if let Some(found) = exact {
            if found.len() == 1 {
                return Ok(found[0].clone());
            }
            let preferred: Vec<&String> = found
                .iter()
                .filter(|t| split_token(t).is_some_and(|(m, _)| UNPREFIXED_MODULES.contains(&m)))
                .collect();
            if preferred.len() == 1 {
                return Ok(preferred[0].clone());
            }
        }

        // Prefix + resource name: try every split of the search name.
        let mut hits: BTreeSet<&String> = BTreeSet::new();
        for (i, _) in search_type.char_indices().skip(1) {
            let (prefix, rest) = search_type.split_at(i);
            let Some(found) = self.by_name.get(&rest.to_ascii_lowercase()) else {
                continue;
            };
            for t in found {
                if let Some((module, _)) = split_token(t) {
                    if prefix_names_module(prefix, module) {
                        hits.insert(t);
                    }
                }
            }
        }
        match hits.len() {
            1 => Ok(hits.into_iter().next().cloned().unwrap_or_default()),
            0 if exact.is_some_and(|e| e.len() > 1) => Err(format!(
                "the OCI search type {search_type:?} matches several pulumi-oci types ({})",
                exact.map(|e| e.join(", ")).unwrap_or_default()
            )),
            0 => Err(format!(
                "no pulumi-oci resource type matches the OCI search type {search_type:?}"
            )),
            _ => Err(format!(
                "the OCI search type {search_type:?} matches several pulumi-oci types ({})",
                hits.into_iter().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// `oci:Core/instance:Instance` -> (`Core`, `Instance`).
fn split_token(token: &str) -> Option<(&str, &str)> {
    let mut parts = token.split(':');
    let (pkg, middle, name) = (parts.next()?, parts.next()?, parts.next()?);
    if pkg != "oci" || parts.next().is_some() || name.is_empty() {
        return None;
    }
    Some((middle.split('/').next()?, name))
}

/// Whether a search-name prefix stands for a module: an alias, or leading letters of the module's
/// words in order (at least one letter of the first word; later words may be left out).
fn prefix_names_module(prefix: &str, module: &str) -> bool {
    if MODULE_ALIASES
        .iter()
        .any(|(a, m)| a.eq_ignore_ascii_case(prefix) && *m == module)
    {
        return true;
    }
    let words = camel_words(module);
    abbreviates(&prefix.to_ascii_lowercase(), &words)
}

fn abbreviates(prefix: &str, words: &[String]) -> bool {
    if prefix.is_empty() {
        return true;
    }
    let Some((first, rest)) = words.split_first() else {
        return false;
    };
    // Take 1..=len leading letters of this word, then continue with the next word.
    (1..=first.len()).any(|n| {
        let head = &first[..n];
        prefix.starts_with(head) && abbreviates(&prefix[n..], rest)
    })
}

/// `OsManagementHub` -> [`os`, `management`, `hub`].
fn camel_words(s: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for c in s.chars() {
        if c.is_ascii_uppercase() || words.is_empty() {
            words.push(String::new());
        }
        if let Some(w) = words.last_mut() {
            w.push(c.to_ascii_lowercase());
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper() -> Mapper {
        Mapper::new([
            "oci:Core/instance:Instance",
            "oci:Oce/instance:Instance",
            "oci:Core/vcn:Vcn",
            "oci:Identity/policy:Policy",
            "oci:Waas/policy:Policy",
            "oci:Functions/function:Function",
            "oci:OsManagementHub/profile:Profile",
            "oci:DataScience/project:Project",
            "oci:DevOps/project:Project",
            "oci:Events/rule:Rule",
            "oci:Ons/notificationTopic:NotificationTopic",
            "oci:VulnerabilityScanning/hostScanRecipe:HostScanRecipe",
            "pulumi:providers:oci",
        ])
    }

    #[test]
    fn exact_names_prefer_unprefixed_services() {
        let m = mapper();
        assert_eq!(m.map("Vcn").unwrap(), "oci:Core/vcn:Vcn");
        assert_eq!(m.map("vcn").unwrap(), "oci:Core/vcn:Vcn");
        assert_eq!(m.map("Instance").unwrap(), "oci:Core/instance:Instance");
        assert_eq!(m.map("Policy").unwrap(), "oci:Identity/policy:Policy");
    }

    #[test]
    fn service_prefixes_abbreviations_and_aliases() {
        let m = mapper();
        assert_eq!(
            m.map("FunctionsFunction").unwrap(),
            "oci:Functions/function:Function"
        );
        assert_eq!(
            m.map("DataScienceProject").unwrap(),
            "oci:DataScience/project:Project"
        );
        assert_eq!(
            m.map("DevOpsProject").unwrap(),
            "oci:DevOps/project:Project"
        );
        assert_eq!(
            m.map("OsmhProfile").unwrap(),
            "oci:OsManagementHub/profile:Profile"
        );
        assert_eq!(m.map("EventRule").unwrap(), "oci:Events/rule:Rule");
        assert_eq!(
            m.map("VssHostScanRecipe").unwrap(),
            "oci:VulnerabilityScanning/hostScanRecipe:HostScanRecipe"
        );
        assert_eq!(
            m.map("OnsTopic").unwrap(),
            "oci:Ons/notificationTopic:NotificationTopic"
        );
    }

    #[test]
    fn unmapped_types_say_why() {
        let m = mapper();
        assert!(m.map("Project").unwrap_err().contains("several"));
        assert!(m.map("Vnic").unwrap_err().contains("VNIC"));
        assert!(m.map("Gadget").unwrap_err().contains("no pulumi-oci"));
        // A rename whose token the installed schema lacks is not trusted.
        assert!(m.map("ClustersCluster").is_err());
        assert!(Mapper::new(Vec::<String>::new()).map("Vcn").is_err());
    }

    #[test]
    fn abbreviation_rule() {
        let w = camel_words("OsManagementHub");
        assert_eq!(w, ["os", "management", "hub"]);
        assert!(abbreviates("osmh", &w));
        assert!(abbreviates("os", &w));
        assert!(!abbreviates("mh", &w));
        assert!(!abbreviates("osx", &w));
    }
}
