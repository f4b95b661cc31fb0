//! Every knob of a run, from command-line flags, `PULUMI_CLOUD_IMPORT_*` variables and stack config,
//! checked before any cloud or engine call. Bad input becomes one [`InputError`] line naming the flag,
//! variable or config key at fault.
//!
//! This is the low level (ripgrep's `LowArgs`): raw values layered by source, plus the settings every
//! cloud shares, checked here. Each cloud's typed options are built from it once, before any cloud
//! or engine call (`clouds::CloudOptions`, ripgrep's `HiArgs::from_low_args`); nothing after that
//! reads a raw key.
//!
//! One key space serves all three sources: `--config region=us-west-2`, the flag `--region`, and the
//! stack config `pulumi-cloud-import:region` all set the key `region`. Flags win over environment
//! variables, which win over stack config.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::cloud::Cloud;
pub use crate::input_error::InputError;
use crate::pulumi::env::PulumiEnv;

/// The config namespace; stack config keys are `pulumi-cloud-import:<key>`.
pub const NAMESPACE: &str = "pulumi-cloud-import";
/// Concurrent reads when neither `workers` nor the engine's `--parallel` says otherwise.
pub const DEFAULT_WORKERS: usize = 3;
/// The most workers the engine's `--parallel` alone gives (see `default_workers`).
pub const ENGINE_WORKERS_CAP: usize = 64;
/// Seconds one read may take (`readTimeout`) unless set.
pub const DEFAULT_READ_TIMEOUT_SECS: u64 = 60;
/// Upper bound for `readTimeout`.
pub const MAX_READ_TIMEOUT_SECS: u64 = 3600;
/// Upper bound for `PULUMI_CLOUD_IMPORT_WORKERS`; the engine itself runs at most `--parallel` reads.
pub const MAX_WORKERS: usize = 512;

/// Every key any part of the program reads (the README's Configuration table). A key set under
/// `pulumi-cloud-import:` or with `-c` that is not here is a typo, and silently ignoring it would
/// scan something other than what the user asked for.
pub const KNOWN_KEYS: &[&str] = &[
    // Every cloud.
    "cloud",
    "include",
    "exclude",
    "workers",
    "providerVersion",
    "debug",
    "schemaFile",
    "readTimeout",
    "importSecrets",
    // Kubernetes.
    "context",
    "defaultExclusions",
    "pageSize",
    "readInputs",
    "namespaces",
    "clusterScoped",
    // AWS and OCI.
    "region",
    "profile",
    // AWS.
    "globalRegion",
    "globalResources",
    "listConcurrency",
    "rateLimit",
    // OCI.
    "compartment",
    "endpoint",
    // Azure.
    "subscription",
    "location",
    "armEndpoint",
];

/// Command line of `pulumi-cloud-import`. Under `pulumi up` the program gets no arguments and every
/// knob comes from stack config instead.
#[derive(Debug, Default, Parser)]
#[command(
    name = "pulumi-cloud-import",
    version,
    about = "Reads every resource of a cloud account into a Pulumi stack, or writes an import.json",
    long_about = "Without --import or --list this runs as a Pulumi program: `pulumi up --skip-preview \
--show-reads --continue-on-error` in this project. --import writes an import.json for \
`pulumi import --file`; --list prints one JSON object per resource. Neither needs Pulumi.",
    after_help = "Many scopes at once: `pulumi-cloud-import fleet plan|up|render --help` (docs/fleet.md)."
)]
pub struct Cli {
    /// Write an import file for `pulumi import --file` instead of reading into a stack.
    #[arg(long, conflicts_with = "list")]
    pub import: bool,
    /// Print one JSON object per discovered resource on stdout (NDJSON).
    #[arg(long)]
    pub list: bool,
    /// Which cloud to scan: aws, azure, kubernetes, oci (config key `cloud`).
    #[arg(long)]
    pub cloud: Option<String>,
    /// Where --import writes its file.
    #[arg(long, default_value = "import.json")]
    pub out: PathBuf,
    /// Only import types whose token matches one of these globs, e.g. 'kubernetes:apps/*' (key `include`).
    #[arg(long, value_delimiter = ',')]
    pub include: Vec<String>,
    /// Never import types whose token matches one of these globs (key `exclude`).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Concurrent ReadResource calls (env PULUMI_CLOUD_IMPORT_WORKERS; default: the engine's --parallel, else 3).
    #[arg(long)]
    pub workers: Option<String>,
    /// Provider plugin version to read with (key `providerVersion`; default: the pinned version).
    #[arg(long)]
    pub provider_version: Option<String>,
    /// Kubernetes: kubeconfig context (key `context`; default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Kubernetes: also import the objects excluded by default (Events, owned Pods, ...).
    #[arg(long)]
    pub no_default_exclusions: bool,
    /// AWS / OCI: region to scan (key `region`).
    #[arg(long)]
    pub region: Option<String>,
    /// Azure: subscription id (key `subscription`).
    #[arg(long)]
    pub subscription: Option<String>,
    /// Azure: location(s) to scan, comma-separated, or `all` (key `location`).
    #[arg(long)]
    pub location: Option<String>,
    /// OCI: compartment OCID whose subtree is scanned (key `compartment`; default: the tenancy).
    #[arg(long)]
    pub compartment: Option<String>,
    /// AWS / OCI: named profile of the cloud's CLI config (key `profile`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Any other setting, as KEY=VALUE (the same keys as stack config). Repeatable.
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Debug logging (env PULUMI_CLOUD_IMPORT_DEBUG=true).
    #[arg(long)]
    pub debug: bool,
}

