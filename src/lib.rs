//! pulumi-cloud-import: lists every resource of one cloud scope and reads it into a Pulumi stack
//! through the engine's gRPC protocol, or writes it to an import file or an NDJSON inventory.
//!
//! Data flows one way: `clouds` (a [`discover::Scanner`] per cloud) -> `pipeline` (filter, `naming`,
//! a bounded worker pool) -> a `sink` (the engine, an import file, stdout). `app` wires one run.

pub mod app;
pub mod cloud;
pub mod clouds;
pub mod discover;
pub mod filter;
pub mod fleet;
pub mod held;
pub mod http;
pub mod input_error;
pub mod langhost;
pub mod naming;
pub mod oneline;
pub mod pipeline;
pub mod pulumi;
pub mod report;
pub mod retry;
pub mod schema;
pub mod settings;
pub mod sink;
pub mod summary;
#[cfg(test)]
mod testdata;
#[cfg(test)]
mod toolchain;

/// Pulumi's protocol messages and services (`pulumirpc`), generated from `proto/` at build time.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("pulumirpc");
}

/// Selects rustls' process-wide crypto provider. The cloud SDKs together enable two (ring and
/// aws-lc-rs), and rustls then refuses to guess; every TLS client of the process uses this one.
/// Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
