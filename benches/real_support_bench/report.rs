//! The benchmark's output: one markdown table per size, then the "targets" computed from them
//! (printed, never asserted: this is a benchmark).

use std::time::Duration;

use crate::procs::{Usages, APISERVER, NAMES};

/// What a row measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Run {
    List,
    Kubectl,
    /// Our program under `pulumi up`.
    Ours {
        read_inputs: &'static str,
        checkpoints: bool,
        backend: String,
        /// A variation of the run: "" (as the README runs it), `--parallel N` (the CLI's flag, so
        /// the program's workers follow it), or `second run` (again over the stack just made).
        extra: &'static str,
    },
    /// go-readall under `pulumi up` (skip-checkpoints, file backend).
    GoReadall {
        identity: bool,
    },
}

impl Run {
    pub fn label(&self) -> String {
        match self {
            Run::List => "pulumi-cloud-import --list".into(),
            Run::Kubectl => "kubectl get <every type> -A -o name".into(),
            Run::Ours {
                read_inputs,
                checkpoints,
                backend,
                extra,
            } => {
                let mut label = format!(
                    "ours, readInputs={read_inputs}, checkpoints {}, {backend}",
                    if *checkpoints { "on" } else { "skipped" }
                );
                if !extra.is_empty() {
                    label.push_str(&format!(", {extra}"));
                }
                label
            }
            Run::GoReadall { identity } => {
                format!("go-readall, identityProps={identity}, checkpoints skipped, file")
            }
        }
    }

    /// The fast path with skipped checkpoints on `backend`.
    pub fn fast(backend: &str) -> Run {
        Run::Ours {
            read_inputs: "identity",
            checkpoints: false,
            backend: backend.to_string(),
            extra: "",
        }
    }
}

pub enum Outcome {
    Skipped(String),
    Done {
        /// Objects read (the stack output `read`) or, for a listing, listed.
        count: usize,
        wall: Duration,
        code: Option<i32>,
        usages: Usages,
        note: String,
    },
}

pub struct Row {
    pub size: usize,
    pub run: Run,
    pub outcome: Outcome,
}

impl Row {
    fn done(&self) -> Option<(usize, Duration, &Usages)> {
        match &self.outcome {
            Outcome::Done {
                count,
                wall,
                usages,
                ..
            } => Some((*count, *wall, usages)),
            Outcome::Skipped(_) => None,
        }
    }

    fn is_read(&self) -> bool {
        !matches!(self.run, Run::List | Run::Kubectl)
    }

    pub fn rate(&self) -> Option<f64> {
        let (count, wall, _) = self.done()?;
        self.is_read()
            .then(|| count as f64 / wall.as_secs_f64().max(1e-9))
    }

    fn cpu(&self, name: &str) -> Option<f64> {
        Some(self.done()?.2.get(name)?.cpu_s)
    }

    fn total_cpu(&self) -> Option<f64> {
        Some(self.done()?.2.values().map(|u| u.cpu_s).sum())
    }
}

