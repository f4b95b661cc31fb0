//! `pulumi-cloud-import`: the program `pulumi up` runs, and the `--import`/`--list` command.

use std::process::ExitCode;

use clap::Parser;
use cloud_import::app;
use cloud_import::clouds::kubernetes::cluster_auth;
use cloud_import::settings::{Cli, Settings};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    // `fleet` has its own command line (src/fleet): dispatched before the single-run flags parse.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "fleet") {
        return ExitCode::from(cloud_import::fleet::main(argv));
    }
    // The exec plugin our kubeconfigs for EKS and AKS clusters name (see cluster_auth).
    if argv.get(1).is_some_and(|a| a == cluster_auth::SUBCOMMAND) {
        return ExitCode::from(cluster_auth::main(argv));
    }
    let cli = Cli::parse();
    cloud_import::install_crypto_provider();
    let settings = match Settings::from_sources(cli, |k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(app::EXIT_BAD_INPUT);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(app::EXIT_FAILED);
        }
    };
    let code = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        app::run(settings, shutdown).await
    });
    // Abandoned in-flight calls must not keep the process alive: the engine waits for our exit.
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// SIGINT (the engine's teardown signal, and Ctrl-C) or SIGTERM: stop issuing reads.
async fn cancel_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    token.cancel();
}
