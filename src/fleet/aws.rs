//! AWS children: one per account and enabled region. The regions are the account's own
//! (`account:ListRegions`, enabled ones only) unless `--regions` names them; with `--organization`
//! the accounts are the organization's active members (Organizations `ListAccounts`, every page),
//! each reached by assuming `--role-name` in it (STS `AssumeRole`). Exactly one region per account
//! reads the global types: every child of the account gets the same `globalRegion`, and the scan of
//! that region is the only one that lists them (see `clouds/aws/global.rs`).
//!
//! Unless `--no-clusters`, every EKS cluster of a region becomes a Kubernetes child below it
//! (`<account>/<region>/<cluster>`, see `eks` and `clusters`).
//!
//! Every call here is a read (`List*`, `Get*`, `AssumeRole`).

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use aws_config::SdkConfig;
use aws_sdk_account::types::RegionOptStatus;
use aws_sdk_cloudcontrol::config::ProvideCredentials;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::clouds::aws::errors::ApiError;

use super::clusters::cluster_child;
use super::plan::{child, Child, Credentials};
use crate::clouds::aws::global::DEFAULT_GLOBAL_REGION;
use crate::clouds::aws::sdk;

pub use crate::clouds::aws::sdk::SESSION_NAME;

/// What `fleet plan --cloud aws` was asked for.
#[derive(Debug, Clone, Default)]
pub struct AwsPlanArgs {
    /// `None` or `all`: the account's enabled regions.
    pub regions: Option<Vec<String>>,
    pub organization: bool,
    pub role_name: Option<String>,
    pub profile: Option<String>,
    pub global_region: Option<String>,
    pub name: Option<String>,
    pub esc_environment: Option<String>,
    /// Add a Kubernetes child for each EKS cluster found (`AWS::EKS::Cluster`).
    pub clusters: bool,
}

/// One account of the fleet.
#[derive(Debug, Clone)]
struct Account {
    id: Option<String>,
    name: String,
    role_arn: Option<String>,
}

/// The parent's name, the children, and notes on member accounts left out (for the plan's header).
pub async fn plan(
    args: &AwsPlanArgs,
    extra: &BTreeMap<String, String>,
) -> Result<(String, Vec<Child>, Vec<String>)> {
    let base = base_config(args.profile.as_deref(), None).await;
    let partition = partition(base.region().map(|r| r.as_ref()).unwrap_or(""));
    let (parent, accounts) = if args.organization {
        let role = args.role_name.as_deref().ok_or_else(|| {
            anyhow!("--organization needs --role-name: the role to assume in each member account")
        })?;
        let members = organization_accounts(&base).await?;
        let accounts = members
            .into_iter()
            .map(|(id, name)| Account {
                role_arn: Some(format!("arn:{partition}:iam::{id}:role/{role}")),
                id: Some(id),
                name,
            })
            .collect();
        (
            args.name
                .clone()
                .unwrap_or_else(|| "aws-organization".into()),
            accounts,
        )
    } else {
        let (id, name) = match &args.name {
            Some(n) => (None, n.clone()),
            None => this_account(&base).await?,
        };
        (
            name.clone(),
            vec![Account {
                id,
                name,
                role_arn: None,
            }],
        )
    };

    let mut children = Vec::new();
    let mut notes = Vec::new();
    for account in &accounts {
        let sdk = match &account.role_arn {
            Some(arn) => assumed_config(&base, arn, None).await,
            None => base.clone(),
        };
        let regions = match args.regions.as_deref() {
            Some(list) if !list.iter().any(|r| r == "all") => list.to_vec(),
            _ => {
                match enabled_regions(&sdk).await {
                    Ok(r) => r,
                    // One member without the role (often the management account itself) must not
                    // sink the whole organization's plan: it is left out, and the plan says so.
                    Err(e) if account.role_arn.is_some() => {
                        let note = format!(
                            "account {} ({}) left out: {e:#}",
                            account.name,
                            account.id.as_deref().unwrap_or("?")
                        );
                        eprintln!("warning: {note}");
                        notes.push(note);
                        continue;
                    }
                    Err(e) => {
                        return Err(
                            e.context(format!("listing the regions of account {}", account.name))
                        )
                    }
                }
            }
        };
        if regions.is_empty() {
            continue;
        }
        let global = global_region(&regions, args.global_region.as_deref());
        let scope = account.id.clone().unwrap_or_else(|| account.name.clone());
        for region in &regions {
            let mut settings = extra.clone();
            settings.insert("cloud".into(), "aws".into());
            settings.insert("region".into(), region.clone());
            settings.insert("globalRegion".into(), global.clone());
            let credentials = Credentials {
                profile: args.profile.clone(),
                role_arn: account.role_arn.clone(),
                esc_environment: args.esc_environment.clone(),
            };
            let name = format!("{}/{region}", account.name);
            children.push(child(
                name.clone(),
                format!("aws/{scope}/{region}"),
                settings,
                credentials.clone(),
            ));
            if !args.clusters {
                continue;
            }
            // A region whose clusters cannot be listed still gets its own child; the plan says
            // what is missing.
            match super::eks::clusters(&sdk, region).await {
                Ok(found) => children.extend(
                    found
                        .iter()
                        .map(|f| cluster_child(&name, f, credentials.clone())),
                ),
                Err(e) => {
                    let note = format!("EKS clusters of {name} not listed: {e:#}");
                    eprintln!("warning: {note}");
                    notes.push(note);
                }
            }
        }
    }
    Ok((parent, children, notes))
}

