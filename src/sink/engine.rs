//! The engine sink: reads each resource into the stack with `ReadResource`, following the call order
//! of Pulumi's SDKs (pulumi-protocol.md §2): register the stack, register the explicit provider and
//! wait for both, read, then register the stack's outputs and signal shutdown.
//!
//! The engine stores each read as `external`: never managed, never deleted.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;
use tonic::Code;

use super::halt::Halt;
use super::{Named, Outcome, Sink};
use crate::discover::ProviderSpec;
use crate::held::Previous;
use crate::proto::Result as StepResult;
use crate::proto::{
    ReadResourceRequest, RegisterResourceOutputsRequest, RegisterResourceRequest,
    ResourceInvokeRequest,
};
use crate::pulumi::client::Monitor;
use crate::pulumi::env::PulumiEnv;
use crate::pulumi::value::{from_struct, to_struct};
use crate::summary::Summary;

pub struct EngineSink {
    monitor: Monitor,
    /// Set at the first sign that the engine ended the update; no monitor call is made after it.
    halt: Halt,
    stack_name: String,
    dry_run: bool,
    /// A read not answered by then is counted as failed and its worker freed (`readTimeout`).
    read_timeout: Duration,
    /// `<organization>/<project>/<stack>`: the stack whose earlier outputs say what it holds.
    stack_ref: String,
    previous: Previous,
    registered: OnceCell<Registered>,
}

struct Registered {
    stack_urn: String,
    provider_ref: String,
}

impl EngineSink {
    pub fn new(monitor: Monitor, env: &PulumiEnv, read_timeout: Duration) -> Self {
        EngineSink {
            monitor,
            halt: Halt::default(),
            stack_name: env.stack_name(),
            dry_run: env.dry_run,
            read_timeout,
            stack_ref: format!(
                "{}/{}/{}",
                env.organization.as_deref().unwrap_or("organization"),
                env.project,
                env.stack
            ),
            previous: Previous::Unknown("not read yet".into()),
            registered: OnceCell::new(),
        }
    }

    fn registered(&self) -> &Registered {
        self.registered
            .get()
            .expect("EngineSink::start registers the stack before any read")
    }

    /// The provider reference the engine expects: `<urn>::<id>`.
    pub fn provider_ref(&self) -> Option<&str> {
        self.registered.get().map(|r| r.provider_ref.as_str())
    }

    pub fn stack_urn(&self) -> Option<&str> {
        self.registered.get().map(|r| r.stack_urn.as_str())
    }
}

#[async_trait]
impl Sink for EngineSink {
    async fn start(&mut self, provider: &ProviderSpec) -> anyhow::Result<()> {
        // Before anything of this update is registered, so the outputs are the last run's.
        self.previous = self.read_previous().await;
        let mut monitor = self.monitor.clone();
        let stack = monitor
            .register_resource(RegisterResourceRequest {
                r#type: "pulumi:pulumi:Stack".into(),
                name: self.stack_name.clone(),
                custom: false,
                object: Some(Default::default()),
                accept_secrets: true,
                accept_resources: true,
                accepts_byte_string: true,
                supports_result_reporting: true,
                ..Default::default()
            })
            .await
            .map_err(|s| anyhow::anyhow!("{}", describe("registering the stack resource", &s)))?
            .into_inner();

        let registered = monitor
            .register_resource(RegisterResourceRequest {
                r#type: provider.token(),
                name: provider.name.clone(),
                parent: stack.urn.clone(),
                custom: true,
                object: Some(to_struct(&provider.inputs)),
                version: provider.version.clone(),
                accept_secrets: true,
                accept_resources: true,
                supports_result_reporting: true,
                ..Default::default()
            })
            .await
            .map_err(|s| {
                let call = format!(
                    "registering provider {} {}",
                    provider.token(),
                    provider.version
                );
                anyhow::anyhow!("{}", describe(&call, &s))
            })?
            .into_inner();
        // In a preview a new provider's id is the unknown sentinel, which the engine resolves.
        let id = if registered.id.is_empty() && self.dry_run {
            "04da6b54-80e4-46f7-96ec-b56ff0331ba9".to_string()
        } else {
            registered.id
        };
        anyhow::ensure!(
            !registered.urn.is_empty(),
            "the engine returned no URN for provider {}",
            provider.name
        );
        self.registered
            .set(Registered {
                stack_urn: stack.urn,
                provider_ref: format!("{}::{}", registered.urn, id),
            })
            .map_err(|_| anyhow::anyhow!("EngineSink::start called twice"))?;
        Ok(())
    }

