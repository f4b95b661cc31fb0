//! Benchmark (not a test) against the real peers: a real kube-apiserver filled with N ConfigMaps,
//! our `--list` beside `kubectl get <every listable type> -A -o name`, then the read rate of
//! `pulumi up` through the stock CLI and the real Kubernetes provider, side by side:
//!
//! 1. ours, `readInputs=none` (the provider imports each object, as the original did): slow, so
//!    only up to `PCI_BENCH_SLOW_MAX` objects (default 2000);
//! 2. ours, the fast path (`readInputs=identity`), `PULUMI_SKIP_CHECKPOINTS=true`, the program's
//!    own defaults otherwise (its `workers` follow the CLI's `--parallel`);
//! 3. the same with per-read checkpoints, which are quadratic on the file backend: only up to
//!    `PCI_BENCH_CHECKPOINT_MAX` objects (default 2000);
//! 4. the fast path on the s3 and postgres backends (file is row 2), when they can be started;
//! 5. the original's stand-in, the Go program `../shared/peers/go-readall`, with identityProps
//!    false (the original's way; slow, capped like 1) and true.
//!
//! Each row has reads/s and the wall of `pulumi up`, and the CPU seconds and peak RSS of every
//! process of the run (the program, the CLI, the provider, the API server), then a short "targets"
//! block computed from the tables. Asserts nothing about speed.
//!
//! `cargo bench --bench real_kubernetes -- 1000 10000` (default: 1000). Needs the peers from
//! `tests/real/build.sh`; skips, saying so, without them.

#[path = "../tests/real_support/mod.rs"]
mod real_support;

#[path = "real_support_bench/go_readall.rs"]
mod go_readall;
#[path = "real_support_bench/procs.rs"]
mod procs;
#[path = "real_support_bench/report.rs"]
mod report;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use real_support::backends::{Backend, BackendKind};
use real_support::cluster::Cluster;
use real_support::pulumi::Workspace;
use real_support::{Peers, PROGRAM};
use report::{Outcome, Row, Run};

const STACK: &str = "bench";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() { vec![1000] } else { sizes };
    let slow_max = env_usize("PCI_BENCH_SLOW_MAX", 2000);
    let checkpoint_max = env_usize("PCI_BENCH_CHECKPOINT_MAX", 2000);
    let Some(peers) = Peers::locate("bench real_kubernetes") else {
        return;
    };
    let go = go_readall::build();
    if let Err(why) = &go {
        eprintln!("go-readall rows skipped: {why}");
    }
    let mut all = Vec::new();
    for size in sizes {
        let load = loadavg();
        let cluster = Cluster::start(&peers);
        populate(&cluster, size);
        let bench = Bench {
            peers: &peers,
            cluster: &cluster,
            size,
            apiserver: procs::apiserver_pid(cluster.dir()),
        };
        if bench.apiserver.is_none() {
            eprintln!("kube-apiserver's pid not found: its column stays empty");
        }
        let mut rows = Vec::new();
        let (list_row, ndjson) = bench.list();
        rows.push(list_row);
        rows.push(bench.kubectl_get());

        let slow = |run: Run| Row {
            size,
            run,
            outcome: Outcome::Skipped("skipped (> PCI_BENCH_SLOW_MAX)".into()),
        };
        let none = Run::Ours {
            read_inputs: "none",
            checkpoints: false,
            backend: "file".into(),
            extra: "",
        };
        rows.push(if size > slow_max {
            slow(none)
        } else {
            bench.ours(none, None)
        });
        rows.push(bench.ours(Run::fast("file"), None));
        for extra in ["second run", "--parallel 32"] {
            let run = Run::Ours {
                read_inputs: "identity",
                checkpoints: false,
                backend: "file".into(),
                extra,
            };
            rows.push(bench.ours(run, None));
        }
        let checkpointed = Run::Ours {
            read_inputs: "identity",
            checkpoints: true,
            backend: "file".into(),
            extra: "",
        };
        rows.push(if size > checkpoint_max {
            Row {
                size,
                run: checkpointed,
                outcome: Outcome::Skipped("skipped (> PCI_BENCH_CHECKPOINT_MAX)".into()),
            }
        } else {
            bench.ours(checkpointed, None)
        });
        for kind in BackendKind::ALL {
            if kind.name() == "file" {
                continue; // row 2
            }
            let dir = tempfile::tempdir().expect("temp dir");
            let run = Run::fast(kind.name());
            rows.push(match Backend::start(kind, dir.path()) {
                Some(backend) => bench.ours(run, Some(&backend)),
                None => Row {
                    size,
                    run,
                    outcome: Outcome::Skipped("skipped (backend could not be started)".into()),
                },
            });
        }
        for identity in [false, true] {
            let run = Run::GoReadall { identity };
            rows.push(match &go {
                Err(_) => Row {
                    size,
                    run,
                    outcome: Outcome::Skipped("skipped (go-readall not available)".into()),
                },
                Ok(_) if !identity && size > slow_max => slow(run),
                Ok(binary) => bench.go_readall(binary, &ndjson, identity),
            });
        }
        report::table(size, &rows, &load);
        all.extend(rows);
    }
    report::targets(&all);
}

