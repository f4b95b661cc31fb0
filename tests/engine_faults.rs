//! End to end, with faults: the built program scans a fake Kubernetes API server (the real `kube`
//! client) into a fake Pulumi engine (real tonic) that ends the update mid-run, dies mid-run, or is
//! not there at all; and a listing task that crashes.

mod support;

use std::time::{Duration, Instant};

use support::fake_kube::{FakeKube, FakeObject, FakeType, KubeOptions};
use support::fake_monitor::{Call, FakeMonitor, MonitorOptions};
use support::program::{self, host_env};

const VERBS: &[&str] = &["get", "list", "watch"];

/// ConfigMaps and Deployments in a few namespaces: enough that listing them at 20 per page takes far
/// longer than the cancel, so a listing that keeps going shows in the API server's log.
fn big_cluster(n: usize) -> KubeOptions {
    let t = |group, kind, plural| FakeType {
        group,
        version: "v1",
        kind,
        plural,
        namespaced: true,
        verbs: VERBS,
    };
    let mut o = KubeOptions {
        types: vec![
            t("", "ConfigMap", "configmaps"),
            t("apps", "Deployment", "deployments"),
        ],
        ..Default::default()
    };
    let objects = |prefix: &str| -> Vec<FakeObject> {
        (0..n)
            .map(|i| FakeObject::ns(&format!("team-{}", i % 7), &format!("{prefix}-{i:05}")))
            .collect()
    };
    o.objects.insert("configmaps", objects("cm"));
    o.objects.insert("deployments", objects("web"));
    o
}

