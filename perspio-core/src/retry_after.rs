//! The value of a `Retry-After` header (RFC 9110 §10.2.3), read once for the whole stack.
//!
//! The API's answers (`perspio-policy`, `perspio-api`) and the token endpoint's
//! (`perspio-auth`) are read by this one function, so a value means the same wait everywhere.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use perspio_core::retry_after::parse;
//!
//! let now = SystemTime::now();
//! assert_eq!(parse("120", now), Some(Duration::from_secs(120)));
//! assert_eq!(parse("soon", now), None);
//! assert_eq!(parse("-5", now), None);
//! ```

use std::time::{Duration, SystemTime};

/// The wait `value` advises, relative to `now`: a number of seconds (`120`, digits only; one
/// too large for a `u64` is [`Duration::MAX`], a wait longer than any cap, not garbage) or an
/// HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`; a date in the past means
/// [`Duration::ZERO`]). `None` when the value is neither (empty, negative, fractional, signed,
/// not a date): the caller then uses its own backoff and, when it shows the value, says it was
/// unusable rather than echoing it. A wait can be any length: add it to an `Instant` with
/// [`clock::later`](crate::clock::later).
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: only too many of them fails to parse.
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A wait for people: `0 s`, `400 ms`, `1.5 s`, `42 s`, `3 min`, `2 h 5 min`, `12 days`.
pub fn describe(wait: Duration) -> String {
    let secs = wait.as_secs();
    if secs == 0 && !wait.is_zero() {
        return format!("{} ms", wait.as_millis().max(1));
    }
    if secs < 10 && wait.subsec_millis() != 0 {
        return format!("{:.1} s", wait.as_secs_f64());
    }
    match secs {
        0..120 => format!("{secs} s"),
        120..7_200 => format!("{} min", secs.div_ceil(60)),
        7_200..172_800 => match (secs / 3600, (secs % 3600).div_ceil(60)) {
            (hours, 0) => format!("{hours} h"),
            (hours, minutes) => format!("{hours} h {minutes} min"),
        },
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seconds_and_dates_are_read_and_everything_else_is_unusable() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(parse(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(parse("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse("Wed, 21 Oct 2026 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        // More seconds than a `u64` holds: longer than any cap, not unusable.
        assert_eq!(parse("99999999999999999999999", now), Some(Duration::MAX));
        for value in ["soon", "-5", "+5", "1.5", "", "5 s"] {
            assert_eq!(parse(value, now), None, "{value:?}");
        }
    }

    #[test]
    fn waits_are_described_in_the_unit_people_use() {
        assert_eq!(describe(Duration::ZERO), "0 s");
        assert_eq!(describe(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(describe(Duration::from_millis(400)), "400 ms");
        assert_eq!(describe(Duration::from_micros(10)), "1 ms");
        assert_eq!(describe(Duration::from_secs(42)), "42 s");
        assert_eq!(describe(Duration::from_secs(3600)), "60 min");
        assert_eq!(describe(Duration::from_secs(7_500)), "2 h 5 min");
        assert_eq!(describe(Duration::from_secs(10 * 86_400)), "10 days");
    }
}
