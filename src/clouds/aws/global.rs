//! Global resources: types whose resources belong to the account, not to a region. Cloud Control
//! returns them from every region's endpoint, so a stack per region would import each of them once
//! per region (the original tool's duplicate IAM roles). By default they are listed only in one
//! designated region's scan (`globalRegion`, default `us-east-1`); `globalResources` can instead list
//! them in `all` regions or in `none`.

use std::fmt;
use std::str::FromStr;

/// Where global types are listed (`globalResources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GlobalMode {
    /// Only in the scan of `globalRegion`.
    #[default]
    Designated,
    /// In every region's scan (duplicates across per-region stacks).
    All,
    /// In no scan.
    None,
}

impl FromStr for GlobalMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "designated" => Ok(GlobalMode::Designated),
            "all" => Ok(GlobalMode::All),
            "none" => Ok(GlobalMode::None),
            _ => Err(format!("must be designated, all or none, not {s:?}")),
        }
    }
}

impl fmt::Display for GlobalMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GlobalMode::Designated => "designated",
            GlobalMode::All => "all",
            GlobalMode::None => "none",
        })
    }
}

/// The default designated region: most global services (IAM, CloudFront, Organizations, Route 53)
/// have their control plane there.
pub const DEFAULT_GLOBAL_REGION: &str = "us-east-1";

/// Services whose every resource type is global. Curated from AWS's documentation of global
/// services; the registry itself does not say which types are global.
const GLOBAL_SERVICES: &[&str] = &[
    "IAM",
    "Organizations",
    "CloudFront",
    "Route53",
    "Route53RecoveryControl",
    "Route53RecoveryReadiness",
    "GlobalAccelerator",
    "Shield",
    "NetworkManager",
    "CE",
    "Budgets",
    "BCMDataExports",
];

/// Single types that are global in services that are otherwise regional.
const GLOBAL_TYPES: &[&str] = &[
    // ListResources returns every bucket of the account from any region.
    "AWS::S3::Bucket",
    "AWS::S3::StorageLens",
    "AWS::S3::StorageLensGroup",
    "AWS::WAF::ByteMatchSet",
    "AWS::WAF::IPSet",
    "AWS::WAF::Rule",
    "AWS::WAF::SizeConstraintSet",
    "AWS::WAF::SqlInjectionMatchSet",
    "AWS::WAF::WebACL",
    "AWS::WAF::XssMatchSet",
];

/// True when resources of `type_name` are account-wide.
pub fn is_global(type_name: &str) -> bool {
    if GLOBAL_TYPES.contains(&type_name) {
        return true;
    }
    let mut parts = type_name.split("::");
    matches!(
        (parts.next(), parts.next()),
        (Some("AWS"), Some(service)) if GLOBAL_SERVICES.contains(&service)
    )
}

/// Why a global type is not listed in this region's scan, or `None` when it is listed.
pub fn exclusion(
    type_name: &str,
    mode: GlobalMode,
    region: &str,
    global_region: &str,
) -> Option<String> {
    if !is_global(type_name) {
        return None;
    }
    match mode {
        GlobalMode::All => None,
        GlobalMode::Designated if region == global_region => None,
        GlobalMode::Designated => Some(format!(
            "global type: imported only by the scan of {global_region} (globalRegion; set globalResources=all to import it here too)"
        )),
        GlobalMode::None => Some("global type: globalResources is none".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_types_are_listed_once_per_account_by_default() {
        assert!(is_global("AWS::IAM::Role"));
        assert!(is_global("AWS::S3::Bucket"));
        assert!(!is_global("AWS::S3::AccessPoint"));
        assert!(!is_global("AWS::Route53Resolver::ResolverRule"));
        let d = GlobalMode::default();
        assert_eq!(
            exclusion("AWS::IAM::Role", d, "us-east-1", "us-east-1"),
            None
        );
        assert!(exclusion("AWS::IAM::Role", d, "us-west-2", "us-east-1").is_some());
        assert_eq!(
            exclusion("AWS::EC2::VPC", d, "us-west-2", "us-east-1"),
            None
        );
        assert_eq!(
            exclusion("AWS::IAM::Role", GlobalMode::All, "eu-west-1", "us-east-1"),
            None
        );
        assert!(exclusion("AWS::IAM::Role", GlobalMode::None, "us-east-1", "us-east-1").is_some());
        assert_eq!("ALL".parse::<GlobalMode>(), Ok(GlobalMode::All));
        assert!("some".parse::<GlobalMode>().is_err());
    }
}
