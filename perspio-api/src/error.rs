//! [`Error`]: what can go wrong building a client or calling an operation.

use std::cell::RefCell;

use perspio_core::future::{Next, map_in_place, then_or};
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use http::{HeaderMap, StatusCode};
use progenitor_client::{ByteStream, Error as ProgenitorError, ResponseValue};

use crate::request::PathRefusal;

tokio::task_local! {
    /// Where `exec` leaves a middleware failure, typed, for the `call()` (or
    /// [`capture_failure`]) in progress.
    /// Boxed: the scope swaps the slot in and out of the thread on every poll of the call.
    pub(crate) static MIDDLEWARE_FAILURE: RefCell<Option<Box<Error>>>;
}

/// Everything that can go wrong building a [`Client`](crate::Client) or calling an operation
/// with `call()`.
///
/// Errors of a call name the operation (`list_assets`, …). Messages never contain a secret:
/// no token, client secret or subscription key; URLs are shown redacted (no user information,
/// no query values); text a server chose (an error message, Entra's `error_description`) is
/// neutralised and bounded ([`perspio_core::text`]). The bounds: the workspace README,
/// "Bounds".
///
/// ```no_run
/// # async fn run(client: perspio_api::Client) {
/// match client.list_assets().call().await {
///     Ok(assets) => println!("{:?}", assets.into_inner()),
///     Err(e) if e.status() == Some(http::StatusCode::TOO_MANY_REQUESTS) => {
///         eprintln!("throttled; retry after {:?}", e.retry_after());
///     }
///     Err(e) if e.auth_error().is_some() => eprintln!("authentication failed: {e}"),
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL is not an absolute `http(s)` URL without query or fragment.
    #[error("invalid base url `{url}`: {reason}")]
    InvalidBaseUrl {
        /// The URL as given, redacted ([`perspio_core::redact::redact_str`]): a subscription
        /// key in its query or a password in its user information is never shown.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The authentication configuration is missing or invalid (for example an unset
    /// `PERSPIO_*` variable).
    #[error("invalid authentication configuration")]
    AuthConfig(#[source] perspio_auth::AuthError),
    /// The configuration (config.toml, a profile, the secret store) is missing, invalid or
    /// unreadable; the cause names every place looked at and the command that fixes it.
    #[error("invalid configuration")]
    Config(#[source] perspio_config::ConfigError),
    /// The HTTP client could not be built.
    #[error("cannot build the http client")]
    HttpClient(#[source] reqwest::Error),
    /// A fleet store (Redis, Memcached) URL cannot be used; the cause says why, with the URL
    /// redacted.
    #[error("invalid {setting}")]
    InvalidStore {
        /// Where the URL came from: `PERSPIO_REDIS_URL`, `PERSPIO_MEMCACHED_URL`, or the
        /// builder method.
        setting: &'static str,
        /// What is wrong with it.
        #[source]
        source: perspio_store::StoreError,
    },

    /// A setting no call could succeed with, refused when the client is built: a timeout or
    /// deadline of zero (every request would fail at once).
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The builder method that set it, e.g. `ClientBuilder::with_timeout`.
        setting: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A middleware (authentication, retry, rate limit) failed before a response arrived.
    /// [`Error::auth_error`] gives the typed authentication error when there is one.
    #[error("{operation}: {}", self.middleware_failure())]
    Middleware {
        /// The operation that was being sent.
        operation: &'static str,
        /// The middleware's error; downcast its `Middleware` payload to the middleware's
        /// error type, or use [`Error::auth_error`].
        #[source]
        source: reqwest_middleware::Error,
    },
    /// The request could not be sent or no whole response came (connect, timeout, reset, a
    /// body cut short), with retries off; after several attempts the retry layer reports
    /// [`Error::Middleware`] with [`perspio_policy::PolicyError::AttemptsExhausted`].
    #[error("{operation}: the request failed")]
    Transport {
        /// The operation that was being sent.
        operation: &'static str,
        /// reqwest's error (its URL redacted).
        #[source]
        source: reqwest::Error,
    },
    /// The response body is larger than the limit
    /// ([`ClientBuilder::with_max_body_size`](crate::ClientBuilder::with_max_body_size),
    /// [`DEFAULT_MAX_BODY_SIZE`](crate::DEFAULT_MAX_BODY_SIZE)); reading stopped there, or
    /// never started when `Content-Length` said so. Not retried.
    #[error(
        "{operation}: the response is too large: {size}; raise the limit with ClientBuilder::with_max_body_size"
    )]
    BodyTooLarge {
        /// The operation that was sent.
        operation: &'static str,
        /// The limit and the declared length.
        size: perspio_core::body::BodyTooLarge,
    },
    /// PerspioTalk answered with an error status (4xx or 5xx).
    #[error("{operation}: the api answered {}", .response.status)]
    Api {
        /// The operation that was sent.
        operation: &'static str,
        /// Status, headers and body of the answer.
        response: Box<ApiErrorResponse>,
    },
    /// A response arrived whose body is not the documented shape.
    #[error("{operation}: the response body is not the documented shape")]
    InvalidResponse {
        /// The operation that was sent.
        operation: &'static str,
        /// The body as received.
        body: Bytes,
        /// What the decoder said.
        #[source]
        source: serde_json::Error,
    },
    /// A response body could not be read.
    #[error("{operation}: reading the response body failed")]
    ResponseBody {
        /// The operation that was sent.
        operation: &'static str,
        /// reqwest's error (its URL redacted).
        #[source]
        source: reqwest::Error,
    },
    /// A success status the spec does not list for this operation (for example 202).
    #[error("{operation}: unexpected response status {status}")]
    UnexpectedStatus {
        /// The operation that was sent.
        operation: &'static str,
        /// The status received.
        status: StatusCode,
        /// The body as received (possibly empty).
        body: Bytes,
    },
    /// The path of a raw request ([`Client::request`](crate::Client::request)) was refused
    /// before anything was sent: it would leave the configured origin or the base URL's path,
    /// or carries characters a server may read differently (see [`PathRefusal`]).
    #[error("refused request path `{path}`: {reason}")]
    PathRefused {
        /// The path as given, without its query, neutralised and bounded.
        path: String,
        /// Why.
        reason: PathRefusal,
    },
    /// The request could not be built (for example a parameter that does not fit).
    #[error("{operation}: invalid request: {message}")]
    InvalidRequest {
        /// The operation.
        operation: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// How much of a body `Debug` shows: a body can be as large as the body limit (64 MiB).
const DEBUG_BODY_PREVIEW: usize = 512;

/// A body in `Debug` output: its length and its first bytes, escaped.
struct BodyPreview<'a>(&'a [u8]);

impl std::fmt::Debug for BodyPreview<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = &self.0[..self.0.len().min(DEBUG_BODY_PREVIEW)];
        write!(
            f,
            "{} bytes: {:?}",
            self.0.len(),
            bytes::Bytes::copy_from_slice(shown)
        )?;
        if shown.len() < self.0.len() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidBaseUrl { url, reason } => f
                .debug_struct("InvalidBaseUrl")
                .field("url", url)
                .field("reason", reason)
                .finish(),
            Error::AuthConfig(e) => f.debug_tuple("AuthConfig").field(e).finish(),
            Error::Config(e) => f.debug_tuple("Config").field(e).finish(),
            Error::HttpClient(e) => f.debug_tuple("HttpClient").field(e).finish(),
            Error::InvalidStore { setting, source } => f
                .debug_struct("InvalidStore")
                .field("setting", setting)
                .field("source", source)
                .finish(),
            Error::InvalidSetting { setting, reason } => f
                .debug_struct("InvalidSetting")
                .field("setting", setting)
                .field("reason", reason)
                .finish(),
            Error::Middleware { operation, source } => f
                .debug_struct("Middleware")
                .field("operation", operation)
                .field("source", source)
                .finish(),
            Error::Transport { operation, source } => f
                .debug_struct("Transport")
                .field("operation", operation)
                .field("source", source)
                .finish(),
            Error::BodyTooLarge { operation, size } => f
                .debug_struct("BodyTooLarge")
                .field("operation", operation)
                .field("size", size)
                .finish(),
            Error::Api {
                operation,
                response,
            } => f
                .debug_struct("Api")
                .field("operation", operation)
                .field("response", response)
                .finish(),
            Error::InvalidResponse {
                operation,
                body,
                source,
            } => f
                .debug_struct("InvalidResponse")
                .field("operation", operation)
                .field("body", &BodyPreview(body))
                .field("source", source)
                .finish(),
            Error::ResponseBody { operation, source } => f
                .debug_struct("ResponseBody")
                .field("operation", operation)
                .field("source", source)
                .finish(),
            Error::UnexpectedStatus {
                operation,
                status,
                body,
            } => f
                .debug_struct("UnexpectedStatus")
                .field("operation", operation)
                .field("status", status)
                .field("body", &BodyPreview(body))
                .finish(),
            Error::PathRefused { path, reason } => f
                .debug_struct("PathRefused")
                .field("path", path)
                .field("reason", reason)
                .finish(),
            Error::InvalidRequest { operation, message } => f
                .debug_struct("InvalidRequest")
                .field("operation", operation)
                .field("message", message)
                .finish(),
        }
    }
}

