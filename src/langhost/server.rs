//! The LanguageRuntime gRPC service: plugin info, required packages/plugins, `Run`, `About` and
//! `Cancel`. RPCs not listed in our `language.proto` are answered UNIMPLEMENTED by tonic, which the
//! CLI tolerates for `pulumi up/preview/refresh/destroy`.

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::{packages, program, run};
use crate::proto::language_runtime_server::LanguageRuntime;
use crate::proto::{
    AboutRequest, AboutResponse, GetRequiredPackagesRequest, GetRequiredPackagesResponse,
    GetRequiredPluginsRequest, GetRequiredPluginsResponse, PluginDependency, PluginInfo,
    ProgramInfo, RunRequest, RunResponse,
};

/// The host's state: the engine address and the cancellation of every running program.
pub struct RustLanguageHost {
    engine: String,
    runs: CancellationToken,
}

impl RustLanguageHost {
    pub fn new(engine: String) -> Self {
        RustLanguageHost {
            engine,
            runs: CancellationToken::new(),
        }
    }

    /// Cancelling it interrupts every running program.
    pub fn runs(&self) -> CancellationToken {
        self.runs.clone()
    }
}

/// The project's root directory, falling back to the program directory, then our cwd.
fn root_of(info: Option<&ProgramInfo>) -> PathBuf {
    info.and_then(|i| {
        [&i.root_directory, &i.program_directory]
            .into_iter()
            .find(|d| !d.is_empty())
            .map(PathBuf::from)
    })
    .or_else(|| std::env::current_dir().ok())
    .unwrap_or_default()
}

/// `runtime.options.binary` from Pulumi.yaml, when it is a string.
fn option_binary(info: Option<&ProgramInfo>) -> Option<String> {
    let field = info?.options.as_ref()?.fields.get("binary")?;
    match &field.kind {
        Some(prost_types::value::Kind::StringValue(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

#[tonic::async_trait]
impl LanguageRuntime for RustLanguageHost {
    async fn get_plugin_info(&self, _: Request<()>) -> Result<Response<PluginInfo>, Status> {
        Ok(Response::new(PluginInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
        }))
    }

    async fn get_required_packages(
        &self,
        request: Request<GetRequiredPackagesRequest>,
    ) -> Result<Response<GetRequiredPackagesResponse>, Status> {
        let root = root_of(request.get_ref().info.as_ref());
        let packages = tokio::task::spawn_blocking(move || packages::required_packages(&root))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(GetRequiredPackagesResponse {
            packages,
            specs: Vec::new(),
        }))
    }

    async fn get_required_plugins(
        &self,
        request: Request<GetRequiredPluginsRequest>,
    ) -> Result<Response<GetRequiredPluginsResponse>, Status> {
        let req = request.get_ref();
        let root = match req.info.as_ref() {
            Some(info) => root_of(Some(info)),
            None if !req.pwd.is_empty() => PathBuf::from(&req.pwd),
            None => root_of(None),
        };
        let packages = tokio::task::spawn_blocking(move || packages::required_packages(&root))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let plugins = packages
            .into_iter()
            .map(|p| PluginDependency {
                name: p.name,
                kind: p.kind,
                version: p.version,
                server: p.server,
                checksums: p.checksums,
            })
            .collect();
        Ok(Response::new(GetRequiredPluginsResponse { plugins }))
    }

    async fn run(&self, request: Request<RunRequest>) -> Result<Response<RunResponse>, Status> {
        let req = request.into_inner();
        let info = req.info.as_ref();
        let root_dir = root_of(info);
        let program_dir = info
            .map(|i| i.program_directory.clone())
            .filter(|d| !d.is_empty())
            .or_else(|| Some(req.pwd.clone()).filter(|d| !d.is_empty()))
            .map(PathBuf::from)
            .unwrap_or_else(|| root_dir.clone());
        let lookup = program::Lookup {
            env_override: std::env::var(program::PROGRAM_ENV)
                .ok()
                .filter(|v| !v.is_empty()),
            option_binary: option_binary(info),
            program_dir: program_dir.clone(),
            root_dir,
            host_exe: std::env::current_exe().ok(),
        };
        let program = match program::locate(&lookup) {
            Ok(p) => p,
            Err(error) => return Ok(Response::new(RunResponse { error, bail: false })),
        };
        let cwd = if req.pwd.is_empty() {
            program_dir
        } else {
            PathBuf::from(&req.pwd)
        };
        tracing::debug!("starting {}", program.display());
        let cmd = run::command(&program, &req, &self.engine, &cwd);

        let token = self.runs.child_token();
        // Dropping this guard (the RPC was cancelled and tonic dropped our future) interrupts the
        // program; completing normally disarms it.
        let guard = token.clone().drop_guard();
        let response = run::run(cmd, token).await;
        guard.disarm();
        Ok(Response::new(response))
    }

    async fn about(&self, _: Request<AboutRequest>) -> Result<Response<AboutResponse>, Status> {
        let executable = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Ok(Response::new(AboutResponse {
            executable,
            version: env!("CARGO_PKG_VERSION").to_string(),
            metadata: Default::default(),
        }))
    }

    async fn cancel(&self, _: Request<()>) -> Result<Response<()>, Status> {
        self.runs.cancel();
        Ok(Response::new(()))
    }
}
