//! The seam between progenitor's generated client and the `reqwest-middleware` stack.
//!
//! progenitor builds each request itself and hands it to [`ClientHooks::exec`]; this module
//! runs it through the client's [`ClientWithMiddleware`], so every middleware (authentication
//! first) applies to every operation. `HooksMode::Expected` makes a missing impl a compile
//! error, so no operation can bypass the stack.
//!
//! Four more things happen here:
//! - `pre` removes the `api-version` header progenitor adds to every request: PerspioTalk
//!   defines no such header, and Azure API Management can be configured to route on one.
//! - a middleware failure (which `exec` cannot return as a `reqwest::Error`) travels in a
//!   synthetic response's extensions; `post` turns it into `Error::Custom` naming the
//!   operation and the whole cause chain, and [`call()`](crate::error) gets the typed error.
//! - error bodies (status ≥ 400) are made JSON so that the shared `ApiError` schema always
//!   decodes: an empty body becomes `null`, a body that is not JSON becomes a JSON string.
//! - a body no [`BodyLimitMiddleware`](crate::BodyLimitMiddleware) read (a stack built by
//!   hand without it) is read here, bounded by [`DEFAULT_MAX_BODY_SIZE`]: no body reaches the
//!   generated code's unbounded `bytes()` unread.

use bytes::Bytes;
use progenitor_client::{ClientHooks, Error as ProgenitorError, OperationInfo};
use reqwest_middleware::ClientWithMiddleware;

use crate::body::{DEFAULT_MAX_BODY_SIZE, read_whole, was_read};
use crate::error::{Error, MIDDLEWARE_FAILURE, cause_chain};
use crate::generated::Client;

/// The operation being sent, as a request extension: middlewares can read it with
/// `extensions.get::<OperationId>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationId(pub &'static str);

/// Marks a synthetic response that stands for a middleware failure.
#[derive(Debug, Clone)]
struct MiddlewareFailed {
    message: String,
}

/// The header progenitor adds to every request, which PerspioTalk does not define.
const PROGENITOR_API_VERSION_HEADER: &str = "api-version";

impl ClientHooks<ClientWithMiddleware> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), ProgenitorError<E>> {
        request.headers_mut().remove(PROGENITOR_API_VERSION_HEADER);
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let mut extensions = http::Extensions::new();
        extensions.insert(OperationId(info.operation_id));
        let outcome = match self
            .inner
            .execute_with_extensions(request, &mut extensions)
            .await
        {
            Ok(response) if !was_read(&response) => {
                read_whole(response, DEFAULT_MAX_BODY_SIZE).await
            }
            other => other,
        };
        match outcome {
            Ok(response) if response.status().as_u16() >= 400 => {
                Ok(json_error_body(response).await)
            }
            Ok(response) => Ok(response),
            Err(reqwest_middleware::Error::Reqwest(e)) => Err(e),
            Err(failure) => {
                let error = Error::from_middleware(info.operation_id, failure);
                let message = cause_chain(&error);
                // A `call()` (or `capture_failure`) in progress takes the typed error;
                // `send()` gets the message.
                let _ = MIDDLEWARE_FAILURE.try_with(|slot| slot.replace(Some(error)));
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

/// Rebuilds an error response so that its body is JSON (see the module docs).
async fn json_error_body(mut response: reqwest::Response) -> reqwest::Response {
    let status = response.status();
    let version = response.version();
    let headers = std::mem::take(response.headers_mut());
    let extensions = std::mem::take(response.extensions_mut());
    let body = match response.bytes().await {
        Ok(bytes) => bytes,
        // The body could not be read: say so in the body rather than lose the status.
        Err(e) => json_string(&format!(
            "(the error body could not be read: {})",
            cause_chain(&e.without_url())
        )),
    };
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"null")
    } else if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok() {
        body
    } else {
        json_string(&String::from_utf8_lossy(&body))
    };
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    *rebuilt.extensions_mut() = extensions;
    reqwest::Response::from(rebuilt)
}

fn json_string(text: &str) -> Bytes {
    Bytes::from(serde_json::Value::String(text.to_owned()).to_string())
}
