//! `pulumi-cloud-import fleet`: many scopes (accounts x regions, subscriptions x locations,
//! kubeconfig contexts, tenancy regions) as child stacks of one parent.
//!
//! - `fleet plan` discovers the children with read-only calls and writes a reviewable YAML plan
//!   (`plan`, and one module per cloud: `aws`, `azure`, `kubernetes`, `oci`);
//! - `fleet up` runs the children, each as its own `pulumi up` (or `--import` run) with its own
//!   settings, never two sharing one rate limit at once (`up`, `schedule`, `table`);
//! - `fleet render kubernetes` hands the schedule to Kubernetes as CronJobs (`render`).
//!
//! The subcommand has its own command line, parsed before the single-run one, so the single-run
//! settings stay as they are; each child's settings are checked by the child's own run.

pub mod aks;
pub mod aws;
pub mod azure;
pub mod clusters;
pub mod creds;
pub mod eks;
pub mod kubernetes;
pub mod oci;
pub mod plan;
pub mod render;
pub mod schedule;
pub mod table;
pub mod up;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::clouds::Cloud;
use plan::Plan;

#[derive(Debug, Parser)]
#[command(
    name = "pulumi-cloud-import fleet",
    about = "Plans, runs and schedules many scopes as child stacks of one parent"
)]
pub struct FleetCli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Discovers the children (read-only calls) and writes the plan as YAML.
    Plan(PlanArgs),
    /// Runs the children of a plan: `pulumi up` per child stack, or `--import DIR`.
    Up(UpArgs),
    /// Writes manifests that run the children on a schedule.
    #[command(subcommand)]
    Render(RenderTarget),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// aws, azure, kubernetes or oci.
    #[arg(long)]
    pub cloud: String,
    /// The parent's name (default: the account, tenancy, or the cloud's name).
    #[arg(long)]
    pub name: Option<String>,
    /// AWS / OCI: regions, comma-separated, or `all` (default): the enabled or subscribed ones.
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
    /// AWS: every active member account of the organization (Organizations ListAccounts).
    #[arg(long, requires = "role_name")]
    pub organization: bool,
    /// AWS: the role assumed in each member account (with --organization).
    #[arg(long, requires = "organization")]
    pub role_name: Option<String>,
    /// AWS / OCI: the profile of the CLI config files the plan and the runs use.
    #[arg(long)]
    pub profile: Option<String>,
    /// AWS: the region whose scan reads the global types in every account (default us-east-1 when
    /// scanned, else the first region).
    #[arg(long)]
    pub global_region: Option<String>,
    /// Azure: locations, comma-separated (default: the locations holding resources).
    #[arg(long, value_delimiter = ',')]
    pub locations: Option<Vec<String>>,
    /// Azure: only these subscription ids (default: every one the credentials see).
    #[arg(long, value_delimiter = ',')]
    pub subscriptions: Option<Vec<String>>,
    /// Kubernetes: only these contexts (default: every context of the kubeconfig).
    #[arg(long, value_delimiter = ',')]
    pub contexts: Option<Vec<String>>,
    /// A Pulumi ESC environment every child's run is started in (`pulumi env run`).
    #[arg(long)]
    pub esc_environment: Option<String>,
    /// A setting every child gets, as KEY=VALUE (the keys of stack config). Repeatable.
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// AWS / Azure: do not add a Kubernetes child for each EKS or AKS cluster found.
    #[arg(long)]
    pub no_clusters: bool,
    /// Write the plan to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The plan to run.
    #[arg(long, default_value = "fleet.yaml")]
    pub file: PathBuf,
    /// Run only this child and its own children, or the parent (all).
    #[arg(long)]
    pub only: Option<String>,
    /// Children running at once (never two that share a rate limit).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
    /// Write one import file per child into DIR instead of running Pulumi.
    #[arg(long, value_name = "DIR")]
    pub import: Option<PathBuf>,
    /// The Pulumi CLI to run (default: `pulumi` on PATH).
    #[arg(long, env = "PULUMI_CLOUD_IMPORT_PULUMI", default_value = "pulumi")]
    pub pulumi: PathBuf,
    /// The Pulumi project directory the child stacks belong to (this project's clone).
    #[arg(long, default_value = ".")]
    pub cwd: PathBuf,
    /// Where each child's output is logged.
    #[arg(long, default_value = ".fleet-logs")]
    pub logs: PathBuf,
    /// Also copy each child's log to stderr when it ends (for `kubectl logs` of a CronJob's run).
    #[arg(long)]
    pub show_logs: bool,
}

