//! Reading the `Retry-After` header (RFC 9110 §10.2.3).

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::RETRY_AFTER;

/// The wait a server advises in `Retry-After`, relative to `now`.
///
/// Accepts both forms RFC 9110 allows: a number of seconds (`120`) and an HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`). A date in the past means "now": [`Duration::ZERO`].
/// Returns `None` when the header is absent or unusable (the rules of
/// [`perspio_core::retry_after::parse`], shared with the token endpoint), so the caller can
/// fall back to its own backoff.
///
/// Public so that a client crate can expose the advised wait of a `429` handed back to its
/// caller.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::{HeaderMap, HeaderValue, header::RETRY_AFTER};
/// use perspio_policy::parse_retry_after;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(RETRY_AFTER, HeaderValue::from_static("42"));
/// assert_eq!(parse_retry_after(&headers, SystemTime::now()), Some(Duration::from_secs(42)));
/// ```
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    perspio_core::retry_after::parse(headers.get(RETRY_AFTER)?.to_str().ok()?, now)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn seconds_are_read_as_a_duration() {
        let now = SystemTime::now();
        assert_eq!(
            parse_retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after(&headers(" 0 "), now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn an_http_date_is_read_relative_to_now() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after(&headers("Wed, 21 Oct 2026 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn an_http_date_in_the_past_means_no_wait() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after(&headers("Wed, 21 Oct 2026 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_negative_fractional_and_missing_values_are_none() {
        let now = SystemTime::now();
        for value in ["soon", "-5", "1.5", "", "99999999999999999999999"] {
            assert_eq!(parse_retry_after(&headers(value), now), None, "{value:?}");
        }
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }
}
