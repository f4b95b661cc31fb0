//! A fake Pulumi engine: the ResourceMonitor and Engine gRPC services a language host points a
//! program at (PULUMI_MONITOR / PULUMI_ENGINE), served by tonic on 127.0.0.1.
//!
//! It models the real engine's rules from pulumi-protocol.md, computed independently of the program:
//! - URNs `urn:pulumi:<stack>::<project>::<qualified type>::<name>`, the parent's qualified type
//!   prefixed with `$` unless the parent is the root stack (§4.3);
//! - what bails a real update: a duplicate URN, an unknown parent, an empty id (§3.1). A real engine
//!   then never answers the RPC; the fake records the violation and answers ABORTED so tests fail
//!   loudly instead of hanging;
//! - a provider reference must be `<urn>::<id>` of a provider registered earlier (§4.1), else that
//!   read fails;
//! - reads queue behind `parallel` execution slots and take `latency` each, like `--parallel` provider
//!   reads, so the number of ReadResource calls in flight is what the client allows, not what the
//!   server can absorb (testing-notes.md);
//! - with `--continue-on-error`, a failed read answers success with empty properties (§3.4);
//! - after `SignalAndWaitForShutdown` new events are refused (§2.4);
//! - faults: the engine ending the update (`cancel_after_reads`: that read, every pending one and
//!   every later monitor call answer UNAVAILABLE, the server stays up, §2.2) or the engine process
//!   dying (`die_after_reads`: every connection is cut and nothing listens any more).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_import::proto::engine_server::{Engine, EngineServer};
use cloud_import::proto::resource_monitor_server::{ResourceMonitor, ResourceMonitorServer};
use cloud_import::proto::{
    DeploymentInfo, GetRootResourceRequest, GetRootResourceResponse, InvokeResponse, LogRequest,
    ReadResourceRequest, ReadResourceResponse, RegisterResourceOutputsRequest,
    RegisterResourceRequest, RegisterResourceResponse, ResourceInvokeRequest,
    SetRootResourceRequest, SetRootResourceResponse, SupportsFeatureRequest,
    SupportsFeatureResponse,
};
use prost_types::{value::Kind, Struct, Value};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// The engine's unknown-value sentinel, also the id of a provider created in a preview.
pub const UNKNOWN_ID: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/// Knobs of the fake engine.
#[derive(Clone)]
pub struct MonitorOptions {
    pub project: String,
    pub stack: String,
    /// Concurrent provider reads (the engine's `--parallel`).
    pub parallel: usize,
    /// Time one provider read takes.
    pub latency: Duration,
    /// Ids whose provider read fails.
    pub failing_ids: HashSet<String>,
    /// What the builtin `pulumi:pulumi:readStackOutputs` answers for the stack itself.
    pub previous: PreviousStack,
    /// Ids whose provider read never answers: a provider whose API call hangs (pulumi-kubernetes
    /// sets no client timeout of its own), so the engine's step never ends until the update does.
    pub stalled_ids: HashSet<String>,
    /// Answer UNIMPLEMENTED to SignalAndWaitForShutdown, like engines before 3.180.
    pub old_engine: bool,
    /// Keep every request (tests); benchmarks turn it off so the fake's memory stays small.
    pub record_calls: bool,
    /// A preview (`PULUMI_DRY_RUN=true`): providers created in the run get the unknown id (§3.3).
    pub preview: bool,
    /// The engine ends the update when this many ReadResource calls have arrived.
    pub cancel_after_reads: Option<usize>,
    /// The engine process dies when this many ReadResource calls have arrived.
    pub die_after_reads: Option<usize>,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions {
            project: "pulumi-cloud-import".into(),
            stack: "dev".into(),
            parallel: 16,
            latency: Duration::from_millis(5),
            failing_ids: HashSet::new(),
            stalled_ids: HashSet::new(),
            previous: PreviousStack::New,
            old_engine: false,
            record_calls: true,
            preview: false,
            cancel_after_reads: None,
            die_after_reads: None,
        }
    }
}

