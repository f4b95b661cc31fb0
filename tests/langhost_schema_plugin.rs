//! The schema module's installed-plugin source against a fake provider plugin.
//!
//! This test target has its own `main` (`harness = false`) so that its binary can double as the
//! plugin: the test links it into a fake plugin cache as `resource-<pkg>-v<ver>/pulumi-resource-<pkg>`,
//! and when the schema module starts that file, `main` sees `FAKE_PLUGIN_DIR` and behaves like a
//! Pulumi provider plugin instead of running tests. No script or second build is involved.
//!
//! The fake models what the CLI relies on in a real provider (`pkg/resource/plugin/plugin.go`,
//! `sdk/go/common/resource/provider/main.go`): it takes the engine address as its last argument
//! and logs to it through `Engine.Log`, prints its gRPC port alone on the first stdout line (then
//! keeps writing to stdout, as providers' logging does), serves `ResourceProvider.GetSchema` with
//! the JSON text of its schema, and exits on SIGINT. The `pulumi-resource-deadcloud` variant exits
//! with code 3 before printing a port, as a plugin that cannot start does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use cloud_import::proto::engine_client::EngineClient;
use cloud_import::proto::resource_provider_server::{ResourceProvider, ResourceProviderServer};
use cloud_import::proto::{GetSchemaRequest, GetSchemaResponse, LogRequest, LogSeverity};
use cloud_import::schema::{SchemaSources, SchemaStore};
use tonic::{Request, Response, Status};

/// Set by the test process; its presence makes this binary act as the plugin.
const FAKE_DIR_ENV: &str = "FAKE_PLUGIN_DIR";

