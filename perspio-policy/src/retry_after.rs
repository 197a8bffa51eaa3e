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
        for value in ["soon", "-5", "1.5", ""] {
            assert_eq!(parse_retry_after(&headers(value), now), None, "{value:?}");
        }
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn any_header_bytes_give_a_wait_or_none_and_never_panic(
                raw in prop::collection::vec(any::<u8>(), 0..64),
                now in 0u64..=253_402_300_799,
            ) {
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
                if let Ok(value) = HeaderValue::from_bytes(&raw) {
                    let mut headers = HeaderMap::new();
                    headers.insert(RETRY_AFTER, value);
                    let _ = parse_retry_after(&headers, now);
                }
            }

            #[test]
            fn any_text_is_read_only_as_whole_seconds_or_an_http_date(text in any::<String>()) {
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
                let parsed = perspio_core::retry_after::parse(&text, now);
                let trimmed = text.trim();
                if parsed.is_some() && !trimmed.bytes().all(|b| b.is_ascii_digit()) {
                    prop_assert!(httpdate::parse_http_date(trimmed).is_ok(), "{text:?}");
                }
                if trimmed.starts_with(['-', '+']) || trimmed.contains('.') && trimmed.len() < 8 {
                    prop_assert_eq!(parsed, None, "{:?}", text);
                }
            }

            #[test]
            fn whole_seconds_are_that_many_seconds(seconds in any::<u64>(), pad in "[ \t]{0,3}") {
                let value = format!("{pad}{seconds}{pad}");
                prop_assert_eq!(
                    perspio_core::retry_after::parse(&value, SystemTime::now()),
                    Some(Duration::from_secs(seconds))
                );
            }

            #[test]
            fn an_http_date_is_the_wait_until_it_and_the_past_is_no_wait(
                now in 0u64..=253_402_000_000,
                offset in -100_000i64..100_000,
            ) {
                let now_time = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
                let at = now.saturating_add_signed(offset);
                let date = httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(at));
                let expected = Duration::from_secs(at.saturating_sub(now));
                prop_assert_eq!(perspio_core::retry_after::parse(&date, now_time), Some(expected));
            }
        }
    }
}
