//! Everything that speaks Pulumi: the language host's environment contract, the gRPC clients and
//! the property encoding.

pub mod backend;
pub mod client;
pub mod env;
pub mod value;
