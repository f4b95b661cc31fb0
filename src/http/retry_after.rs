//! `Retry-After` (RFC 9110 §10.2.3): a number of seconds or an HTTP date. Every cloud's throttle
//! answer is read through here, so a service that asks for a pause gets it whichever cloud it is.

use std::time::{Duration, SystemTime};

/// A service asking for longer than this is not waited for in one go: the retry budget bounds the
/// total, and a scan must not sit silent for an hour on one header.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

/// The wait a `Retry-After` value asks for, measured from `now`; `None` when it is not a valid value.
/// A date in the past means "now".
pub fn parse_at(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    let wait = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let when = httpdate::parse_http_date(v).ok()?;
        when.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_WAIT))
}

/// [`parse_at`] from the current time.
pub fn parse(value: &str) -> Option<Duration> {
    parse_at(value, SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_dates_and_junk() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(parse_at("17", now), Some(Duration::from_secs(17)));
        assert_eq!(parse_at(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_at("Wed, 21 Oct 2015 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_at("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_at("86400", now), Some(MAX_WAIT));
        assert_eq!(parse_at("soon", now), None);
        assert_eq!(parse_at("-1", now), None);
    }
}
