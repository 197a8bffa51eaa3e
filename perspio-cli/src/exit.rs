//! Exit codes, and the one error type of the binary.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure (a bug, an unreadable file, the sandbox could not start) |
//! | 2 | usage: a bad flag, or a setting missing or malformed (the message names the variable and the flag) |
//! | 3 | authentication refused: the token endpoint rejected the credentials (a 4xx such as `invalid_client`), or the API answered `401`; a user login that is missing, expired or revoked (`invalid_grant`, `AADSTS700082`: "run `perspio auth login --profile P`"), or a login that failed (wrong `state`, declined consent) |
//! | 4 | API error: any other error status of the API **or the token endpoint** (`403`, `404`, `429`, `5xx`), or an answer that is not the documented shape or too large |
//! | 5 | network: the token endpoint or the API could not be reached, or did not answer in time |
//!
//! A token endpoint that is down (5xx), throttling (429) or unreachable is mapped like the
//! same status from the API (4, 4, 5), never 3: a script that rotates secrets on 3 must not
//! fire during an outage. clap's own usage errors also exit with 2.

use std::fmt;
use std::process::ExitCode;

use perspio_auth::AuthError;
use perspio_core::retry_after;
use perspio_core::text;
use perspio_policy::PolicyError;

/// Why the process ends; the numeric values are documented in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Ok = 0,
    Other = 1,
    Usage = 2,
    Auth = 3,
    Api = 4,
    Network = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// A failure to report: one readable line on stderr and an exit code.
///
/// The message never contains a secret: it is built from `AuthError` (which holds none), from
/// status codes and from the API's error message. Whatever it holds is neutralised and bounded
/// once more when shown ([`text::message`]): the last stop before the terminal.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) exit: Exit,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn new(exit: Exit, message: impl Into<String>) -> Self {
        CliError {
            exit,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, no control character, bounded: whatever the causes contained.
        f.write_str(&text::message(&self.message))
    }
}

impl std::error::Error for CliError {}

pub(crate) use perspio_api::cause_chain;

/// The exit code of an authentication failure: the token endpoint's statuses map like the
/// API's, and only a rejection of the request (a 4xx other than 429) is 3.
pub(crate) fn auth_exit(error: &AuthError) -> Exit {
    use perspio_auth::AuthError as E;
    match error {
        E::TokenRejected { .. }
        | E::RefreshTokenRejected { .. }
        | E::NoRefreshToken
        | E::StateMismatch
        | E::AuthorizationDenied { .. }
        | E::InvalidRedirect { .. } => Exit::Auth,
        E::TokenEndpointUnreachable { .. } | E::TokenEndpointTimedOut { .. } => Exit::Network,
        E::TokenEndpointThrottled { .. }
        | E::TokenEndpointFailed { .. }
        | E::MalformedTokenResponse { .. }
        | E::TokenResponseTooLarge { .. } => Exit::Api,
        E::MissingEnvVar { .. }
        | E::InvalidEnvVar { .. }
        | E::InvalidConfig { .. }
        | E::InsecureTransport { .. }
        | E::CredentialsWouldLeak { .. } => Exit::Usage,
        _ => Exit::Other,
    }
}

/// An authentication failure as one line: the error, and Entra's ids when it sent them
/// (they are what Microsoft support asks for; they are not secrets). Only a rejection says
/// "authentication failed"; an outage says the token could not be obtained.
pub(crate) fn auth_error(error: &AuthError) -> CliError {
    auth_error_in(error, None)
}

/// As [`auth_error`], for `profile`: a login that is missing, expired or revoked says which
/// command logs in again.
pub(crate) fn auth_error_in(error: &AuthError, profile: Option<&str>) -> CliError {
    if error.is_login_required() {
        let mut shown = auth_error_of(error);
        shown.message.push_str(&format!(
            "; run `perspio auth login --profile {}`",
            profile.unwrap_or("<NAME>")
        ));
        return shown;
    }
    auth_error_of(error)
}

