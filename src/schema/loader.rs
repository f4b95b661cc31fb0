//! Schema source 1: the engine's schema loader (`codegen.Loader/GetSchema`), which the engine serves
//! during `pulumi up` at `RunRequest.loader_target`; our language host hands that address to the
//! program as `PULUMI_CLOUD_IMPORT_LOADER`. The engine answers from the plugin it would use for the
//! reads, installing it first if needed.

use std::time::Duration;

use super::Schema;

/// Pulumi's `codegen` protocol package (the schema loader), generated from `proto/` at build time.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("codegen");
}

/// Pulumi's gRPC servers accept messages up to 400 MiB; schemas are large, so match that.
const MAX_MESSAGE: usize = 400 * 1024 * 1024;

/// Asks the loader at `address` (`host:port`, scheme optional) for the schema.
pub async fn load(address: &str, package: &str, version: &str) -> Result<Schema, String> {
    let url = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    let channel = tonic::transport::Endpoint::from_shared(url)
        .map_err(|e| format!("not a usable address: {e}"))?
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut client = proto::loader_client::LoaderClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let response = client
        .get_schema(proto::GetSchemaRequest {
            package: package.to_string(),
            version: version.to_string(),
            ..Default::default()
        })
        .await
        .map_err(|s| format!("GetSchema failed: {}: {}", s.code(), s.message()))?;
    let bytes = response.into_inner().schema;
    tokio::task::spawn_blocking(move || Schema::parse(&bytes))
        .await
        .map_err(|e| format!("parsing was interrupted: {e}"))?
}