/// The designated region: the one asked for, else us-east-1 when scanned, else the first region.
pub fn global_region(regions: &[String], asked: Option<&str>) -> String {
    if let Some(a) = asked {
        return a.to_string();
    }
    if regions.iter().any(|r| r == DEFAULT_GLOBAL_REGION) {
        return DEFAULT_GLOBAL_REGION.to_string();
    }
    let mut sorted = regions.to_vec();
    sorted.sort();
    sorted[0].clone()
}

/// The ARN partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// aws-config's default chain with `profile` and a region (us-east-1 when none is configured).
pub async fn base_config(profile: Option<&str>, region: Option<&str>) -> SdkConfig {
    sdk::load(profile, region).await
}

/// `base` with its credentials replaced by those of `role_arn`, assumed from `base`'s.
pub async fn assumed_config(base: &SdkConfig, role_arn: &str, region: Option<&str>) -> SdkConfig {
    sdk::assumed(base, role_arn, region).await
}

/// Temporary keys of `role_arn` for a child's run: (access key id, secret, session token).
pub async fn assume(
    profile: Option<&str>,
    role_arn: &str,
    region: Option<&str>,
) -> Result<(String, String, Option<String>)> {
    let base = base_config(profile, region).await;
    let sdk = assumed_config(&base, role_arn, region).await;
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| anyhow!("no AWS credentials to assume {role_arn} from"))?;
    let creds = provider.provide_credentials().await.map_err(|e| {
        anyhow!(
            "cannot assume {role_arn}: {}",
            DisplayErrorContext(&e).to_string().replace('\n', " ")
        )
    })?;
    Ok((
        creds.access_key_id().to_string(),
        creds.secret_access_key().to_string(),
        creds.session_token().map(str::to_string),
    ))
}

/// Active member accounts: (id, name with `/` replaced, so names stay one level of the tree).
async fn organization_accounts(sdk: &SdkConfig) -> Result<Vec<(String, String)>> {
    use aws_sdk_organizations::types::{AccountState, AccountStatus};
    let client = aws_sdk_organizations::Client::new(sdk);
    let mut pages = client.list_accounts().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow!(
                "Organizations ListAccounts failed: {}",
                ApiError::from_sdk(&e)
            )
        })?;
        for a in page.accounts() {
            let active = match (a.state(), a.status()) {
                (Some(state), _) => *state == AccountState::Active,
                (None, Some(status)) => *status == AccountStatus::Active,
                (None, None) => false,
            };
            let (Some(id), true) = (a.id(), active) else {
                continue;
            };
            let name = a.name().unwrap_or(id).replace('/', "-");
            out.push((id.to_string(), name));
        }
    }
    Ok(out)
}

/// (id, name) of the credentials' own account.
async fn this_account(sdk: &SdkConfig) -> Result<(Option<String>, String)> {
    let client = aws_sdk_account::Client::new(sdk);
    let info = client.get_account_information().send().await.map_err(|e| {
        anyhow!(
            "account:GetAccountInformation failed ({}); pass --name to name the account instead",
            ApiError::from_sdk(&e)
        )
    })?;
    let id = info.account_id().map(str::to_string);
    let name = info
        .account_name()
        .map(|n| n.replace('/', "-"))
        .or_else(|| id.clone())
        .ok_or_else(|| anyhow!("GetAccountInformation returned no account name; pass --name"))?;
    Ok((id, name))
}

/// The regions enabled for the credentials' account (opted in, or on by default).
async fn enabled_regions(sdk: &SdkConfig) -> Result<Vec<String>> {
    let client = aws_sdk_account::Client::new(sdk);
    let mut pages = client
        .list_regions()
        .region_opt_status_contains(RegionOptStatus::Enabled)
        .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
        .max_results(50)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow!("account:ListRegions failed: {}", ApiError::from_sdk(&e)))?;
        for r in page.regions() {
            // The filter is the server's; a region in another state is still not scanned.
            let enabled = matches!(
                r.region_opt_status(),
                Some(RegionOptStatus::Enabled | RegionOptStatus::EnabledByDefault)
            );
            if let (Some(name), true) = (r.region_name(), enabled) {
                out.push(name.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_global_region_per_account() {
        let r = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            global_region(&r(&["eu-west-1", "us-east-1"]), None),
            "us-east-1"
        );
        assert_eq!(
            global_region(&r(&["eu-west-1", "ap-south-1"]), None),
            "ap-south-1"
        );
        assert_eq!(
            global_region(&r(&["eu-west-1"]), Some("eu-west-1")),
            "eu-west-1"
        );
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-east-1"), "aws");
    }
}