fn auth_error_of(error: &AuthError) -> CliError {
    let lead = if matches!(
        error,
        AuthError::StateMismatch
            | AuthError::AuthorizationDenied { .. }
            | AuthError::InvalidRedirect { .. }
    ) {
        "login failed"
    } else if error.is_login_required() {
        "login required"
    } else if error.is_rejection() {
        "authentication failed"
    } else {
        "could not get a token"
    };
    let mut message = match error {
        // The library names a setter; a CLI user can only check where the answer came from.
        AuthError::TokenResponseTooLarge { size } => format!(
            "{lead}: token endpoint answer too large: {size}; a token answer is a few \
             kilobytes: check {} ({})",
            perspio_auth::ENV_TOKEN_URL,
            crate::config::flag_of(perspio_auth::ENV_TOKEN_URL)
        ),
        _ => format!("{lead}: {}", cause_chain(error)),
    };
    // Entra repeats its ids in the description; add them only when they are not there yet.
    if let Some(id) = error.trace_id().filter(|id| !message.contains(id)) {
        message.push_str(&format!(" (trace_id {id}"));
        if let Some(id) = error.correlation_id() {
            message.push_str(&format!(", correlation_id {id}"));
        }
        message.push(')');
    }
    CliError::new(auth_exit(error), message)
}

/// A call failure that `perspio_api` typed (through `capture_failure`): authentication, the
/// request policy (attempts, deadline) or the body limit.
pub(crate) fn typed_error(error: &perspio_api::Error) -> CliError {
    if let Some(auth) = error.auth_error() {
        return auth_error(auth);
    }
    let message = cause_chain(error);
    match error {
        perspio_api::Error::BodyTooLarge { .. } => CliError::new(
            Exit::Api,
            message.replace("ClientBuilder::with_max_body_size", "--max-body-size"),
        ),
        _ => match error.policy_error() {
            Some(PolicyError::AttemptsExhausted { .. } | PolicyError::DeadlineExceeded { .. }) => {
                CliError::new(Exit::Network, message)
            }
            _ => CliError::new(Exit::Other, message),
        },
    }
}

/// Maps the error of a generated subcommand (`anyhow` around progenitor's error) to a
/// [`CliError`]; `typed` is the typed error behind a middleware failure, when there is one.
pub(crate) fn operation_error(
    operation: &str,
    error: &anyhow::Error,
    typed: Option<&perspio_api::Error>,
) -> CliError {
    type ProgenitorError = perspio_api::progenitor_client::Error<perspio_api::types::ApiError>;
    if let Some(typed) = typed {
        return typed_error(typed);
    }
    let Some(error) = error.downcast_ref::<ProgenitorError>() else {
        return CliError::new(Exit::Other, format!("{operation}: {error:#}"));
    };
    match error {
        ProgenitorError::Custom(message) => {
            CliError::new(Exit::Other, format!("{operation}: {message}"))
        }
        ProgenitorError::ErrorResponse(response) => api_status(
            operation,
            response.status(),
            &response.as_ref().0,
            response.headers(),
        ),
        ProgenitorError::UnexpectedResponse(response) => api_status(
            operation,
            response.status(),
            &serde_json::Value::Null,
            response.headers(),
        ),
        ProgenitorError::CommunicationError(e) | ProgenitorError::ResponseBodyError(e) => {
            CliError::new(
                Exit::Network,
                format!("{operation}: the request failed: {}", transport_chain(e)),
            )
        }
        ProgenitorError::InvalidResponsePayload(_, e) => CliError::new(
            Exit::Api,
            format!(
                "{operation}: the response body is not the documented shape: {}",
                text::remote(&e.to_string())
            ),
        ),
        other => CliError::new(Exit::Other, format!("{operation}: {}", cause_chain(other))),
    }
}

/// A reqwest error and its causes, its URL shown redacted.
fn transport_chain(error: &reqwest::Error) -> String {
    let chain = cause_chain(error);
    match error.url() {
        Some(url) => chain.replace(url.as_str(), &perspio_core::redact::redact_url(url)),
        None => chain,
    }
}

/// An error answer of the API: 401 is authentication, anything else an API error.
pub(crate) fn api_status(
    operation: &str,
    status: reqwest::StatusCode,
    body: &serde_json::Value,
    headers: &reqwest::header::HeaderMap,
) -> CliError {
    let mut message = format!("{operation}: the api answered {status}");
    if let Some(text) = perspio_api::error_message(body) {
        message.push_str(": ");
        message.push_str(&text);
    }
    if let Some(hint) = retry_after_hint(headers) {
        message.push_str(&format!(" ({hint})"));
    }
    let exit = if status == reqwest::StatusCode::UNAUTHORIZED {
        Exit::Auth
    } else {
        Exit::Api
    };
    CliError::new(exit, message)
}

