//! The managed Kubernetes clusters a cloud plan finds, each made a `kubernetes` child of the scope
//! that holds it (`<account>/<region>/<cluster>`, `<subscription>/<location>/<cluster>`). The child
//! scans the cluster with the Kubernetes scanner, signed in with the same cloud credentials as its
//! parent scope (see `clouds::kubernetes::cluster_auth`); its rate limit is the API server's own.

use std::collections::BTreeMap;

use super::plan::{child, AksCluster, Child, ClusterAccess, Credentials, EksCluster};

/// One cluster found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    pub server: String,
    pub ca_data: Option<String>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Eks { region: String },
    Aks { id: String, server_id: String },
}

/// The child of `parent` (a scope child's name) for cluster `found`, with the scope's credentials.
pub fn cluster_child(parent: &str, found: &Found, credentials: Credentials) -> Child {
    let name = format!("{parent}/{}", found.name.replace('/', "-"));
    let mut settings = BTreeMap::new();
    settings.insert("cloud".to_string(), "kubernetes".to_string());
    settings.insert("context".to_string(), name.clone());
    let (eks, aks) = match &found.kind {
        Kind::Eks { region } => (
            Some(EksCluster {
                name: found.name.clone(),
                region: region.clone(),
            }),
            None,
        ),
        Kind::Aks { id, server_id } => (
            None,
            Some(AksCluster {
                id: id.clone(),
                server_id: server_id.clone(),
            }),
        ),
    };
    let mut c = child(
        name,
        format!("kubernetes/{}", found.server),
        settings,
        credentials,
    );
    c.cluster = Some(ClusterAccess {
        server: found.server.clone(),
        certificate_authority_data: found.ca_data.clone(),
        eks,
        aks,
    });
    c
}