pub fn table(size: usize, rows: &[Row], load: &str) {
    // Only the processes some row of this size saw get a column.
    let names: Vec<&str> = NAMES
        .iter()
        .copied()
        .filter(|n| {
            rows.iter()
                .any(|r| r.done().is_some_and(|d| d.2.contains_key(n)))
        })
        .collect();
    println!("\n### {size} objects created (load before: {load})\n");
    print!("| run | read | wall | reads/s |");
    for n in &names {
        print!(" {n} |");
    }
    println!(" total CPU | note |");
    println!(
        "|---|---:|---:|---:|{}---:|---|",
        "---|".repeat(names.len())
    );
    for row in rows {
        let label = row.run.label();
        match &row.outcome {
            Outcome::Skipped(why) => {
                println!("| {label} | | {why} | |{} | |", " |".repeat(names.len()));
            }
            Outcome::Done {
                count,
                wall,
                code,
                usages,
                note,
            } => {
                let count = if row.is_read() {
                    count.to_string()
                } else {
                    format!("{count} listed")
                };
                let rate = row.rate().map(|r| format!("{r:.1}")).unwrap_or_default();
                print!(
                    "| {label} | {count} | {:.1}s | {rate} |",
                    wall.as_secs_f64()
                );
                for n in &names {
                    match usages.get(n) {
                        Some(u) if u.processes > 1 => print!(
                            " {:.1}s, {:.0} MiB (x{}) |",
                            u.cpu_s, u.rss_mib, u.processes
                        ),
                        Some(u) => print!(" {:.1}s, {:.0} MiB |", u.cpu_s, u.rss_mib),
                        None => print!(" |"),
                    }
                }
                let mut note = note.clone();
                if *code != Some(0) {
                    note = format!("exit {code:?}; {note}");
                }
                println!(" {:.1}s | {note} |", row.total_cpu().unwrap_or(0.0));
            }
        }
    }
    println!(
        "\nProcess cells: CPU seconds, peak RSS (summed over the executable's processes, xN when \
         there were several; {APISERVER}: its CPU during the run and largest RSS seen in it). \
         reads/s = stack output `read` / wall of `pulumi up`."
    );
}

pub fn targets(rows: &[Row]) {
    println!("\n### targets (computed, not asserted)\n");
    let find = |size: usize, run: &Run| rows.iter().find(|r| r.size == size && &r.run == run);
    let mut sizes: Vec<usize> = rows.iter().map(|r| r.size).collect();
    sizes.dedup();
    let fast = Run::fast("file");
    let original = Run::GoReadall { identity: false };

    let both = sizes
        .iter()
        .rev()
        .find_map(|&s| Some((s, find(s, &fast)?.rate()?, find(s, &original)?.rate()?)));
    match both {
        Some((s, ours, go)) => println!(
            "- fast path / go-readall(identityProps=false) at {s}: {ours:.1} / {go:.1} reads/s = {:.1}x",
            ours / go
        ),
        None => println!("- fast path / go-readall(identityProps=false): no size measured by both"),
    }

    for &s in &sizes {
        let Some(row) = find(s, &fast) else { continue };
        if let (Some(ours), Some(total)) = (row.cpu("pulumi-cloud-import"), row.total_cpu()) {
            println!(
                "- our program's CPU share of the fast run at {s}: {ours:.1}s of {total:.1}s = {:.0}%",
                100.0 * ours / total.max(1e-9)
            );
        }
    }

    let rss = |s: usize| {
        let (_, _, u) = find(s, &fast)?.done()?;
        Some(u.get("pulumi-cloud-import")?.rss_mib)
    };
    let measured: Vec<usize> = sizes
        .iter()
        .copied()
        .filter(|&s| rss(s).is_some())
        .collect();
    if let (Some(&lo), Some(&hi)) = (measured.first(), measured.last()) {
        if lo != hi {
            let (a, b) = (rss(lo).unwrap(), rss(hi).unwrap());
            println!(
                "- our program's peak RSS, fast path, {hi} vs {lo}: {b:.0} / {a:.0} MiB = {:.2}x",
                b / a
            );
        }
    }

    println!(
        "- CPU seconds per 1000 resources read (fast path, checkpoints skipped; flat = good):\n"
    );
    println!("| backend | objects | read | all processes | pulumi-cloud-import | pulumi |");
    println!("|---|---:|---:|---:|---:|---:|");
    for backend in ["file", "s3", "postgres"] {
        for &s in &sizes {
            let Some(row) = find(s, &Run::fast(backend)) else {
                continue;
            };
            let Some((read, _, _)) = row.done() else {
                continue;
            };
            let per = |cpu: Option<f64>| {
                cpu.map(|c| format!("{:.2}", c * 1000.0 / read.max(1) as f64))
                    .unwrap_or_default()
            };
            println!(
                "| {backend} | {s} | {read} | {} | {} | {} |",
                per(row.total_cpu()),
                per(row.cpu("pulumi-cloud-import")),
                per(row.cpu("pulumi")),
            );
        }
    }
}