/// An error answer from PerspioTalk: status, headers and body.
///
/// Its `Debug` shows the body's first bytes only (a body can be as large as the body limit).
#[derive(Clone)]
#[non_exhaustive]
pub struct ApiErrorResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers (`Retry-After` among them).
    pub headers: HeaderMap,
    /// The body as JSON: whatever JSON was sent, `null` for an empty body, a JSON string for a
    /// body that is not JSON. Its shape is not documented: do not match on its text.
    pub body: serde_json::Value,
}

impl std::fmt::Debug for ApiErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiErrorResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &BodyPreview(self.body.to_string().as_bytes()))
            .finish()
    }
}

/// An error and its causes on one line, `error: cause: cause` (like anyhow's `{:#}`), without
/// repeating a cause that its error's message already ends with. The line is safe to print:
/// control characters are neutralised and it is bounded ([`perspio_core::text::message`]),
/// whatever a cause of another library quoted.
///
/// ```
/// #[derive(Debug)]
/// struct Fetch(std::io::Error);
/// impl std::fmt::Display for Fetch {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("fetching a token")
///     }
/// }
/// impl std::error::Error for Fetch {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let err = Fetch(std::io::Error::other("connection reset"));
/// assert_eq!(perspio_api::cause_chain(&err), "fetching a token: connection reset");
/// ```
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    perspio_core::text::message(&text)
}

