//! HTTP to the Entra token endpoint: its own client, retries, `Retry-After`, Entra errors.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use serde_json::Value;
use url::Url;

use crate::clock::elapsed_between;
use crate::config::TokenEndpointConfig;
use crate::credentials::{AccessToken, RefreshToken};
use crate::error::AuthError;
use perspio_core::Clock;
use perspio_core::body::{ReadError, read_limited};
use perspio_core::redact::redact_url;
use perspio_core::text;

/// The longest access token accepted, in bytes. Entra access tokens are a few kilobytes (a
/// JWT with many group claims stays under 10 KiB); a longer one would be refused by the
/// gateway's header limits anyway, after a wasted request.
pub const MAX_ACCESS_TOKEN_LEN: usize = 16 * 1024;

/// A successful answer of the token endpoint.
pub(crate) struct TokenResponse {
    pub(crate) access_token: AccessToken,
    pub(crate) expires_in: Option<Duration>,
    pub(crate) scope: Option<String>,
    pub(crate) refresh_token: Option<RefreshToken>,
    /// When the successful request was sent.
    pub(crate) issued_at: SystemTime,
}

/// The token endpoint with its own HTTP client (redirects off, short timeouts).
#[derive(Clone)]
pub(crate) struct TokenEndpoint {
    client: reqwest::Client,
    url: Url,
    config: TokenEndpointConfig,
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("url", &redact_url(&self.url))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one attempt produced, and whether another attempt may help.
struct AttemptFailure {
    error: AuthError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl TokenEndpoint {
    pub(crate) fn new(url: Url, config: TokenEndpointConfig) -> Result<Self, AuthError> {
        perspio_core::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.attempt_timeout)
            .build()
            .map_err(|e| AuthError::InvalidConfig {
                field: "token_endpoint",
                reason: format!("cannot build the http client: {e}"),
            })?;
        Ok(Self {
            client,
            url,
            config,
        })
    }

    /// POSTs `form` (never logged, never part of an error) with retries for transient failures.
    pub(crate) async fn request_token(
        &self,
        form: &[(&str, &str)],
        clock: &dyn Clock,
    ) -> Result<TokenResponse, AuthError> {
        let deadline = self.config.deadline;
        let attempts = AtomicU32::new(0);
        match tokio::time::timeout(deadline, self.request_with_retries(form, clock, &attempts))
            .await
        {
            Ok(result) => result,
            Err(_elapsed) => Err(AuthError::TokenEndpointTimedOut {
                deadline,
                attempts: attempts.load(Ordering::Relaxed),
            }),
        }
    }

