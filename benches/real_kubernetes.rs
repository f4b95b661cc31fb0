//! Benchmark (not a test) against the real peers: a real kube-apiserver filled with N objects, our
//! `--list` beside `kubectl get <every listable type> -A -o name` (what a user would otherwise run),
//! and `pulumi up` of the whole cluster through the stock CLI and the real Kubernetes provider, with
//! `PULUMI_SKIP_CHECKPOINTS` on and off. Prints one table; asserts nothing about speed.
//!
//! `cargo bench --bench real_kubernetes` (sizes: `-- 1000 10000`; default 1000). Needs the peers
//! from `tests/real/build.sh`. Checkpointed `pulumi up` rewrites the whole state file per read, so
//! it is only run up to `PCI_BENCH_CHECKPOINT_MAX` objects (default 2000); `pulumi up` at all only up
//! to `PCI_BENCH_UP_MAX` (default 2000: the real provider reads about 20 objects/s here).

#[path = "../tests/real_support/mod.rs"]
mod real_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use real_support::cluster::Cluster;
use real_support::pulumi::Workspace;
use real_support::{Peers, PROGRAM};

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() { vec![1000] } else { sizes };
    let checkpoint_max: usize = std::env::var("PCI_BENCH_CHECKPOINT_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let up_max: usize = std::env::var("PCI_BENCH_UP_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let Some(peers) = Peers::locate("bench real_kubernetes") else {
        return;
    };
    println!(
        "| objects created | listed | tool | wall | peak RSS | reads/s |\n|---|---|---|---|---|---|"
    );
    for size in sizes {
        let cluster = Cluster::start(&peers);
        populate(&cluster, size);
        list(&peers, &cluster, size);
        kubectl_get(&cluster, size);
        for skip_checkpoints in [true, false] {
            if size > up_max {
                println!("| {size} | | pulumi up | skipped (> PCI_BENCH_UP_MAX) | | |");
                break;
            }
            if !skip_checkpoints && size > checkpoint_max {
                println!("| {size} | | pulumi up, checkpoints on | skipped (> PCI_BENCH_CHECKPOINT_MAX) | | |");
                continue;
            }
            pulumi_up(&peers, &cluster, size, skip_checkpoints);
        }
    }
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

/// Runs a direct child to its end; returns (wall, peak RSS in MiB, stdout).
// The child is reaped by wait4 below, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn measure(cmd: &mut Command) -> (Duration, f64, String) {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own un-waited child; status and usage are valid out-pointers. wait4 is
    // used instead of std's wait because only it reports the child's own peak RSS.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4");
    let wall = started.elapsed();
    let out = reader.join().unwrap();
    assert_eq!(status, 0, "{cmd:?} failed");
    (wall, usage.ru_maxrss as f64 / 1024.0, out)
}

fn list(peers: &Peers, cluster: &Cluster, size: usize) {
    let home = tempfile::tempdir().unwrap();
    let (wall, rss, out) = measure(
        Command::new(PROGRAM)
            .args([
                "--list",
                "--cloud",
                "kubernetes",
                "--provider-version",
                &peers.provider_version,
            ])
            .env_clear()
            .env("HOME", home.path())
            .env("KUBECONFIG", &cluster.reader),
    );
    let n = out.lines().count();
    row(size, n, "pulumi-cloud-import --list", wall, rss, None);
}

fn kubectl_get(cluster: &Cluster, size: usize) {
    let names = cluster.kubectl_ok(&["api-resources", "--verbs=list", "-o", "name"]);
    let names: Vec<&str> = names.lines().filter(|l| !l.is_empty()).collect();
    let (wall, rss, out) = measure(
        Command::new("kubectl")
            .args(["get", &names.join(","), "-A", "-o", "name"])
            .env("KUBECONFIG", &cluster.reader),
    );
    row(
        size,
        out.lines().count(),
        "kubectl get <every type> -A -o name",
        wall,
        rss,
        None,
    );
}

fn pulumi_up(peers: &Peers, cluster: &Cluster, size: usize, skip_checkpoints: bool) {
    let ws = Workspace::new(peers, &cluster.reader);
    ws.init_stack("bench");
    ws.config_set("bench", "pulumi-cloud-import:workers", "16");
    let mut cmd = ws.command(&[
        "up",
        "--stack",
        "bench",
        "--skip-preview",
        "--continue-on-error",
        "--yes",
        "--non-interactive",
        "--parallel",
        "16",
    ]);
    if skip_checkpoints {
        cmd.env("PULUMI_SKIP_CHECKPOINTS", "true");
    }
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(program_peak_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let (wall, _, _) = measure(&mut cmd);
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let outputs = ws.outputs("bench");
    let read = outputs["read"].as_u64().unwrap_or(0) as usize;
    let tool = if skip_checkpoints {
        "pulumi up, PULUMI_SKIP_CHECKPOINTS=true"
    } else {
        "pulumi up, checkpoints on"
    };
    let rss = peak.load(Ordering::Relaxed) as f64 / 1024.0;
    row(
        size,
        read,
        tool,
        wall,
        rss,
        Some(read as f64 / wall.as_secs_f64()),
    );
}

/// The peak RSS (VmHWM, KiB) of the running `pulumi-cloud-import`, found under /proc: it is the
/// language host's child, two levels below the CLI, so wait4 on the CLI does not report it.
fn program_peak_kib() -> u64 {
    let mut peak = 0;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let exe = std::fs::read_link(path.join("exe")).unwrap_or_default();
        if exe != Path::new(PROGRAM) {
            continue;
        }
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        if let Some(kib) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
    }
    peak
}

fn row(size: usize, n: usize, tool: &str, wall: Duration, rss: f64, rate: Option<f64>) {
    let rate = rate.map(|r| format!("{r:.0}")).unwrap_or_default();
    println!(
        "| {size} | {n} | {tool} | {:.2}s | {rss:.1} MiB | {rate} |",
        wall.as_secs_f64()
    );
}
