//! Test support shared by the end-to-end tests: a fake Pulumi engine (resource monitor + engine
//! services) and a fake Kubernetes API server, plus a helper that launches the built program the way
//! a Pulumi language host does.
#![allow(dead_code)]

pub mod checks;
pub mod fake_kube;
pub mod fake_monitor;
pub mod fake_sts;
pub mod program;
pub mod tls;