/// The stack's own outputs as the engine's builtin provider reads them (`GetStackOutputs` of the
/// backend).
#[derive(Clone, Debug)]
pub enum PreviousStack {
    /// The invoke fails, as the real engine's does when its builtin provider has no backend client:
    /// a gRPC error "invocation of ... returned an error: ...".
    Unreadable,
    /// A stack with no deployment yet: no outputs.
    New,
    /// The outputs the last update registered.
    Outputs(serde_json::Value),
}

/// One call the fake saw, in arrival order.
#[derive(Debug, Clone)]
pub enum Call {
    Register(RegisterResourceRequest, String),
    Read(ReadResourceRequest, String),
    Outputs(RegisterResourceOutputsRequest),
    Shutdown,
    Log(LogRequest),
}

#[derive(Default)]
pub struct Record {
    pub calls: Vec<Call>,
    /// Rule violations that would bail a real update.
    pub violations: Vec<String>,
    /// Reads that finished, by URN.
    pub reads_done: Vec<String>,
    /// How many ReadResource RPCs were in flight when a SignalAndWaitForShutdown arrived.
    pub reads_in_flight_at_shutdown: Option<usize>,
    /// When the engine ended the update or died, and how many calls it had recorded by then.
    pub ended: Option<(std::time::Instant, usize)>,
    /// Monitor RPCs that arrived after the update ended, by method name.
    pub after_end: Vec<String>,
}

struct State {
    opts: MonitorOptions,
    record: Mutex<Record>,
    /// URN -> qualified type of everything registered or read in this run.
    urns: Mutex<HashMap<String, String>>,
    /// Registered provider references `urn::id`.
    providers: Mutex<HashSet<String>>,
    shut_down: Mutex<bool>,
    slots: Semaphore,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    provider_seq: AtomicUsize,
    reads_seen: AtomicUsize,
    /// Fires when the engine ends the update (or dies).
    ended: CancellationToken,
    /// Cuts every connection of a killable server (`die_after_reads`).
    kill: CancellationToken,
}

#[derive(Clone)]
pub struct FakeMonitor {
    state: Arc<State>,
    pub monitor_addr: SocketAddr,
    pub engine_addr: SocketAddr,
}

impl FakeMonitor {
    pub async fn start(opts: MonitorOptions) -> FakeMonitor {
        let state = Arc::new(State {
            slots: Semaphore::new(opts.parallel),
            opts,
            record: Mutex::default(),
            urns: Mutex::default(),
            providers: Mutex::default(),
            shut_down: Mutex::new(false),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            provider_seq: AtomicUsize::new(0),
            reads_seen: AtomicUsize::new(0),
            ended: CancellationToken::new(),
            kill: CancellationToken::new(),
        });
        let mut monitor_addr = serve_monitor(Svc(state.clone())).await;
        let mut engine_addr = serve_engine(Svc(state.clone())).await;
        if state.opts.die_after_reads.is_some() {
            monitor_addr = killable(monitor_addr, state.kill.clone()).await;
            engine_addr = killable(engine_addr, state.kill.clone()).await;
        }
        FakeMonitor {
            state,
            monitor_addr,
            engine_addr,
        }
    }

    pub fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.state.record.lock().unwrap()
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn stack_urn(&self) -> String {
        let o = &self.state.opts;
        format!(
            "urn:pulumi:{}::{}::pulumi:pulumi:Stack::{}-{}",
            o.stack, o.project, o.project, o.stack
        )
    }

    pub fn reads(&self) -> Vec<ReadResourceRequest> {
        self.record()
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::Read(r, _) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn logs(&self) -> Vec<LogRequest> {
        self.record()
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::Log(l) => Some(l.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn outputs(&self) -> Vec<RegisterResourceOutputsRequest> {
        self.record()
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::Outputs(o) => Some(o.clone()),
                _ => None,
            })
            .collect()
    }
}

/// A TCP relay in front of `inner` whose listener and every connection end when `kill` fires, as
/// when the engine process exits: calls in flight break, and new connections are refused.
async fn killable(inner: SocketAddr, kill: CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = kill.cancelled() => return,
                a = listener.accept() => a,
            };
            let Ok((mut client, _)) = accepted else {
                return;
            };
            let kill = kill.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(inner).await else {
                    return;
                };
                tokio::select! {
                    _ = kill.cancelled() => {}
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                }
            });
        }
    });
    addr
}

