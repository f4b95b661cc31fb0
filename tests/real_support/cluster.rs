//! A real control plane for one test: started by `tests/real/cluster.sh`, stopped when dropped, with
//! kubectl helpers as the cluster admin (who applies the fixture) and waits for what the controllers
//! create.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{script, Output, Peers};

/// Pods the fixture's workloads make (web 2, api 1, db 1, the Job's 1) plus the bare Pod `lonely`.
pub const FIXTURE_PODS: usize = 6;

pub struct Cluster {
    dir: tempfile::TempDir,
    /// The cluster admin's kubeconfig (fixtures, changes between runs).
    pub admin: PathBuf,
    /// The read-only service account the tool scans with.
    pub reader: PathBuf,
}

impl Cluster {
    /// Starts a control plane from the binaries `peers` found (cluster.sh finds them itself, through
    /// the same `build.sh --print`).
    pub fn start(peers: &Peers) -> Cluster {
        assert!(peers.kube_dir.join("kube-apiserver").is_file());
        let dir = tempfile::Builder::new()
            .prefix("pci-real-cluster")
            .tempdir()
            .expect("temp dir");
        Output::of(Command::new(script("cluster.sh")).arg("up").arg(dir.path()))
            .ok("tests/real/cluster.sh up");
        Cluster {
            admin: dir.path().join("admin.kubeconfig"),
            reader: dir.path().join("reader.kubeconfig"),
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// kubectl as the cluster admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Output::of(
            Command::new("kubectl")
                .args(args)
                .env("KUBECONFIG", &self.admin),
        )
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        self.kubectl(args)
            .ok(&format!("kubectl {}", args.join(" ")))
            .stdout
    }

    pub fn apply(&self, file: &Path) {
        self.kubectl_ok(&["apply", "-f", &file.display().to_string()]);
    }

    /// What the second-run stages change between two runs: `team-a/web-settings` deleted,
    /// `team-b/added-later` (`colour: green`) created, `team-b/api-settings`' endpoint changed to
    /// `https://changed.example.invalid`.
    pub fn change_fixture(&self) {
        self.kubectl_ok(&["delete", "configmap", "web-settings", "-n", "team-a"]);
        self.kubectl_ok(&[
            "create",
            "configmap",
            "added-later",
            "-n",
            "team-b",
            "--from-literal=colour=green",
        ]);
        self.kubectl_ok(&[
            "patch",
            "configmap",
            "api-settings",
            "-n",
            "team-b",
            "--type=merge",
            "-p",
            r#"{"data":{"endpoint":"https://changed.example.invalid"}}"#,
        ]);
    }

    /// The fixture: CRDs (waited for until established), then the objects.
    pub fn apply_fixture(&self) {
        Output::of(
            Command::new(script("cluster.sh"))
                .arg("fixture")
                .arg(self.dir()),
        )
        .ok("tests/real/cluster.sh fixture");
    }

    /// `kubectl get <what> -A -o json` items.
    pub fn items(&self, what: &str) -> Vec<Value> {
        let out = self.kubectl_ok(&["get", what, "-A", "-o", "json"]);
        let v: Value = serde_json::from_str(&out).expect("kubectl -o json");
        v["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the controllers have done what the fixture implies: Pods of every Deployment and
    /// StatefulSet, `kube-root-ca.crt` and the `default` ServiceAccount in every namespace, the token
    /// Secret filled in, and EndpointSlices for the Services with selectors. The comparison with state is exact, so
    /// it must not race the controllers.
    pub fn wait_settled(&self, pods: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let namespaces = self.items("namespaces").len();
            let root_cas = self
                .items("configmaps")
                .iter()
                .filter(|c| c["metadata"]["name"] == "kube-root-ca.crt")
                .count();
            let defaults = self
                .items("serviceaccounts")
                .iter()
                .filter(|s| s["metadata"]["name"] == "default")
                .count();
            let token_filled = self.items("secrets").iter().any(|s| {
                s["metadata"]["name"] == "deployer-token" && s["data"]["token"].is_string()
            });
            let pod_count = self.items("pods").len();
            let slices = self.items("endpointslices.discovery.k8s.io").len();
            // Services with a selector; `default/kubernetes` has none (its endpoints come from the
            // API server's reconciler, which cluster.sh turns off).
            let services = self
                .items("services")
                .iter()
                .filter(|s| s["spec"]["selector"].is_object())
                .count();
            if root_cas == namespaces
                && defaults == namespaces
                && token_filled
                && pod_count >= pods
                && slices >= services
            {
                // Controllers may still be writing status; give them a moment to go quiet.
                std::thread::sleep(Duration::from_secs(3));
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not settle in 120 s: {namespaces} namespaces, {root_cas} kube-root-ca.crt, \
                 {defaults} default ServiceAccounts, token filled {token_filled}, {pod_count}/{pods} pods, \
                 {slices} EndpointSlices for {services} Services\n{}",
                std::fs::read_to_string(self.dir().join("kube-controller-manager.log"))
                    .unwrap_or_default()
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script("cluster.sh"))
            .arg("down")
            .arg(self.dir.path())
            .status();
    }
}
