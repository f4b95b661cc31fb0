//! How the `kubernetes` provider reads what we list: the properties each `ReadResource` carries, and
//! the client settings of the explicit provider that does the reads.
//!
//! The engine hands `ReadResource`'s properties to the provider's `Read` as both inputs and state.
//! With none, pulumi-kubernetes takes the read for an import from the cluster: it derives the kind
//! from the URN and unmarshals its whole multi-megabyte schema on every read to pick the input
//! properties (provider `Read`, the `readFromCluster` branch, 4.25.0). That is about 75 ms of CPU per
//! object, so the provider, not the cluster, bounds the scan at ~20 reads/s on two cores. With the
//! object's identity (`apiVersion`, `kind`, `metadata.name`/`namespace`) it reads the object with a
//! GET and stores the same live object as its outputs. Only `__inputs` differs: the identity
//! instead of every live field the schema calls an input. The `pulumi.com/skipAwait` annotation in
//! the identity keeps the provider's read awaiters (Deployment rollout, Pod readiness, Service
//! endpoints, Job completion) from judging the object: an import stores what is there, ready or not.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Map, Value};

use super::discovery::ListTarget;

/// What `ReadResource` carries for each object (setting `readInputs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadInputs {
    /// The object's identity: one GET per read (the default).
    Identity,
    /// Nothing: the provider imports each object from the cluster, as the original tool did.
    /// Much slower; here to compare, and as a way back should a provider version treat the
    /// identity differently.
    None,
}

impl ReadInputs {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "identity" => Some(ReadInputs::Identity),
            "none" => Some(ReadInputs::None),
            _ => None,
        }
    }
}

/// The annotation pulumi-kubernetes reads (from the inputs) to skip its await logic.
const SKIP_AWAIT: &str = "pulumi.com/skipAwait";

/// The properties a read of this object carries.
pub fn read_inputs(mode: ReadInputs, target: &ListTarget, meta: &ObjectMeta) -> Map<String, Value> {
    if mode == ReadInputs::None {
        return Map::new();
    }
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(meta.name.clone().unwrap_or_default()));
    if let Some(ns) = meta.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        metadata.insert("namespace".into(), json!(ns));
    }
    metadata.insert("annotations".into(), json!({ SKIP_AWAIT: "true" }));
    let mut props = Map::new();
    props.insert("apiVersion".into(), json!(target.api_version()));
    props.insert("kind".into(), json!(target.kind));
    props.insert("metadata".into(), Value::Object(metadata));
    props
}

/// The provider's own client-go limits (`kubeClientSettings`), which otherwise are 50 requests/s,
/// bursts of 120 and no timeout at all. A read is two GETs of the object, so the limit follows the
/// number of reads in flight. Each of those two requests may take half the run's `readTimeout`, so
/// a call that never answers fails its read in the provider, and the engine ends the step, before
/// our own deadline for the whole read gives up on it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    pub qps: Option<u32>,
    pub burst: Option<u32>,
    pub timeout_secs: Option<u64>,
}

/// Requests per second the provider may make per read in flight.
const QPS_PER_WORKER: u32 = 25;
/// The provider's own defaults, never lowered.
const PROVIDER_QPS: u32 = 50;
const PROVIDER_BURST: u32 = 120;

impl ClientSettings {
    /// `env` is the program's environment: a `PULUMI_K8S_CLIENT_*` variable the user set is left to
    /// the provider (it reads them only where its input is not set), so the user's value wins.
    pub fn for_run(
        workers: usize,
        read_timeout_secs: u64,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let user = |var: &str| env(var).is_some_and(|v| !v.trim().is_empty());
        let qps = (workers as u32)
            .saturating_mul(QPS_PER_WORKER)
            .max(PROVIDER_QPS);
        ClientSettings {
            qps: (!user("PULUMI_K8S_CLIENT_QPS")).then_some(qps),
            burst: (!user("PULUMI_K8S_CLIENT_BURST"))
                .then_some(qps.saturating_mul(2).max(PROVIDER_BURST)),
            timeout_secs: (!user("PULUMI_K8S_CLIENT_TIMEOUT"))
                .then_some(read_timeout_secs.div_ceil(2).max(1)),
        }
    }

    /// The explicit provider's `kubeClientSettings` input, or `None` when every field is the user's.
    pub fn input(&self) -> Option<Value> {
        let mut m = Map::new();
        if let Some(q) = self.qps {
            m.insert("qps".into(), json!(q));
        }
        if let Some(b) = self.burst {
            m.insert("burst".into(), json!(b));
        }
        if let Some(t) = self.timeout_secs {
            m.insert("timeout".into(), json!(t));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(group: &str, version: &str, kind: &str, namespaced: bool) -> ListTarget {
        ListTarget {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: format!("{}s", kind.to_lowercase()),
            namespaced,
        }
    }

    fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: ns.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn the_identity_is_what_the_provider_reads_the_object_by() {
        let deploy = read_inputs(
            ReadInputs::Identity,
            &target("apps", "v1", "Deployment", true),
            &meta(Some("team-a"), "web"),
        );
        assert_eq!(
            Value::Object(deploy),
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "team-a",
                             "annotations": {"pulumi.com/skipAwait": "true"}},
            })
        );
        // The core group's apiVersion has no group; cluster-scoped objects have no namespace.
        let ns = read_inputs(
            ReadInputs::Identity,
            &target("", "v1", "Namespace", false),
            &meta(None, "team-b"),
        );
        assert_eq!(ns["apiVersion"], "v1");
        assert!(ns["metadata"].get("namespace").is_none(), "{ns:?}");
        assert!(read_inputs(
            ReadInputs::None,
            &target("", "v1", "ConfigMap", true),
            &meta(Some("a"), "b")
        )
        .is_empty());
    }

    #[test]
    fn read_inputs_parse_only_the_two_modes() {
        assert_eq!(ReadInputs::parse("identity"), Some(ReadInputs::Identity));
        assert_eq!(ReadInputs::parse("none"), Some(ReadInputs::None));
        assert_eq!(ReadInputs::parse("Identity"), None);
    }

    #[test]
    fn client_limits_follow_the_workers_and_yield_to_the_users_variables() {
        let none = |_: &str| None;
        let s = ClientSettings::for_run(16, 60, none);
        assert_eq!(
            s.input(),
            Some(json!({"qps": 400, "burst": 800, "timeout": 30}))
        );
        // Never below the provider's own defaults.
        let one = ClientSettings::for_run(1, 1, none);
        assert_eq!((one.qps, one.burst), (Some(50), Some(120)));
        assert_eq!(one.timeout_secs, Some(1));
        let user = |v: &str| (v == "PULUMI_K8S_CLIENT_QPS").then(|| "7".to_string());
        let s = ClientSettings::for_run(16, 60, user);
        assert_eq!(s.input(), Some(json!({"burst": 800, "timeout": 30})));
        let all = |_: &str| Some("1".to_string());
        assert_eq!(ClientSettings::for_run(16, 60, all).input(), None);
    }
}