fn main() -> ExitCode {
    if let Some(dir) = std::env::var_os(FAKE_DIR_ENV) {
        return fake_plugin(PathBuf::from(dir));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tests: [(&str, fn()); 2] = [
        (
            "schema_from_an_installed_plugin",
            schema_from_an_installed_plugin,
        ),
        (
            "plugins_that_are_missing_or_broken_are_reported",
            plugins_that_are_missing_or_broken_are_reported,
        ),
    ];
    if args.iter().any(|a| a == "--list") {
        for (name, _) in tests {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    // libtest-style arguments: flags are ignored (skipping the values of those that take one), the
    // first other argument filters test names.
    let mut filter = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if [
            "--test-threads",
            "--format",
            "--logfile",
            "--skip",
            "--color",
            "-Z",
        ]
        .contains(&arg.as_str())
        {
            rest.next();
        } else if !arg.starts_with('-') && filter.is_none() {
            filter = Some(arg);
        }
    }
    let mut failed = 0;
    for (name, test) in tests {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let ok = std::panic::catch_unwind(test).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        failed += usize::from(!ok);
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ----- the tests -----

/// A plugin cache holding this binary as `package` at `version`; the plugin's records go to `records`.
struct Cache {
    _dir: tempfile::TempDir,
    plugins: PathBuf,
    records: PathBuf,
}

fn cache(installed: &[(&str, &str)]) -> Cache {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    let records = dir.path().join("records");
    std::fs::create_dir_all(&records).unwrap();
    let me = std::env::current_exe().unwrap();
    for (package, version) in installed {
        let plugin_dir = plugins.join(format!("resource-{package}-v{version}"));
        std::fs::create_dir_all(&plugin_dir).unwrap();
        std::os::unix::fs::symlink(&me, plugin_dir.join(format!("pulumi-resource-{package}")))
            .unwrap();
    }
    // Inherited by the plugins this process starts. Set before any runtime thread exists.
    std::env::set_var(FAKE_DIR_ENV, &records);
    Cache {
        _dir: dir,
        plugins,
        records,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn wait_for(path: &Path) -> String {
    // Bounded only so that a broken build cannot hang the suite.
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} never appeared", path.display());
}

fn schema_from_an_installed_plugin() {
    let cache = cache(&[("fakecloud", "1.2.3")]);
    runtime().block_on(async {
        let store = SchemaStore::new(SchemaSources {
            plugins_dir: Some(cache.plugins.clone()),
            ..Default::default()
        });
        let schema = store.get("fakecloud", "1.2.3").await.unwrap();
        assert_eq!(
            schema.resource_tokens(),
            ["fakecloud:compute:Instance", "fakecloud:storage:Bucket"]
        );
        assert_eq!(
            schema.resources["fakecloud:storage:Bucket"].description,
            "A bucket."
        );
        // Cached: the second lookup starts nothing.
        let again = store.get("fakecloud", "1.2.3").await.unwrap();
        assert!(Arc::ptr_eq(&schema, &again));

        let calls = std::fs::read_to_string(cache.records.join("calls")).unwrap();
        assert_eq!(calls, "GetSchema version=0\n");
        // The plugin reached the engine we served for it, and was stopped with SIGINT.
        assert_eq!(
            std::fs::read_to_string(cache.records.join("engine-log")).unwrap(),
            "ok"
        );
        assert_eq!(wait_for(&cache.records.join("interrupted")).await, "SIGINT");
    });
}

fn plugins_that_are_missing_or_broken_are_reported() {
    let cache = cache(&[("deadcloud", "0.1.0")]);
    runtime().block_on(async {
        let store = SchemaStore::new(SchemaSources {
            plugins_dir: Some(cache.plugins.clone()),
            ..Default::default()
        });
        let err = store
            .get("fakecloud", "9.9.9")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not installed"), "{err}");
        assert!(
            err.contains("pulumi plugin install resource fakecloud 9.9.9"),
            "{err}"
        );

        let err = store
            .get("deadcloud", "0.1.0")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("before printing its port"), "{err}");
        assert!(err.contains("3"), "{err}");
    });
}

// ----- the fake plugin -----

struct FakeProvider {
    records: PathBuf,
    engine: String,
}

#[tonic::async_trait]
impl ResourceProvider for FakeProvider {
    async fn get_schema(
        &self,
        request: Request<GetSchemaRequest>,
    ) -> Result<Response<GetSchemaResponse>, Status> {
        use std::io::Write;
        let mut calls = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.records.join("calls"))
            .unwrap();
        writeln!(calls, "GetSchema version={}", request.get_ref().version).unwrap();

        // Real providers log through the engine; a dead engine address fails here.
        let mut engine = EngineClient::connect(format!("http://{}", self.engine))
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        engine
            .log(LogRequest {
                severity: LogSeverity::Debug as i32,
                message: "building schema".into(),
                ..Default::default()
            })
            .await?;
        std::fs::write(self.records.join("engine-log"), "ok").unwrap();

        let schema = serde_json::json!({
            "name": "fakecloud",
            "version": "1.2.3",
            "resources": {
                "fakecloud:storage:Bucket": {"description": "A bucket."},
                "fakecloud:compute:Instance": {"description": "A VM.", "requiredInputs": ["size"]}
            }
        });
        Ok(Response::new(GetSchemaResponse {
            schema: schema.to_string(),
        }))
    }
}

fn fake_plugin(records: PathBuf) -> ExitCode {
    let argv0 = std::env::args().next().unwrap_or_default();
    if argv0.ends_with("pulumi-resource-deadcloud") {
        eprintln!("fatal: cannot load provider metadata");
        return ExitCode::from(3);
    }
    let Some(engine) = std::env::args().skip(1).last() else {
        eprintln!("missing engine address");
        return ExitCode::from(2);
    };
    runtime().block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        println!("provider logging goes to stdout too");
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).unwrap();
        let stop_records = records.clone();
        tonic::transport::Server::builder()
            .add_service(ResourceProviderServer::new(FakeProvider {
                records,
                engine,
            }))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move {
                    interrupt.recv().await;
                    std::fs::write(stop_records.join("interrupted"), "SIGINT").unwrap();
                },
            )
            .await
            .unwrap();
    });
    ExitCode::SUCCESS
}
