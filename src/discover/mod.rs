//! What a cloud scanner yields, and the one trait every cloud implements.
//!
//! Data flows one way: a [`Scanner`] turns a cloud's own API into a stream of [`ScanEvent`]s,
//! `naming` gives each found resource a stable Pulumi name, and a sink reads it into the stack, writes
//! it to `import.json`, or prints it. A scanner never talks to Pulumi and never names resources; a sink
//! never talks to a cloud.
//!
//! Every cloud's listing runs inside the one [`harness`]: it owns the task, the bounded channel, and
//! the rule that a listing which dies is reported as incomplete, never as a finished scan.

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

pub mod harness;

/// Where a scanner sends what it finds. `send` fails once the consumer has gone away (the run was
/// cancelled or ended): the scanner then returns, and the harness ends its task in any case.
pub type Events = mpsc::Sender<ScanEvent>;

/// One cloud resource, as found by a scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// Pulumi type token, e.g. `kubernetes:apps/v1:Deployment`.
    pub token: String,
    /// The id the provider's Read takes, e.g. `default/nginx` or an ARM id.
    pub id: String,
    /// The cloud's own name for the type, e.g. `apps/v1/Deployment` or `AWS::S3::Bucket`.
    pub cloud_type: String,
    /// Where it was found: kube context, region, subscription/location, compartment.
    pub scope: String,
    /// Text the resource's Pulumi name is derived from, when the id itself is a poor name (for example
    /// an ARM id whose `/subscriptions/<sub>` prefix is the same for every resource). It must be
    /// unique per `token` within one scan, as the id is. `None` means "derive from `id`".
    pub name_basis: Option<String>,
    /// A resource of this scan that must be read first and becomes this one's parent (Azure: the
    /// resource group). `None` parents the resource to the stack.
    pub parent: Option<ResourceKey>,
    /// True when later resources may name this one as their parent, so the pipeline remembers how
    /// its read ended. Only parents are remembered, which keeps memory bounded.
    pub is_parent: bool,
    /// Top-level output properties the engine must store as secrets although the provider does not
    /// mark them (Kubernetes: the `metadata` of a Secret whose `kubectl apply` annotation holds its
    /// values in plain text).
    pub secret_outputs: Vec<String>,
    /// The properties `ReadResource` carries (the engine passes them to the provider's `Read` as
    /// both inputs and state). Empty: the provider reads from the id alone. Kubernetes puts the
    /// object's identity here, which lets the provider read with one GET instead of importing it
    /// (see `clouds::kubernetes::read_path`). The `--import` and `--list` sinks ignore it.
    pub read_inputs: Map<String, Value>,
    /// The Kubernetes namespace the object lives in: the unit RBAC grants `list` on, so what a run
    /// read is remembered per namespace (see `held`). `None` elsewhere.
    pub namespace: Option<String>,
}

impl Discovered {
    /// A resource parented to the stack, named from its id.
    pub fn new(
        token: impl Into<String>,
        id: impl Into<String>,
        cloud_type: impl Into<String>,
        scope: impl Into<String>,
    ) -> Self {
        Discovered {
            token: token.into(),
            id: id.into(),
            cloud_type: cloud_type.into(),
            scope: scope.into(),
            name_basis: None,
            parent: None,
            is_parent: false,
            secret_outputs: Vec::new(),
            read_inputs: Map::new(),
            namespace: None,
        }
    }

    pub fn key(&self) -> ResourceKey {
        ResourceKey {
            token: self.token.clone(),
            id: self.id.clone(),
        }
    }
}

/// Identity of a resource within one scan: its type token and read id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub token: String,
    pub id: String,
}

/// Everything a scanner reports. Every resource it finds ends up counted exactly once: as read,
/// failed or skipped; types and scopes it could not list are reported so the run can say what it
/// missed.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanEvent {
    /// A resource to import.
    Found(Discovered),
    /// A resource that was found but is deliberately not imported (an Event, a Pod owned by a
    /// ReplicaSet, a deleted OCI resource...). Counted as discovered and skipped.
    Skipped {
        token: String,
        cloud_type: String,
        id: String,
        reason: String,
    },
    /// A whole type that is not listed, on purpose or by a permanent, expected condition (no list
    /// handler, not known to the installed provider, gone since discovery). Reported once as a
    /// warning; does not make the scan incomplete. A type the credentials may not list is
    /// [`ScanEvent::Denied`] instead.
    TypeSkipped { cloud_type: String, reason: String },
    /// A type the credentials may not list: at all (`namespaces` None), or in these Kubernetes
    /// namespaces (listed in the others). The pipeline decides what it means (see `held`): a gap
    /// that makes the scan incomplete when the stack holds resources it would drop, a warning when
    /// it never held any.
    Denied {
        cloud_type: String,
        namespaces: Option<Vec<String>>,
        reason: String,
    },
    /// Listing failed after retries: resources may exist that were not reported. The run must not
    /// look successful (exit 32), or the engine would drop their earlier state.
    Incomplete { what: String, reason: String },
    /// Free-form progress from the scanner (types listed so far, throttles...), shown ephemerally.
    Progress(String),
}

/// The explicit provider a scan's resources are read with.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSpec {
    /// Pulumi package, e.g. `kubernetes`, `aws-native`.
    pub package: String,
    /// Resource name of the provider, unique per scope, e.g. `aws-native-us-west-2`.
    pub name: String,
    /// Strict semver of the plugin, e.g. `4.32.0`.
    pub version: String,
    /// Provider config inputs in the schema's camelCase, e.g. `{"region": "us-west-2"}`. Never
    /// secrets: these go to state and to import.json in plain text.
    pub inputs: Map<String, Value>,
}

impl ProviderSpec {
    /// The type token of this provider resource, `pulumi:providers:<package>`.
    pub fn token(&self) -> String {
        format!("pulumi:providers:{}", self.package)
    }
}

/// A cloud scanner: lists one scope and yields what it finds.
///
/// Implementations do their own listing concurrency and rate limiting (shared helpers live in
/// `retry` and `http`), and never spawn the listing themselves: [`harness::discover`] runs
/// [`Scanner::scan`] in its own task behind a bounded channel, so the stream is consumed only as
/// fast as the sink takes it, a crash is reported, and the listing stops when the consumer goes away.
pub trait Scanner: Send + 'static {
    /// The provider the resources are read with. Known before discovery starts, so the engine sink can
    /// register it before any read.
    fn provider(&self) -> ProviderSpec;

    /// Lists the scope into `out`, returning when it has been listed completely (or as completely
    /// as it could be: failures are sent as [`ScanEvent::Incomplete`]) or when `out` is closed.
    fn scan(self: Box<Self>, out: Events) -> BoxFuture<'static, ()>;

    /// Starts discovery through the harness.
    fn discover(self: Box<Self>) -> BoxStream<'static, ScanEvent>
    where
        Self: Sized,
    {
        harness::discover(self)
    }
}
