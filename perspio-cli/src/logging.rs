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

use std::fmt;
use std::io::{IsTerminal, Write as _};

use perspio_core::retry_after::describe;
use perspio_core::text;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the stderr logger for `verbosity` (the number of `-v`); 0 prints retry notices only.
pub(crate) fn init(verbosity: u8) {
    let level = match verbosity {
        0 => {
            let targets = Targets::new()
                .with_target("perspio_policy", Level::WARN)
                .with_target("perspio_auth::token_endpoint", Level::DEBUG);
            let _ = tracing_subscriber::registry()
                .with(RetryNotices.with_filter(targets))
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

/// Prints one line on stderr per retry event.
struct RetryNotices;

impl<S: Subscriber> Layer<S> for RetryNotices {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some(line) = notice(&fields) {
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

#[cfg(test)]
mod tests {
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
    fn other_events_are_not_announced() {
        let fields = Fields {
            message: "request refused".into(),
            ..Fields::default()
        };
        assert_eq!(notice(&fields), None);
    }
}
