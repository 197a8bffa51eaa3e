//! What the client is doing, on stderr: one line per retry by default; `-v`/`-vv`/`-vvv` more.
//!
//! Only this workspace's crates log (`perspio_auth`, `perspio_api`, and this binary, `perspio`): the HTTP
//! libraries below them are not enabled, so no header can be printed. perspio-auth records a
//! token acquisition in an `acquire_token` span (reason `initial`/`proactive`/`expired`/
//! `invalidated-401`, outcome, duration, Entra trace ids); its close is printed, so a fetched
//! or refreshed token shows as one line. perspio-auth never logs a secret or a token.
//!
//! Without `-v`, a call that retries is not silent: every retry of the API call (the
//! `perspio_policy` event `retrying request`) and of the token request (`perspio_auth`'s
//! `token request failed; retrying`) prints one line saying what went wrong and when the next
//! attempt follows, such as `perspio: attempt 1 of 4 timed out; attempt 2 in 400 ms`.
//!
//! Nor is a wait for the rate limiter: when stderr is a terminal, the `perspio_policy` event
//! `waiting for a rate-limit slot` prints `perspio: waiting 42 s: rate limit 20 / 90 s` (the
//! documented window the wait fits in). A wait for the server's `Retry-After` is the retry
//! notice above (`attempt 1 of 4 was answered 429; attempt 2 in 42 s`). Both come from the
//! policy's tracing events, so the library prints nothing itself.

use std::fmt;
use std::io::{IsTerminal, Write as _};
use std::time::Duration;

use perspio_core::retry_after::describe;
use perspio_core::text;
use perspio_policy::{Limit, RateLimit};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the stderr logger for `verbosity` (the number of `-v`); 0 prints retry notices
/// only, and rate-limit waits when stderr is a terminal.
pub(crate) fn init(verbosity: u8) {
    let level = match verbosity {
        0 => {
            let waits = std::io::stderr().is_terminal();
            let policy = if waits { Level::INFO } else { Level::WARN };
            let targets = Targets::new()
                .with_target("perspio_policy", policy)
                .with_target("perspio_auth::token_endpoint", Level::DEBUG);
            let _ = tracing_subscriber::registry()
                .with(RetryNotices { waits }.with_filter(targets))
                .try_init();
            return;
        }
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::new(format!(
        "perspio_auth={level},perspio_policy={level},perspio_api={level},perspio={level}"
    ));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_span_events(FmtSpan::CLOSE)
        .compact()
        .try_init();
}

/// Prints one line on stderr per retry event, and per rate-limit wait when `waits`.
struct RetryNotices {
    /// Whether rate-limit waits are announced (stderr is a terminal).
    waits: bool,
}

impl<S: Subscriber> Layer<S> for RetryNotices {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = notice(&fields).or_else(|| {
            self.waits
                .then(|| wait_notice(&fields, &RateLimit::perspio_documented()))
                .flatten()
        });
        if let Some(line) = line {
            let _ = writeln!(
                std::io::stderr().lock(),
                "perspio: {}",
                text::message(&line)
            );
        }
    }
}

