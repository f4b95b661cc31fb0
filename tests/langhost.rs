//! `pulumi-language-rust` driven over gRPC as the Pulumi CLI drives it (launched by
//! `langhost_support`), and the schema module's file and engine-loader sources against a fake of the
//! engine's `codegen.Loader` service. The installed-plugin source is tested in
//! `langhost_schema_plugin.rs`, whose test binary doubles as the plugin.

mod langhost_support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cloud_import::clouds::Cloud;
use cloud_import::proto::{
    GetRequiredPackagesRequest, GetRequiredPluginsRequest, ProgramInfo, RunRequest, RunResponse,
};
use cloud_import::pulumi::env::PulumiEnv;
use cloud_import::schema::loader::proto::loader_server::{Loader, LoaderServer};
use cloud_import::schema::loader::proto::{GetSchemaRequest, GetSchemaResponse};
use cloud_import::schema::{SchemaSources, SchemaStore, LOADER_ENV};
use langhost_support::{script, wait_for_file, Host};
use tonic::{Request, Response, Status};

fn program_info(root: &Path, binary: Option<&Path>) -> ProgramInfo {
    let mut fields = BTreeMap::new();
    if let Some(b) = binary {
        fields.insert(
            "binary".to_string(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue(
                    b.display().to_string(),
                )),
            },
        );
    }
    ProgramInfo {
        root_directory: root.display().to_string(),
        program_directory: root.display().to_string(),
        entry_point: ".".to_string(),
        options: Some(prost_types::Struct { fields }),
    }
}

fn run_request(root: &Path, binary: &Path) -> RunRequest {
    RunRequest {
        project: "scan".into(),
        stack: "dev".into(),
        pwd: root.display().to_string(),
        config: HashMap::from([
            ("scan:cloud".to_string(), "kubernetes".to_string()),
            ("scan:apiKey".to_string(), "hunter2-secret".to_string()),
        ]),
        config_secret_keys: vec!["scan:apiKey".into()],
        dry_run: true,
        parallel: 8,
        monitor_address: "127.0.0.1:41235".into(),
        organization: "acme".into(),
        info: Some(program_info(root, Some(binary))),
        loader_target: "127.0.0.1:41237".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn plugin_info_and_about_describe_the_host() {
    let mut host = Host::start(&[]).await;
    let info = host.client.get_plugin_info(()).await.unwrap().into_inner();
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    let about = host
        .client
        .about(cloud_import::proto::AboutRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        about.executable.ends_with("pulumi-language-rust"),
        "{about:?}"
    );
}

#[tokio::test]
async fn required_packages_are_the_configured_clouds_at_their_versions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("Pulumi.yaml"), "name: scan\nruntime: rust\n").unwrap();
    std::fs::write(
        root.join("Pulumi.azure-prod.yaml"),
        "config:\n  pulumi-cloud-import:cloud: azure\n  azure-native:location: westeurope\n",
    )
    .unwrap();
    std::fs::write(
        root.join("Pulumi.oci.yaml"),
        "config:\n  scan:cloud: oci\n  scan:providerVersion: 4.1.0\n",
    )
    .unwrap();
    let mut host = Host::start_in(root, &[]).await;

    let packages = host
        .client
        .get_required_packages(GetRequiredPackagesRequest {
            info: Some(program_info(root, None)),
        })
        .await
        .unwrap()
        .into_inner()
        .packages;
    let got: Vec<(&str, &str, &str)> = packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.kind.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("azure-native", Cloud::Azure.pinned_version(), "resource"),
            ("oci", "4.1.0", "resource"),
        ]
    );

    let plugins = host
        .client
        .get_required_plugins(GetRequiredPluginsRequest {
            project: "scan".into(),
            pwd: root.display().to_string(),
            program: ".".into(),
            info: Some(program_info(root, None)),
        })
        .await
        .unwrap()
        .into_inner()
        .plugins;
    let got: Vec<(&str, &str)> = plugins
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("azure-native", Cloud::Azure.pinned_version()),
            ("oci", "4.1.0")
        ]
    );
}