/// The 1-minute load average (other work on the machine slows every row).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}

/// `size` ConfigMaps spread over 10 namespaces, created with one `kubectl create` per 500.
fn populate(cluster: &Cluster, size: usize) {
    let started = Instant::now();
    for ns in 0..10 {
        cluster.kubectl_ok(&["create", "namespace", &format!("bench-{ns}")]);
    }
    let mut items = Vec::new();
    let flush = |items: &mut Vec<serde_json::Value>| {
        if items.is_empty() {
            return;
        }
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
        let file = cluster.dir().join("bench-objects.json");
        std::fs::write(&file, list.to_string()).unwrap();
        cluster.kubectl_ok(&["create", "-f", &file.display().to_string()]);
        items.clear();
    };
    for i in 0..size {
        items.push(serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": format!("bench-{i:06}"), "namespace": format!("bench-{}", i % 10)},
            "data": {"index": i.to_string(), "payload": "x".repeat(200)},
        }));
        if items.len() == 500 {
            flush(&mut items);
        }
    }
    flush(&mut items);
    eprintln!(
        "created {size} objects in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// One size's cluster and what every row needs of it.
struct Bench<'a> {
    peers: &'a Peers,
    cluster: &'a Cluster,
    size: usize,
    apiserver: Option<i32>,
}

