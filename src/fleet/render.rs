//! `fleet render kubernetes`: the plan as Kubernetes objects, so an existing scheduler runs the
//! scans instead of one we would have to grow:
//! - one `CronJob` per child, running `pulumi-cloud-import fleet up --only <child>` from the image
//!   (see the `Dockerfile`), `concurrencyPolicy: Forbid` so a slow scan is never overlapped by the
//!   next, start times spread over the period so the children do not start together;
//! - a `ServiceAccount` (annotated for IRSA on EKS or Azure workload identity when asked);
//! - a `ConfigMap` holding the plan, i.e. each child's settings, mounted into every job.
//!
//! Credentials and the state backend come from Secrets the user creates (never rendered here):
//! `--state-secret` (`PULUMI_BACKEND_URL`, `PULUMI_CONFIG_PASSPHRASE` or `PULUMI_ACCESS_TOKEN`) and
//! the optional `--credentials-secret` (cloud keys as environment variables, `kubeconfig`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::plan::{Child, Plan};
use crate::app::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};

/// Where the plan is mounted in the jobs.
const PLAN_DIR: &str = "/etc/pulumi-cloud-import";
/// The project directory inside the image (holds `Pulumi.yaml` and `target/release`).
const PROJECT_DIR: &str = "/app";
/// CronJob names are at most 52 characters (the Job controller appends a suffix).
const MAX_CRONJOB_NAME: usize = 52;

#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// The plan to render.
    #[arg(long, default_value = "fleet.yaml")]
    pub file: PathBuf,
    /// How often each child runs: `@every <N>h` (N dividing 24), `@every <N>m` (N dividing 60),
    /// `@daily`, `@hourly`; start times are spread. A five-field cron expression is used as is.
    #[arg(long, default_value = "@every 24h")]
    pub schedule: String,
    /// The image built from the Dockerfile.
    #[arg(long, default_value = "pulumi-cloud-import:latest")]
    pub image: String,
    #[arg(long, default_value = "pulumi-cloud-import")]
    pub namespace: String,
    /// Secret with the state backend and its passphrase or access token, as environment variables.
    #[arg(long, default_value = "pulumi-cloud-import-state")]
    pub state_secret: String,
    /// Secret with cloud credentials as environment variables (and `kubeconfig` for Kubernetes
    /// fleets); optional when workload identity is used.
    #[arg(long, default_value = "pulumi-cloud-import-credentials")]
    pub credentials_secret: String,
    /// EKS: the IAM role the ServiceAccount assumes through IRSA.
    #[arg(long)]
    pub aws_role_arn: Option<String>,
    /// AKS: the client id of the managed identity for Azure workload identity.
    #[arg(long)]
    pub azure_client_id: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: RenderArgs) -> u8 {
    let plan = match Plan::read(&a.file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let text = match render(&plan, &a) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let written = match &a.out {
        Some(p) => std::fs::write(p, text),
        None => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())
        }
    };
    match written {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: cannot write the manifests: {e}");
            EXIT_FAILED
        }
    }
}

/// The manifests as one multi-document YAML text.
pub fn render(plan: &Plan, a: &RenderArgs) -> Result<String, String> {
    let schedules = spread(&a.schedule, plan.children.len())?;
    let labels = json!({"app.kubernetes.io/name": "pulumi-cloud-import", "app.kubernetes.io/part-of": plan.parent.name.clone()});
    let mut docs = Vec::new();

    let mut sa_annotations = serde_json::Map::new();
    if let Some(arn) = &a.aws_role_arn {
        sa_annotations.insert("eks.amazonaws.com/role-arn".into(), json!(arn));
    }
    if let Some(id) = &a.azure_client_id {
        sa_annotations.insert("azure.workload.identity/client-id".into(), json!(id));
    }
    docs.push(json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "pulumi-cloud-import", "namespace": a.namespace, "labels": labels, "annotations": sa_annotations},
    }));
    docs.push(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "pulumi-cloud-import-fleet", "namespace": a.namespace, "labels": labels},
        "data": {"fleet.yaml": plan.to_yaml()},
    }));
    let mut names = BTreeSet::new();
    for (child, schedule) in plan.children.iter().zip(schedules) {
        let name = cronjob_name(child);
        if !names.insert(name.clone()) {
            return Err(format!("two children map to the CronJob name {name}"));
        }
        docs.push(cronjob(plan, child, &name, &schedule, a, &labels));
    }
    let mut out = String::from(
        "# Rendered by `pulumi-cloud-import fleet render kubernetes`; see docs/fleet.md.\n",
    );
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&d).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