    async fn request_with_retries(
        &self,
        form: &[(&str, &str)],
        clock: &dyn Clock,
        attempts: &AtomicU32,
    ) -> Result<TokenResponse, AuthError> {
        let started = clock.now();
        let mut attempt = 1;
        loop {
            attempts.store(attempt, Ordering::Relaxed);
            let failure = match self.attempt(form, clock, attempt).await {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            if !failure.retryable || attempt >= self.config.max_attempts {
                return Err(failure.error);
            }
            let delay = match failure.retry_after {
                // Followed exactly once; from the second retry on, never below the backoff of
                // the retry before, so that `Retry-After: 0` every time is no burst.
                Some(retry_after) => {
                    retry_after
                        .min(self.config.retry_after_cap)
                        .max(match attempt {
                            1 => Duration::ZERO,
                            _ => backoff_delay(
                                self.config.retry_base,
                                self.config.retry_max,
                                attempt - 1,
                                false,
                            ),
                        })
                }
                None => backoff_delay(
                    self.config.retry_base,
                    self.config.retry_max,
                    attempt,
                    self.config.jitter,
                ),
            };
            let spent = elapsed_between(started, clock.now());
            if spent.saturating_add(delay) >= self.config.deadline {
                tracing::debug!(
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    "no time left before the token deadline; not retrying"
                );
                return Err(failure.error);
            }
            tracing::debug!(
                attempt,
                max_attempts = self.config.max_attempts,
                delay_ms = delay.as_millis() as u64,
                error = %failure.error,
                "token request failed; retrying"
            );
            clock.sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        form: &[(&str, &str)],
        clock: &dyn Clock,
        attempt: u32,
    ) -> Result<TokenResponse, AttemptFailure> {
        let issued_at = clock.now();
        let unreachable = |e: reqwest::Error| AttemptFailure {
            retryable: !e.is_builder() && !e.is_redirect(),
            error: AuthError::TokenEndpointUnreachable {
                attempts: attempt,
                source: Arc::new(e.without_url()),
            },
            retry_after: None,
        };
        let response = self
            .client
            .post(self.url.clone())
            .header(ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let retry_after = parse_retry_after(response.headers(), clock.now());
        let declared = response.content_length();
        let body = read_limited(
            response.bytes_stream(),
            declared,
            self.config.max_response_size,
        )
        .await
        .map_err(|e| match e {
            ReadError::Read(e) => unreachable(e),
            ReadError::TooLarge(size) => AttemptFailure {
                error: AuthError::TokenResponseTooLarge { size },
                retryable: false,
                retry_after: None,
            },
        })?;

        if status.is_success() {
            return parse_token_response(&body, issued_at).map_err(|error| AttemptFailure {
                error,
                retryable: false,
                retry_after: None,
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(AttemptFailure {
                error: AuthError::TokenEndpointThrottled {
                    retry_after,
                    attempts: attempt,
                },
                retryable: true,
                retry_after,
            });
        }
        let error = entra_error(status, &body, attempt);
        Err(AttemptFailure {
            retryable: error.is_retryable(),
            error,
            retry_after,
        })
    }
}

/// Exponential backoff with full jitter: a delay in `[0, min(max, base × 2^(attempt−1))]`;
/// without jitter, the upper bound.
pub(crate) fn backoff_delay(base: Duration, max: Duration, attempt: u32, jitter: bool) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    let ceiling = base.saturating_mul(factor).min(max);
    if jitter {
        ceiling.mul_f64(rand::random::<f64>())
    } else {
        ceiling
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date (relative to `now`), read by the stack's
/// one parser ([`perspio_core::retry_after::parse`]).
pub(crate) fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    perspio_core::retry_after::parse(headers.get(RETRY_AFTER)?.to_str().ok()?, now)
}

/// `expires_in` as a number or a string holding one. Missing, zero, negative, non-finite or
/// unreadable values give `None` (the caller then uses its fallback lifetime).
pub(crate) fn parse_expires_in(value: Option<&Value>) -> Option<Duration> {
    let seconds = match value? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    // Anything beyond ten years is nonsense; cap it rather than overflow time arithmetic.
    const TEN_YEARS: f64 = 10.0 * 365.0 * 24.0 * 3600.0;
    Some(Duration::from_secs_f64(seconds.min(TEN_YEARS)))
}

fn parse_token_response(body: &[u8], issued_at: SystemTime) -> Result<TokenResponse, AuthError> {
    let malformed = |reason: &str| AuthError::MalformedTokenResponse {
        reason: reason.to_owned(),
    };
    // Parse into a `Value` and extract by hand: serde's messages can quote the input.
    let json: Value =
        serde_json::from_slice(body).map_err(|e| AuthError::MalformedTokenResponse {
            reason: format!("body is not json ({})", e.classify_name()),
        })?;
    let object = json
        .as_object()
        .ok_or_else(|| malformed("body is not a json object"))?;
    let access_token = match object.get("access_token") {
        Some(Value::String(token)) if token.len() > MAX_ACCESS_TOKEN_LEN => {
            return Err(AuthError::MalformedTokenResponse {
                reason: format!(
                    "access_token is {} bytes long, more than the {MAX_ACCESS_TOKEN_LEN} accepted",
                    token.len()
                ),
            });
        }
        Some(Value::String(token)) if is_b64token(token) => AccessToken::new(token.clone()),
        Some(Value::String(token)) if token.is_empty() => {
            return Err(malformed("access_token is empty"));
        }
        Some(Value::String(_)) => {
            return Err(malformed(
                "access_token has characters outside the RFC 6750 token set (letters, digits, -._~+/ and trailing =)",
            ));
        }
        Some(_) => return Err(malformed("access_token is not a string")),
        None => return Err(malformed("access_token is missing")),
    };
    match object.get("token_type") {
        None => {}
        Some(Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(_) => return Err(malformed("token_type is not Bearer")),
    }
    Ok(TokenResponse {
        access_token,
        expires_in: parse_expires_in(object.get("expires_in")),
        scope: object
            .get("scope")
            .and_then(Value::as_str)
            .map(str::to_owned),
        refresh_token: object
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(RefreshToken::new),
        issued_at,
    })
}

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
/// Everything a bearer token may be; nothing that could end or split a header (CR, LF,
/// spaces) or arrive as raw non-ASCII bytes.
pub(crate) fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "unexpected end of input",
        }
    }
}

/// The error of an answer that is neither a token nor `429`, with Entra's fields when the
/// body is Entra's JSON error: [`AuthError::TokenEndpointFailed`] for a server error or
/// `temporarily_unavailable` (an outage), [`AuthError::TokenRejected`] for any other status.
/// Every text field is remote text: neutralised and bounded ([`text::remote`]).
pub(crate) fn entra_error(status: StatusCode, body: &[u8], attempts: u32) -> AuthError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |key: &str| {
        json.get(key)
            .and_then(Value::as_str)
            .map(text::remote)
            .filter(|t| !t.is_empty())
    };
    /// More codes than any Entra answer carries; the rest are dropped.
    const MAX_ERROR_CODES: usize = 16;
    let error = text("error");
    let error_codes = json
        .get("error_codes")
        .and_then(Value::as_array)
        .map(|codes| {
            codes
                .iter()
                .filter_map(Value::as_u64)
                .take(MAX_ERROR_CODES)
                .collect()
        })
        .unwrap_or_default();
    let (error_description, trace_id, correlation_id) = (
        text("error_description"),
        text("trace_id"),
        text("correlation_id"),
    );
    if status.is_server_error() || error.as_deref() == Some("temporarily_unavailable") {
        AuthError::TokenEndpointFailed {
            status,
            error,
            error_codes,
            error_description,
            trace_id,
            correlation_id,
            attempts,
        }
    } else {
        AuthError::TokenRejected {
            status,
            error,
            error_codes,
            error_description,
            trace_id,
            correlation_id,
            attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;

    #[test]
    fn expires_in_is_read_from_a_number_or_a_numeric_string() {
        assert_eq!(
            parse_expires_in(Some(&json!(3599))),
            Some(Duration::from_secs(3599))
        );
        assert_eq!(
            parse_expires_in(Some(&json!("3599"))),
            Some(Duration::from_secs(3599))
        );
        assert_eq!(
            parse_expires_in(Some(&json!(" 60.5 "))),
            Some(Duration::from_secs_f64(60.5))
        );
    }

    #[test]
    fn unusable_expires_in_values_are_treated_as_missing() {
        for value in [
            json!(0),
            json!(-5),
            json!("-5"),
            json!("soon"),
            json!(null),
            json!(true),
            json!([]),
        ] {
            assert_eq!(parse_expires_in(Some(&value)), None, "{value}");
        }
        assert_eq!(parse_expires_in(None), None);
    }

    #[test]
    fn a_huge_expires_in_is_capped_instead_of_overflowing() {
        let capped = parse_expires_in(Some(&json!(1e300))).unwrap();
        assert!(capped <= Duration::from_secs(10 * 365 * 24 * 3600));
        assert!(SystemTime::now().checked_add(capped).is_some());
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            parse_retry_after(&headers, now),
            Some(Duration::from_secs(7))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(20));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(
            parse_retry_after(&headers, now),
            Some(Duration::from_secs(20))
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("whenever"));
        assert_eq!(parse_retry_after(&headers, now), None);
    }

    #[test]
    fn backoff_doubles_per_attempt_up_to_the_maximum_and_full_jitter_stays_below_it() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(350);
        assert_eq!(backoff_delay(base, max, 1, false), base);
        assert_eq!(backoff_delay(base, max, 2, false), base * 2);
        assert_eq!(backoff_delay(base, max, 3, false), max);
        assert_eq!(backoff_delay(base, max, 40, false), max);
        for attempt in 1..5 {
            assert!(backoff_delay(base, max, attempt, true) <= max);
        }
    }

    #[test]
    fn a_malformed_token_response_does_not_quote_the_body() {
        let now = SystemTime::now();
        for body in [
            &b"<html>secret-ish</html>"[..],
            br#"{"access_token": 12345678}"#,
            br#"["secret-ish"]"#,
            br#"{"token_type":"Bearer"}"#,
            br#"{"access_token":"abc","token_type":"mac"}"#,
        ] {
            let err = parse_token_response(body, now).err().unwrap();
            assert!(matches!(err, AuthError::MalformedTokenResponse { .. }));
            let shown = format!("{err} {err:?}");
            assert!(
                !shown.contains("secret-ish") && !shown.contains("12345678"),
                "{shown}"
            );
        }
    }

    #[test]
    fn entra_error_fields_are_copied_from_the_body() {
        let body = json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215],
            "trace_id": "trace-1",
            "correlation_id": "corr-1",
        });
        let err = entra_error(StatusCode::UNAUTHORIZED, body.to_string().as_bytes(), 1);
        let AuthError::TokenRejected {
            error,
            error_codes,
            trace_id,
            correlation_id,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(error.as_deref(), Some("invalid_client"));
        assert_eq!(error_codes, &[7000215]);
        assert_eq!(trace_id.as_deref(), Some("trace-1"));
        assert_eq!(correlation_id.as_deref(), Some("corr-1"));
        assert!(!err.is_retryable());
        assert!(
            entra_error(StatusCode::BAD_GATEWAY, b"", 1).is_retryable(),
            "5xx is transient"
        );
    }
}

/// Property tests of the two parsers of the token endpoint's answers: whatever arrives, a
/// typed result, no panic, and nothing unsafe to print.
#[cfg(test)]
mod properties {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// Any JSON value, a few levels deep, strings with any characters.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A token string: mostly RFC 6750 characters, sometimes anything.
    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9._~+/-]{1,80}={0,2}",
            any::<String>(),
            "[A-Za-z0-9]{0,4}[ \t\r\n\"=,;\u{0}\u{7f}\u{80}-\u{10ffff}][A-Za-z0-9]{0,4}",
        ]
    }

    #[track_caller]
    fn assert_printable(text: &str) {
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_bytes_are_a_token_or_a_typed_refusal(body in prop::collection::vec(any::<u8>(), 0..512)) {
            match parse_token_response(&body, SystemTime::UNIX_EPOCH) {
                Ok(response) => {
                    let token = response.access_token.expose_secret();
                    prop_assert!(is_b64token(token) && token.len() <= MAX_ACCESS_TOKEN_LEN);
                }
                Err(error) => {
                    prop_assert!(matches!(error, AuthError::MalformedTokenResponse { .. }), "{error:?}");
                    assert_printable(&error.to_string());
                }
            }
        }

        #[test]
        fn a_token_is_accepted_exactly_when_it_is_an_rfc_6750_b64token(
            token in token(),
            expires_in in any_json(),
            scope in any_json(),
            extra in any_json(),
        ) {
            let body = json!({
                "token_type": "Bearer",
                "access_token": token,
                "expires_in": expires_in,
                "scope": scope,
                "refresh_token": extra,
            });
            let parsed = parse_token_response(body.to_string().as_bytes(), SystemTime::UNIX_EPOCH);
            let acceptable = is_b64token(&token) && token.len() <= MAX_ACCESS_TOKEN_LEN;
            prop_assert_eq!(parsed.is_ok(), acceptable, "{:?}", token);
            if acceptable {
                // What the cache will send must be a valid header value.
                let header = format!("Bearer {token}");
                prop_assert!(reqwest::header::HeaderValue::from_str(&header).is_ok());
            }
            if let Err(error) = parsed {
                prop_assert!(!error.to_string().contains(&token) || token.len() < 4);
            }
        }

        #[test]
        fn an_error_answer_is_typed_printable_and_bounded(
            status in 400u16..600,
            body in prop_oneof![
                any_json().prop_map(|v| v.to_string().into_bytes()),
                prop::collection::vec(any::<u8>(), 0..256),
                (any::<String>(), any::<String>(), any::<String>(), any::<String>()).prop_map(
                    |(error, description, trace, correlation)| json!({
                        "error": error,
                        "error_description": description.repeat(40),
                        "trace_id": trace.repeat(40),
                        "correlation_id": correlation,
                        "error_codes": [1, 2, 3],
                    }).to_string().into_bytes()
                ),
            ],
        ) {
            let status = StatusCode::from_u16(status).unwrap();
            let error = entra_error(status, &body, 1);
            let shown = error.to_string();
            assert_printable(&shown);
            prop_assert!(shown.chars().count() <= 2 * (text::MAX_REMOTE_TEXT + 40) + 120, "{}", shown.len());
            for field in [error.trace_id(), error.correlation_id()].into_iter().flatten() {
                assert_printable(field);
                prop_assert!(field.chars().count() <= text::MAX_REMOTE_TEXT + 40);
            }
            let outage = status.is_server_error()
                || matches!(&error, AuthError::TokenEndpointFailed { error: Some(e), .. } if e == "temporarily_unavailable");
            prop_assert_eq!(matches!(error, AuthError::TokenEndpointFailed { .. }), outage);
            prop_assert_eq!(error.is_rejection(), !outage);
        }
    }
}
