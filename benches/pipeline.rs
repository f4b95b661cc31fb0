//! Benchmark (not a test): pushes synthetic resources through the real pipeline and engine sink to
//! the fake Pulumi engine over loopback gRPC, and prints wall time, reads/s, peak in-flight reads and
//! peak RSS. Run with `cargo bench --bench pipeline` (`-- 20000` for fewer resources).
//!
//! The fake engine runs in this process and keeps a URN table for its duplicate check, so the RSS
//! printed is an upper bound for the program itself.

#[path = "../tests/support/fake_monitor.rs"]
#[allow(dead_code)]
mod fake_monitor;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cloud_import::discover::{Discovered, ProviderSpec, ScanEvent};
use cloud_import::filter::TypeFilter;
use cloud_import::pipeline::Pipeline;
use cloud_import::pulumi::{client, env::PulumiEnv};
use cloud_import::report::Reporter;
use cloud_import::sink::engine::EngineSink;
use cloud_import::sink::Sink;
use fake_monitor::{FakeMonitor, MonitorOptions};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A scanner stand-in: `n` resources over 50 types, produced lazily as the pipeline pulls them.
fn synthetic(n: usize) -> futures::stream::BoxStream<'static, ScanEvent> {
    futures::stream::iter((0..n).map(|i| {
        let token = format!("kubernetes:bench.example.com/v1:Kind{}", i % 50);
        ScanEvent::Found(Discovered::new(
            token,
            format!("ns-{}/object-{i:07}", i % 97),
            "bench",
            "bench",
        ))
    }))
    .boxed()
}

async fn run(n: usize, workers: usize, latency: Duration) {
    let monitor = FakeMonitor::start(MonitorOptions {
        parallel: 4 * workers.max(1),
        latency,
        record_calls: false,
        ..Default::default()
    })
    .await;
    let env = PulumiEnv::from_lookup(|k| match k {
        "PULUMI_MONITOR" => Some(monitor.monitor_addr.to_string()),
        "PULUMI_ENGINE" => Some(monitor.engine_addr.to_string()),
        "PULUMI_PROJECT" => Some("pulumi-cloud-import".into()),
        "PULUMI_STACK" => Some("dev".into()),
        _ => None,
    })
    .unwrap()
    .unwrap();
    let channel = client::channel(&env.monitor).await.unwrap();
    let engine = client::channel(&env.engine).await.unwrap();
    let mut sink = EngineSink::new(
        client::monitor(channel),
        &env,
        std::time::Duration::from_secs(60),
    );
    let provider = ProviderSpec {
        package: "kubernetes".into(),
        name: "bench".into(),
        version: "4.32.0".into(),
        inputs: Default::default(),
    };
    sink.start(&provider).await.unwrap();
    let pipeline = Pipeline {
        workers,
        filter: TypeFilter::all(),
        sink: Arc::new(sink),
        reporter: Arc::new(Reporter::engine(client::engine(engine), false)),
        grace: Duration::ZERO,
        withheld: &[],
        large_scan: None,
    };
    let start = Instant::now();
    let ran = pipeline.run(synthetic(n), CancellationToken::new()).await;
    let wall = start.elapsed();
    let totals = ran.summary.totals();
    assert_eq!(totals.read as usize, n, "every resource must be read");
    let bound = latency.as_secs_f64() * n as f64 / workers as f64;
    println!(
        "resources {n:>7}  workers {workers:>3}  read latency {:>3} ms  wall {:>7.2} s  (latency bound {:>6.2} s)  reads/s {:>8.0}  peak in-flight {:>3}  peak RSS {:>6.1} MiB",
        latency.as_millis(),
        wall.as_secs_f64(),
        bound,
        n as f64 / wall.as_secs_f64(),
        monitor.max_in_flight(),
        peak_rss_mib(),
    );
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run(n, 3, Duration::ZERO).await;
        run(n, 32, Duration::ZERO).await;
        run(n / 10, 32, Duration::from_millis(10)).await;
    });
}