#[derive(Debug, Subcommand)]
pub enum RenderTarget {
    /// CronJobs, a ServiceAccount and a ConfigMap (see docs/fleet.md).
    Kubernetes(render::RenderArgs),
}

/// Runs `pulumi-cloud-import fleet ...` (argv including the program name and `fleet`).
pub fn main(argv: Vec<OsString>) -> u8 {
    let cli: FleetCli = match crate::app::parse_subcommand(argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_FAILED;
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Plan(a) => run_plan(a).await,
            Command::Up(a) => up::run(a).await,
            Command::Render(RenderTarget::Kubernetes(a)) => render::run(a),
        }
    });
    runtime.shutdown_background();
    code
}

/// `-c KEY=VALUE` pairs as a map (the `pulumi-cloud-import:` prefix is optional).
pub fn parse_pairs(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("--config takes KEY=VALUE, not {pair:?}"))?;
        let k = k.trim();
        let k = k.strip_prefix("pulumi-cloud-import:").unwrap_or(k);
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn no_notes(
    (parent, children): (String, Vec<plan::Child>),
) -> (String, Vec<plan::Child>, Vec<String>) {
    (parent, children, Vec::new())
}

async fn run_plan(a: PlanArgs) -> u8 {
    let cloud = match a.cloud.parse::<Cloud>() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let extra = match parse_pairs(&a.config) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    let planned = match cloud {
        Cloud::Aws => {
            let args = aws::AwsPlanArgs {
                regions: a.regions.clone(),
                organization: a.organization,
                role_name: a.role_name.clone(),
                profile: a.profile.clone(),
                global_region: a.global_region.clone(),
                name: a.name.clone(),
                esc_environment: a.esc_environment.clone(),
                clusters: !a.no_clusters,
            };
            aws::plan(&args, &extra).await
        }
        Cloud::Azure => {
            let args = azure::AzurePlanArgs {
                locations: a.locations.clone(),
                subscriptions: a.subscriptions.clone(),
                name: a.name.clone(),
                esc_environment: a.esc_environment.clone(),
                clusters: !a.no_clusters,
            };
            azure::plan(&args, &extra, &env).await
        }
        Cloud::Kubernetes => {
            let args = kubernetes::KubernetesPlanArgs {
                contexts: a.contexts.clone(),
                name: a.name.clone(),
                esc_environment: a.esc_environment.clone(),
            };
            kubernetes::plan(&args, &extra).map(no_notes)
        }
        Cloud::Oci => {
            let args = oci::OciPlanArgs {
                regions: a.regions.clone(),
                profile: a.profile.clone(),
                name: a.name.clone(),
                esc_environment: a.esc_environment.clone(),
            };
            oci::plan(&args, &extra, &env).await.map(no_notes)
        }
    };
    let (parent, children, notes) = match planned {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_FAILED;
        }
    };
    if children.is_empty() {
        eprintln!("error: no children found: nothing to plan");
        return EXIT_FAILED;
    }
    let plan = Plan::new(cloud.name(), &parent, children);
    if let Err(e) = plan.validate("the plan") {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    let text = plan.to_yaml_with_notes(&notes);
    let written = match &a.out {
        Some(path) => std::fs::write(path, &text),
        None => std::io::stdout().write_all(text.as_bytes()),
    };
    if let Err(e) = written {
        eprintln!("error: cannot write the plan: {e}");
        return EXIT_FAILED;
    }
    eprintln!(
        "info: planned {} children of {:?}",
        plan.children.len(),
        plan.parent.name
    );
    EXIT_OK
}