struct Run {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

async fn run_against(kube: &FakeKube, monitor: &FakeMonitor, extra: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let mut env = host_env(monitor, &[("cloud", "kubernetes"), ("pageSize", "20")]);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    let started = Instant::now();
    let out = program::run(&[], &env, home.path()).await;
    Run {
        code: out.code,
        stderr: out.stderr,
        took: started.elapsed(),
    }
}

fn logs(monitor: &FakeMonitor, severity: i32) -> Vec<String> {
    monitor
        .logs()
        .into_iter()
        .filter(|l| l.severity == severity)
        .map(|l| l.message)
        .collect()
}

/// "discovered D, read R, failed F, skipped S, pending P" from the final line.
fn counts(line: &str) -> [u64; 5] {
    let line = &line[line.find("discovered ").expect("a summary line")..];
    let num = |key: &str| -> u64 {
        let at = line
            .find(&format!("{key} "))
            .unwrap_or_else(|| panic!("{key} in {line}"));
        line[at + key.len() + 1..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    ["discovered", "read", "failed", "skipped", "pending"].map(num)
}

/// Listing must stop within a second of the engine ending the update.
fn assert_listing_stopped(kube: &FakeKube, ended: Instant) {
    let rec = kube.record();
    let late: Vec<&String> = rec
        .times
        .iter()
        .zip(&rec.requests)
        .filter(|(t, _)| **t > ended + Duration::from_secs(1))
        .map(|(_, r)| r)
        .collect();
    assert!(
        late.is_empty(),
        "kube requests >1s after the cancel: {late:?}"
    );
    // 2 x 3000 objects at 20 per page is 300 list calls; a run that kept listing makes them all.
    assert!(rec.requests.len() < 100, "{} requests", rec.requests.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_cancelling_the_update_ends_the_run() {
    let kube = FakeKube::start(big_cluster(3000)).await;
    let monitor = FakeMonitor::start(MonitorOptions {
        latency: Duration::from_millis(20),
        cancel_after_reads: Some(10),
        ..Default::default()
    })
    .await;
    // Three workers, whatever the engine's parallelism: the bound on reads racing the cancel.
    let run = run_against(&kube, &monitor, &[("PULUMI_CLOUD_IMPORT_WORKERS", "3")]).await;
    assert_eq!(run.code, Some(32), "stderr: {}", run.stderr);
    assert!(run.took < Duration::from_secs(20), "took {:?}", run.took);

    let rec = monitor.record();
    let (ended, _) = rec.ended.expect("the fake ended the update");
    // Only reads the program had already sent may race the cancel (at most WORKERS = 3); nothing
    // else reaches the monitor afterwards.
    let late_reads = rec
        .after_end
        .iter()
        .filter(|m| *m == "ReadResource")
        .count();
    assert!(late_reads <= 3, "{:?}", rec.after_end);
    assert!(
        rec.after_end.iter().all(|m| m == "ReadResource"),
        "{:?}",
        rec.after_end
    );
    assert!(!rec
        .calls
        .iter()
        .any(|c| matches!(c, Call::Outputs(_) | Call::Shutdown)));
    let done = rec.reads_done.len() as u64;
    drop(rec);
    assert_listing_stopped(&kube, ended);

    let errors = logs(&monitor, 3);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("the engine ended the update") && errors[0].contains("Unavailable"),
        "{errors:?}"
    );
    // Nothing is blamed on a type, and reads the engine never ran are not failures.
    let warnings = logs(&monitor, 2);
    assert!(warnings.is_empty(), "{warnings:?}");
    let [discovered, read, failed, skipped, pending] = counts(&errors[0]);
    assert_eq!(failed, 0);
    assert_eq!(pending, 0);
    assert_eq!(read, done, "read exactly what the engine finished");
    assert!(skipped >= 1, "the cancelled read itself is skipped");
    assert_eq!(discovered, read + failed + skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_dying_ends_the_run() {
    let kube = FakeKube::start(big_cluster(3000)).await;
    let monitor = FakeMonitor::start(MonitorOptions {
        latency: Duration::from_millis(20),
        die_after_reads: Some(10),
        ..Default::default()
    })
    .await;
    let run = run_against(&kube, &monitor, &[]).await;
    assert_eq!(run.code, Some(32), "stderr: {}", run.stderr);
    assert!(run.took < Duration::from_secs(20), "took {:?}", run.took);
    let (ended, _) = monitor.record().ended.expect("the fake died");
    assert_listing_stopped(&kube, ended);
    // The engine's Log service died with it: the one error line goes to stderr.
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("error: the engine ended the update"),
        "{}",
        run.stderr
    );
    let [discovered, read, failed, skipped, pending] = counts(lines[0]);
    assert_eq!((failed, pending), (0, 0), "{}", lines[0]);
    assert_eq!(discovered, read + failed + skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_is_one_line_and_a_bail() {
    let kube = FakeKube::start(big_cluster(1)).await;
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    // A port nothing listens on: bind, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let mut env = host_env(&monitor, &[("cloud", "kubernetes")]);
    for (k, v) in env.iter_mut() {
        if k == "PULUMI_MONITOR" {
            *v = closed.to_string();
        }
    }
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    let out = program::run(&[], &env, home.path()).await;
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains(&format!("PULUMI_MONITOR={closed}")),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].to_lowercase().contains("connection refused"),
        "the cause is named: {}",
        lines[0]
    );
    assert!(monitor.record().calls.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_task_that_panics_makes_the_scan_incomplete() {
    let kube = FakeKube::start(big_cluster(30)).await;
    let monitor = FakeMonitor::start(MonitorOptions::default()).await;
    // The debug build's fault hook panics the Kubernetes listing when it reaches this type.
    let run = run_against(
        &kube,
        &monitor,
        &[("PULUMI_CLOUD_IMPORT_TEST_PANIC", "apps/v1/Deployment")],
    )
    .await;
    assert_eq!(run.code, Some(32), "stderr: {}", run.stderr);
    let rec = monitor.record();
    assert!(
        !rec.calls.iter().any(|c| matches!(c, Call::Shutdown)),
        "a crashed scan must not let the engine discard state"
    );
    drop(rec);
    let errors = logs(&monitor, 3);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("discovery was incomplete") && e.contains("panicked")),
        "{errors:?}"
    );
}

/// A read the engine never answers (its provider's API call hangs) is given up after `readTimeout`:
/// counted as failed with the reason, its worker freed, and every other object still read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_never_answers_times_out_and_the_run_goes_on() {
    let kube = FakeKube::start(big_cluster(10)).await;
    let monitor = FakeMonitor::start(MonitorOptions {
        stalled_ids: ["team-3/cm-00003".to_string()].into(),
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let mut env = host_env(
        &monitor,
        &[
            ("cloud", "kubernetes"),
            ("readTimeout", "2s"),
            ("workers", "1"),
        ],
    );
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    let started = Instant::now();
    let out = program::run(&[], &env, home.path()).await;
    let took = started.elapsed();
    // One worker: a stalled read that held it would stop everything behind it.
    assert!(took < Duration::from_secs(12), "took {took:?}");
    assert!(took >= Duration::from_secs(2), "took {took:?}");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let outputs = monitor
        .record()
        .calls
        .iter()
        .find_map(|c| match c {
            Call::Outputs(o) => o.outputs.clone(),
            _ => None,
        })
        .expect("stack outputs");
    let outputs = support::checks::to_json(&outputs);
    assert_eq!(
        (&outputs["discovered"], &outputs["read"], &outputs["failed"]),
        (&20.0.into(), &19.0.into(), &1.0.into()),
        "{outputs}"
    );
    let reasons = &outputs["types"]["kubernetes:core/v1:ConfigMap"]["reasons"];
    assert_eq!(reasons["timed out after 2 s"], 1.0, "{outputs}");
}

/// A list call the API server never answers is given up after `readTimeout`, retried by the shared
/// policy, and then reported: the run ends incomplete (exit 32) with everything else read, instead
/// of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_call_that_never_answers_makes_the_scan_incomplete_not_a_hang() {
    let mut opts = big_cluster(5);
    opts.stalled.insert("deployments");
    let kube = FakeKube::start(opts).await;
    let monitor = FakeMonitor::start(MonitorOptions {
        previous: support::fake_monitor::PreviousStack::New,
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kube.write_kubeconfig(home.path(), "prod");
    let mut env = host_env(&monitor, &[("cloud", "kubernetes"), ("readTimeout", "1")]);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    let started = Instant::now();
    let out = program::run(&[], &env, home.path()).await;
    let took = started.elapsed();
    assert_eq!(out.code, Some(32), "stderr: {}", out.stderr);
    // 5 attempts of 1 s each plus the backoff between them.
    assert!(took < Duration::from_secs(40), "took {took:?}");
    let errors = logs(&monitor, 3);
    assert!(
        errors.iter().any(|e| e.contains("apps/v1/Deployment")),
        "{errors:?}"
    );
    let configmaps = monitor
        .reads()
        .into_iter()
        .filter(|r| r.r#type == "kubernetes:core/v1:ConfigMap")
        .count();
    assert_eq!(configmaps, 5, "every other object is read");
}