fn cronjob(
    plan: &Plan,
    child: &Child,
    name: &str,
    schedule: &str,
    a: &RenderArgs,
    labels: &Value,
) -> Value {
    let mut pod_labels = labels.clone();
    pod_labels["pulumi-cloud-import/child"] = json!(name);
    if a.azure_client_id.is_some() {
        // Azure workload identity injects the federated token only into pods labelled so.
        pod_labels["azure.workload.identity/use"] = json!("true");
    }
    let mut env = vec![
        json!({"name": "HOME", "value": "/home/pulumi"}),
        json!({"name": "PULUMI_SKIP_UPDATE_CHECK", "value": "true"}),
    ];
    let mut volumes = vec![
        json!({"name": "plan", "configMap": {"name": "pulumi-cloud-import-fleet"}}),
        json!({"name": "home", "emptyDir": {}}),
    ];
    let mut mounts = vec![
        json!({"name": "plan", "mountPath": PLAN_DIR, "readOnly": true}),
        json!({"name": "home", "mountPath": "/home/pulumi"}),
    ];
    if let Some(id) = &a.azure_client_id {
        // The webhook mounts the federated token here; our scanner and azure-native both read these.
        env.push(json!({"name": "ARM_USE_OIDC", "value": "true"}));
        env.push(json!({"name": "ARM_CLIENT_ID", "value": id}));
        env.push(json!({"name": "ARM_OIDC_TOKEN_FILE_PATH", "value": "/var/run/secrets/azure/tokens/azure-identity-token"}));
    }
    if plan.cloud == "kubernetes" {
        // The clusters to scan are reached with a kubeconfig the user puts in the credentials Secret.
        env.push(json!({"name": "KUBECONFIG", "value": "/etc/kubeconfig/kubeconfig"}));
        volumes.push(json!({"name": "kubeconfig", "secret": {"secretName": a.credentials_secret, "items": [{"key": "kubeconfig", "path": "kubeconfig"}]}}));
        mounts
            .push(json!({"name": "kubeconfig", "mountPath": "/etc/kubeconfig", "readOnly": true}));
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": name,
            "namespace": a.namespace,
            "labels": labels,
            "annotations": {"pulumi-cloud-import/child": child.name, "pulumi-cloud-import/stack": child.stack},
        },
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            // A run missed by more than an hour (the controller was down) waits for the next slot.
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    // A failed scan is reported and retried at the next slot, not in a loop.
                    "backoffLimit": 0,
                    "template": {
                        "metadata": {"labels": pod_labels},
                        "spec": {
                            "serviceAccountName": "pulumi-cloud-import",
                            "restartPolicy": "Never",
                            "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 1000},
                            "containers": [{
                                "name": "scan",
                                "image": a.image,
                                "workingDir": PROJECT_DIR,
                                "command": ["pulumi-cloud-import"],
                                "args": ["fleet", "up", "--file", format!("{PLAN_DIR}/fleet.yaml"), "--only", child.name, "--cwd", PROJECT_DIR, "--logs", "/home/pulumi/fleet-logs", "--show-logs"],
                                "env": env,
                                "envFrom": [
                                    {"secretRef": {"name": a.state_secret}},
                                    {"secretRef": {"name": a.credentials_secret, "optional": true}},
                                ],
                                "volumeMounts": mounts,
                                "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
                            }],
                            "volumes": volumes,
                        },
                    },
                },
            },
        },
    })
}

