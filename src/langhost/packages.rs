//! `GetRequiredPackages`: the provider plugin (package and exact version) each stack of the project
//! reads with, so that the CLI installs it before the run.
//!
//! The CLI's request carries only the project directories, not the stack being updated, so the
//! host reads every stack file of the project (`Pulumi.<stack>.yaml` in the project directory, or in
//! `stackConfigDir`) and declares the package of each configured `pulumi-cloud-import:cloud`, at the
//! pinned version or the stack's `pulumi-cloud-import:providerVersion`. A stack whose cloud is not in
//! its stack file (e.g. set through an ESC environment) adds nothing; the program's reads name their
//! version anyway, so the engine installs that plugin on the first read instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::proto::PackageDependency;
use crate::settings::{Cli, Settings};

#[derive(Debug, Default, Deserialize)]
struct ProjectFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "stackConfigDir")]
    stack_config_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct StackFile {
    #[serde(default)]
    config: Option<BTreeMap<String, serde_json::Value>>,
}

/// The packages the project's stacks need, sorted and without duplicates.
pub fn required_packages(root: &Path) -> Vec<PackageDependency> {
    let project: ProjectFile = read_yaml(&root.join("Pulumi.yaml")).unwrap_or_default();
    let project_name = project.name.unwrap_or_default();
    let dir = match &project.stack_config_dir {
        Some(d) => root.join(d),
        None => root.to_path_buf(),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut wanted = BTreeSet::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(stack) = file_name
            .strip_prefix("Pulumi.")
            .and_then(|r| r.strip_suffix(".yaml").or_else(|| r.strip_suffix(".yml")))
        else {
            continue;
        };
        if stack.is_empty() {
            continue;
        }
        let Some(file) = read_yaml::<StackFile>(&entry.path()) else {
            continue;
        };
        match package_of_stack(&project_name, stack, file.config.unwrap_or_default()) {
            Ok(Some(pkg)) => {
                wanted.insert(pkg);
            }
            Ok(None) => {}
            // The program reports bad settings properly when it runs; here they only mean that
            // this stack adds no package.
            Err(why) => tracing::warn!("stack {stack}: {why}"),
        }
    }
    wanted
        .into_iter()
        .map(|(name, version)| PackageDependency {
            name,
            kind: "resource".to_string(),
            version,
            ..Default::default()
        })
        .collect()
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_saphyr::from_str::<T>(&text) {
        Ok(v) => Some(v),
        Err(_) => {
            tracing::warn!("{} is not valid YAML; ignoring it", path.display());
            None
        }
    }
}

/// (package, version) for one stack's config, through the program's own settings rules so that the
/// key names, precedence and version checks are the same as at run time.
fn package_of_stack(
    project: &str,
    stack: &str,
    config: BTreeMap<String, serde_json::Value>,
) -> Result<Option<(String, String)>, String> {
    let config: BTreeMap<String, String> = config
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            serde_json::Value::Bool(b) => Some((k, b.to_string())),
            // Secure values and structured values never name the cloud or a version.
            _ => None,
        })
        .collect();
    let project = if project.is_empty() {
        crate::settings::NAMESPACE
    } else {
        project
    };
    let names_cloud = [crate::settings::NAMESPACE, project]
        .iter()
        .any(|ns| config.contains_key(&format!("{ns}:cloud")));
    if !names_cloud {
        return Ok(None);
    }
    let config_json = serde_json::to_string(&config).expect("a string map serializes");
    // Settings reads stack config from the language-host environment contract; give it that
    // contract with placeholder addresses (no connection is made here).
    let lookup = |k: &str| match k {
        "PULUMI_MONITOR" | "PULUMI_ENGINE" => Some("127.0.0.1:1".to_string()),
        "PULUMI_PROJECT" => Some(project.to_string()),
        "PULUMI_STACK" => Some(stack.to_string()),
        "PULUMI_CONFIG" => Some(config_json.clone()),
        _ => None,
    };
    // The settings errors quote config values, which the host never logs: say only which stack.
    let invalid = |_| {
        "its pulumi-cloud-import settings are invalid (the program reports why when it runs)"
            .to_string()
    };
    let settings = Settings::from_sources(Cli::default(), lookup).map_err(invalid)?;
    let version = settings.provider_version.clone();
    Ok(Some((settings.cloud.package().to_string(), version)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::Cloud;

    #[test]
    fn each_stack_file_contributes_its_cloud_at_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Pulumi.yaml"),
            "name: scan\nruntime: rust\nstackConfigDir: stacks\n",
        )
        .unwrap();
        std::fs::create_dir(root.join("stacks")).unwrap();
        std::fs::write(
            root.join("stacks/Pulumi.prod.yaml"),
            "config:\n  pulumi-cloud-import:cloud: aws\n  aws:region: us-east-1\n  scan:token:\n    secure: AAAB\n",
        )
        .unwrap();
        std::fs::write(
            root.join("stacks/Pulumi.k8s.yaml"),
            "config:\n  scan:cloud: kubernetes\n  pulumi-cloud-import:providerVersion: v4.1.0\n",
        )
        .unwrap();
        std::fs::write(root.join("stacks/Pulumi.empty.yaml"), "config: {}\n").unwrap();
        std::fs::write(
            root.join("stacks/Pulumi.bad.yaml"),
            "config:\n  pulumi-cloud-import:cloud: gcp\n",
        )
        .unwrap();

        let got: Vec<(String, String, String)> = required_packages(root)
            .into_iter()
            .map(|p| (p.name, p.version, p.kind))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "aws-native".to_string(),
                    Cloud::Aws.pinned_version().to_string(),
                    "resource".to_string()
                ),
                (
                    "kubernetes".to_string(),
                    "4.1.0".to_string(),
                    "resource".to_string()
                ),
            ]
        );
    }

    #[test]
    fn no_stack_files_means_no_packages() {
        let dir = tempfile::tempdir().unwrap();
        assert!(required_packages(dir.path()).is_empty());
    }
}
