//! The fleet plan: the reviewable YAML file `fleet plan` writes and `fleet up` / `fleet render`
//! read. It names the parent and, per child, its name, its stack, the rate limit it shares, exactly
//! the settings its run gets (the same keys as stack config `pulumi-cloud-import:<key>`), and how to
//! obtain its credentials (never the credentials themselves).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::settings::InputError;

/// The plan format version this release reads and writes.
pub const VERSION: u32 = 1;

/// Longest stack name we produce; Pulumi Cloud refuses names over 100 characters.
const MAX_STACK_NAME: usize = 100;

/// Keys that must never appear among a child's settings: they would put secrets into a file that is
/// meant to be reviewed and committed. Credentials are described in `credentials` instead.
const SECRET_LIKE: &[&str] = &["secret", "password", "passphrase", "token", "privatekey"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    pub cloud: String,
    pub parent: Parent,
    pub children: Vec<Child>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Parent {
    /// The name `--only` takes to run every child (`acme`, `acme-org`).
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Child {
    /// `<account>/<region>`, `<subscription>/<location>`, `<context>`, `<tenancy>/<region>`.
    pub name: String,
    /// The Pulumi stack the child is read into (see [`stack_name`] for how it is derived).
    pub stack: String,
    /// Children with the same group share one API rate limit and never run at the same time.
    pub rate_limit_group: String,
    /// Stack config of the child's run, without the `pulumi-cloud-import:` prefix.
    pub settings: BTreeMap<String, String>,
    /// How the child's run obtains its credentials.
    #[serde(default, skip_serializing_if = "Credentials::is_empty")]
    pub credentials: Credentials,
    /// A managed Kubernetes cluster a cloud plan found (a `kubernetes` child of an AWS or Azure
    /// plan): where it is and how to sign in with the child's cloud credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterAccess>,
}

/// Where a managed cluster's API server is, and which sign-in its child uses. Public facts only:
/// the CA certificate is not a secret, and the token is made at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterAccess {
    /// The API server's URL.
    pub server: String,
    /// The cluster CA's PEM, base64-encoded (as kubeconfig's `certificate-authority-data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
    /// EKS: signed in with an STS token for this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks: Option<EksCluster>,
    /// AKS with Entra ID: signed in with an Entra token for the AKS server application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aks: Option<AksCluster>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EksCluster {
    pub name: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AksCluster {
    /// The managed cluster's ARM id.
    pub id: String,
    /// The AKS server application id (the token's audience).
    pub server_id: String,
}

/// How to obtain a child's credentials. Every field is a name or an ARN, never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credentials {
    /// AWS / OCI: the profile of the cloud CLI's config files (for AWS, the base identity a
    /// `roleArn` is assumed from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// AWS: a role to assume (STS AssumeRole) for this child's run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Pulumi ESC environment (`project/env`) whose `environmentVariables` the run gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esc_environment: Option<String>,
}

impl Credentials {
    pub fn is_empty(&self) -> bool {
        self.profile.is_none() && self.role_arn.is_none() && self.esc_environment.is_none()
    }
}

impl Plan {
    /// A plan for `cloud` with these children; stack names are made unique.
    pub fn new(cloud: &str, parent: &str, mut children: Vec<Child>) -> Plan {
        unique_stacks(&mut children);
        Plan {
            version: VERSION,
            cloud: cloud.to_string(),
            parent: Parent {
                name: parent.to_string(),
            },
            children,
        }
    }

    /// The YAML text with `notes` (what discovery left out, and why) as comments in the header.
    pub fn to_yaml_with_notes(&self, notes: &[String]) -> String {
        let mut text = String::new();
        for n in notes {
            text.push_str(&format!("# Note: {}\n", n.replace('\n', " ")));
        }
        text + &self.to_yaml()
    }

    /// The YAML text, with a header saying what the file is.
    pub fn to_yaml(&self) -> String {
        let body = serde_saphyr::to_string(self).expect("a plan always serializes");
        format!(
            "# pulumi-cloud-import fleet plan: review, edit and commit it; `pulumi-cloud-import fleet up` runs it.\n\
             # Stack names are the child names with `/` replaced by `.` (see docs/fleet.md).\n\
             # No credentials are stored here, only how to obtain them.\n{body}"
        )
    }

    pub fn from_yaml(text: &str, origin: &str) -> Result<Plan, InputError> {
        let plan: Plan = serde_saphyr::from_str(text).map_err(|e| {
            let e = e.to_string();
            let line = e.lines().next().unwrap_or("invalid YAML");
            InputError::new(format!("{origin}: not a fleet plan: {line}"))
        })?;
        plan.validate(origin)?;
        Ok(plan)
    }

    pub fn read(path: &Path) -> Result<Plan, InputError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(format!("cannot read {}: {e}", path.display())))?;
        Plan::from_yaml(&text, &path.display().to_string())
    }

    /// Checks what the children's own runs cannot: unique names and stacks, a known version, and no
    /// secret-looking settings.
    pub fn validate(&self, origin: &str) -> Result<(), InputError> {
        if self.version != VERSION {
            return Err(InputError::new(format!(
                "{origin}: plan version {} is not supported (this release reads version {VERSION})",
                self.version
            )));
        }
        let mut names = BTreeSet::new();
        let mut stacks = BTreeSet::new();
        for c in &self.children {
            if c.name.trim().is_empty() || c.name == self.parent.name {
                return Err(InputError::new(format!(
                    "{origin}: child name {:?} must be non-empty and differ from the parent's",
                    c.name
                )));
            }
            if !names.insert(c.name.as_str()) {
                return Err(InputError::new(format!(
                    "{origin}: two children are named {:?}",
                    c.name
                )));
            }
            if !is_stack_name(&c.stack) {
                return Err(InputError::new(format!(
                    "{origin}: child {:?} has stack {:?}: a stack name is letters, digits, `-`, `_` and `.` (optionally `org/project/` in front)",
                    c.name, c.stack
                )));
            }
            if !stacks.insert(c.stack.as_str()) {
                return Err(InputError::new(format!(
                    "{origin}: two children use stack {:?}",
                    c.stack
                )));
            }
            for key in c.settings.keys() {
                let k = key.to_ascii_lowercase();
                if SECRET_LIKE.iter().any(|s| k.contains(s)) {
                    return Err(InputError::new(format!(
                        "{origin}: child {:?} sets {key:?}: secrets do not belong in a plan; name how to obtain them under `credentials`",
                        c.name
                    )));
                }
            }
            let cloud = c.settings.get("cloud").map(String::as_str);
            match &c.cluster {
                None if cloud != Some(self.cloud.as_str()) => {
                    return Err(InputError::new(format!(
                        "{origin}: child {:?} must set cloud: {}",
                        c.name, self.cloud
                    )));
                }
                None => {}
                Some(access) => {
                    if cloud != Some("kubernetes") {
                        return Err(InputError::new(format!(
                            "{origin}: child {:?} has a cluster, so it must set cloud: kubernetes",
                            c.name
                        )));
                    }
                    if access.eks.is_some() == access.aks.is_some() {
                        return Err(InputError::new(format!(
                            "{origin}: child {:?}: a cluster names exactly one of eks and aks",
                            c.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The children `--only <name>` selects: every child for the parent's name, else the child of
    /// that name and its own children (names below it: `acme/us-east-1` is below `acme`).
    pub fn select(&self, only: Option<&str>) -> Result<Vec<&Child>, InputError> {
        let Some(only) = only.map(|o| o.trim_end_matches('/')) else {
            return Ok(self.children.iter().collect());
        };
        if only == self.parent.name {
            return Ok(self.children.iter().collect());
        }
        let below = format!("{only}/");
        let chosen: Vec<&Child> = self
            .children
            .iter()
            .filter(|c| c.name == only || c.name.starts_with(&below) || c.stack == only)
            .collect();
        if chosen.is_empty() {
            return Err(InputError::new(format!(
                "--only {only:?} names neither the parent {:?} nor a child of the plan",
                self.parent.name
            )));
        }
        Ok(chosen)
    }
}

/// The stack name of a child: its name with `/` replaced by `.` (Pulumi reserves `/` for
/// `org/project/stack`), any other character a stack name cannot hold replaced by `-`, and cut to
/// 100 characters with a hash of the full name when longer.
pub fn stack_name(child: &str) -> String {
    let mapped: String = child
        .chars()
        .map(|c| match c {
            '/' => '.',
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => c,
            _ => '-',
        })
        .collect();
    if mapped.len() <= MAX_STACK_NAME {
        return mapped;
    }
    format!("{}-{}", &mapped[..MAX_STACK_NAME - 9], short_hash(child))
}

fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Two children whose names map alike (`a b/x` and `a-b/x`) get a hash of their name appended.
fn unique_stacks(children: &mut [Child]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for c in children.iter() {
        *seen.entry(c.stack.clone()).or_default() += 1;
    }
    for c in children.iter_mut() {
        if seen[&c.stack] > 1 {
            let base: String = c.stack.chars().take(MAX_STACK_NAME - 9).collect();
            c.stack = format!("{base}-{}", short_hash(&c.name));
        }
    }
}

/// A Pulumi stack name, optionally qualified as `org/stack` or `org/project/stack`.
pub fn is_stack_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() <= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= MAX_STACK_NAME
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// A child with its stack derived from its name.
pub fn child(
    name: String,
    rate_limit_group: String,
    settings: BTreeMap<String, String>,
    credentials: Credentials,
) -> Child {
    Child {
        stack: stack_name(&name),
        name,
        rate_limit_group,
        settings,
        credentials,
        cluster: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sample() -> Plan {
        Plan::new(
            "aws",
            "acme",
            vec![
                child(
                    "prod/us-east-1".into(),
                    "aws/1/us-east-1".into(),
                    settings(&[("cloud", "aws"), ("region", "us-east-1")]),
                    Credentials {
                        profile: Some("mgmt".into()),
                        role_arn: Some("arn:aws:iam::1:role/R".into()),
                        esc_environment: None,
                    },
                ),
                child(
                    "prod/eu-west-1".into(),
                    "aws/1/eu-west-1".into(),
                    settings(&[("cloud", "aws"), ("region", "eu-west-1")]),
                    Credentials::default(),
                ),
                child(
                    "test account/us-east-1".into(),
                    "aws/2/us-east-1".into(),
                    settings(&[("cloud", "aws"), ("region", "us-east-1")]),
                    Credentials::default(),
                ),
            ],
        )
    }

    #[test]
    fn stack_names_replace_slashes_and_stay_unique() {
        assert_eq!(stack_name("acme/us-east-1"), "acme.us-east-1");
        assert_eq!(stack_name("My Sub (dev)/westus2"), "My-Sub--dev-.westus2");
        let long = "a".repeat(150);
        let s = stack_name(&long);
        assert_eq!(s.len(), MAX_STACK_NAME);
        assert!(is_stack_name(&s));
        let plan = Plan::new(
            "aws",
            "p",
            vec![
                child(
                    "a b/x".into(),
                    "g1".into(),
                    settings(&[("cloud", "aws")]),
                    Credentials::default(),
                ),
                child(
                    "a-b/x".into(),
                    "g2".into(),
                    settings(&[("cloud", "aws")]),
                    Credentials::default(),
                ),
            ],
        );
        assert_ne!(plan.children[0].stack, plan.children[1].stack);
        plan.validate("t").unwrap();
    }

    #[test]
    fn the_yaml_round_trips_and_is_checked() {
        let plan = sample();
        let text = plan.to_yaml();
        assert!(text.contains("roleArn: arn:aws:iam::1:role/R"), "{text}");
        assert!(text.contains("stack: prod.us-east-1"), "{text}");
        assert_eq!(Plan::from_yaml(&text, "t").unwrap(), plan);

        let bad = text.replace("region: eu-west-1", "clientSecret: hunter2");
        let err = Plan::from_yaml(&bad, "t").unwrap_err().to_string();
        assert!(err.contains("secrets do not belong"), "{err}");
        let bad = text.replace("version: 1", "version: 7");
        assert!(Plan::from_yaml(&bad, "t").is_err());
        let bad = text.replace("stack: prod.eu-west-1", "stack: prod.us-east-1");
        assert!(Plan::from_yaml(&bad, "t")
            .unwrap_err()
            .to_string()
            .contains("two children use"));
    }

    #[test]
    fn only_cascades_from_the_parent_and_from_a_child_to_its_children() {
        let plan = sample();
        assert_eq!(plan.select(None).unwrap().len(), 3);
        assert_eq!(plan.select(Some("acme")).unwrap().len(), 3);
        let prod: Vec<&str> = plan
            .select(Some("prod"))
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(prod, ["prod/us-east-1", "prod/eu-west-1"]);
        assert_eq!(plan.select(Some("prod/eu-west-1")).unwrap().len(), 1);
        assert_eq!(plan.select(Some("prod.eu-west-1")).unwrap().len(), 1);
        assert!(plan.select(Some("pro")).is_err());
    }
}
