//! AWS scanner benchmark: a fake account of 2,000 types and 20,000 resources behind Cloud Control
//! and CloudFormation fakes that allow 25 requests/s and answer a listing in 200 ms, scanned with
//! the default settings. Prints
//! wall time against the lower bound the limit allows ((successful API calls - the first second's
//! burst) / 25), throttles hit,
//! the peak number of requests in flight at the fake, and the process's peak RSS.
//!
//! `cargo bench --bench aws` (AWS_BENCH_TYPES / AWS_BENCH_PER_TYPE change the size,
//! AWS_BENCH_SCANNER_RATE the scanner's `rateLimit`).

#[path = "../tests/fake_aws/mod.rs"]
mod fake_aws;

use std::time::Instant;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_cloudcontrol::config::Credentials;
use cloud_import::clouds::aws::{AwsOptions, AwsScanner, Endpoints};
use cloud_import::discover::{ScanEvent, Scanner};
use fake_aws::{Account, FakeAws, FakeType, ACCESS_KEY};
use futures::StreamExt;

const RATE: f64 = 25.0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() {
    let types = env_usize("AWS_BENCH_TYPES", 2_000);
    let per_type = env_usize("AWS_BENCH_PER_TYPE", 10);
    let mut account = Account {
        list_types_page: Some(100),
        // Cloud Control answers take a while; listings overlap to keep up with the rate.
        list_latency: Some(std::time::Duration::from_millis(200)),
        ..Account::default()
    };
    // Uneven page sizes, as Cloud Control's handlers pick their own: all at once, 4, 3-then-7.
    let shapes: [&[usize]; 4] = [&[100], &[100], &[4], &[3, 7]];
    for i in 0..types {
        account.add(
            FakeType::new(&format!("AWS::Bench{}::Type{i}", i % 97))
                .with_resources("Id", &format!("r{i}"), per_type)
                .pages(shapes[i % shapes.len()]),
        );
    }
    let fake = FakeAws::start(account, RATE).await;
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new(
            ACCESS_KEY,
            "fake-secret",
            None,
            None,
            "bench",
        ))
        .load()
        .await;
    let scanner = AwsScanner::from_sdk_config(
        &sdk,
        AwsOptions {
            // AWS_BENCH_SCANNER_RATE above 25 shows what learning the limit from throttles costs.
            rate_limit: std::env::var("AWS_BENCH_SCANNER_RATE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(RATE),
            ..AwsOptions::default()
        },
        Endpoints {
            cloudcontrol: Some(fake.cloudcontrol_url.clone()),
            cloudformation: Some(fake.cloudformation_url.clone()),
        },
    )
    .await
    .expect("scanner");

    let start = Instant::now();
    let events: Vec<ScanEvent> = Box::new(scanner).discover().collect().await;
    let wall = start.elapsed().as_secs_f64();

    let found = events
        .iter()
        .filter(|e| matches!(e, ScanEvent::Found(_)))
        .count();
    let incomplete = events
        .iter()
        .filter(|e| matches!(e, ScanEvent::Incomplete { .. }))
        .count();
    let stats = fake.stats();
    let requests = FakeAws::count(&stats.cc_requests) + FakeAws::count(&stats.cfn_requests);
    let throttled = FakeAws::count(&stats.throttled);
    let needed = requests - throttled;
    // The fake's buckets start full (one second of burst each for Cloud Control and CloudFormation).
    let bound = (needed as f64 - RATE).max(0.0) / RATE;
    println!("aws scan: {types} types, {found} resources found ({incomplete} incomplete)");
    println!(
        "  wall {wall:.1} s vs lower bound {bound:.1} s (({needed} successful calls - {RATE} burst) / {RATE} req/s): {:.0}% of the bound",
        100.0 * bound / wall
    );
    println!(
        "  throttles hit: {throttled} of {requests} requests; peak in flight at the fake: {}",
        FakeAws::count(&stats.peak_in_flight)
    );
    match peak_rss_kib() {
        Some(kib) => println!("  peak RSS: {:.1} MiB", kib as f64 / 1024.0),
        None => println!("  peak RSS: unavailable"),
    }
    assert_eq!(found, types * per_type, "resources missing");
}