async fn serve_monitor(svc: Svc) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ResourceMonitorServer::new(svc).max_decoding_message_size(400 << 20))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

async fn serve_engine(svc: Svc) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EngineServer::new(svc))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

struct Svc(Arc<State>);

impl Svc {
    /// After the update ended every monitor call answers UNAVAILABLE, as the real monitor does once
    /// its context is cancelled.
    fn refuse_after_end(&self, method: &str) -> Result<(), Status> {
        if self.0.ended.is_cancelled() {
            self.0
                .record
                .lock()
                .unwrap()
                .after_end
                .push(method.to_string());
            return Err(unavailable());
        }
        Ok(())
    }

    fn end_update(&self) {
        let mut rec = self.0.record.lock().unwrap();
        if rec.ended.is_none() {
            rec.ended = Some((std::time::Instant::now(), rec.calls.len()));
        }
        drop(rec);
        self.0.ended.cancel();
    }

    fn violation(&self, msg: String) -> Status {
        self.0.record.lock().unwrap().violations.push(msg.clone());
        Status::aborted(format!("fake engine would bail the update: {msg}"))
    }

    fn refuse_after_shutdown(&self) -> Result<(), Status> {
        if *self.0.shut_down.lock().unwrap() {
            return Err(self.violation("RPC after SignalAndWaitForShutdown".into()));
        }
        Ok(())
    }

    /// The engine's URN rule, and the uniqueness and parent checks of step generation.
    fn claim_urn(&self, ty: &str, name: &str, parent: &str) -> Result<(String, String), Status> {
        let o = &self.0.opts;
        let mut urns = self.0.urns.lock().unwrap();
        let qualified = if parent.is_empty() {
            ty.to_string()
        } else {
            let Some(parent_q) = urns.get(parent) else {
                drop(urns);
                return Err(self.violation(format!("could not find parent resource {parent}")));
            };
            if parent_q == "pulumi:pulumi:Stack" {
                ty.to_string()
            } else {
                format!("{parent_q}${ty}")
            }
        };
        let urn = format!("urn:pulumi:{}::{}::{qualified}::{name}", o.stack, o.project);
        if urns.contains_key(&urn) {
            drop(urns);
            return Err(self.violation(format!("Duplicate resource URN '{urn}'")));
        }
        urns.insert(urn.clone(), qualified.clone());
        Ok((urn, qualified))
    }
}

/// What the real monitor answers once the deployment's context is cancelled.
fn unavailable() -> Status {
    Status::unavailable("resource monitor shut down while waiting on step's done channel")
}

fn valid_type_token(t: &str) -> bool {
    t.matches(':').count() >= 2
}

fn str_value(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.to_string())),
    }
}

#[tonic::async_trait]
impl ResourceMonitor for Svc {
    async fn supports_feature(
        &self,
        req: Request<SupportsFeatureRequest>,
    ) -> Result<Response<SupportsFeatureResponse>, Status> {
        let known = ["secrets", "resourceReferences", "outputValues"];
        Ok(Response::new(SupportsFeatureResponse {
            has_support: known.contains(&req.into_inner().id.as_str()),
        }))
    }

