//! Schema source 3: a `schema.json` the user names (`schemaFile` / `PULUMI_CLOUD_IMPORT_SCHEMA_FILE`),
//! e.g. written by `pulumi package get-schema <pkg>@<version>` on a machine with network access.

use std::path::Path;

use super::Schema;

/// Reads and parses the file.
pub async fn load(path: &Path) -> Result<Schema, String> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| format!("cannot read it: {e}"))?;
    // Parsing tens of MB is CPU work; keep it off the async worker threads.
    tokio::task::spawn_blocking(move || Schema::parse(&bytes))
        .await
        .map_err(|e| format!("parsing was interrupted: {e}"))?
}
