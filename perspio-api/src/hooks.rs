//! The seam between progenitor's generated client and the stack.
//!
//! progenitor builds each request itself and hands it to [`ClientHooks::exec`]; this module
//! runs it through the client's [`Transport`] (the default stack's layers called directly, or
//! a middleware stack), so every layer (authentication included) applies to every operation. `HooksMode::Expected` makes a missing impl a compile
//! error, so no operation can bypass the stack.
//!
//! Four more things happen here:
//! - no `api-version` header: progenitor adds one to every request, PerspioTalk defines no
//!   such header, and Azure API Management can be configured to route on one. The generator
//!   leaves it out of the generated `send` methods, and fails the build on an append of a shape
//!   it does not recognise (perspio-codegen). Nothing removes the header at run time: that
//!   removal cost a header-name parse and a lookup on every call, and it also removed a header
//!   parameter of the spec named `api-version`.
//! - a middleware failure (which `exec` cannot return as a `reqwest::Error`) travels in a
//!   synthetic response's extensions; `post` turns it into `Error::Custom` naming the
//!   operation and the whole cause chain, and [`call()`](crate::error) gets the typed error.
//! - error bodies (status ≥ 400) are made JSON so that the shared `ApiError` schema always
//!   decodes: an empty body becomes `null`, a body that is not JSON becomes a JSON string.
//! - a body no [`BodyLimitMiddleware`](crate::BodyLimitMiddleware) read (a stack built by
//!   hand without it) is read by the [`Transport`], bounded by
//!   [`DEFAULT_MAX_BODY_SIZE`](crate::DEFAULT_MAX_BODY_SIZE): no body reaches the generated
//!   code's unbounded `bytes()` unread.

use std::future::Future;

use bytes::Bytes;
use perspio_core::future::map_in_place;
use progenitor_client::{ClientHooks, Error as ProgenitorError, OperationInfo};

use crate::body::ReadResponse;
use crate::error::{Error, MIDDLEWARE_FAILURE, cause_chain};
use crate::generated::Client;
use crate::transport::Transport;

/// The operation being sent, as a request extension: middlewares can read it with
/// `extensions.get::<OperationId>()`.
///
/// Set when operations run through a middleware stack ([`Client::from_middleware`], or the
/// default stack with a rate limiter); the default stack without one runs its own layers
/// directly and sets no extensions ([`Transport`]).
///
/// [`Client::from_middleware`]: crate::Client::from_middleware
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationId(pub &'static str);

/// Marks a synthetic response that stands for a middleware failure.
#[derive(Debug, Clone)]
struct MiddlewareFailed {
    message: String,
}

/// What every generated `send` does between building its request and reading the answer:
/// `pre`, `exec` and `post` of [`ClientHooks`], in progenitor's order, for the operation
/// `operation_id`. progenitor writes the three calls (three awaits) into each operation's
/// `send`; the generator replaces them with one call of this function (perspio-codegen,
/// `generate.rs`), which the compiler checks once instead of once per operation (issue 15).
#[allow(
    dead_code,
    reason = "called by generated code only; with no tag feature on, no operation is compiled"
)]
pub(crate) fn send_request<'c, E>(
    client: &'c Client,
    request: reqwest::Request,
    operation_id: &'static str,
) -> impl Future<Output = Result<ReadResponse, ProgenitorError<E>>> + 'c {
    // `pre` has nothing to do (see the module's documentation). `exec` and `post`, without
    // the synthetic response that carries a middleware failure from one to the other. Not an
    // `async fn`: the call's future holds the transport's once, and `exec`'s mapping, which
    // waits for nothing, is a function applied to its outcome, not a second future.
    map_in_place(
        client.inner.execute(request, operation_id),
        move |outcome| match settle(outcome, operation_id) {
            Ok(response) => Ok(response),
            Err(Failure::Transport(e)) => Err(ProgenitorError::from(e)),
            Err(Failure::Middleware(message)) => Err(ProgenitorError::Custom(message)),
        },
    )
}