    async fn register_resource(
        &self,
        req: Request<RegisterResourceRequest>,
    ) -> Result<Response<RegisterResourceResponse>, Status> {
        self.refuse_after_end("RegisterResource")?;
        self.refuse_after_shutdown()?;
        let req = req.into_inner();
        if !valid_type_token(&req.r#type) {
            return Err(Status::invalid_argument(format!(
                "Type '{}' is not a valid type token (must have format '*:*:*')",
                req.r#type
            )));
        }
        let first = self.0.record.lock().unwrap().calls.is_empty();
        if req.r#type == "pulumi:pulumi:Stack" && !first {
            return Err(self.violation("the stack was not the first registration".into()));
        }
        let (urn, _) = self.claim_urn(&req.r#type, &req.name, &req.parent)?;
        let mut id = String::new();
        if req.r#type.starts_with("pulumi:providers:") {
            if req.version.is_empty() {
                return Err(self.violation(format!(
                    "provider {} registered without a version",
                    req.name
                )));
            }
            let n = self.0.provider_seq.fetch_add(1, Ordering::SeqCst);
            id = if self.0.opts.preview {
                UNKNOWN_ID.to_string()
            } else {
                format!("00000000-0000-4000-8000-{n:012}")
            };
            self.0
                .providers
                .lock()
                .unwrap()
                .insert(format!("{urn}::{id}"));
        }
        self.0
            .record
            .lock()
            .unwrap()
            .calls
            .push(Call::Register(req, urn.clone()));
        Ok(Response::new(RegisterResourceResponse {
            urn,
            id,
            object: Some(Struct::default()),
            ..Default::default()
        }))
    }

    async fn read_resource(
        &self,
        req: Request<ReadResourceRequest>,
    ) -> Result<Response<ReadResourceResponse>, Status> {
        self.refuse_after_end("ReadResource")?;
        self.refuse_after_shutdown()?;
        let req = req.into_inner();
        let seen = self.0.reads_seen.fetch_add(1, Ordering::SeqCst) + 1;
        if self.0.opts.die_after_reads == Some(seen) {
            self.end_update();
            self.0.kill.cancel();
            return Err(unavailable());
        }
        if self.0.opts.cancel_after_reads == Some(seen) {
            self.end_update();
            return Err(unavailable());
        }
        if !valid_type_token(&req.r#type) {
            return Err(Status::invalid_argument(format!(
                "Type '{}' is not a valid type token (must have format '*:*:*')",
                req.r#type
            )));
        }
        let now = self.0.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let result = async {
            if req.id.is_empty() {
                return Err(self.violation(format!("Expected an ID for {}", req.name)));
            }
            let (urn, _) = self.claim_urn(&req.r#type, &req.name, &req.parent)?;
            if self.0.opts.record_calls {
                self.0
                    .record
                    .lock()
                    .unwrap()
                    .calls
                    .push(Call::Read(req.clone(), urn.clone()));
            }
            // Wait for one of the engine's `parallel` step workers, then run the provider read; a
            // cancelled update answers every pending read UNAVAILABLE.
            let ran = async {
                let _slot = self.0.slots.acquire().await.unwrap();
                tokio::time::sleep(self.0.opts.latency).await;
                if self.0.opts.stalled_ids.contains(&req.id) {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = self.0.ended.cancelled() => return Err(unavailable()),
                _ = ran => {}
            }
            let provider_ok = self.0.providers.lock().unwrap().contains(&req.provider);
            let fails = !provider_ok || self.0.opts.failing_ids.contains(&req.id);
            if self.0.opts.record_calls {
                self.0.record.lock().unwrap().reads_done.push(urn.clone());
            }
            // --continue-on-error: a failed read still answers success, with no properties.
            let properties = if fails {
                Struct::default()
            } else {
                Struct {
                    fields: [("id".to_string(), str_value(&req.id))]
                        .into_iter()
                        .collect(),
                }
            };
            Ok(Response::new(ReadResourceResponse {
                urn,
                properties: Some(properties),
                ..Default::default()
            }))
        }
        .await;
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    async fn register_resource_outputs(
        &self,
        req: Request<RegisterResourceOutputsRequest>,
    ) -> Result<Response<()>, Status> {
        self.refuse_after_end("RegisterResourceOutputs")?;
        self.refuse_after_shutdown()?;
        let req = req.into_inner();
        if !self.0.urns.lock().unwrap().contains_key(&req.urn) {
            return Err(self.violation(format!(
                "cannot complete a resource '{}' whose registration isn't pending",
                req.urn
            )));
        }
        self.0.record.lock().unwrap().calls.push(Call::Outputs(req));
        Ok(Response::new(()))
    }

    async fn signal_and_wait_for_shutdown(
        &self,
        _req: Request<()>,
    ) -> Result<Response<()>, Status> {
        self.refuse_after_end("SignalAndWaitForShutdown")?;
        if self.0.opts.old_engine {
            return Err(Status::unimplemented(
                "unknown method SignalAndWaitForShutdown",
            ));
        }
        let mut down = self.0.shut_down.lock().unwrap();
        if *down {
            return Err(Status::unknown("Already waiting for shutdown"));
        }
        *down = true;
        let mut rec = self.0.record.lock().unwrap();
        rec.reads_in_flight_at_shutdown = Some(self.0.in_flight.load(Ordering::SeqCst));
        rec.calls.push(Call::Shutdown);
        Ok(Response::new(()))
    }

    async fn invoke(
        &self,
        req: Request<ResourceInvokeRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        self.refuse_after_end("Invoke")?;
        let req = req.into_inner();
        if req.tok != "pulumi:pulumi:readStackOutputs" {
            return Err(Status::unknown(format!(
                "invocation of {} returned an error: unrecognized function name: '{}'",
                req.tok, req.tok
            )));
        }
        let name = req
            .args
            .as_ref()
            .and_then(|a| a.fields.get("name"))
            .and_then(|v| match &v.kind {
                Some(Kind::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        // The builtin takes `organization/project/stack`.
        let want = format!("organization/{}/{}", self.0.opts.project, self.0.opts.stack);
        let acme = format!("acme/{}/{}", self.0.opts.project, self.0.opts.stack);
        if name != want && name != acme {
            return Err(Status::unknown(format!(
                "invocation of {} returned an error: unknown stack {name:?}",
                req.tok
            )));
        }
        let outputs = match &self.0.opts.previous {
            PreviousStack::Unreadable => {
                return Err(Status::unknown(format!(
                    "invocation of {} returned an error: no backend client is available",
                    req.tok
                )))
            }
            PreviousStack::New => serde_json::json!({}),
            PreviousStack::Outputs(v) => v.clone(),
        };
        let ret = serde_json::json!({"name": name, "outputs": outputs, "secretOutputNames": []});
        Ok(Response::new(InvokeResponse {
            r#return: Some(cloud_import::pulumi::value::to_struct(
                ret.as_object().unwrap(),
            )),
            failures: Vec::new(),
        }))
    }

    async fn get_deployment_info(
        &self,
        _req: Request<()>,
    ) -> Result<Response<DeploymentInfo>, Status> {
        Err(Status::unimplemented("unknown method GetDeploymentInfo"))
    }
}

#[tonic::async_trait]
impl Engine for Svc {
    async fn log(&self, req: Request<LogRequest>) -> Result<Response<()>, Status> {
        let req = req.into_inner();
        if !(0..=3).contains(&req.severity) {
            return Err(Status::invalid_argument(format!(
                "unrecognized logging severity: {}",
                req.severity
            )));
        }
        self.0.record.lock().unwrap().calls.push(Call::Log(req));
        Ok(Response::new(()))
    }

    async fn get_root_resource(
        &self,
        _req: Request<GetRootResourceRequest>,
    ) -> Result<Response<GetRootResourceResponse>, Status> {
        Ok(Response::new(GetRootResourceResponse::default()))
    }

    async fn set_root_resource(
        &self,
        _req: Request<SetRootResourceRequest>,
    ) -> Result<Response<SetRootResourceResponse>, Status> {
        Ok(Response::new(SetRootResourceResponse {}))
    }
}

/// Reads a string field of a Struct.
pub fn field<'a>(s: &'a Struct, key: &str) -> Option<&'a Value> {
    s.fields.get(key)
}

/// A number field of a Struct, as the summary outputs carry counts.
pub fn number(s: &Struct, path: &[&str]) -> Option<f64> {
    let mut cur = s.fields.get(path[0])?;
    for key in &path[1..] {
        match &cur.kind {
            Some(Kind::StructValue(inner)) => cur = inner.fields.get(*key)?,
            _ => return None,
        }
    }
    match cur.kind {
        Some(Kind::NumberValue(n)) => Some(n),
        _ => None,
    }
}
