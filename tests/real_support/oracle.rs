//! What a scan of the real cluster must import, worked out independently of the product: every
//! object `kubectl get` lists (as the cluster admin, in each group's preferred version), less the
//! default exclusions exactly as README.md states them. A difference between this and the stack is
//! either a product bug or a README that no longer tells the truth.

use std::collections::BTreeSet;

use serde_json::Value;

use super::cluster::Cluster;

/// (type token, read id) of one object.
pub type Key = (String, String);

/// Every listable object of the cluster, as kubectl returns it.
pub fn listable_objects(cluster: &Cluster) -> Vec<Value> {
    let names = cluster.kubectl_ok(&["api-resources", "--verbs=list", "-o", "name"]);
    let names: Vec<&str> = names
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.ends_with(".metrics.k8s.io"))
        .collect();
    cluster.items(&names.join(","))
}

pub fn key(object: &Value) -> Key {
    let api_version = object["apiVersion"].as_str().expect("apiVersion");
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("core", api_version),
    };
    let kind = object["kind"].as_str().expect("kind");
    let meta = &object["metadata"];
    let name = meta["name"].as_str().expect("metadata.name");
    let id = match meta["namespace"].as_str() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    (format!("kubernetes:{group}/{version}:{kind}"), id)
}

/// The README's reason for skipping `object` by default, or `None` when it is imported.
pub fn excluded(object: &Value) -> Option<&'static str> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    let kind = object["kind"].as_str().unwrap_or_default();
    let meta = &object["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let label = |k: &str| meta["labels"].get(k).is_some();
    let annotation = |k: &str| meta["annotations"].get(k).and_then(Value::as_str);
    let owners = meta["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let controlled = owners.iter().any(|o| o["controller"] == true);
    match (group, kind) {
        ("" | "events.k8s.io", "Event") => Some("Events"),
        ("coordination.k8s.io", "Lease" | "LeaseCandidate") => Some("Leases and LeaseCandidates"),
        ("apps", "ControllerRevision") => Some("ControllerRevisions"),
        ("", "ComponentStatus") => Some("ComponentStatuses"),
        ("networking.k8s.io", "IPAddress") => Some("IPAddresses"),
        ("resource.k8s.io", "ResourceSlice") => Some("ResourceSlices"),
        ("storage.k8s.io", "CSINode" | "VolumeAttachment") => Some("CSINodes, VolumeAttachments"),
        ("certificates.k8s.io", "PodCertificateRequest") => Some("PodCertificateRequests"),
        ("", "Pod") if !owners.is_empty() => Some("Pods owned by a controller or node"),
        ("apps", "ReplicaSet") | ("batch", "Job") if controlled => {
            Some("ReplicaSets and Jobs owned by a controller")
        }
        ("discovery.k8s.io", "EndpointSlice")
            if label("endpointslice.kubernetes.io/managed-by") =>
        {
            Some("EndpointSlices managed by controllers")
        }
        ("", "Endpoints")
            if annotation("endpoints.kubernetes.io/last-change-trigger-time").is_some()
                || label("endpointslice.kubernetes.io/skip-mirror") =>
        {
            Some("Endpoints managed by controllers")
        }
        ("", "ConfigMap") if name == "kube-root-ca.crt" => Some("kube-root-ca.crt"),
        ("", "ServiceAccount") if name == "default" => Some("default ServiceAccounts"),
        ("", "Secret") if annotation("kubernetes.io/service-account.name").is_some() => {
            Some("service-account token Secrets")
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema" | "PriorityLevelConfiguration")
            if annotation("apf.kubernetes.io/autoupdate-spec") == Some("true") =>
        {
            Some("built-in flow-control defaults")
        }
        ("apiregistration.k8s.io", "APIService")
            if label("kube-aggregator.kubernetes.io/automanaged") =>
        {
            Some("local APIServices")
        }
        _ => None,
    }
}

/// The objects a default scan imports, and how many it skips.
pub fn expected(cluster: &Cluster) -> (BTreeSet<Key>, usize) {
    let mut imported = BTreeSet::new();
    let mut skipped = 0;
    for object in listable_objects(cluster) {
        if excluded(&object).is_some() {
            skipped += 1;
        } else {
            assert!(
                imported.insert(key(&object)),
                "kubectl listed {:?} twice",
                key(&object)
            );
        }
    }
    (imported, skipped)
}
