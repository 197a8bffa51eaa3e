//! Response bodies, read whole with a size bound before the generated code decodes them.
//!
//! progenitor's generated code reads a body with `response.bytes()` and decodes it with
//! `serde_json::from_slice`, with no bound on either. [`BodyLimitMiddleware`] (the innermost
//! layer of the default stack) reads every body first, through
//! [`perspio_core::body::read_limited`]: a `Content-Length` above the limit is refused before
//! a byte is read, an undeclared body is cut at the limit, and a body that fits is handed on
//! in one buffer, so it is held once rather than once per chunk plus once gathered. Because
//! it reads inside the retry layer, a body that stalls past the read or attempt timeout is an
//! attempt that timed out, retried and bounded by the call deadline like any other.
//!
//! A stack built by hand without this middleware still gets the default bound: the client's
//! hooks read any body no middleware read, with [`DEFAULT_MAX_BODY_SIZE`].

use async_trait::async_trait;
use bytes::Bytes;
use http::Extensions;
use perspio_core::body::{ReadError, read_limited};
use reqwest::ResponseBuilderExt as _;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

/// The largest response body read by default, in bytes: 64 MiB. The documented bandwidth
/// quota of a whole tenant is 40 MB per hour, so no answer the gateway is meant to deliver is
/// larger; decoded into open JSON maps, a body takes several times its size in memory.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 64 * 1024 * 1024;

/// Marks a response whose body was read (and bounded) by [`BodyLimitMiddleware`].
#[derive(Debug, Clone, Copy)]
struct BodyRead;

/// Reads every response body whole, refusing one larger than its limit.
///
/// The default stack ([`ClientBuilder`](crate::ClientBuilder)) puts it innermost, after
/// authentication, with [`ClientBuilder::with_max_body_size`](crate::ClientBuilder::with_max_body_size).
/// Add it last to a stack given to [`Client::from_middleware`](crate::Client::from_middleware)
/// to choose another limit.
///
/// A body over the limit ends the call with [`Error::BodyTooLarge`](crate::Error::BodyTooLarge)
/// (not retried); a body that cannot be read (cut, timed out) is the transport error it is,
/// which the retry layer may retry.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitMiddleware {
    max: u64,
}

impl BodyLimitMiddleware {
    /// Bodies of at most `max` bytes.
    pub fn new(max: u64) -> Self {
        BodyLimitMiddleware { max }
    }

    /// The limit, in bytes.
    pub fn max(&self) -> u64 {
        self.max
    }
}

impl Default for BodyLimitMiddleware {
    /// [`DEFAULT_MAX_BODY_SIZE`].
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BODY_SIZE)
    }
}

#[async_trait]
impl Middleware for BodyLimitMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let response = next.run(request, extensions).await?;
        read_whole(response, self.max).await
    }
}

/// Whether `response`'s body was already read by [`BodyLimitMiddleware`].
pub(crate) fn was_read(response: &Response) -> bool {
    response.extensions().get::<BodyRead>().is_some()
}

/// A response with its body read whole: what the generated operations decode. The default
/// stack's innermost layer makes it from the network's response without rebuilding one (the
/// body is drained from the response, which keeps its status, headers and URL); a middleware
/// stack's answer is read into one too.
#[derive(Debug)]
pub(crate) struct ReadResponse {
    /// The response, its body drained.
    response: Response,
    /// Its body.
    body: Bytes,
}

impl perspio_core::layer::Reply for ReadResponse {
    fn status(&self) -> http::StatusCode {
        self.response.status()
    }

    fn headers(&self) -> &http::HeaderMap {
        self.response.headers()
    }

    fn url(&self) -> &url::Url {
        self.response.url()
    }
}

#[allow(
    dead_code,
    reason = "parts are called by generated code only; with no tag feature on, no operation is compiled"
)]
impl ReadResponse {
    /// `response` with its body read, at most `max` bytes.
    ///
    /// # Errors
    /// A [`perspio_core::body::BodyTooLarge`] inside `reqwest_middleware::Error::Middleware`,
    /// or the read's own `reqwest::Error`.
    pub(crate) async fn read(mut response: Response, max: u64) -> reqwest_middleware::Result<Self> {
        let body = drain(&mut response, max).await?;
        Ok(ReadResponse { response, body })
    }

    /// The status code (what the generated code matches on).
    pub(crate) fn status(&self) -> http::StatusCode {
        self.response.status()
    }

    /// The body.
    pub(crate) fn body(&self) -> &Bytes {
        &self.body
    }

    /// Replaces the body.
    pub(crate) fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }

    /// Status, headers (moved out) and body.
    pub(crate) fn into_parts(mut self) -> (http::StatusCode, http::HeaderMap, Bytes) {
        let headers = std::mem::take(self.response.headers_mut());
        (self.response.status(), headers, self.body)
    }

    /// A `reqwest::Response` again, its body in memory: for what needs one
    /// (`Error::UnexpectedResponse`, an operation the generator did not rewrite).
    pub(crate) fn into_response(self) -> Response {
        let ReadResponse { response, body } = self;
        match rebuilt(response, body) {
            Ok(response) => response,
            // Unreachable: a status and headers taken from a response build one again.
            Err(_) => Response::from(http::Response::new(Bytes::new())),
        }
    }
}

/// `response` with its body read into memory, at most `max` bytes: a `reqwest::Response`
/// again, marked as read ([`was_read`]).
///
/// # Errors
/// As [`ReadResponse::read`].
pub(crate) async fn read_whole(
    mut response: Response,
    max: u64,
) -> reqwest_middleware::Result<Response> {
    let body = drain(&mut response, max).await?;
    let mut rebuilt =
        rebuilt(response, body).map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
    rebuilt.extensions_mut().insert(BodyRead);
    Ok(rebuilt)
}

/// The body of `response`, read chunk by chunk through [`read_limited`], leaving the
/// response (status, headers, URL, extensions) in place.
async fn drain(response: &mut Response, max: u64) -> reqwest_middleware::Result<Bytes> {
    let declared = response.content_length();
    let chunks = futures::stream::unfold(response, |response| async move {
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), response)),
            Ok(None) => None,
            Err(e) => Some((Err(e), response)),
        }
    });
    read_limited(chunks, declared, max)
        .await
        .map_err(|e| match e {
            ReadError::Read(e) => reqwest_middleware::Error::Reqwest(e),
            ReadError::TooLarge(size) => {
                reqwest_middleware::Error::Middleware(anyhow::Error::new(size))
            }
        })
}

/// `response` (its body drained) rebuilt around `body`.
fn rebuilt(mut response: Response, body: Bytes) -> Result<Response, http::Error> {
    let status = response.status();
    let version = response.version();
    let url = response.url().clone();
    let headers = std::mem::take(response.headers_mut());
    let extensions = std::mem::take(response.extensions_mut());
    // One extension map: the response's own, with the URL (which `Response::from` takes out
    // again) added, rather than a second map merged into it.
    let mut builder = http::Response::builder().status(status).version(version);
    if let Some(slot) = builder.extensions_mut() {
        *slot = extensions;
    }
    let mut rebuilt = builder.url(url).body(body)?;
    *rebuilt.headers_mut() = headers;
    Ok(Response::from(rebuilt))
}
