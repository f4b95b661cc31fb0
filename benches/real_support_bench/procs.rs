//! Per-process CPU seconds and peak memory of one benchmark run, sampled from /proc.
//!
//! A `pulumi up` is a tree of processes (the CLI, the provider plugins, our language host and the
//! program below it) that mostly exit before the CLI does, so neither `wait4` on the CLI nor one
//! reading at the end sees them: the sampler walks the tree under the command it started every
//! ~50 ms and keeps the last utime+stime and VmHWM it saw for each process. Only descendants are
//! counted, so a concurrent run (another test's `pulumi`) never leaks into the numbers. The
//! kube-apiserver runs for the whole bench: it is sampled on its own, as the CPU delta across the
//! run and the largest resident size seen during it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The executables a run reports, by basename, in table order.
pub const NAMES: &[&str] = &[
    "pulumi-cloud-import",
    "go-readall",
    "pulumi",
    "pulumi-resource-kubernetes",
    "kube-apiserver",
    "kubectl",
];
pub const APISERVER: &str = "kube-apiserver";

/// One executable's share of a run, summed over its processes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub cpu_s: f64,
    /// The sum of each process's peak RSS (for the API server: its largest RSS during the run).
    pub rss_mib: f64,
    pub processes: usize,
}

pub type Usages = BTreeMap<&'static str, Usage>;

/// A finished command: its wall time, exit code, output and the usage of its process tree.
pub struct Measured {
    pub wall: Duration,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub usages: Usages,
}

/// Runs `cmd` to its end while sampling its process tree and `apiserver`.
pub fn run(cmd: &mut Command, apiserver: Option<i32>) -> Measured {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let sampler = Sampler::start(child.id() as i32, apiserver);
    // Both pipes are drained on their own threads: a full pipe would stall the child.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = child.wait().expect("wait for the command");
    let wall = started.elapsed();
    let usages = sampler.finish();
    Measured {
        wall,
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        usages,
    }
}

/// The cluster's kube-apiserver: the pid `cluster.sh` wrote, checked to be that executable.
pub fn apiserver_pid(cluster_dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(cluster_dir.join("kube-apiserver.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (exe_name(pid) == Some(APISERVER)).then_some(pid)
}

/// Clock ticks per second, the unit of utime and stime in /proc/<pid>/stat.
fn clk_tck() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

struct Stat {
    ppid: i32,
    ticks: u64,
    start: u64,
}

fn stat(pid: i32) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields proper start after the last ')'.
    let f: Vec<&str> = s[s.rfind(')')? + 1..].split_whitespace().collect();
    // f[0] is field 3 (state); ppid is field 4, utime 14, stime 15, starttime 22.
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        ppid: f.get(1)?.parse().ok()?,
        ticks: num(11)? + num(12)?,
        start: num(19)?,
    })
}

/// A `/proc/<pid>/status` size line (`VmHWM`, `VmRSS`), in KiB.
fn status_kib(pid: i32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The process's executable, when it is one of `NAMES`.
fn exe_name(pid: i32) -> Option<&'static str> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let base = exe.file_name()?.to_str()?;
    // A binary replaced while it runs (a rebuild) reads as "<name> (deleted)".
    let base = base.strip_suffix(" (deleted)").unwrap_or(base);
    NAMES.iter().copied().find(|n| *n == base)
}

#[derive(Default)]
struct Seen {
    name: Option<&'static str>,
    ticks: u64,
    hwm_kib: u64,
}

#[derive(Default)]
struct ApiServer {
    first_ticks: Option<u64>,
    last_ticks: u64,
    max_rss_kib: u64,
}

struct Sampler {
    done: Arc<AtomicBool>,
    handle: JoinHandle<Usages>,
}

impl Sampler {
    fn start(root: i32, apiserver: Option<i32>) -> Sampler {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let handle = std::thread::spawn(move || sample(root, apiserver, &flag));
        Sampler { done, handle }
    }

    fn finish(self) -> Usages {
        self.done.store(true, Ordering::Relaxed);
        self.handle.join().expect("sampler thread")
    }
}

fn sample(root: i32, apiserver: Option<i32>, done: &AtomicBool) -> Usages {
    // Processes are keyed by (pid, start time), so a reused pid is never mistaken for a tracked one.
    let mut tree: HashSet<(i32, u64)> = HashSet::new();
    let mut seen: HashMap<(i32, u64), Seen> = HashMap::new();
    let mut api = ApiServer::default();
    if let Some(s) = stat(root) {
        tree.insert((root, s.start));
    }
    loop {
        // Read `done` before the pass, so the last pass runs after the command has exited.
        let last = done.load(Ordering::Relaxed);
        let procs: Vec<(i32, Stat)> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter_map(|pid| Some((pid, stat(pid)?)))
            .collect();
        let start_of: HashMap<i32, u64> = procs.iter().map(|(pid, s)| (*pid, s.start)).collect();
        // New descendants, to a fixed point: a whole subtree may have appeared since the last pass.
        loop {
            let before = tree.len();
            for (pid, s) in &procs {
                if let Some(parent_start) = start_of.get(&s.ppid) {
                    if tree.contains(&(s.ppid, *parent_start)) {
                        tree.insert((*pid, s.start));
                    }
                }
            }
            if tree.len() == before {
                break;
            }
        }
        for (pid, s) in &procs {
            let key = (*pid, s.start);
            if Some(*pid) == apiserver {
                api.first_ticks.get_or_insert(s.ticks);
                api.last_ticks = s.ticks;
                if let Some(kib) = status_kib(*pid, "VmRSS") {
                    api.max_rss_kib = api.max_rss_kib.max(kib);
                }
                continue;
            }
            if !tree.contains(&key) {
                continue;
            }
            let entry = seen.entry(key).or_default();
            // Re-read every pass: a forked child carries its parent's executable until it execs. An
            // exited, not yet reaped process has no exe link and no VmHWM: its last values stand.
            if let Some(name) = exe_name(*pid) {
                entry.name = Some(name);
            }
            entry.ticks = entry.ticks.max(s.ticks);
            if let Some(kib) = status_kib(*pid, "VmHWM") {
                entry.hwm_kib = entry.hwm_kib.max(kib);
            }
        }
        if last {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let tck = clk_tck();
    let mut usages = Usages::new();
    for s in seen.values() {
        let Some(name) = s.name else { continue };
        let u = usages.entry(name).or_default();
        u.cpu_s += s.ticks as f64 / tck;
        u.rss_mib += s.hwm_kib as f64 / 1024.0;
        u.processes += 1;
    }
    if let Some(first) = api.first_ticks {
        usages.insert(
            APISERVER,
            Usage {
                cpu_s: api.last_ticks.saturating_sub(first) as f64 / tck,
                rss_mib: api.max_rss_kib as f64 / 1024.0,
                processes: 1,
            },
        );
    }
    usages
}