/// What to do with the discovered resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Read them into the stack through the resource monitor.
    Engine,
    /// Write an import file.
    Import { out: PathBuf },
    /// Print NDJSON on stdout.
    List,
}

/// A validated run configuration.
#[derive(Debug)]
pub struct Settings {
    pub mode: Mode,
    pub cloud: Cloud,
    pub workers: usize,
    /// How long one read may take before it is counted as failed (`readTimeout`); the Kubernetes
    /// provider's client gets the same limit per request.
    pub read_timeout: Duration,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub debug: bool,
    /// `--import` includes the types whose values would land in plain text (`importSecrets`).
    pub import_secrets: bool,
    /// The provider plugin version to read with: `providerVersion`, checked, or the pinned one.
    pub provider_version: String,
    /// `schemaFile`: a provider schema file the user named.
    pub schema_file: Option<PathBuf>,
    /// Present in engine mode.
    pub pulumi: Option<PulumiEnv>,
    /// key -> (value, where it was set: the stack config key, variable or flag to name in errors).
    values: BTreeMap<String, (String, String)>,
}

impl Settings {
    /// Builds settings from the command line and an environment lookup (normally `std::env::var`).
    pub fn from_sources(
        cli: Cli,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, InputError> {
        let pulumi = PulumiEnv::from_lookup(&env)?;
        let mode = if cli.import {
            Mode::Import {
                out: cli.out.clone(),
            }
        } else if cli.list {
            Mode::List
        } else if pulumi.is_some() {
            Mode::Engine
        } else {
            return Err(InputError::new(
                "PULUMI_MONITOR is not set: run this program with `pulumi up` in its project, or pass --import or --list to use it without Pulumi",
            ));
        };

        // Lowest precedence first: stack config, then environment, then flags.
        let mut values = BTreeMap::new();
        if let Some(p) = &pulumi {
            for ns in [NAMESPACE, p.project.as_str()] {
                let prefix = format!("{ns}:");
                for (k, v) in &p.config {
                    if let Some(key) = k.strip_prefix(&prefix) {
                        // Only our own namespace is checked: a project namespace may hold keys
                        // that are not ours.
                        if ns == NAMESPACE {
                            check_known(key, &format!("{NAMESPACE}:"))?;
                        }
                        values.insert(key.to_string(), (v.clone(), k.clone()));
                    }
                }
            }
        }
        for (key, var) in [
            ("workers", "PULUMI_CLOUD_IMPORT_WORKERS"),
            ("debug", "PULUMI_CLOUD_IMPORT_DEBUG"),
        ] {
            if let Some(v) = env(var) {
                values.insert(key.to_string(), (v, var.to_string()));
            }
        }
        let flags = [
            ("cloud", "--cloud", cli.cloud),
            ("workers", "--workers", cli.workers),
            (
                "providerVersion",
                "--provider-version",
                cli.provider_version,
            ),
            ("context", "--context", cli.context),
            ("region", "--region", cli.region),
            ("subscription", "--subscription", cli.subscription),
            ("location", "--location", cli.location),
            ("compartment", "--compartment", cli.compartment),
            ("profile", "--profile", cli.profile),
            (
                "include",
                "--include",
                (!cli.include.is_empty()).then(|| cli.include.join(",")),
            ),
            (
                "exclude",
                "--exclude",
                (!cli.exclude.is_empty()).then(|| cli.exclude.join(",")),
            ),
            (
                "defaultExclusions",
                "--no-default-exclusions",
                cli.no_default_exclusions.then(|| "false".into()),
            ),
            ("debug", "--debug", cli.debug.then(|| "true".into())),
        ];
        for (key, flag, v) in flags {
            if let Some(v) = v {
                values.insert(key.to_string(), (v, flag.to_string()));
            }
        }
        for pair in cli.config {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                InputError::new(format!("--config takes KEY=VALUE, not {pair:?}"))
            })?;
            let k = k.strip_prefix(&format!("{NAMESPACE}:")).unwrap_or(k).trim();
            check_known(k, "--config ")?;
            values.insert(k.to_string(), (v.to_string(), format!("--config {k}")));
        }