/// The readable part of an error body, for a message: its `message` (or `error_description`,
/// `error`, `title`) when it has one, else the body itself as JSON; neutralised and bounded
/// ([`perspio_core::text::remote`]). `None` for an empty body. For callers of progenitor's
/// `send()`, whose error answers carry the body as JSON; [`ApiErrorResponse::message`] for
/// [`Error::Api`].
///
/// ```
/// let body = serde_json::json!({"statusCode": 403, "message": "Out of call volume quota.\u{1b}[2J"});
/// assert_eq!(perspio_api::error_message(&body).unwrap(), "Out of call volume quota.\\e[2J");
/// assert_eq!(perspio_api::error_message(&serde_json::Value::Null), None);
/// ```
pub fn error_message(body: &serde_json::Value) -> Option<String> {
    let text = match body {
        serde_json::Value::Null => return None,
        serde_json::Value::String(s) => perspio_core::text::remote(s),
        serde_json::Value::Object(map) => ["message", "error_description", "error", "title"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
            .map(perspio_core::text::remote)
            .unwrap_or_else(|| perspio_core::text::remote(&body.to_string())),
        other => perspio_core::text::remote(&other.to_string()),
    };
    (!text.is_empty()).then_some(text)
}

/// An error body as JSON, read as the hooks read those of generated operations: whatever
/// JSON was sent, `null` for an empty body, a JSON string for a body that is not JSON.
pub(crate) fn error_body_json(body: &[u8]) -> serde_json::Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Runs `future` (anything that ends in progenitor's `send()`, such as the commands of a
/// progenitor-generated CLI) and returns, with its output, the typed [`Error`] behind an
/// `Error::Custom` that a middleware failure became (authentication, request policy, body
/// limit). `call()` does this for you.
///
/// ```no_run
/// # async fn run(client: perspio_api::Client) {
/// let (result, typed) = perspio_api::capture_failure(client.list_assets().send()).await;
/// if let (Err(_), Some(error)) = (&result, &typed) {
///     eprintln!("{error} (retryable: {})", error.is_retryable());
/// }
/// # }
/// ```
///
/// The future returned holds `future` once, in place (no `async` wrapper that would store it a
/// second time: a call's future is several kilobytes).
pub fn capture_failure<F: Future>(future: F) -> impl Future<Output = (F::Output, Option<Error>)> {
    MIDDLEWARE_FAILURE.scope(
        RefCell::new(None),
        // Runs inside the scope, as the future completes; the finished future is not copied.
        map_in_place(future, |output| {
            let failure = MIDDLEWARE_FAILURE
                .try_with(RefCell::take)
                .ok()
                .flatten()
                .map(|failure| *failure);
            (output, failure)
        }),
    )
}

impl ApiErrorResponse {
    /// The wait advised by `Retry-After` (seconds or an HTTP date), if present and usable;
    /// read as the retry layer reads it ([`perspio_policy::parse_retry_after`]).
    pub fn retry_after(&self) -> Option<Duration> {
        perspio_policy::parse_retry_after(&self.headers, std::time::SystemTime::now())
    }

    /// The readable part of the body for a message, neutralised and bounded: see
    /// [`error_message`]. Do not match on its text: PerspioTalk does not specify it.
    pub fn message(&self) -> Option<String> {
        error_message(&self.body)
    }
}

impl Error {
    /// The operation a call error belongs to; `None` for construction errors.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            Error::InvalidBaseUrl { .. }
            | Error::AuthConfig(_)
            | Error::Config(_)
            | Error::HttpClient(_)
            | Error::InvalidStore { .. }
            | Error::InvalidSetting { .. } => None,
            Error::Middleware { operation, .. }
            | Error::Transport { operation, .. }
            | Error::BodyTooLarge { operation, .. }
            | Error::Api { operation, .. }
            | Error::InvalidResponse { operation, .. }
            | Error::ResponseBody { operation, .. }
            | Error::UnexpectedStatus { operation, .. }
            | Error::InvalidRequest { operation, .. } => Some(operation),
            Error::PathRefused { .. } => Some(crate::REQUEST_OPERATION),
        }
    }

    /// The HTTP status of the answer, when one arrived.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { response, .. } => Some(response.status),
            Error::UnexpectedStatus { status, .. } => Some(*status),
            Error::Transport { source, .. } | Error::ResponseBody { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The error answer, for [`Error::Api`].
    pub fn api_response(&self) -> Option<&ApiErrorResponse> {
        match self {
            Error::Api { response, .. } => Some(response),
            _ => None,
        }
    }

    /// How long to wait before trying again, when known: the answer's `Retry-After` for
    /// [`Error::Api`], or the wait the request policy would not make.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.api_response() {
            Some(response) => response.retry_after(),
            None => self.policy_error()?.suggested_wait(),
        }
    }

    /// The authentication error behind this one, if any.
    pub fn auth_error(&self) -> Option<&perspio_auth::AuthError> {
        match self {
            Error::AuthConfig(e) => Some(e),
            Error::Middleware {
                source: reqwest_middleware::Error::Middleware(e),
                ..
            } => e.downcast_ref::<perspio_auth::AuthError>(),
            _ => None,
        }
    }

    /// The request-policy error behind this one (deadline exceeded, rate-limit wait too
    /// long), if any.
    pub fn policy_error(&self) -> Option<&perspio_policy::PolicyError> {
        match self {
            Error::Middleware { source, .. } => {
                perspio_policy::PolicyError::from_middleware_error(source)
            }
            _ => None,
        }
    }

    fn middleware_failure(&self) -> &'static str {
        if self.auth_error().is_some() {
            "authentication failed"
        } else if self.policy_error().is_some() {
            "the request policy gave up"
        } else {
            "middleware failed"
        }
    }

    /// Whether trying the same call again later may succeed: transport failures, 429, 5xx,
    /// and authentication failures that are themselves retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::ResponseBody { .. } => true,
            Error::Api { response, .. } => {
                response.status == StatusCode::TOO_MANY_REQUESTS
                    || response.status.is_server_error()
            }
            Error::Middleware { .. } => {
                self.auth_error().is_some_and(|e| e.is_retryable())
                    || self.policy_error().is_some_and(|e| e.is_retryable())
            }
            _ => false,
        }
    }

    /// The error of a middleware failure of `operation`: [`Error::BodyTooLarge`] for the body
    /// limit, [`Error::Middleware`] for everything else.
    pub(crate) fn from_middleware(
        operation: &'static str,
        source: reqwest_middleware::Error,
    ) -> Self {
        if let reqwest_middleware::Error::Middleware(inner) = &source
            && let Some(size) = inner.downcast_ref::<perspio_core::body::BodyTooLarge>()
        {
            return Error::BodyTooLarge {
                operation,
                size: *size,
            };
        }
        Error::Middleware { operation, source }
    }

    /// Turns progenitor's error for `operation` into ours; an error answer is handed back for
    /// its body to be read.
    fn from_progenitor<E>(
        operation: &'static str,
        error: ProgenitorError<E>,
        middleware_failure: Option<Error>,
    ) -> Result<Self, ResponseValue<E>> {
        Ok(match error {
            ProgenitorError::Custom(message) => match middleware_failure {
                Some(error) => error,
                None => Error::InvalidRequest { operation, message },
            },
            ProgenitorError::InvalidRequest(message) => {
                Error::InvalidRequest { operation, message }
            }
            ProgenitorError::CommunicationError(source)
            | ProgenitorError::InvalidUpgrade(source) => Error::Transport {
                operation,
                source: scrubbed(source),
            },
            ProgenitorError::ResponseBodyError(source) => Error::ResponseBody {
                operation,
                source: scrubbed(source),
            },
            ProgenitorError::InvalidResponsePayload(body, source) => Error::InvalidResponse {
                operation,
                body,
                source,
            },
            ProgenitorError::ErrorResponse(value) => return Err(value),
            ProgenitorError::UnexpectedResponse(response) => Error::UnexpectedStatus {
                operation,
                status: response.status(),
                body: Bytes::new(),
            },
        })
    }

    fn api(
        operation: &'static str,
        status: StatusCode,
        headers: HeaderMap,
        body: serde_json::Value,
    ) -> Self {
        Error::Api {
            operation,
            response: Box::new(ApiErrorResponse {
                status,
                headers,
                body,
            }),
        }
    }
}