/// A DNS-1123 name for a child's CronJob, `pci-<stack>`, cut with a hash when too long.
pub fn cronjob_name(child: &Child) -> String {
    let mut s: String = child
        .stack
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = format!("pci-{}", s.trim_matches('-'));
    let lowered_alike = s.len() > MAX_CRONJOB_NAME || s != format!("pci-{}", child.stack);
    if !lowered_alike {
        return s;
    }
    // Lowercasing and replacing can make two stacks alike; the hash of the stack keeps them apart.
    let digest = Sha256::digest(child.stack.as_bytes());
    let hash: String = digest[..3].iter().map(|b| format!("{b:02x}")).collect();
    let keep = MAX_CRONJOB_NAME - hash.len() - 1;
    let head: String = s.chars().take(keep).collect();
    format!("{}-{hash}", head.trim_end_matches('-'))
}

/// One cron expression per child, their start times spread evenly over the period.
pub fn spread(schedule: &str, n: usize) -> Result<Vec<String>, String> {
    let s = schedule.trim();
    let n = n.max(1);
    let minutes = match s {
        "@daily" | "@midnight" => Some(1440),
        "@hourly" => Some(60),
        _ => s
            .strip_prefix("@every ")
            .map(str::trim)
            .map(|d| {
                if let Some(h) = d.strip_suffix('h') {
                    h.parse::<u32>().ok().map(|h| h * 60)
                } else if let Some(m) = d.strip_suffix('m') {
                    m.parse::<u32>().ok()
                } else {
                    None
                }
            })
            .map(|m| m.unwrap_or(0)),
    };
    let Some(period) = minutes else {
        if s.split_whitespace().count() == 5 {
            return Ok(vec![s.to_string(); n]);
        }
        return Err(format!(
            "--schedule {schedule:?}: use @every <N>h, @every <N>m, @daily, @hourly or a five-field cron expression"
        ));
    };
    let valid = (period >= 60 && period % 60 == 0 && 1440 % period == 0)
        || (period > 0 && period < 60 && 60 % period == 0);
    if !valid {
        return Err(format!(
            "--schedule {schedule:?}: the period must divide a day in whole hours (1h, 2h, 3h, 4h, 6h, 8h, 12h, 24h) or an hour in whole minutes"
        ));
    }
    Ok((0..n)
        .map(|i| {
            let offset = (i as u64 * period as u64 / n as u64) as u32;
            if period < 60 {
                let mins: Vec<String> = (offset..60)
                    .step_by(period as usize)
                    .map(|m| m.to_string())
                    .collect();
                format!("{} * * * *", mins.join(","))
            } else {
                let (h0, m) = (offset / 60, offset % 60);
                let step = period / 60;
                let hours: Vec<String> = (h0..24)
                    .step_by(step as usize)
                    .map(|h| h.to_string())
                    .collect();
                format!("{m} {} * * *", hours.join(","))
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_yaml_1_1_reads_as_booleans_stay_strings() {
        // kubectl reads YAML 1.1, where `y`, `on` and `no` are booleans.
        let text = serde_saphyr::to_string(
            &json!({"a": "y", "b": "true", "c": "on", "d": "no", "e": "0 0 * * *"}),
        )
        .unwrap();
        for (k, v) in [("a", "y"), ("b", "true"), ("c", "on"), ("d", "no")] {
            assert!(
                text.contains(&format!("{k}: '{v}'")) || text.contains(&format!("{k}: \"{v}\"")),
                "{text}"
            );
        }
    }

    #[test]
    fn workload_identity_annotates_the_service_account_and_labels_the_pods() {
        let mut settings = std::collections::BTreeMap::new();
        settings.insert("cloud".to_string(), "azure".to_string());
        let plan = Plan::new(
            "azure",
            "contoso",
            vec![super::super::plan::child(
                "sub/westus2".into(),
                "g".into(),
                settings,
                Default::default(),
            )],
        );
        let args = RenderArgs {
            file: "fleet.yaml".into(),
            schedule: "@daily".into(),
            image: "i".into(),
            namespace: "ns".into(),
            state_secret: "state".into(),
            credentials_secret: "creds".into(),
            aws_role_arn: Some("arn:aws:iam::1:role/scanner".into()),
            azure_client_id: Some("client-1".into()),
            out: None,
        };
        let docs: Vec<Value> = serde_saphyr::from_multiple(&render(&plan, &args).unwrap()).unwrap();
        let sa = &docs[0]["metadata"]["annotations"];
        assert_eq!(
            sa["eks.amazonaws.com/role-arn"],
            "arn:aws:iam::1:role/scanner"
        );
        assert_eq!(sa["azure.workload.identity/client-id"], "client-1");
        let pod = &docs[2]["spec"]["jobTemplate"]["spec"]["template"];
        assert_eq!(
            pod["metadata"]["labels"]["azure.workload.identity/use"],
            "true"
        );
        let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
        assert!(env
            .iter()
            .any(|e| e["name"] == "ARM_USE_OIDC" && e["value"] == "true"));
        assert!(env
            .iter()
            .any(|e| e["name"] == "ARM_CLIENT_ID" && e["value"] == "client-1"));
        assert_eq!(docs[2]["spec"]["schedule"], "0 0 * * *");
    }

    #[test]
    fn the_dockerfile_pins_the_provider_versions_of_this_release() {
        let dockerfile = include_str!("../../Dockerfile");
        for (arg, cloud) in [
            ("AWS_NATIVE_VERSION", crate::clouds::Cloud::Aws),
            ("AZURE_NATIVE_VERSION", crate::clouds::Cloud::Azure),
            ("KUBERNETES_VERSION", crate::clouds::Cloud::Kubernetes),
            ("OCI_VERSION", crate::clouds::Cloud::Oci),
        ] {
            let line = format!("ARG {arg}={}", cloud.pinned_version());
            assert!(dockerfile.contains(&line), "the Dockerfile must say {line}");
        }
    }

    #[test]
    fn start_times_are_spread_over_the_period() {
        assert_eq!(
            spread("@every 24h", 4).unwrap(),
            ["0 0 * * *", "0 6 * * *", "0 12 * * *", "0 18 * * *"]
        );
        assert_eq!(spread("@daily", 3).unwrap()[1], "0 8 * * *");
        assert_eq!(
            spread("@every 6h", 2).unwrap(),
            ["0 0,6,12,18 * * *", "0 3,9,15,21 * * *"]
        );
        assert_eq!(spread("@every 12h", 5).unwrap()[1], "24 2,14 * * *");
        assert_eq!(
            spread("@every 15m", 2).unwrap(),
            ["0,15,30,45 * * * *", "7,22,37,52 * * * *"]
        );
        assert_eq!(
            spread("30 2 * * 1", 2).unwrap(),
            ["30 2 * * 1", "30 2 * * 1"]
        );
        assert!(spread("@every 5h", 1).is_err());
        assert!(spread("@every 90m", 1).is_err());
        assert!(spread("weekly", 1).is_err());
    }

    #[test]
    fn cronjob_names_are_dns_labels_and_distinct() {
        let c = |stack: &str| {
            super::super::plan::child(
                stack.into(),
                "g".into(),
                Default::default(),
                Default::default(),
            )
        };
        let a = cronjob_name(&c("acme.us-east-1"));
        assert_eq!(a, "pci-acme-us-east-1-".to_string() + &a[a.len() - 6..]);
        let long = cronjob_name(&c(&"x".repeat(80)));
        assert!(long.len() <= MAX_CRONJOB_NAME, "{long}");
        assert_ne!(cronjob_name(&c("Acme.x")), cronjob_name(&c("acme.x")));
        for n in [a, long] {
            assert!(n
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'));
            assert!(!n.ends_with('-'));
        }
    }
}