#[tokio::test]
async fn run_gives_the_program_pulumis_environment_contract() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let program = root.join("program.sh");
    script(&program, "env > env.txt\npwd > pwd.txt\nexit 0");
    let mut host = Host::start(&[]).await;

    let response = host
        .client
        .run(run_request(&root, &program))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response, RunResponse::default());

    let text = std::fs::read_to_string(root.join("env.txt")).unwrap();
    let vars: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // The program's own parser must accept what the host passes.
    let env = PulumiEnv::from_lookup(|k| vars.get(k).cloned())
        .unwrap()
        .expect("PULUMI_MONITOR is set");
    assert_eq!(env.monitor, "127.0.0.1:41235");
    assert_eq!(env.engine, host.engine.address());
    assert_eq!((env.project.as_str(), env.stack.as_str()), ("scan", "dev"));
    assert_eq!(env.organization.as_deref(), Some("acme"));
    assert_eq!(env.config["scan:cloud"], "kubernetes");
    assert_eq!(env.config["scan:apiKey"], "hunter2-secret");
    assert!(env.secret_keys.contains("scan:apiKey"));
    assert!(env.dry_run);
    assert_eq!(env.parallel, Some(8));
    assert_eq!(env.root_directory.as_deref(), Some(root.to_str().unwrap()));
    assert_eq!(vars[LOADER_ENV], "127.0.0.1:41237");
    let pwd = std::fs::read_to_string(root.join("pwd.txt")).unwrap();
    assert_eq!(pwd.trim(), root.to_str().unwrap());

    // Even at -v=9 the host logs neither config values nor the environment.
    assert!(
        !host.output().contains("hunter2"),
        "host output leaks a secret"
    );
}

#[tokio::test]
async fn exit_codes_map_to_success_bail_and_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut host = Host::start(&[]).await;
    for (code, bail, error_part) in [(0, false, ""), (32, true, ""), (5, false, "code 5")] {
        let program = root.join(format!("exit{code}.sh"));
        script(&program, &format!("exit {code}"));
        let r = host
            .client
            .run(run_request(root, &program))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.bail, bail, "exit {code}: {r:?}");
        assert_eq!(
            r.error.is_empty(),
            error_part.is_empty(),
            "exit {code}: {r:?}"
        );
        assert!(r.error.contains(error_part), "exit {code}: {r:?}");
    }
}

#[tokio::test]
async fn a_missing_program_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let missing = root.join("no-such-program");
    let mut host = Host::start(&[("PULUMI_CLOUD_IMPORT_PROGRAM", missing.to_str().unwrap())]).await;
    let r = host
        .client
        .run(run_request(root, Path::new("/bin/true")))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.bail);
    assert!(r.error.contains(missing.to_str().unwrap()), "{r:?}");
    assert!(r.error.contains("PULUMI_CLOUD_IMPORT_PROGRAM"), "{r:?}");
}

const TRAPPING_PROGRAM: &str = "trap 'echo interrupted > sigint.txt; exit 130' INT
echo started > started.txt
while :; do sleep 0.1; done";

#[tokio::test]
async fn a_cancelled_run_reaches_the_program_as_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let program = root.join("loop.sh");
    script(&program, TRAPPING_PROGRAM);
    let host = Host::start(&[]).await;

    let mut client = host.client.clone();
    let request = run_request(&root, &program);
    let call = tokio::spawn(async move { client.run(request).await });
    wait_for_file(&root.join("started.txt")).await;
    // Dropping the call resets the HTTP/2 stream, which is how the CLI cancels an RPC.
    call.abort();
    assert_eq!(
        wait_for_file(&root.join("sigint.txt")).await.trim(),
        "interrupted"
    );
}

#[tokio::test]
async fn the_cancel_rpc_interrupts_the_program_and_run_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let program = root.join("loop.sh");
    script(&program, TRAPPING_PROGRAM);
    let mut host = Host::start(&[]).await;

    let mut client = host.client.clone();
    let request = run_request(&root, &program);
    let call = tokio::spawn(async move { client.run(request).await });
    wait_for_file(&root.join("started.txt")).await;
    host.client.cancel(()).await.unwrap();
    let r = call.await.unwrap().unwrap().into_inner();
    assert!(r.error.contains("code 130"), "{r:?}");
    assert!(root.join("sigint.txt").exists());
}

#[tokio::test]
async fn sigint_to_the_process_group_stops_the_host() {
    let mut host = Host::start(&[]).await;
    host.client.get_plugin_info(()).await.unwrap();
    // What the CLI does when it closes a plugin.
    unsafe {
        libc::kill(-host.pid, libc::SIGINT);
    }
    let status = host.child.wait().await.unwrap();
    assert!(status.success(), "{status:?}: {}", host.output());
}