/// How a call that brought no response ended.
enum Failure {
    /// reqwest's own error.
    Transport(reqwest::Error),
    /// A middleware (or layer) failed; the message of its cause chain. The typed error went to
    /// the `call()` (or [`capture_failure`](crate::capture_failure)) in progress.
    Middleware(String),
}

/// What `exec` makes of the transport's outcome: error bodies made JSON, a middleware failure
/// typed for `call()`.
fn settle(
    outcome: reqwest_middleware::Result<ReadResponse>,
    operation_id: &'static str,
) -> Result<ReadResponse, Failure> {
    match outcome {
        Ok(mut response) if response.status().as_u16() >= 400 => {
            let body = json_error_body(response.body().clone());
            response.set_body(body);
            Ok(response)
        }
        Ok(response) => Ok(response),
        Err(reqwest_middleware::Error::Reqwest(e)) => Err(Failure::Transport(e)),
        Err(failure) => {
            let error = Error::from_middleware(operation_id, failure);
            let message = cause_chain(&error);
            // A `call()` (or `capture_failure`) in progress takes the typed error; `send()`
            // gets the message.
            let _ = MIDDLEWARE_FAILURE.try_with(|slot| slot.replace(Some(Box::new(error))));
            Err(Failure::Middleware(message))
        }
    }
}

/// What progenitor's `ResponseValue::from_response` does (the body decoded as JSON, with the
/// status and headers), on the stack's read response: the generator calls this instead
/// (perspio-codegen, `generate.rs`), so no `reqwest::Response` is rebuilt around the body and
/// the header map is moved, not copied. Not a future: the body is already read, so there is
/// nothing to wait for (the generator drops progenitor's `.await`).
///
/// # Errors
/// As `from_response`: [`ProgenitorError::InvalidResponsePayload`] when the body is not the
/// expected JSON (the body was read by the stack, which reported a failed read).
#[allow(
    dead_code,
    reason = "called by generated code only; with no tag feature on, no operation is compiled"
)]
pub(crate) fn response_value<T: serde::de::DeserializeOwned, E>(
    response: ReadResponse,
) -> Result<progenitor_client::ResponseValue<T>, ProgenitorError<E>> {
    let (status, headers, body) = response.into_parts();
    let inner = serde_json::from_slice(&body)
        .map_err(|e| ProgenitorError::InvalidResponsePayload(body, e))?;
    Ok(progenitor_client::ResponseValue::new(
        inner, status, headers,
    ))
}

/// `ResponseValue::empty` of the stack's read response (an answer without a body to decode).
#[allow(
    dead_code,
    reason = "called by generated code only; with no tag feature on, no operation is compiled"
)]
pub(crate) fn response_empty(response: ReadResponse) -> progenitor_client::ResponseValue<()> {
    let (status, headers, _) = response.into_parts();
    progenitor_client::ResponseValue::new((), status, headers)
}

/// `ResponseValue::stream` of the stack's read response: its body, already read (bounded), as
/// a stream of one chunk.
#[allow(
    dead_code,
    reason = "called by generated code only; with no tag feature on, no operation is compiled"
)]
pub(crate) fn response_stream(
    response: ReadResponse,
) -> progenitor_client::ResponseValue<progenitor_client::ByteStream> {
    let (status, headers, body) = response.into_parts();
    let chunks = futures::stream::once(std::future::ready(Ok::<_, reqwest::Error>(body)));
    progenitor_client::ResponseValue::new(
        progenitor_client::ByteStream::new(Box::pin(chunks)),
        status,
        headers,
    )
}

impl ClientHooks<Transport> for Client {
    async fn pre<E>(
        &self,
        _request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), ProgenitorError<E>> {
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let outcome = self.inner.execute(request, info.operation_id).await;
        match settle(outcome, info.operation_id) {
            Ok(response) => Ok(response.into_response()),
            Err(Failure::Transport(e)) => Err(e),
            Err(Failure::Middleware(message)) => {
                let mut synthetic = http::Response::new(Bytes::new());
                synthetic
                    .extensions_mut()
                    .insert(MiddlewareFailed { message });
                Ok(reqwest::Response::from(synthetic))
            }
        }
    }

    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        _info: &OperationInfo,
    ) -> Result<(), ProgenitorError<E>> {
        match result
            .as_ref()
            .ok()
            .and_then(|r| r.extensions().get::<MiddlewareFailed>())
        {
            Some(failed) => Err(ProgenitorError::Custom(failed.message.clone())),
            None => Ok(()),
        }
    }
}