/// The fields a notice is made of.
#[derive(Debug, Default)]
struct Fields {
    message: String,
    reason: Option<String>,
    status: Option<u64>,
    attempt: Option<u64>,
    max_attempts: Option<u64>,
    delay_ms: Option<u64>,
    /// `delay`, recorded as the `Debug` text of a `Duration` (`42.000s`, `400ms`).
    delay: Option<String>,
    error: Option<String>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "status" => self.status = Some(value),
            "attempt" => self.attempt = Some(value),
            "max_attempts" => self.max_attempts = Some(value),
            "delay_ms" => self.delay_ms = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(value) = u64::try_from(value) {
            self.record_u64(field, value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "reason" {
            self.reason = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "error" => self.error = Some(format!("{value:?}")),
            "delay" => self.delay = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

/// The line for a retry event, `None` for any other event.
fn notice(fields: &Fields) -> Option<String> {
    let (attempt, delay) = (fields.attempt?, describe_ms(fields.delay_ms?));
    let of = fields
        .max_attempts
        .map(|max| format!(" of {max}"))
        .unwrap_or_default();
    match fields.message.as_str() {
        "retrying request" => {
            let what = match (fields.reason.as_deref(), fields.status) {
                (Some("timeout"), _) => "timed out".to_owned(),
                (Some("connect-error"), _) => "could not connect".to_owned(),
                (Some("connection-error"), _) => "lost the connection".to_owned(),
                (_, Some(status)) => format!("was answered {status}"),
                (Some(reason), None) => format!("failed ({reason})"),
                (None, None) => "failed".to_owned(),
            };
            Some(format!(
                "attempt {attempt}{of} {what}; attempt {} in {delay}",
                attempt + 1
            ))
        }
        "token request failed; retrying" => Some(format!(
            "token request {attempt}{of} failed ({}); request {} in {delay}",
            fields
                .error
                .as_deref()
                .map(text::remote)
                .unwrap_or_default(),
            attempt + 1
        )),
        _ => None,
    }
}

fn describe_ms(ms: u64) -> String {
    describe(std::time::Duration::from_millis(ms))
}

/// The shortest rate-limit wait announced: a shorter one is not mistaken for a hang.
const MIN_NOTICED_WAIT: Duration = Duration::from_secs(1);

/// The line for a rate-limit wait (`waiting 42 s: rate limit 20 / 90 s`), `None` for any
/// other event or a wait under [`MIN_NOTICED_WAIT`]. `limits` are the CLI's; the wait is named after the shortest window it fits
/// in (a longer wait can only be the hourly quota, or a pause a server's `Retry-After` asked
/// for).
fn wait_notice(fields: &Fields, limits: &RateLimit) -> Option<String> {
    if fields.message != "waiting for a rate-limit slot" {
        return None;
    }
    let wait = debug_duration(fields.delay.as_deref()?)?;
    if wait < MIN_NOTICED_WAIT {
        return None;
    }
    let mut windows: Vec<_> = limits.limits().to_vec();
    windows.sort_by_key(Limit::per);
    let why = match windows
        .iter()
        .find(|limit| wait <= limit.per() + limits.guard())
    {
        Some(limit) => format!(
            "rate limit {} / {}",
            thousands(u64::from(limit.requests())),
            per(limit.per())
        ),
        None => {
            let mut quotas: Vec<String> = windows
                .iter()
                .map(|limit| {
                    format!(
                        "{} / {}",
                        thousands(u64::from(limit.requests())),
                        per(limit.per())
                    )
                })
                .collect();
            if let Some(bandwidth) = limits.bandwidth() {
                quotas.push(format!(
                    "{} MB / {}",
                    thousands(bandwidth.bytes() / 1_000_000),
                    per(bandwidth.per())
                ));
            }
            format!("rate limits {}", quotas.join(", "))
        }
    };
    // Rounded up: a person told 41 s who waits 41.7 s thinks it hangs.
    let shown = if wait >= Duration::from_secs(1) && wait.subsec_nanos() > 0 {
        Duration::from_secs(wait.as_secs() + 1)
    } else {
        wait
    };
    Some(format!("waiting {}: {why}", describe(shown)))
}

/// `90 s`, `h` (for one hour), `2 h`.
fn per(window: Duration) -> String {
    let seconds = window.as_secs();
    match (seconds / 3600, seconds % 3600, window.subsec_nanos()) {
        (1, 0, 0) => "h".to_owned(),
        (hours, 0, 0) if hours > 1 => format!("{hours} h"),
        _ => describe(window),
    }
}

/// `10000` → `10,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The `Debug` text of a `Duration` (`42s`, `41.9998s`, `400ms`, `12.5µs`, `0ns`) read back.
fn debug_duration(text: &str) -> Option<Duration> {
    let (number, scale) = [("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)]
        .iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, *scale)))?;
    let seconds = number.parse::<f64>().ok()? * scale;
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_timed_out_attempt_is_announced_with_the_next_one() {
        let fields = Fields {
            message: "retrying request".into(),
            reason: Some("timeout".into()),
            attempt: Some(1),
            max_attempts: Some(4),
            delay_ms: Some(400),
            ..Fields::default()
        };
        assert_eq!(
            notice(&fields).as_deref(),
            Some("attempt 1 of 4 timed out; attempt 2 in 400 ms")
        );
        let throttled = Fields {
            reason: Some("retry-after".into()),
            status: Some(429),
            delay_ms: Some(3000),
            ..fields
        };
        assert_eq!(
            notice(&throttled).as_deref(),
            Some("attempt 1 of 4 was answered 429; attempt 2 in 3 s")
        );
    }

    #[test]
    fn a_rate_limit_wait_names_the_window_it_fits_in() {
        let limits = RateLimit::perspio_documented();
        let wait = |delay: Duration| {
            wait_notice(
                &Fields {
                    message: "waiting for a rate-limit slot".into(),
                    delay: Some(format!("{delay:?}")),
                    ..Fields::default()
                },
                &limits,
            )
        };
        assert_eq!(
            wait(Duration::from_millis(41_700)).as_deref(),
            Some("waiting 42 s: rate limit 20 / 90 s")
        );
        assert_eq!(
            wait(Duration::from_millis(900)),
            None,
            "too short to matter"
        );
        assert_eq!(
            wait(Duration::from_secs(91)).as_deref(),
            Some("waiting 91 s: rate limit 20 / 90 s")
        );
        assert_eq!(
            wait(Duration::from_secs(600)).as_deref(),
            Some("waiting 10 min: rate limit 10,000 / h")
        );
        assert_eq!(
            wait(Duration::from_secs(7200)).as_deref(),
            Some("waiting 2 h: rate limits 20 / 90 s, 10,000 / h, 40 MB / h")
        );
        let retry = Fields {
            message: "retrying request".into(),
            delay: Some("1s".into()),
            ..Fields::default()
        };
        assert_eq!(wait_notice(&retry, &limits), None);
    }

    #[test]
    fn durations_are_read_back_from_their_debug_text() {
        for duration in [
            Duration::ZERO,
            Duration::from_nanos(7),
            Duration::from_micros(12_500),
            Duration::from_millis(400),
            Duration::from_millis(41_999),
            Duration::from_secs(3600),
        ] {
            let back = debug_duration(&format!("{duration:?}")).unwrap();
            assert!(
                back.abs_diff(duration) < Duration::from_micros(1),
                "{duration:?}"
            );
        }
        assert_eq!(debug_duration("soon"), None);
    }

    #[test]
    fn other_events_are_not_announced() {
        let fields = Fields {
            message: "request refused".into(),
            ..Fields::default()
        };
        assert_eq!(notice(&fields), None);
    }
}