// ----- schema sources -----

fn schema_json(name: &str, version: &str) -> String {
    serde_json::json!({
        "name": name,
        "version": version,
        "resources": {
            format!("{name}:core/v1:Namespace"): {"description": "A namespace.", "inputProperties": {"metadata": {"$ref": "#/types/meta"}}},
            format!("{name}:apps/v1:Deployment"): {"description": "A deployment."}
        },
        "types": {"meta": {"type": "object"}}
    })
    .to_string()
}

#[tokio::test]
async fn schema_from_a_named_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.json");
    std::fs::write(&path, schema_json("kubernetes", "4.32.0")).unwrap();
    let store = SchemaStore::new(SchemaSources {
        file: Some(path.clone()),
        ..Default::default()
    });
    let schema = store.get("kubernetes", "4.32.0").await.unwrap();
    assert_eq!(
        schema.resource_tokens(),
        [
            "kubernetes:apps/v1:Deployment",
            "kubernetes:core/v1:Namespace"
        ]
    );
    assert_eq!(
        schema.resources["kubernetes:core/v1:Namespace"].description,
        "A namespace."
    );

    // The file is for 4.32.0 only: another version must not be read with it.
    let err = store.get("kubernetes", "4.33.0").await.unwrap_err();
    assert!(err.attempts[0].contains("4.32.0"), "{err}");
}

#[tokio::test]
async fn no_source_warns_with_all_three_remedies() {
    let dir = tempfile::tempdir().unwrap();
    let store = SchemaStore::new(SchemaSources {
        plugins_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    });
    let err = store.get("oci", "4.20.0").await.unwrap_err().to_string();
    assert!(err.contains("`pulumi up`"), "{err}");
    assert!(
        err.contains("pulumi plugin install resource oci 4.20.0"),
        "{err}"
    );
    assert!(err.contains("pulumi-cloud-import:schemaFile"), "{err}");
    assert!(err.contains("not installed"), "{err}");
}

/// Models the engine's schema loader (`pkg/codegen/schema/loader_server.go`): it answers
/// `GetSchema{package, version}` with the JSON bytes of that exact plugin's schema, and fails the
/// call when that plugin cannot be found or installed.
struct FakeLoader {
    installed: HashMap<(String, String), String>,
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Loader for FakeLoader {
    async fn get_schema(
        &self,
        request: Request<GetSchemaRequest>,
    ) -> Result<Response<GetSchemaResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let req = request.into_inner();
        match self
            .installed
            .get(&(req.package.clone(), req.version.clone()))
        {
            Some(schema) => Ok(Response::new(GetSchemaResponse {
                schema: schema.clone().into_bytes(),
            })),
            None => Err(Status::unknown(format!(
                "could not find plugin {} {}",
                req.package, req.version
            ))),
        }
    }
}

#[tokio::test]
async fn schema_from_the_engine_loader_is_fetched_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let loader = FakeLoader {
        installed: HashMap::from([(
            ("aws-native".to_string(), "1.74.1".to_string()),
            schema_json("aws-native", "1.74.1"),
        )]),
        calls: calls.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(LoaderServer::new(loader))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let store = Arc::new(SchemaStore::new(SchemaSources::from_lookup(|k| {
        (k == LOADER_ENV).then(|| address.clone())
    })));

    let (a, b) = tokio::join!(
        store.get("aws-native", "1.74.1"),
        store.get("aws-native", "1.74.1")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(Arc::ptr_eq(&a, &b));
    assert!(a.has_resource("aws-native:apps/v1:Deployment"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let err = store
        .get("aws-native", "1.0.0")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("could not find plugin aws-native 1.0.0"),
        "{err}"
    );
}

#[tokio::test]
async fn rpcs_the_host_does_not_serve_answer_unimplemented() {
    // The CLI tolerates UNIMPLEMENTED for Handshake (used only with PULUMI_DEBUG_LANGUAGES), the
    // codegen RPCs, ...; call one by its real path, as a client built from Pulumi's full
    // language.proto would.
    let host = Host::start(&[]).await;
    let port = host.port;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/pulumirpc.LanguageRuntime/Handshake",
    );
    let result: Result<Response<()>, Status> = grpc
        .unary(
            Request::new(()),
            path,
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert_eq!(result.unwrap_err().code(), tonic::Code::Unimplemented);
}
