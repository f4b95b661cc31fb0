//! A fake AWS account for tests and benchmarks: Cloud Control (`ListResources`) and the
//! CloudFormation registry (`ListTypes`, `DescribeType`), each on its own loopback HTTP server, spoken
//! to by the real aws-sdk clients.
//!
//! What it models of the real services:
//! - Cloud Control speaks AWS JSON 1.0: `POST /` with `X-Amz-Target: CloudApiService.ListResources`
//!   and `Content-Type: application/x-amz-json-1.0`; errors are HTTP 400 (5xx for internal errors)
//!   with `{"__type": ..., "Message": ...}`. It ignores `MaxResults`: each type's list handler picks
//!   its own page sizes. A type without a list handler answers `UnsupportedActionException`; a type
//!   whose handler needs properties answers `InvalidRequestException` without a `ResourceModel`.
//! - CloudFormation speaks awsQuery: form-encoded `Action=...&Version=2010-05-15`, XML answers wrapped
//!   in `<XResponse><XResult>`, errors as `<ErrorResponse><Error><Code>`; `ListTypes` pages with
//!   `NextToken` and honours its filters (visibility, type, provisioning type, category), so a client
//!   that forgets one gets extra types; `DescribeType` returns the schema as a JSON string.
//! - Both throttle above a configurable request rate per second (token bucket, one second of burst),
//!   Cloud Control with `ThrottlingException`, CloudFormation with `Throttling`.
//! - Both reject requests without a SigV4 `Authorization` header for the expected access key and
//!   service, as AWS does (`MissingAuthenticationTokenException` / `IncompleteSignature`).

#![allow(dead_code, unused_imports)]

pub mod model;
pub mod org;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use model::{Account, FakeType, Res};

/// The access key the fake accepts (with any secret: it checks the header's shape, not the HMAC).
pub const ACCESS_KEY: &str = "AKIDFAKEAWSTESTKEY01";

/// Counters the tests look at.
#[derive(Default)]
pub struct Stats {
    pub cc_requests: AtomicU64,
    pub cfn_requests: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    pub unsigned_rejected: AtomicU64,
    /// Requests being answered right now, and the most at once.
    pub in_flight: AtomicU64,
    pub peak_in_flight: AtomicU64,
    /// `DescribeType` calls per type.
    pub described: Mutex<BTreeMap<String, u64>>,
    /// `ListResources` calls per type.
    pub listed: Mutex<BTreeMap<String, u64>>,
    /// Regions seen in SigV4 credential scopes, per service.
    pub regions: Mutex<BTreeMap<String, u64>>,
}

pub struct Shared {
    pub account: Account,
    /// The access key whose signatures this account accepts.
    pub access_key: String,
    pub stats: Stats,
    pub cc_bucket: Mutex<Bucket>,
    pub cfn_bucket: Mutex<Bucket>,
    /// Remaining 5xx answers per type (a burst), decremented per request.
    pub failures_left: Mutex<HashMap<String, u64>>,
}

/// Requests-per-second limiter with one second of burst, as AWS's per-API limits behave.
pub struct Bucket {
    rate: f64,
    tokens: f64,
    at: std::time::Instant,
}

/// Counts a request as in flight until dropped.
pub struct InFlight<'a>(&'a Stats);

impl<'a> InFlight<'a> {
    pub fn enter(stats: &'a Stats) -> Self {
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(stats)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Bucket {
    pub fn new(rate: f64) -> Self {
        Bucket {
            rate,
            tokens: rate,
            at: std::time::Instant::now(),
        }
    }
    pub fn take(&mut self) -> bool {
        let now = std::time::Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.rate);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The running fake.
pub struct FakeAws {
    pub cloudcontrol_url: String,
    pub cloudformation_url: String,
    pub shared: Arc<Shared>,
}

impl FakeAws {
    /// Starts both services for `account`, each allowing `rate` requests/s.
    pub async fn start(account: Account, rate: f64) -> FakeAws {
        Self::start_for_key(account, rate, ACCESS_KEY).await
    }

    /// Like [`FakeAws::start`], accepting the access key `key` (an account of a fake organization).
    pub async fn start_for_key(account: Account, rate: f64, key: &str) -> FakeAws {
        let failures_left = account
            .types
            .values()
            .filter(|t| t.fail_5xx > 0)
            .map(|t| (t.name.clone(), t.fail_5xx))
            .collect();
        let shared = Arc::new(Shared {
            account,
            access_key: key.to_string(),
            stats: Stats::default(),
            cc_bucket: Mutex::new(Bucket::new(rate)),
            cfn_bucket: Mutex::new(Bucket::new(rate)),
            failures_left: Mutex::new(failures_left),
        });
        let cc = serve(wire::cloudcontrol_router(shared.clone())).await;
        let cfn = serve(wire::cloudformation_router(shared.clone())).await;
        FakeAws {
            cloudcontrol_url: format!("http://{cc}"),
            cloudformation_url: format!("http://{cfn}"),
            shared,
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    pub fn count(c: &AtomicU64) -> u64 {
        c.load(Ordering::SeqCst)
    }
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("fake AWS server");
    });
    addr
}