impl Bench<'_> {
    fn row(&self, run: Run, m: &procs::Measured, count: usize, note: String) -> Row {
        if m.code != Some(0) {
            eprintln!(
                "{} exited {:?}; last lines:\n{}\n{}",
                run.label(),
                m.code,
                tail(&m.stdout),
                tail(&m.stderr)
            );
        }
        Row {
            size: self.size,
            run,
            outcome: Outcome::Done {
                count,
                wall: m.wall,
                code: m.code,
                usages: m.usages.clone(),
                note,
            },
        }
    }

    /// Our `--list`; also returns its NDJSON (go-readall's object list).
    fn list(&self) -> (Row, String) {
        let home = tempfile::tempdir().unwrap();
        let load = loadavg();
        let m = procs::run(
            Command::new(PROGRAM)
                .args([
                    "--list",
                    "--cloud",
                    "kubernetes",
                    "--provider-version",
                    &self.peers.provider_version,
                ])
                .env_clear()
                .env("HOME", home.path())
                .env("KUBECONFIG", &self.cluster.reader),
            self.apiserver,
        );
        let n = m.stdout.lines().count();
        let row = self.row(Run::List, &m, n, format!("load {load}"));
        (row, m.stdout)
    }

    fn kubectl_get(&self) -> Row {
        let names = self
            .cluster
            .kubectl_ok(&["api-resources", "--verbs=list", "-o", "name"]);
        let names: Vec<&str> = names.lines().filter(|l| !l.is_empty()).collect();
        let load = loadavg();
        let m = procs::run(
            Command::new("kubectl")
                .args(["get", &names.join(","), "-A", "-o", "name"])
                .env("KUBECONFIG", &self.cluster.reader),
            self.apiserver,
        );
        let n = m.stdout.lines().count();
        self.row(Run::Kubectl, &m, n, format!("load {load}"))
    }

    /// `pulumi up` of our program, as the README runs it, with the program's defaults but
    /// `readInputs` (so neither `workers` nor `--parallel`: the CLI's default decides both).
    fn ours(&self, run: Run, backend: Option<&Backend>) -> Row {
        let Run::Ours {
            read_inputs,
            checkpoints,
            extra,
            ..
        } = &run
        else {
            unreachable!("ours runs our program")
        };
        let extra = *extra;
        let ws = match backend {
            Some(b) => Workspace::with_backend(self.peers, &self.cluster.reader, b),
            None => Workspace::new(self.peers, &self.cluster.reader),
        };
        ws.init_stack(STACK);
        ws.config_set(STACK, "pulumi-cloud-import:readInputs", read_inputs);
        let skip = !checkpoints;
        let mut args = Vec::new();
        match extra {
            "" => {}
            "second run" => {
                // The stack the first run made, read again: what every scheduled re-scan does.
                let first = self.up(&ws, run.clone(), skip, &[], String::new());
                eprintln!("  (first run: {:?})", first.rate());
            }
            parallel => args.extend(parallel.split_whitespace()),
        }
        self.up(&ws, run.clone(), skip, &args, String::new())
    }

    /// go-readall under our language host, on the same cluster, CLI and provider, reading the
    /// objects our `--list` found.
    fn go_readall(&self, binary: &Path, list_ndjson: &str, identity: bool) -> Row {
        let ws = Workspace::new(self.peers, &self.cluster.reader);
        std::fs::write(
            ws.project.join("Pulumi.yaml"),
            go_readall::project_yaml(binary),
        )
        .unwrap();
        let objects = ws.project.join("objects.tsv");
        std::fs::write(&objects, go_readall::objects_file(list_ndjson)).unwrap();
        ws.run(&["stack", "init", STACK, "--non-interactive"])
            .ok("pulumi stack init");
        ws.config_set(STACK, "go-readall:objects", &objects.display().to_string());
        ws.config_set(
            STACK,
            "go-readall:providerVersion",
            &self.peers.provider_version,
        );
        ws.config_set(STACK, "go-readall:identityProps", &identity.to_string());
        // The original ran with no bound but the engine's; here the engine's is the CLI default.
        let note = "--parallel: CLI default (the original: unbounded)".to_string();
        self.up(&ws, Run::GoReadall { identity }, true, &[], note)
    }

    fn up(
        &self,
        ws: &Workspace,
        run: Run,
        skip_checkpoints: bool,
        extra_args: &[&str],
        note: String,
    ) -> Row {
        let mut args = vec![
            "up",
            "--stack",
            STACK,
            "--skip-preview",
            "--continue-on-error",
            "--yes",
            "--non-interactive",
        ];
        args.extend_from_slice(extra_args);
        let mut cmd = ws.command(&args);
        if skip_checkpoints {
            cmd.env("PULUMI_SKIP_CHECKPOINTS", "true");
        }
        let load = loadavg();
        eprintln!("{}: {} ...", self.size, run.label());
        let m = procs::run(&mut cmd, self.apiserver);
        // Not `ws.outputs`: a failed update must still give a row, not end the bench.
        let out = ws.run(&["stack", "output", "--json", "--stack", STACK]);
        let read = serde_json::from_str::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["read"].as_u64())
            .unwrap_or(0) as usize;
        let note = [format!("load {load}"), note]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let row = self.row(run, &m, read, note);
        if let Some(rate) = row.rate() {
            eprintln!("  {read} read in {:.1}s: {rate:.1}/s", m.wall.as_secs_f64());
        }
        row
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
