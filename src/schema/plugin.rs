//! Schema source 3: the installed provider plugin, `<plugins>/resource-<pkg>-v<version>/pulumi-resource-<pkg>`
//! in the CLI's plugin cache (`$PULUMI_HOME/plugins`, else `~/.pulumi/plugins`), started as the CLI
//! starts plugins and asked `ResourceProvider.GetSchema`. Used by `--import`/`--list` runs, which have
//! no engine. Plugins on `$PATH` are not used: they carry no version, and the schema must be the
//! exact version that reads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::host_engine::HostEngine;
use super::launch::PluginProcess;
use super::Schema;
use crate::proto::resource_provider_client::ResourceProviderClient;
use crate::proto::GetSchemaRequest;

/// Pulumi's gRPC limit; the azure-native schema alone is tens of MB.
const MAX_MESSAGE: usize = 400 * 1024 * 1024;

/// The CLI's plugin cache directory.
pub fn plugins_dir(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    non_empty("PULUMI_HOME")
        .map(|home| PathBuf::from(home).join("plugins"))
        .or_else(|| {
            non_empty("HOME").map(|home| PathBuf::from(home).join(".pulumi").join("plugins"))
        })
}

/// Where the CLI installs `package` at `version`.
pub fn plugin_binary(plugins: &Path, package: &str, version: &str) -> PathBuf {
    plugins
        .join(format!("resource-{package}-v{version}"))
        .join(format!("pulumi-resource-{package}"))
}

/// Starts the plugin, asks for its schema and stops it again.
pub async fn load(binary: &Path) -> Result<Schema, String> {
    let dir = binary.parent().ok_or("not a plugin path")?;
    // The CLI writes `<dir>.partial` while it unpacks a plugin and removes it when done.
    let mut partial = dir.as_os_str().to_owned();
    partial.push(".partial");
    if Path::new(&partial).exists() {
        return Err("its installation is incomplete (a .partial marker exists)".into());
    }
    if !binary.is_file() {
        return Err("not installed".into());
    }

    let engine = HostEngine::start().await?;
    let mut plugin = PluginProcess::start(binary, &engine.address).await?;
    let result = ask(plugin.port).await;
    plugin.stop().await;
    let text = result?;
    tokio::task::spawn_blocking(move || Schema::parse(text.as_bytes()))
        .await
        .map_err(|e| format!("parsing was interrupted: {e}"))?
}

async fn ask(port: u16) -> Result<String, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| format!("cannot connect to it on port {port}: {e}"))?;
    let mut client = ResourceProviderClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    // Version 0 is the schema format the CLI itself asks for.
    let response = client
        .get_schema(GetSchemaRequest {
            version: 0,
            ..Default::default()
        })
        .await
        .map_err(|s| format!("GetSchema failed: {}: {}", s.code(), s.message()))?;
    Ok(response.into_inner().schema)
}