/// What an answer's `Retry-After` advises, for a message: the parsed wait, or that the value
/// was unusable; never the raw value.
fn retry_after_hint(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get(reqwest::header::RETRY_AFTER)?;
    Some(
        match perspio_policy::parse_retry_after(headers, std::time::SystemTime::now()) {
            Some(wait) => format!("retry after {}", retry_after::describe(wait)),
            None => "its Retry-After is unusable: neither seconds nor an HTTP date".to_owned(),
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    use super::*;

    fn retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        let codes: Vec<u8> = [
            Exit::Ok,
            Exit::Other,
            Exit::Usage,
            Exit::Auth,
            Exit::Api,
            Exit::Network,
        ]
        .iter()
        .map(|e| *e as u8)
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_401_is_authentication_and_a_429_an_api_error_with_its_wait() {
        let body = serde_json::json!({"statusCode": 401, "message": "Access denied"});
        let e = api_status(
            "list_assets",
            reqwest::StatusCode::UNAUTHORIZED,
            &body,
            &HeaderMap::new(),
        );
        assert_eq!(e.exit, Exit::Auth);
        assert!(
            e.message.ends_with("401 Unauthorized: Access denied"),
            "{e}"
        );

        let e = api_status(
            "list_assets",
            reqwest::StatusCode::TOO_MANY_REQUESTS,
            &serde_json::Value::Null,
            &retry_after("42"),
        );
        assert_eq!(e.exit, Exit::Api);
        assert!(e.message.ends_with("(retry after 42 s)"), "{e}");
    }

    #[test]
    fn a_retry_after_hint_shows_the_parsed_wait_or_says_the_value_was_unusable() {
        for (value, hint) in [
            ("0", "retry after 0 s"),
            ("7200", "retry after 2 h"),
            (
                "soon",
                "its Retry-After is unusable: neither seconds nor an HTTP date",
            ),
            (
                "-5",
                "its Retry-After is unusable: neither seconds nor an HTTP date",
            ),
            (
                "1.5",
                "its Retry-After is unusable: neither seconds nor an HTTP date",
            ),
        ] {
            assert_eq!(
                retry_after_hint(&retry_after(value)).unwrap(),
                hint,
                "{value}"
            );
        }
        let far = retry_after_hint(&retry_after("Fri, 31 Dec 9999 23:59:59 GMT")).unwrap();
        assert!(
            far.starts_with("retry after ") && far.ends_with(" days"),
            "{far}"
        );
        assert_eq!(retry_after_hint(&HeaderMap::new()), None);
    }

    #[test]
    fn a_token_endpoint_outage_is_never_an_authentication_exit_nor_rejected() {
        let failed = AuthError::TokenEndpointFailed {
            status: reqwest::StatusCode::SERVICE_UNAVAILABLE,
            error: None,
            error_codes: Vec::new(),
            error_description: None,
            trace_id: None,
            correlation_id: None,
            attempts: 3,
        };
        let throttled = AuthError::TokenEndpointThrottled {
            retry_after: None,
            attempts: 3,
        };
        for (error, exit) in [(failed, Exit::Api), (throttled, Exit::Api)] {
            let shown = auth_error(&error);
            assert_eq!(shown.exit, exit, "{shown}");
            assert!(!shown.message.contains("rejected"), "{shown}");
            assert!(
                shown.message.starts_with("could not get a token: "),
                "{shown}"
            );
        }
    }

    #[test]
    fn an_expired_login_exits_3_and_names_the_command_that_logs_in_again() {
        let expired = AuthError::RefreshTokenRejected {
            error_codes: vec![700082],
            error_description: Some("AADSTS700082: The refresh token has expired.".into()),
            trace_id: None,
            correlation_id: None,
        };
        for error in [expired, AuthError::NoRefreshToken] {
            let shown = auth_error_in(&error, Some("acme"));
            assert_eq!(shown.exit, Exit::Auth, "{shown}");
            assert!(
                shown
                    .message
                    .ends_with("run `perspio auth login --profile acme`"),
                "{shown}"
            );
        }
    }

    #[test]
    fn messages_are_one_line_without_control_characters() {
        let e = CliError::new(Exit::Other, "a\nb\r\nc\u{1b}]0;x\u{7}");
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
    }
}
