//! `pulumi-language-rust`: the Pulumi language host for `runtime: rust`. The CLI starts it as a
//! plugin ([`contract`]); it serves the LanguageRuntime service ([`server`]), declares the provider
//! plugins the project's stacks read with ([`packages`]), and runs the program binary
//! ([`program`], [`run`]) with Pulumi's environment contract.

pub mod contract;
pub mod packages;
pub mod program;
pub mod run;
pub mod server;

use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::proto::language_runtime_server::LanguageRuntimeServer;

/// Pulumi's gRPC servers accept up to 400 MiB; RunRequest carries the whole stack config.
const MAX_MESSAGE: usize = 400 * 1024 * 1024;

/// The binary's entry point.
pub fn main() -> ExitCode {
    let args = match contract::HostArgs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    // Our stderr is the CLI's plugin log (shown with `pulumi -v`); quiet unless asked.
    // Only our own crate goes below `warn`: the gRPC stack's debug output is of no use here.
    let level = match args.verbosity {
        0 => "warn",
        1..=4 => "warn,cloud_import=info",
        _ => "warn,cloud_import=debug",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pulumi-language-rust: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pulumi-language-rust: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: contract::HostArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    contract::announce_port(listener.local_addr()?.port())?;

    let host = server::RustLanguageHost::new(args.engine.clone());
    let runs = host.runs();
    let engine = args.engine.clone();
    let shutdown = async move {
        tokio::select! {
            // The CLI signalled our process group, the program included: let it finish.
            () = contract::shutdown_requested() => {}
            // Nobody will ever collect the program's result: interrupt it.
            () = contract::engine_gone(&engine) => runs.cancel(),
        }
    };
    tonic::transport::Server::builder()
        .add_service(
            LanguageRuntimeServer::new(host)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
