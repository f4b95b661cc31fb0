//! pulumi-cloud-import: lists every resource of one cloud scope and reads it into a Pulumi stack
//! through the engine's gRPC protocol, or writes it to an import file or an NDJSON inventory.
//!
//! Data flows one way: `clouds` (a [`discover::Scanner`] per cloud) -> `naming` -> a `sink`.

pub mod clouds;
pub mod discover;
pub mod langhost;
pub mod pulumi;
pub mod retry;
pub mod schema;
pub mod settings;

/// Pulumi's protocol messages and services (`pulumirpc`), generated from `proto/` at build time.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("pulumirpc");
}
