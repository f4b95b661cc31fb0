//! Retries with jittered exponential backoff, and a rate governor: the two helpers every cloud
//! scanner shares, so no scanner writes its own retry loop or limiter.
//!
//! The governor is a token bucket whose rate adapts AIMD-style (additive increase on success,
//! multiplicative decrease on a throttle): it starts near a service's published or observed limit,
//! backs off when the service says "slow down", and creeps back up. One governor is shared by every
//! call a scan makes against one rate-limited scope (an AWS account-region, an ARM subscription).
//! Written by hand because the well-kept limiter crates (governor, leaky-bucket) have fixed rates.
//!
//! Which [`Verdict`] an HTTP answer gets is decided in one place for every cloud, `http::verdict`.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// How one failed attempt should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Permanent: return the error now.
    Fail,
    /// Transient (5xx, transport): retry after the backoff delay.
    Retry,
    /// The service throttled us: tell the governor, then retry; `Some` is the server's Retry-After.
    Throttled(Option<Duration>),
}

/// Bounded retries with "full jitter" exponential backoff.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Throttles are expected under load and are retried this many times on top of `max_attempts`.
    pub max_throttle_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_throttle_retries: 30,
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `attempt` (1-based): uniform in [0, min(max, base * 2^attempt)].
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let millis = cap.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=millis.max(1)))
    }

    /// Run `op` until it succeeds, fails permanently, or runs out of attempts. Before each attempt a
    /// token is taken from `governor` (when given); throttles slow the governor down.
    pub async fn run<T, E, F, Fut>(
        &self,
        governor: Option<&RateGovernor>,
        classify: impl Fn(&E) -> Verdict,
        mut op: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut failures = 0u32;
        let mut throttles = 0u32;
        loop {
            if let Some(g) = governor {
                g.acquire().await;
            }
            let err = match op().await {
                Ok(v) => {
                    if let Some(g) = governor {
                        g.on_success();
                    }
                    return Ok(v);
                }
                Err(e) => e,
            };
            match classify(&err) {
                Verdict::Fail => return Err(err),
                Verdict::Retry => {
                    failures += 1;
                    if failures >= self.max_attempts {
                        return Err(err);
                    }
                    tokio::time::sleep(self.delay(failures)).await;
                }
                Verdict::Throttled(after) => {
                    throttles += 1;
                    if throttles > self.max_throttle_retries {
                        return Err(err);
                    }
                    match governor {
                        Some(g) => g.on_throttle(after),
                        None => {
                            let wait = after.unwrap_or_else(|| self.delay(throttles));
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
            }
        }
    }
}

/// An adaptive token bucket (see the module comment).
#[derive(Debug)]
pub struct RateGovernor {
    state: Mutex<GovernorState>,
}

#[derive(Debug)]
struct GovernorState {
    rate: f64,
    min_rate: f64,
    max_rate: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
    paused_until: Instant,
    last_decrease: Instant,
    throttles: u64,
}

impl RateGovernor {
    /// A governor allowing `rate` requests/s (adapting between `rate / 20` and `max_rate`) with bursts
    /// of up to `burst` requests. The bucket starts full.
    pub fn new(rate: f64, max_rate: f64, burst: f64) -> Self {
        let now = Instant::now();
        let rate = rate.max(0.1);
        RateGovernor {
            state: Mutex::new(GovernorState {
                rate,
                min_rate: (rate / 20.0).max(0.1),
                max_rate: max_rate.max(rate),
                burst: burst.max(1.0),
                tokens: burst.max(1.0),
                refilled_at: now,
                paused_until: now,
                last_decrease: now - Duration::from_secs(60),
                throttles: 0,
            }),
        }
    }

    /// Wait for a token.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().expect("governor lock");
                let now = Instant::now();
                if now < s.paused_until {
                    s.paused_until - now
                } else {
                    let elapsed = now.saturating_duration_since(s.refilled_at).as_secs_f64();
                    s.tokens = (s.tokens + elapsed * s.rate).min(s.burst);
                    s.refilled_at = now;
                    if s.tokens >= 1.0 {
                        s.tokens -= 1.0;
                        return;
                    }
                    Duration::from_secs_f64((1.0 - s.tokens) / s.rate)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Additive increase: about +1 request/s for every second's worth of successful calls.
    pub fn on_success(&self) {
        let mut s = self.state.lock().expect("governor lock");
        s.rate = (s.rate + 1.0 / s.rate).min(s.max_rate);
    }

    /// Multiplicative decrease, at most once a second (a burst of throttles is one signal), and no
    /// requests until the server's Retry-After has passed.
    pub fn on_throttle(&self, retry_after: Option<Duration>) {
        let mut s = self.state.lock().expect("governor lock");
        let now = Instant::now();
        s.throttles += 1;
        if now.saturating_duration_since(s.last_decrease) >= Duration::from_secs(1) {
            s.rate = (s.rate * 0.7).max(s.min_rate);
            s.last_decrease = now;
        }
        s.tokens = 0.0;
        s.refilled_at = now;
        let pause = retry_after.unwrap_or_else(|| Duration::from_secs_f64(1.0 / s.rate));
        s.paused_until = s.paused_until.max(now + pause);
    }

    /// Holds every request back for `wait` (a service's `Retry-After` seen below the retry loop),
    /// without counting a throttle or changing the rate: the retry loop does that once it sees the
    /// error itself.
    pub fn pause_for(&self, wait: Duration) {
        let mut s = self.state.lock().expect("governor lock");
        let until = Instant::now() + wait;
        s.paused_until = s.paused_until.max(until);
        s.tokens = 0.0;
    }

    /// Current rate in requests/s.
    pub fn rate(&self) -> f64 {
        self.state.lock().expect("governor lock").rate
    }

    /// Throttles seen so far.
    pub fn throttles(&self) -> u64 {
        self.state.lock().expect("governor lock").throttles
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_then_gives_up() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let calls = AtomicU32::new(0);
        let out: Result<(), &str> = policy
            .run(
                None,
                |_| Verdict::Retry,
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("503")
                },
            )
            .await;
        assert_eq!(out, Err("503"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let out: Result<(), &str> = RetryPolicy::default()
            .run(
                None,
                |_| Verdict::Fail,
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("403")
                },
            )
            .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn throttles_slow_the_governor_and_eventually_succeed() {
        let gov = RateGovernor::new(20.0, 40.0, 5.0);
        let calls = AtomicU32::new(0);
        let out: Result<u32, &str> = RetryPolicy::default()
            .run(
                Some(&gov),
                |_| Verdict::Throttled(None),
                || async {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    if n < 4 {
                        Err("ThrottlingException")
                    } else {
                        Ok(n)
                    }
                },
            )
            .await;
        assert_eq!(out, Ok(4));
        assert_eq!(gov.throttles(), 4);
        assert!(gov.rate() < 20.0, "rate after throttles: {}", gov.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn governor_paces_to_its_rate() {
        let gov = RateGovernor::new(10.0, 10.0, 1.0);
        let start = Instant::now();
        for _ in 0..21 {
            gov.acquire().await;
        }
        // One token in the bucket, then 20 more at 10/s: two seconds of virtual time.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took <= Duration::from_millis(2200),
            "{took:?}"
        );
    }
}
