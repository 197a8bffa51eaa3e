//! Exit codes, and the one error type of the binary.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure (a bug, an unreadable file, the sandbox could not start) |
//! | 2 | usage: a bad flag, or a setting missing or malformed (the message names the variable and the flag) |
//! | 3 | authentication: the token endpoint refused the credentials (for example `invalid_client`), or the API answered `401` |
//! | 4 | API error: any other error status (`403`, `404`, `429`, `5xx`) or a response body that is not the documented shape |
//! | 5 | network: the token endpoint or the API could not be reached, or did not answer in time |
//!
//! clap's own usage errors also exit with 2.

use std::fmt;
use std::process::ExitCode;

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
/// status codes and from the API's error message.
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
        // One line, whatever the causes contained.
        let one_line = self.message.replace(['\n', '\r'], " ");
        f.write_str(&one_line)
    }
}

impl std::error::Error for CliError {}

pub(crate) use perspio_api::cause_chain;

/// The exit code of an authentication failure: network trouble is 5, everything else 3.
pub(crate) fn auth_exit(error: &perspio_auth::AuthError) -> Exit {
    use perspio_auth::AuthError as E;
    match error {
        E::TokenEndpointUnreachable { .. } | E::TokenEndpointTimedOut { .. } => Exit::Network,
        E::MissingEnvVar { .. }
        | E::InvalidEnvVar { .. }
        | E::InvalidConfig { .. }
        | E::InsecureTransport { .. } => Exit::Usage,
        _ => Exit::Auth,
    }
}

/// An authentication failure as one line: the error, and Entra's ids when it sent them
/// (they are what Microsoft support asks for; they are not secrets).
pub(crate) fn auth_error(error: &perspio_auth::AuthError) -> CliError {
    let mut message = format!("authentication failed: {}", cause_chain(error));
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

/// Maps the error of a generated subcommand (`anyhow` around progenitor's error) to a
/// [`CliError`].
///
/// The CLI builds its own middleware stack whose only middleware is authentication, so an
/// `Error::Custom` (how a middleware failure reaches `send()`) is an authentication failure.
/// Most of those are caught earlier anyway: the CLI acquires the token before it sends the
/// request, and reports a typed `AuthError`.
pub(crate) fn operation_error(operation: &str, error: &anyhow::Error) -> CliError {
    type ProgenitorError = perspio_api::progenitor_client::Error<perspio_api::types::ApiError>;
    let Some(error) = error.downcast_ref::<ProgenitorError>() else {
        return CliError::new(Exit::Other, format!("{operation}: {error:#}"));
    };
    match error {
        ProgenitorError::Custom(message) => {
            CliError::new(Exit::Auth, format!("authentication failed: {message}"))
        }
        ProgenitorError::ErrorResponse(response) => {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            api_status(
                operation,
                response.status(),
                &response.as_ref().0,
                retry_after,
            )
        }
        ProgenitorError::UnexpectedResponse(response) => {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            api_status(
                operation,
                response.status(),
                &serde_json::Value::Null,
                retry_after,
            )
        }
        ProgenitorError::CommunicationError(e) | ProgenitorError::ResponseBodyError(e) => {
            CliError::new(
                Exit::Network,
                format!("{operation}: the request failed: {}", cause_chain(e)),
            )
        }
        ProgenitorError::InvalidResponsePayload(_, e) => CliError::new(
            Exit::Api,
            format!("{operation}: the response body is not the documented shape: {e}"),
        ),
        other => CliError::new(Exit::Other, format!("{operation}: {}", cause_chain(other))),
    }
}

/// An error answer of the API: 401 is authentication, anything else an API error.
fn api_status(
    operation: &str,
    status: reqwest::StatusCode,
    body: &serde_json::Value,
    retry_after: Option<String>,
) -> CliError {
    let mut message = format!("{operation}: the api answered {status}");
    if let Some(text) = body_message(body) {
        message.push_str(": ");
        message.push_str(&text);
    }
    if let Some(seconds) = retry_after {
        message.push_str(&format!(" (retry after {seconds} s)"));
    }
    let exit = if status == reqwest::StatusCode::UNAUTHORIZED {
        Exit::Auth
    } else {
        Exit::Api
    };
    CliError::new(exit, message)
}

/// The readable part of an error body: its `message` (or `error_description`, `error`) when it
/// has one, else the body itself, cut to a readable length.
fn body_message(body: &serde_json::Value) -> Option<String> {
    const MAX: usize = 200;
    let text = match body {
        serde_json::Value::Null => return None,
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => ["message", "error_description", "error", "title"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()).map(str::to_owned))
            .unwrap_or_else(|| body.to_string()),
        other => other.to_string(),
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text.to_owned()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

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
            None,
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
            Some("42".into()),
        );
        assert_eq!(e.exit, Exit::Api);
        assert!(e.message.ends_with("(retry after 42 s)"), "{e}");
    }

    #[test]
    fn messages_are_one_line() {
        let e = CliError::new(Exit::Other, "a\nb\r\nc");
        assert!(!e.to_string().contains('\n'));
    }
}
