//! Assertions shared by the end-to-end tests: reading the stack's summary outputs, and checking an
//! import file against the rules `pulumi import --file` enforces (pulumi-protocol.md §6).

use std::collections::{BTreeSet, HashSet};

use prost_types::{value::Kind, Struct};
use serde_json::Value;

use super::fake_monitor::{number, Call, FakeMonitor, Record};

pub fn string_field(s: &Struct, key: &str) -> Option<String> {
    match s.fields.get(key)?.kind.as_ref()? {
        Kind::StringValue(v) => Some(v.clone()),
        _ => None,
    }
}

/// A protobuf Struct as JSON, to compare what the program sent with what it should send.
pub fn to_json(s: &Struct) -> Value {
    cloud_import::pulumi::value::from_struct(s)
}

pub fn bool_field(s: &Struct, key: &str) -> Option<bool> {
    match s.fields.get(key)?.kind.as_ref()? {
        Kind::BoolValue(v) => Some(*v),
        _ => None,
    }
}

/// Messages the program logged through the engine at `severity` (2 = warning, 3 = error).
pub fn logs(m: &FakeMonitor, severity: i32) -> Vec<String> {
    m.logs()
        .into_iter()
        .filter(|l| l.severity == severity)
        .map(|l| l.message)
        .collect()
}

/// Every discovered resource ended as read, failed or skipped.
pub fn assert_counts_add_up(outputs: &Struct) {
    let n = |k: &str| number(outputs, &[k]).unwrap_or_else(|| panic!("output {k}"));
    assert_eq!(
        n("discovered"),
        n("read") + n("failed") + n("skipped"),
        "discovered = read + failed + skipped"
    );
}

/// An import file that passed the checks.
pub struct ImportFile {
    /// The provider entry (the first one).
    pub provider: Value,
    /// Every other entry, in file order.
    pub entries: Vec<Value>,
    /// (type, id) of every resource entry.
    pub keys: BTreeSet<(String, String)>,
}

/// Parses and checks an import file: the explicit provider first and without an id; every other
/// entry with a type, a name free of `::` and unique per type, a non-empty id, the provider and its
/// version by name, and a parent (if any) that names an earlier entry; no URNs anywhere.
pub fn check_import_file(text: &str, provider_type: &str, version: &str) -> ImportFile {
    assert!(!text.contains("urn:pulumi:"), "no URNs in an import file");
    let file: Value = serde_json::from_str(text).expect("the import file is JSON");
    let resources = file["resources"].as_array().expect("resources[]");
    let provider = resources[0].clone();
    assert_eq!(provider["type"], provider_type);
    assert_eq!(provider["version"], version);
    assert!(
        provider.get("id").is_none(),
        "provider entries must not have an id"
    );
    let provider_name = provider["name"]
        .as_str()
        .expect("provider name")
        .to_string();

    let mut names_per_type = HashSet::new();
    let mut earlier_names = HashSet::from([provider_name.clone()]);
    let mut keys = BTreeSet::new();
    for r in &resources[1..] {
        let (ty, name, id) = (
            r["type"].as_str().expect("type"),
            r["name"].as_str().expect("name"),
            r["id"].as_str().expect("id"),
        );
        assert!(!id.is_empty() && !name.is_empty(), "{r}");
        assert!(!name.contains("::"), "{name}");
        assert_ne!(
            name, provider_name,
            "the provider's name is referenced, so it must be unique"
        );
        assert!(
            names_per_type.insert((ty.to_string(), name.to_string())),
            "duplicate name {name} for {ty}"
        );
        assert_eq!(
            r["provider"],
            provider_name.as_str(),
            "provider is referenced by name"
        );
        assert_eq!(r["version"], version);
        if let Some(parent) = r.get("parent") {
            let parent = parent.as_str().expect("parent is a name");
            assert!(
                earlier_names.contains(parent),
                "parent {parent} of {name} is not an earlier entry"
            );
        }
        earlier_names.insert(name.to_string());
        keys.insert((ty.to_string(), id.to_string()));
    }
    ImportFile {
        provider,
        entries: resources[1..].to_vec(),
        keys,
    }
}

/// What one run under the fake engine looked like, for runs whose resources are all parented to
/// the stack (every cloud but Azure).
pub struct EngineRun {
    /// The explicit provider's inputs.
    pub provider_inputs: Struct,
    /// (token, id) of every read.
    pub reads: BTreeSet<(String, String)>,
    /// The stack's outputs (the summary).
    pub outputs: Struct,
}

/// Checks the protocol: no engine rule violated; the stack registered first and the explicit
/// provider (type, version, parent) second; every read once, parented to the stack, through the
/// provider's `urn::id` reference, named without `::`; the stack's outputs registered.
pub fn check_engine_run(m: &FakeMonitor, provider_type: &str, version: &str) -> EngineRun {
    let rec = m.record();
    assert!(
        rec.violations.is_empty(),
        "engine rule violations: {:?}",
        rec.violations
    );
    let Call::Register(stack, stack_urn) = &rec.calls[0] else {
        panic!("first call: {:?}", rec.calls[0])
    };
    assert_eq!(stack.r#type, "pulumi:pulumi:Stack");
    assert_eq!(stack.name, "pulumi-cloud-import-dev");
    assert_eq!(stack_urn, &m.stack_urn());
    let Call::Register(provider, provider_urn) = &rec.calls[1] else {
        panic!("second call: {:?}", rec.calls[1])
    };
    assert_eq!(provider.r#type, provider_type);
    assert_eq!(provider.version, version);
    assert_eq!(provider.parent, *stack_urn);
    assert!(provider.custom);

    let mut reads = BTreeSet::new();
    for call in &rec.calls {
        let Call::Read(r, urn) = call else { continue };
        assert_eq!(r.parent, *stack_urn, "{urn}");
        assert!(
            r.provider.starts_with(&format!("{provider_urn}::"))
                && r.provider.len() > provider_urn.len() + 2,
            "provider ref {}",
            r.provider
        );
        assert!(!r.name.is_empty() && !r.name.contains("::"), "{}", r.name);
        assert!(
            reads.insert((r.r#type.clone(), r.id.clone())),
            "{} {} read twice",
            r.r#type,
            r.id
        );
    }
    let outputs = rec
        .calls
        .iter()
        .find_map(|c| match c {
            Call::Outputs(o) if o.urn == *stack_urn => o.outputs.clone(),
            _ => None,
        })
        .expect("stack outputs registered");
    EngineRun {
        provider_inputs: provider.object.clone().expect("provider inputs"),
        reads,
        outputs,
    }
}

/// The run ended as the protocol asks: SignalAndWaitForShutdown was the last call (logs aside) and
/// no read was still in flight when it came.
pub fn assert_ended_with_shutdown(rec: &Record) {
    let last = rec
        .calls
        .iter()
        .rposition(|c| !matches!(c, Call::Log(_)))
        .expect("calls");
    assert!(
        matches!(rec.calls[last], Call::Shutdown),
        "last call: {:?}",
        rec.calls[last]
    );
    assert_eq!(
        rec.reads_in_flight_at_shutdown,
        Some(0),
        "shutdown signalled with reads in flight"
    );
}