        let cloud_text = values.get("cloud").map(|(v, _)| v.clone()).ok_or_else(|| {
            InputError::new(if mode == Mode::Engine {
                "pulumi-cloud-import:cloud is not set: run `pulumi config set pulumi-cloud-import:cloud <aws|azure|kubernetes|oci>`"
            } else {
                "--cloud is required: one of aws, azure, kubernetes, oci"
            })
        })?;
        let cloud = cloud_text.parse::<Cloud>()?;

        let mut settings = Settings {
            mode,
            cloud,
            workers: DEFAULT_WORKERS,
            read_timeout: Duration::from_secs(DEFAULT_READ_TIMEOUT_SECS),
            include: Vec::new(),
            exclude: Vec::new(),
            debug: false,
            import_secrets: false,
            provider_version: String::new(),
            schema_file: None,
            pulumi,
            values,
        };
        settings.workers = match settings.get("workers") {
            None => default_workers(settings.pulumi.as_ref()),
            Some(text) => parse_workers(&settings.describe("workers"), text)?,
        };
        if let Some(text) = settings.get("readTimeout") {
            settings.read_timeout = parse_read_timeout(&settings.describe("readTimeout"), text)?;
        }
        settings.include = settings.get_list("include")?;
        settings.exclude = settings.get_list("exclude")?;
        settings.debug = settings.get_bool("debug")?.unwrap_or(false);
        settings.import_secrets = settings.get_bool("importSecrets")?.unwrap_or(false);
        settings.provider_version = cloud.provider_version(
            settings.get("providerVersion"),
            &settings.describe("providerVersion"),
        )?;
        settings.schema_file = settings.get("schemaFile").map(PathBuf::from);
        Ok(settings)
    }

    /// The provider plugin version for this run: `providerVersion`, or the cloud's pinned one.
    pub fn provider_version(&self) -> Result<String, InputError> {
        self.cloud.provider_version(
            self.get("providerVersion"),
            &self.describe("providerVersion"),
        )
    }

    /// The raw value of a key, if set anywhere. Only the options builders call this and the typed
    /// getters below (`from_sources` here, and each cloud's `options` module): everything
    /// downstream takes typed, already checked options.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|(v, _)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A boolean key (`true`/`false`, also `1`/`0`, `yes`/`no`).
    pub(crate) fn get_bool(&self, key: &str) -> Result<Option<bool>, InputError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                _ => Err(InputError::new(format!(
                    "{} must be true or false, not {v:?}",
                    self.describe(key)
                ))),
            },
        }
    }

    /// A list key: a JSON array of strings (as `pulumi config set --path` writes it) or a
    /// comma-separated string.
    pub(crate) fn get_list(&self, key: &str) -> Result<Vec<String>, InputError> {
        let Some(v) = self.get(key) else {
            return Ok(Vec::new());
        };
        if v.trim_start().starts_with('[') {
            return serde_json::from_str::<Vec<String>>(v).map_err(|_| {
                InputError::new(format!(
                    "{} must be a JSON array of strings or a comma-separated list, not {v:?}",
                    self.describe(key)
                ))
            });
        }
        Ok(v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect())
    }

    /// How to name a key in an error message: where it was set (the stack config key, variable or
    /// flag), or where to set it when it is not set.
    pub fn describe(&self, key: &str) -> String {
        match (self.values.get(key), &self.mode) {
            (Some((_, origin)), _) => origin.clone(),
            (None, Mode::Engine) => format!("{NAMESPACE}:{key}"),
            (None, _) => format!("--config {key}"),
        }
    }
}

/// An unknown key is bad input: one line naming it, as it was set (`prefix` + key), and the nearest
/// known key.
fn check_known(key: &str, prefix: &str) -> Result<(), InputError> {
    if KNOWN_KEYS.contains(&key) {
        return Ok(());
    }
    let nearest = KNOWN_KEYS
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&key.to_lowercase(), &k.to_lowercase()),
                *k,
            )
        })
        .min()
        .map(|(_, k)| k)
        .unwrap_or("cloud");
    Err(InputError::new(format!(
        "{prefix}{key} is not a setting of this program; the nearest is {prefix}{nearest}"
    )))
}