/// Runs a generated `send()` whose error answers have a typed (JSON) body, and turns its
/// failure into an [`Error`] naming `operation`. Called by the generated `call()` methods.
#[allow(
    dead_code,
    reason = "called by generated code only; with no tag feature on, no operation is compiled"
)]
pub(crate) fn finish<T, E: serde::Serialize>(
    operation: &'static str,
    send: impl Future<Output = Result<ResponseValue<T>, ProgenitorError<E>>>,
) -> impl Future<Output = Result<ResponseValue<T>, Error>> {
    finish_with(operation, send, |body| async move {
        serde_json::to_value(body).unwrap_or(serde_json::Value::Null)
    })
}

/// As [`finish`], for operations whose error answers are declared as raw bytes.
#[allow(
    dead_code,
    reason = "called by generated code only when a spec declares raw error bodies"
)]
pub(crate) fn finish_stream<T>(
    operation: &'static str,
    send: impl Future<Output = Result<ResponseValue<T>, ProgenitorError<ByteStream>>>,
) -> impl Future<Output = Result<ResponseValue<T>, Error>> {
    finish_with(operation, send, |stream| async move {
        let bytes: Vec<u8> = stream
            .into_inner()
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
            .unwrap_or_default();
        // `exec` already made error bodies JSON.
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    })
}