    async fn accept(&self, r: &Named, parent: Option<&str>) -> Outcome {
        if self.halt.is_halted() {
            return Outcome::NotRead;
        }
        let reg = self.registered();
        let req = ReadResourceRequest {
            id: r.resource.id.clone(),
            r#type: r.resource.token.clone(),
            name: r.name.clone(),
            parent: parent.unwrap_or(&reg.stack_urn).to_string(),
            properties: Some(to_struct(&r.resource.read_inputs)),
            provider: reg.provider_ref.clone(),
            accept_secrets: true,
            accept_resources: true,
            additional_secret_outputs: r.resource.secret_outputs.clone(),
            ..Default::default()
        };
        let mut monitor = self.monitor.clone();
        let answer = tokio::time::timeout(self.read_timeout, monitor.read_resource(req)).await;
        let Ok(answer) = answer else {
            // Dropping the call frees the worker; the engine may still finish the step, which is
            // why the Kubernetes provider gets the same limit on its own requests.
            return Outcome::Failed {
                reason: format!("timed out after {} s", self.read_timeout.as_secs()),
            };
        };
        match answer {
            Ok(resp) => {
                let resp = resp.into_inner();
                let empty = resp.properties.as_ref().is_none_or(|p| p.fields.is_empty());
                if resp.result == StepResult::Fail as i32 {
                    Outcome::Failed {
                        reason: "the provider's read failed (see this resource's diagnostics)"
                            .into(),
                    }
                } else if empty && !self.dry_run {
                    // Under --continue-on-error older engines answer a failed read with success and no
                    // properties; a real read always returns at least the id.
                    Outcome::Failed {
                        reason: "the engine returned no properties: the read failed (see this resource's diagnostics)".into(),
                    }
                } else {
                    Outcome::Read { handle: resp.urn }
                }
            }
            Err(status) if engine_ended(&status) => {
                self.halt.halt(describe("ReadResource", &status));
                Outcome::NotRead
            }
            Err(status) => Outcome::Failed {
                reason: describe("ReadResource", &status),
            },
        }
    }

    fn halt(&self) -> Halt {
        self.halt.clone()
    }

    fn previous(&self) -> Previous {
        self.previous.clone()
    }

    async fn finish(&self, summary: &Summary) -> anyhow::Result<()> {
        if self.halt.is_halted() {
            // The engine has ended the update: registering outputs would only fail (or be lost).
            return Ok(());
        }
        let reg = self.registered();
        let mut monitor = self.monitor.clone();
        let outputs = summary.to_json();
        monitor
            .register_resource_outputs(RegisterResourceOutputsRequest {
                urn: reg.stack_urn.clone(),
                outputs: Some(to_struct(
                    outputs.as_object().expect("summary is an object"),
                )),
            })
            .await
            .map_err(|status| {
                if engine_ended(&status) {
                    self.halt.halt(describe("RegisterResourceOutputs", &status));
                }
                anyhow::anyhow!("{}", describe("registering the stack outputs", &status))
            })?;
        if !summary.is_complete() {
            // Signalling shutdown would let the engine finish the update successfully and discard
            // every earlier-read resource that was not read again. The caller exits 32 instead.
            return Ok(());
        }
        match monitor.signal_and_wait_for_shutdown(()).await {
            Ok(_) => Ok(()),
            // Engines before 3.180 do not have it; a plain exit is the old protocol.
            Err(s) if s.code() == Code::Unimplemented => Ok(()),
            Err(s) => Err(anyhow::anyhow!(
                "{}",
                describe("SignalAndWaitForShutdown", &s)
            )),
        }
    }
}

impl EngineSink {
    /// What the stack held, from its own outputs through the engine's builtin provider (what a
    /// `StackReference` to itself reads, without adding a resource to the stack).
    async fn read_previous(&self) -> Previous {
        let mut monitor = self.monitor.clone();
        let args = serde_json::json!({ "name": self.stack_ref });
        let answer = monitor
            .invoke(ResourceInvokeRequest {
                tok: "pulumi:pulumi:readStackOutputs".into(),
                args: Some(to_struct(args.as_object().expect("an object"))),
                ..Default::default()
            })
            .await;
        match answer {
            Ok(resp) => {
                let resp = resp.into_inner();
                if !resp.failures.is_empty() {
                    return Previous::Unknown("its earlier outputs could not be read".into());
                }
                let ret = resp.r#return.map(|r| from_struct(&r)).unwrap_or_default();
                Previous::from_outputs(ret.get("outputs").unwrap_or(&serde_json::json!({})))
            }
            Err(status) => {
                // The detail is for `--debug`; the reason that fails a run stays short.
                tracing::debug!(
                    "{}",
                    describe(
                        &format!("reading the outputs of stack {}", self.stack_ref),
                        &status
                    )
                );
                Previous::Unknown("its earlier outputs could not be read".into())
            }
        }
    }
}

/// The engine's way of ending an update: `UNAVAILABLE` on every pending and later monitor call, or,
/// when the engine process is gone, a transport failure. Only transport-level statuses carry an
/// error source; statuses the engine sends on purpose (a bad request, an aborted update) never do.
pub fn engine_ended(status: &tonic::Status) -> bool {
    status.code() == Code::Unavailable || std::error::Error::source(status).is_some()
}

/// One line: the call, the gRPC code, the engine's message and any transport cause.
fn describe(call: &str, status: &tonic::Status) -> String {
    let mut line = format!("{call}: {:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        let cause = crate::oneline::chain(source);
        if !line.contains(&cause) {
            line.push_str(&format!(" ({cause})"));
        }
    }
    crate::oneline::flatten(&line)
}