/// An error response's body, made JSON (see the module docs).
fn json_error_body(body: Bytes) -> Bytes {
    if body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"null")
    } else if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok() {
        body
    } else {
        json_string(&String::from_utf8_lossy(&body))
    }
}

fn json_string(text: &str) -> Bytes {
    Bytes::from(serde_json::Value::String(text.to_owned()).to_string())
}

/// Property tests of error bodies: whatever a server sends with an error status, the body the
/// generated code decodes is JSON, and the message made of it is printable and bounded.
#[cfg(test)]
mod properties {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::error::error_message;

    fn any_json() -> impl Strategy<Value = Value> {
        // Object keys biased towards the ones `error_message` reads.
        crate::test_json::any_json(prop_oneof![
            Just("message".to_owned()),
            Just("error".to_owned()),
            any::<String>()
        ])
    }

    fn error_body(status: u16, body: Vec<u8>) -> Bytes {
        let response = http::Response::builder().status(status).body(body).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let response = ReadResponse::read(reqwest::Response::from(response), u64::MAX)
                .await
                .unwrap();
            let settled = settle(Ok(response), "op").ok().unwrap();
            settled.into_response().bytes().await.unwrap()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_error_body_becomes_json_and_json_stays_as_sent(
            status in 400u16..600,
            body in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..512),
                any_json().prop_map(|v| v.to_string().into_bytes()),
            ],
        ) {
            let rebuilt = error_body(status, body.clone());
            let decoded: Value = serde_json::from_slice(&rebuilt).expect("always JSON");
            if let Ok(sent) = serde_json::from_slice::<Value>(&body) {
                prop_assert_eq!(decoded, sent);
            }
        }

        #[test]
        fn the_message_of_any_body_is_printable_and_bounded(body in any_json()) {
            if let Some(message) = error_message(&body) {
                prop_assert!(!message.chars().any(char::is_control), "{message:?}");
                prop_assert!(!message.is_empty());
                prop_assert!(message.chars().count() <= perspio_core::text::MAX_REMOTE_TEXT + 40);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::{Arc, Mutex};

    use http::Extensions;
    use reqwest_middleware::{Middleware, Next};

    use super::*;

    /// Records the headers of the request it is given and answers `200 []`.
    #[derive(Debug, Default, Clone)]
    struct Recorder(Arc<Mutex<Option<reqwest::header::HeaderMap>>>);

    #[async_trait::async_trait]
    impl Middleware for Recorder {
        async fn handle(
            &self,
            request: reqwest::Request,
            _extensions: &mut Extensions,
            _next: Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            *self.0.lock().unwrap() = Some(request.headers().clone());
            Ok(reqwest::Response::from(
                http::Response::builder().status(200).body("[]").unwrap(),
            ))
        }
    }

    /// The hooks send a generated request's headers as they are: an `api-version` header is
    /// there only when the spec declares it as a parameter, and then it is the caller's.
    #[test]
    fn a_request_is_sent_with_its_api_version_header() {
        let recorder = Recorder::default();
        perspio_core::tls::install_crypto_provider();
        let stack = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(recorder.clone())
            .build();
        let client = Client::from_middleware("https://talk.perspio.io", stack).unwrap();
        let mut request = reqwest::Request::new(
            reqwest::Method::GET,
            "https://talk.perspio.io/assets/v3/".parse().unwrap(),
        );
        request.headers_mut().insert(
            "api-version",
            reqwest::header::HeaderValue::from_static("2024-01-01"),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let response = runtime
            .block_on(send_request::<()>(&client, request, "list_assets"))
            .unwrap();
        assert_eq!(response.status(), 200);
        let sent = recorder
            .0
            .lock()
            .unwrap()
            .take()
            .expect("the stack got the request");
        assert_eq!(sent.get("api-version").unwrap(), "2024-01-01");
    }
}