/// The call's future: `send` held once, in place (see [`capture_failure`]), then the error
/// mapping. A success is the answer at once; only an error answer whose body is still to be
/// read waits once more (`then_or`: no second future on the success path).
fn finish_with<T, E, Body, Read>(
    operation: &'static str,
    send: impl Future<Output = Result<ResponseValue<T>, ProgenitorError<E>>>,
    read_body: Read,
) -> impl Future<Output = Result<ResponseValue<T>, Error>>
where
    Read: FnOnce(E) -> Body,
    Body: Future<Output = serde_json::Value>,
{
    then_or(
        capture_failure(send),
        move |(result, failure)| match result {
            Ok(value) => Next::Now(Ok(value)),
            Err(ProgenitorError::UnexpectedResponse(response)) => Next::Wait(error_answer(
                operation,
                Answer::Unexpected(response),
                read_body,
            )),
            Err(error) => match Error::from_progenitor(operation, error, failure) {
                Ok(error) => Next::Now(Err(error)),
                Err(answer) => {
                    Next::Wait(error_answer(operation, Answer::Declared(answer), read_body))
                }
            },
        },
    )
}

/// An error answer whose body is still to be read.
enum Answer<E> {
    /// A status the spec does not list.
    Unexpected(reqwest::Response),
    /// A declared error answer, its body as the generated code gives it.
    Declared(ResponseValue<E>),
}

