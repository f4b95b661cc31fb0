//! A provider's schema (resource tokens, descriptions, properties) for the exact (package, version)
//! that does the reads, from one of three sources, parsed once per run and cached.
//!
//! Sources, in the order they are tried:
//! 1. a file the user names (`schemaFile` setting or `PULUMI_CLOUD_IMPORT_SCHEMA_FILE`), because an
//!    explicit choice wins and it is what air-gapped machines and tests use ([`file`]);
//! 2. the engine's schema loader (`codegen.Loader/GetSchema`) at the address our language host
//!    passes in `PULUMI_CLOUD_IMPORT_LOADER`, under `pulumi up` ([`loader`]);
//! 3. the installed provider plugin, started the way the CLI starts plugins and asked
//!    `ResourceProvider.GetSchema` ([`plugin`]).
//!
//! When none works the caller gets [`SchemaUnavailable`], whose text says what was tried and which
//! of the three to provide; the caller warns with it and falls back to its built-in rules.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::settings::Settings;

pub mod file;
pub mod host_engine;
pub mod launch;
pub mod loader;
pub mod model;
pub mod plugin;

pub use model::{PropertySpec, ResourceSpec, Schema};

/// The environment variable our language host sets to `RunRequest.loader_target`.
pub const LOADER_ENV: &str = "PULUMI_CLOUD_IMPORT_LOADER";
/// The environment variable naming a schema file (same as the `schemaFile` setting).
pub const SCHEMA_FILE_ENV: &str = "PULUMI_CLOUD_IMPORT_SCHEMA_FILE";
/// The settings key naming a schema file (`pulumi-cloud-import:schemaFile`, `-c schemaFile=...`).
pub const SCHEMA_FILE_KEY: &str = "schemaFile";

/// Where schemas may come from in this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaSources {
    /// A schema file the user named.
    pub file: Option<PathBuf>,
    /// The engine's schema loader address (`host:port`, as the engine gives it).
    pub loader: Option<String>,
    /// The plugin cache: `$PULUMI_HOME/plugins`, else `~/.pulumi/plugins`.
    pub plugins_dir: Option<PathBuf>,
}

impl SchemaSources {
    /// Reads the sources from an environment lookup (normally `std::env::var`) alone.
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
        SchemaSources {
            file: non_empty(SCHEMA_FILE_ENV).map(PathBuf::from),
            loader: non_empty(LOADER_ENV),
            plugins_dir: plugin::plugins_dir(&env),
        }
    }

    /// As [`SchemaSources::from_lookup`], with the `schemaFile` setting (stack config or
    /// `-c schemaFile=...`) taking precedence over the environment variable.
    pub fn from_settings(settings: &Settings, env: impl Fn(&str) -> Option<String>) -> Self {
        let mut sources = Self::from_lookup(env);
        if let Some(path) = &settings.schema_file {
            sources.file = Some(path.clone());
        }
        sources
    }
}

/// No source could give the schema: the text is the warning to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no provider schema for {package} {version} ({}); provide one of: run under `pulumi up` (the engine's schema loader), \
install the plugin with `pulumi plugin install resource {package} {version}`, or name a schema file with \
`pulumi config set pulumi-cloud-import:schemaFile <path>` or {SCHEMA_FILE_ENV} (write it with \
`pulumi package get-schema {package}@{version} > schema.json`); using the built-in rules",
    attempts.join("; ")
)]
pub struct SchemaUnavailable {
    pub package: String,
    pub version: String,
    /// One entry per source: why it gave nothing.
    pub attempts: Vec<String>,
}

type Slot = Arc<OnceCell<Result<Arc<Schema>, SchemaUnavailable>>>;

/// Loads each (package, version) at most once per run, including failed attempts, so that a run
/// with many types asks the engine or starts a plugin once, and warns once.
#[derive(Debug)]
pub struct SchemaStore {
    sources: SchemaSources,
    slots: Mutex<HashMap<(String, String), Slot>>,
}

impl SchemaStore {
    pub fn new(sources: SchemaSources) -> Self {
        SchemaStore {
            sources,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The schema of `package` at `version`. Concurrent callers for the same key share one load.
    pub async fn get(
        &self,
        package: &str,
        version: &str,
    ) -> Result<Arc<Schema>, SchemaUnavailable> {
        let slot = {
            let mut slots = self.slots.lock().expect("schema cache lock");
            slots
                .entry((package.to_string(), version.to_string()))
                .or_default()
                .clone()
        };
        slot.get_or_init(|| load(&self.sources, package, version))
            .await
            .clone()
    }
}

async fn load(
    sources: &SchemaSources,
    package: &str,
    version: &str,
) -> Result<Arc<Schema>, SchemaUnavailable> {
    let mut attempts = Vec::new();

    if let Some(path) = &sources.file {
        let origin = format!("schema file {}", path.display());
        match checked(file::load(path).await, package, version) {
            Ok(schema) => return Ok(Arc::new(schema)),
            Err(why) => {
                // A file the user named that cannot be used deserves a warning even when another
                // source then succeeds.
                tracing::warn!("ignoring {origin}: {why}");
                attempts.push(format!("{origin}: {why}"));
            }
        }
    } else {
        attempts.push("schema file: not configured".to_string());
    }

    if let Some(address) = &sources.loader {
        match checked(
            loader::load(address, package, version).await,
            package,
            version,
        ) {
            Ok(schema) => return Ok(Arc::new(schema)),
            Err(why) => attempts.push(format!("engine schema loader at {address}: {why}")),
        }
    } else {
        attempts.push(format!(
            "engine schema loader: {LOADER_ENV} is not set (not under `pulumi up`)"
        ));
    }

    match &sources.plugins_dir {
        Some(dir) => {
            let binary = plugin::plugin_binary(dir, package, version);
            match checked(plugin::load(&binary).await, package, version) {
                Ok(schema) => return Ok(Arc::new(schema)),
                Err(why) => attempts.push(format!("plugin {}: {why}", binary.display())),
            }
        }
        None => attempts.push("plugin: neither PULUMI_HOME nor HOME is set".to_string()),
    }

    Err(SchemaUnavailable {
        package: package.to_string(),
        version: version.to_string(),
        attempts,
    })
}

/// A schema that parsed but belongs to another package or version is no answer either.
fn checked(result: Result<Schema, String>, package: &str, version: &str) -> Result<Schema, String> {
    let schema = result?;
    schema.check_identity(package, version)?;
    Ok(schema)
}
