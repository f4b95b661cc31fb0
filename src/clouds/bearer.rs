//! A short-lived bearer token for a managed cluster's API server (EKS, AKS), as the clouds' token
//! makers return it and the Kubernetes client's token cache holds it.

use std::time::SystemTime;

/// A bearer token and when to stop using it. Deliberately not `Debug` or `Display`: the value is a
/// credential and must never reach a log.
#[derive(Clone)]
pub struct BearerToken {
    pub value: String,
    pub expires: SystemTime,
}