/// The [`Error`] of an error answer, its body read.
async fn error_answer<T, E, Body, Read>(
    operation: &'static str,
    answer: Answer<E>,
    read_body: Read,
) -> Result<ResponseValue<T>, Error>
where
    Read: FnOnce(E) -> Body,
    Body: Future<Output = serde_json::Value>,
{
    Err(match answer {
        Answer::Unexpected(response) => unexpected(operation, response).await,
        Answer::Declared(answer) => {
            let status = answer.status();
            let headers = answer.headers().clone();
            let body = read_body(answer.into_inner()).await;
            Error::api(operation, status, headers, body)
        }
    })
}

/// `error` with its URL scrubbed ([`perspio_core::redact::scrub`]): reqwest's message shows it.
pub(crate) fn scrubbed(mut error: reqwest::Error) -> reqwest::Error {
    if let Some(url) = error.url_mut() {
        perspio_core::redact::scrub(url);
    }
    error
}

/// A status the spec does not list: an error status becomes [`Error::Api`] like any other.
async fn unexpected(operation: &'static str, response: reqwest::Response) -> Error {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap_or_default();
    if status.is_client_error() || status.is_server_error() {
        let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        Error::api(operation, status, headers, body)
    } else {
        Error::UnexpectedStatus {
            operation,
            status,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_output_shows_a_bounded_preview_of_a_large_body() {
        let body = Bytes::from(vec![b'x'; 1 << 20]);
        let source = serde_json::from_slice::<serde_json::Value>(b"{").unwrap_err();
        let errors = [
            Error::InvalidResponse {
                operation: "list_assets",
                body: body.clone(),
                source,
            },
            Error::UnexpectedStatus {
                operation: "list_assets",
                status: StatusCode::ACCEPTED,
                body: body.clone(),
            },
            Error::Api {
                operation: "list_assets",
                response: Box::new(ApiErrorResponse {
                    status: StatusCode::BAD_REQUEST,
                    headers: HeaderMap::new(),
                    body: serde_json::Value::String("y".repeat(1 << 20)),
                }),
            },
        ];
        for error in errors {
            let shown = format!("{error:?}");
            assert!(
                shown.len() < 2 * DEBUG_BODY_PREVIEW,
                "{} bytes",
                shown.len()
            );
            assert!(shown.contains("bytes: "), "{shown}");
        }
    }
}
