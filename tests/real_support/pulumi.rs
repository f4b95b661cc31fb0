//! The stock Pulumi CLI in an isolated, offline workspace: its own `PULUMI_HOME` (plugin cache), a
//! `file://` backend (or one of `backends`), a passphrase secrets provider, no update check and no
//! plugin downloads. The project is a copy of this repository's `Pulumi.yaml`, unchanged, with
//! `target/release` linked to the binaries cargo built for the test run, so the CLI finds our
//! language host the way a user's clone does.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::backends::Backend;
use super::{Output, Peers, LANGUAGE_HOST, ROOT};

pub struct Workspace {
    root: tempfile::TempDir,
    pub project: PathBuf,
    pulumi: PathBuf,
    kubeconfig: PathBuf,
    provider_version: String,
    /// PULUMI_BACKEND_URL, and what else the backend needs in the environment.
    backend_url: String,
    backend_env: Vec<(String, String)>,
}

impl Workspace {
    /// A project directory and Pulumi home, with the Kubernetes provider plugin installed into the
    /// plugin cache as `pulumi plugin install --file` does it (the engine then finds version
    /// `peers.provider_version` there, as it would a downloaded plugin).
    pub fn new(peers: &Peers, kubeconfig: &Path) -> Workspace {
        Workspace::create(peers, kubeconfig, None)
    }

    /// The same, keeping state in `backend` instead of the workspace's own directory.
    pub fn with_backend(peers: &Peers, kubeconfig: &Path, backend: &Backend) -> Workspace {
        Workspace::create(peers, kubeconfig, Some(backend))
    }

    fn create(peers: &Peers, kubeconfig: &Path, backend: Option<&Backend>) -> Workspace {
        let root = tempfile::Builder::new()
            .prefix("pci-real-pulumi")
            .tempdir()
            .expect("temp dir");
        let project = root.path().join("project");
        std::fs::create_dir_all(project.join("target")).unwrap();
        std::fs::copy(
            Path::new(ROOT).join("Pulumi.yaml"),
            project.join("Pulumi.yaml"),
        )
        .unwrap();
        let bin_dir = Path::new(LANGUAGE_HOST).parent().unwrap();
        std::os::unix::fs::symlink(bin_dir, project.join("target/release")).unwrap();
        std::fs::create_dir_all(root.path().join("state")).unwrap();
        let ws = Workspace {
            project,
            pulumi: peers.pulumi.clone(),
            kubeconfig: kubeconfig.to_path_buf(),
            provider_version: peers.provider_version.clone(),
            backend_url: backend.map_or_else(
                || format!("file://{}", root.path().join("state").display()),
                Backend::url,
            ),
            backend_env: backend.map(Backend::env).unwrap_or_default(),
            root,
        };
        ws.run(&[
            "plugin",
            "install",
            "resource",
            "kubernetes",
            &ws.provider_version,
            "--file",
            &peers.provider.display().to_string(),
        ])
        .ok("pulumi plugin install");
        ws
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// The CLI with the workspace's environment. Nothing of the developer's environment but PATH
    /// reaches it, so a user's Pulumi login or kubeconfig can never be touched.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.pulumi);
        cmd.args(args)
            .current_dir(&self.project)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("PULUMI_HOME", self.root.path().join("pulumi-home"))
            .env("PULUMI_BACKEND_URL", &self.backend_url)
            .envs(self.backend_env.iter().map(|(k, v)| (k, v)))
            .env("PULUMI_CONFIG_PASSPHRASE", "real-peers-test")
            .env("PULUMI_SKIP_UPDATE_CHECK", "true")
            .env("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
            // Only the plugin cache: a `pulumi-resource-kubernetes` on the developer's PATH must not
            // stand in for the one under test.
            .env("PULUMI_IGNORE_AMBIENT_PLUGINS", "true")
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Output::of(&mut self.command(args))
    }

    /// Starts the CLI without waiting, stdout piped (for interrupting it mid-run).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pulumi")
    }

    /// A new stack configured to scan the cluster with the provider version under test.
    pub fn init_stack(&self, stack: &str) {
        self.run(&["stack", "init", stack, "--non-interactive"])
            .ok("pulumi stack init");
        self.config_set(stack, "pulumi-cloud-import:cloud", "kubernetes");
        self.config_set(
            stack,
            "pulumi-cloud-import:providerVersion",
            &self.provider_version,
        );
    }

    pub fn config_set(&self, stack: &str, key: &str, value: &str) {
        self.run(&["config", "set", "--stack", stack, key, value])
            .ok("pulumi config set");
    }

    /// The README's main command.
    pub fn up(&self, stack: &str) -> Output {
        self.run(&up_args(stack))
    }

    /// `pulumi stack export` as JSON.
    pub fn export(&self, stack: &str) -> Value {
        let out = self
            .run(&["stack", "export", "--stack", stack])
            .ok("pulumi stack export");
        serde_json::from_str(&out.stdout).expect("stack export is JSON")
    }

    /// `pulumi stack output --json`.
    pub fn outputs(&self, stack: &str) -> Value {
        let out = self
            .run(&["stack", "output", "--json", "--stack", stack])
            .ok("pulumi stack output");
        serde_json::from_str(&out.stdout).expect("stack output is JSON")
    }
}

/// The resources of an exported stack.
pub fn resources(export: &Value) -> Vec<Value> {
    export["deployment"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The README's main command's arguments, made non-interactive.
pub fn up_args(stack: &str) -> [&str; 8] {
    [
        "up",
        "--stack",
        stack,
        "--skip-preview",
        "--show-reads",
        "--continue-on-error",
        "--yes",
        "--non-interactive",
    ]
}
