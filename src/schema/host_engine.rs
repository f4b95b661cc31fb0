//! A minimal Pulumi Engine service for a plugin we start outside `pulumi up`: plugins take the engine
//! address as their last argument and send their log messages to `Engine.Log`, so we serve one, as the
//! CLI does. Messages go to our debug log. Health checks of it answer UNIMPLEMENTED, which Pulumi's
//! plugins treat as alive (`rpcutil.Healthcheck`).

use std::sync::Mutex;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::proto::engine_server::{Engine, EngineServer};
use crate::proto::{
    GetRootResourceRequest, GetRootResourceResponse, LogRequest, LogSeverity,
    SetRootResourceRequest, SetRootResourceResponse,
};

#[derive(Default)]
struct LogOnlyEngine {
    root: Mutex<String>,
}

#[tonic::async_trait]
impl Engine for LogOnlyEngine {
    async fn log(&self, request: Request<LogRequest>) -> Result<Response<()>, Status> {
        let log = request.into_inner();
        let severity = LogSeverity::try_from(log.severity)
            .map_err(|_| Status::invalid_argument(format!("unknown severity {}", log.severity)))?;
        tracing::debug!(target: "plugin", "{}: {}", severity.as_str_name(), log.message);
        Ok(Response::new(()))
    }

    async fn get_root_resource(
        &self,
        _: Request<GetRootResourceRequest>,
    ) -> Result<Response<GetRootResourceResponse>, Status> {
        let urn = self.root.lock().expect("root lock").clone();
        Ok(Response::new(GetRootResourceResponse { urn }))
    }

    async fn set_root_resource(
        &self,
        request: Request<SetRootResourceRequest>,
    ) -> Result<Response<SetRootResourceResponse>, Status> {
        *self.root.lock().expect("root lock") = request.into_inner().urn;
        Ok(Response::new(SetRootResourceResponse {}))
    }
}

/// A running engine service; stops when dropped.
pub struct HostEngine {
    /// `127.0.0.1:<port>`, the form the CLI passes to plugins.
    pub address: String,
    _stop: oneshot::Sender<()>,
}

impl HostEngine {
    pub async fn start() -> Result<HostEngine, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen for the plugin's engine connection: {e}"))?;
        let address = listener
            .local_addr()
            .map_err(|e| format!("cannot listen for the plugin's engine connection: {e}"))?
            .to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(EngineServer::new(LogOnlyEngine::default()))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                }),
        );
        Ok(HostEngine {
            address,
            _stop: stop,
        })
    }
}