/// Under `pulumi up` the engine runs at most `--parallel` provider reads at once (`PULUMI_PARALLEL`,
/// 4 x CPUs unless set) and queues the rest: as many workers keep it busy without queueing. A huge
/// `--parallel` (the engine's way of saying unbounded) gets [`ENGINE_WORKERS_CAP`], so a default
/// never floods an API server; `workers` may still go up to [`MAX_WORKERS`].
fn default_workers(pulumi: Option<&PulumiEnv>) -> usize {
    match pulumi.and_then(|p| p.parallel) {
        Some(p) if p > 0 => (p as usize).min(ENGINE_WORKERS_CAP),
        _ => DEFAULT_WORKERS,
    }
}

/// Whole seconds, or a number with an `s`/`m` suffix (`90`, `90s`, `2m`).
fn parse_read_timeout(origin: &str, text: &str) -> Result<Duration, InputError> {
    let t = text.trim();
    let (digits, scale) = match t.strip_suffix('m') {
        Some(d) => (d, 60),
        None => (t.strip_suffix('s').unwrap_or(t), 1),
    };
    match digits.trim().parse::<u64>().map(|n| n * scale) {
        Ok(secs) if (1..=MAX_READ_TIMEOUT_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(InputError::new(format!(
            "{origin} must be a duration from 1s to {}m (seconds, or with an s or m suffix), not {text:?}",
            MAX_READ_TIMEOUT_SECS / 60
        ))),
    }
}

fn parse_workers(origin: &str, text: &str) -> Result<usize, InputError> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(InputError::new(format!(
            "{origin} must be a whole number from 1 to {MAX_WORKERS}, not {text:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, InputError> {
        let mut argv = vec!["pulumi-cloud-import"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).expect("flags parse");
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_sources(cli, |k| env.get(k).cloned())
    }

    #[test]
    fn workers_must_be_a_sane_positive_integer() {
        for bad in ["0", "-1", "abc", "1e9", "100000", ""] {
            let err = settings(
                &["--list", "--cloud", "kubernetes"],
                &[("PULUMI_CLOUD_IMPORT_WORKERS", bad)],
            );
            if bad.is_empty() {
                assert_eq!(err.unwrap().workers, DEFAULT_WORKERS);
                continue;
            }
            let err = err.unwrap_err().to_string();
            assert!(err.starts_with("PULUMI_CLOUD_IMPORT_WORKERS"), "{err}");
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
        let s = settings(
            &["--list", "--cloud", "kubernetes"],
            &[("PULUMI_CLOUD_IMPORT_WORKERS", "16")],
        )
        .unwrap();
        assert_eq!(s.workers, 16);
    }

    fn engine_env(parallel: &'static str) -> Vec<(&'static str, &'static str)> {
        vec![
            ("PULUMI_MONITOR", "127.0.0.1:1"),
            ("PULUMI_ENGINE", "127.0.0.1:2"),
            ("PULUMI_PROJECT", "p"),
            ("PULUMI_STACK", "s"),
            (
                "PULUMI_CONFIG",
                r#"{"pulumi-cloud-import:cloud":"kubernetes"}"#,
            ),
            ("PULUMI_PARALLEL", parallel),
        ]
    }

    #[test]
    fn workers_follow_the_engine_parallelism_unless_set() {
        assert_eq!(settings(&[], &engine_env("8")).unwrap().workers, 8);
        // The engine's "unbounded" is capped; 0 is not a bound to follow.
        assert_eq!(
            settings(&[], &engine_env("2147483647")).unwrap().workers,
            ENGINE_WORKERS_CAP
        );
        assert_eq!(
            settings(&[], &engine_env("0")).unwrap().workers,
            DEFAULT_WORKERS
        );
        let mut env = engine_env("8");
        env.push(("PULUMI_CLOUD_IMPORT_WORKERS", "5"));
        assert_eq!(settings(&[], &env).unwrap().workers, 5);
        // Without the engine there is no parallelism to follow.
        let plain = settings(&["--list", "--cloud", "kubernetes"], &[]).unwrap();
        assert_eq!(plain.workers, DEFAULT_WORKERS);
    }

    #[test]
    fn read_timeout_takes_seconds_or_minutes_and_names_its_source() {
        let t = |v: &str| {
            settings(
                &[
                    "--list",
                    "--cloud",
                    "kubernetes",
                    "-c",
                    &format!("readTimeout={v}"),
                ],
                &[],
            )
        };
        assert_eq!(t("90").unwrap().read_timeout, Duration::from_secs(90));
        assert_eq!(t("45s").unwrap().read_timeout, Duration::from_secs(45));
        assert_eq!(t("2m").unwrap().read_timeout, Duration::from_secs(120));
        let plain = settings(&["--list", "--cloud", "kubernetes"], &[]).unwrap();
        assert_eq!(
            plain.read_timeout,
            Duration::from_secs(DEFAULT_READ_TIMEOUT_SECS)
        );
        for bad in ["0", "-5", "soon", "61m", "1h"] {
            let err = t(bad).unwrap_err().to_string();
            assert!(err.starts_with("--config readTimeout must be"), "{err}");
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn stack_config_env_and_flags_layer_in_order() {
        let env = [
            ("PULUMI_MONITOR", "127.0.0.1:1"),
            ("PULUMI_ENGINE", "127.0.0.1:2"),
            ("PULUMI_PROJECT", "pulumi-cloud-import"),
            ("PULUMI_STACK", "dev"),
            (
                "PULUMI_CONFIG",
                r#"{"pulumi-cloud-import:cloud":"kubernetes","pulumi-cloud-import:workers":"5","pulumi-cloud-import:include":"[\"kubernetes:apps/*\"]"}"#,
            ),
        ];
        let s = settings(&[], &env).unwrap();
        assert_eq!(s.mode, Mode::Engine);
        assert_eq!(s.cloud, Cloud::Kubernetes);
        assert_eq!(s.workers, 5);
        assert_eq!(s.include, vec!["kubernetes:apps/*".to_string()]);

        let mut env2 = env.to_vec();
        env2.push(("PULUMI_CLOUD_IMPORT_WORKERS", "7"));
        assert_eq!(settings(&[], &env2).unwrap().workers, 7);
        assert_eq!(settings(&["--workers", "9"], &env2).unwrap().workers, 9);
    }

    #[test]
    fn errors_name_where_the_bad_value_was_set() {
        let err =
            settings(&["--list", "--cloud", "kubernetes", "--workers", "0"], &[]).unwrap_err();
        assert!(err.to_string().starts_with("--workers must be"), "{err}");
        let err = settings(
            &["--list", "--cloud", "kubernetes", "-c", "debug=maybe"],
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--config debug must be true or false"),
            "{err}"
        );
        let env = [("PULUMI_CLOUD_IMPORT_DEBUG", "maybe")];
        let err = settings(&["--list", "--cloud", "kubernetes"], &env).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("PULUMI_CLOUD_IMPORT_DEBUG must be"),
            "{err}"
        );
        let s = settings(&["--list", "--cloud", "kubernetes"], &[]).unwrap();
        assert_eq!(s.describe("region"), "--config region");
    }

    #[test]
    fn unknown_keys_are_bad_input_naming_the_nearest_known_key() {
        let env = [
            ("PULUMI_MONITOR", "127.0.0.1:1"),
            ("PULUMI_ENGINE", "127.0.0.1:2"),
            ("PULUMI_PROJECT", "my-scan"),
            ("PULUMI_STACK", "dev"),
            (
                "PULUMI_CONFIG",
                r#"{"pulumi-cloud-import:cloud":"aws","pulumi-cloud-import:regoin":"us-west-2","my-scan:other":"x","aws:region":"y"}"#,
            ),
        ];
        let err = settings(&[], &env).unwrap_err().to_string();
        assert_eq!(
            err,
            "pulumi-cloud-import:regoin is not a setting of this program; the nearest is pulumi-cloud-import:region"
        );
        let err = settings(&["--list", "--cloud", "aws", "-c", "pagesize=5"], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--config pagesize is not a setting"),
            "{err}"
        );
        assert!(err.ends_with("--config pageSize"), "{err}");
        // Every documented key is known.
        for key in KNOWN_KEYS {
            let pair = format!("{key}=x");
            let res = settings(&["--list", "--cloud", "aws", "-c", &pair], &[]);
            if let Err(e) = res {
                assert!(!e.to_string().contains("is not a setting"), "{e}");
            }
        }
    }

    #[test]
    fn unknown_cloud_and_missing_cloud_are_one_line_errors() {
        let err = settings(&["--list", "--cloud", "gcp"], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"gcp\""), "{err}");
        let err = settings(&["--list"], &[]).unwrap_err().to_string();
        assert!(err.contains("--cloud"), "{err}");
        let err = settings(&[], &[]).unwrap_err().to_string();
        assert!(err.starts_with("PULUMI_MONITOR is not set"), "{err}");
    }
}
