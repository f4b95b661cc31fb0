//! gRPC clients for the resource monitor and the engine, dialled the way Pulumi's SDKs dial them:
//! plaintext HTTP/2 to the `host:port` the language host passed, and a 400 MiB receive limit instead
//! of tonic's 4 MiB (a read of a large policy or template can exceed 4 MiB). No call deadlines: the
//! engine legitimately queues `ReadResource` calls behind `--parallel` provider reads.

use tonic::transport::{Channel, Endpoint};

use crate::proto::engine_client::EngineClient;
use crate::proto::resource_monitor_client::ResourceMonitorClient;

/// Pulumi's servers and Go clients use 400 MiB for received messages.
pub const MAX_MESSAGE_BYTES: usize = 400 * 1024 * 1024;

pub type Monitor = ResourceMonitorClient<Channel>;
pub type Engine = EngineClient<Channel>;

/// Connects to `host:port` (no scheme, as in `PULUMI_MONITOR`/`PULUMI_ENGINE`).
pub async fn channel(address: &str) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("http://{address}"))?
        .tcp_nodelay(true)
        .connect()
        .await
}

pub fn monitor(channel: Channel) -> Monitor {
    ResourceMonitorClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

pub fn engine(channel: Channel) -> Engine {
    EngineClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}
