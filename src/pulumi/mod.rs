//! Everything that speaks Pulumi: the language host's environment contract and the gRPC clients.

pub mod env;
