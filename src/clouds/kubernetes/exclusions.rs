//! Objects not worth importing by default: records the cluster rewrites constantly or that a
//! controller owns and recreates. Each is still listed (metadata only) so it is counted as skipped
//! with its reason; `defaultExclusions=false` (`--no-default-exclusions`) imports them all.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Groups not listed at all by default: live measurements, not objects.
pub fn group_exclusion(group: &str) -> Option<&'static str> {
    match group {
        "metrics.k8s.io" | "custom.metrics.k8s.io" | "external.metrics.k8s.io" => {
            Some("metrics are live measurements served by an aggregated API, not stored objects")
        }
        _ => None,
    }
}

/// Every object of these kinds is skipped.
pub fn kind_exclusion(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        ("", "Event") | ("events.k8s.io", "Event") => {
            Some("Events are short-lived records, not configuration")
        }
        ("coordination.k8s.io", "Lease") => {
            Some("Leases are heartbeats and leader locks rewritten every few seconds")
        }
        ("apps", "ControllerRevision") => {
            Some("ControllerRevisions are history kept by their controller")
        }
        ("coordination.k8s.io", "LeaseCandidate") => {
            Some("LeaseCandidates are leader-election bookkeeping")
        }
        ("", "ComponentStatus") => {
            Some("ComponentStatus is a deprecated health probe, not a stored object")
        }
        ("networking.k8s.io", "IPAddress") => {
            Some("IPAddresses are allocated by the API server for Service ClusterIPs")
        }
        ("resource.k8s.io", "ResourceSlice") => Some("ResourceSlices are published by DRA drivers"),
        ("storage.k8s.io", "CSINode") => Some("CSINodes are created by the kubelet on each node"),
        ("storage.k8s.io", "VolumeAttachment") => {
            Some("VolumeAttachments are created by the attach/detach controller")
        }
        ("certificates.k8s.io", "PodCertificateRequest") => {
            Some("PodCertificateRequests are short-lived")
        }
        _ => None,
    }
}

/// Objects of otherwise imported kinds that a controller manages.
pub fn object_exclusion(group: &str, kind: &str, meta: &ObjectMeta) -> Option<&'static str> {
    let labels = meta.labels.as_ref();
    let annotations = meta.annotations.as_ref();
    let has_label = |k: &str| labels.is_some_and(|l| l.contains_key(k));
    let has_annotation = |k: &str| annotations.is_some_and(|a| a.contains_key(k));
    let controlled = meta
        .owner_references
        .as_ref()
        .is_some_and(|refs| refs.iter().any(|r| r.controller == Some(true)));
    let owned = meta
        .owner_references
        .as_ref()
        .is_some_and(|refs| !refs.is_empty());
    let annotated = |k: &str, v: &str| annotations.and_then(|a| a.get(k)).is_some_and(|x| x == v);
    match (group, kind) {
        // Static pods are owned by their Node, the others by a workload controller.
        ("", "Pod") if owned => Some("owned by a controller or node that recreates it"),
        ("apps", "ReplicaSet") | ("batch", "Job") if controlled => {
            Some("owned by a controller that is imported and recreates it")
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema" | "PriorityLevelConfiguration")
            if annotated("apf.kubernetes.io/autoupdate-spec", "true") =>
        {
            Some("a built-in default the API server keeps up to date")
        }
        ("apiregistration.k8s.io", "APIService")
            if has_label("kube-aggregator.kubernetes.io/automanaged") =>
        {
            Some("a local APIService the API server registers for its own groups")
        }
        ("", "ServiceAccount") if meta.name.as_deref() == Some("default") => {
            Some("the default ServiceAccount is created in every namespace")
        }
        ("discovery.k8s.io", "EndpointSlice")
            if has_label("endpointslice.kubernetes.io/managed-by") =>
        {
            Some("EndpointSlices managed by a controller are rebuilt from their Service")
        }
        ("", "Endpoints")
            if has_annotation("endpoints.kubernetes.io/last-change-trigger-time")
                || has_label("endpointslice.kubernetes.io/skip-mirror") =>
        {
            Some("Endpoints managed by the endpoints controller are rebuilt from their Service")
        }
        ("", "ConfigMap") if meta.name.as_deref() == Some("kube-root-ca.crt") => {
            Some("kube-root-ca.crt is published into every namespace by the cluster")
        }
        ("", "Secret") if has_annotation("kubernetes.io/service-account.name") => {
            Some("service-account token Secrets are created by the token controller")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use std::collections::BTreeMap;

    #[test]
    fn owned_pods_are_skipped_but_bare_pods_are_not() {
        let mut meta = ObjectMeta {
            name: Some("web-1".into()),
            ..Default::default()
        };
        assert_eq!(object_exclusion("", "Pod", &meta), None);
        meta.owner_references = Some(vec![OwnerReference {
            controller: Some(true),
            kind: "ReplicaSet".into(),
            name: "web".into(),
            ..Default::default()
        }]);
        assert!(object_exclusion("", "Pod", &meta).is_some());
        // The same owner reference on a kind we always import changes nothing.
        assert_eq!(object_exclusion("apps", "Deployment", &meta), None);
    }

    #[test]
    fn service_account_tokens_and_root_ca_are_skipped() {
        let sa = ObjectMeta {
            name: Some("builder-token".into()),
            annotations: Some(BTreeMap::from([(
                "kubernetes.io/service-account.name".to_string(),
                "builder".to_string(),
            )])),
            ..Default::default()
        };
        assert!(object_exclusion("", "Secret", &sa).is_some());
        let user_secret = ObjectMeta {
            name: Some("db-password".into()),
            ..Default::default()
        };
        assert_eq!(object_exclusion("", "Secret", &user_secret), None);
        let ca = ObjectMeta {
            name: Some("kube-root-ca.crt".into()),
            ..Default::default()
        };
        assert!(object_exclusion("", "ConfigMap", &ca).is_some());
        assert!(kind_exclusion("events.k8s.io", "Event").is_some());
        assert!(kind_exclusion("apps", "Deployment").is_none());
    }
}
