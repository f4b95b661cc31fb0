//! The API server's `Retry-After`, which kube's error type drops: API Priority and Fairness and the
//! max-in-flight filter answer 429 with the header and a plain-text body, so the `Status` kube builds
//! carries no wait. This client layer reads the header of every 429 and 503 (seconds or an HTTP date, through
//! the shared `http::retry_after`) and pauses the scan's rate governor for that long, so the retry
//! that follows, and every other list in flight, waits as the server asked.

use std::sync::Arc;

use tower::util::MapResponseLayer;

use crate::retry::RateGovernor;

/// The layer for `kube::client::ClientBuilder::with_layer`.
pub fn layer<B>(
    governor: Arc<RateGovernor>,
) -> MapResponseLayer<impl Fn(http::Response<B>) -> http::Response<B> + Clone> {
    MapResponseLayer::new(move |response: http::Response<B>| {
        // 503 too: an API server that is starting or overloaded says when to come back.
        if matches!(
            response.status(),
            http::StatusCode::TOO_MANY_REQUESTS | http::StatusCode::SERVICE_UNAVAILABLE
        ) {
            let wait = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::http::retry_after::parse);
            if let Some(wait) = wait {
                governor.pause_for(wait);
            }
        }
        response
    })
}
