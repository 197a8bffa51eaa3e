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

/// `response` with its body read into memory, at most `max` bytes.
///
/// # Errors
/// A [`perspio_core::body::BodyTooLarge`] inside `reqwest_middleware::Error::Middleware`, or
/// the read's own `reqwest::Error`.
pub(crate) async fn read_whole(
    mut response: Response,
    max: u64,
) -> reqwest_middleware::Result<Response> {
    let status = response.status();
    let version = response.version();
    let url = response.url().clone();
    let declared = response.content_length();
    let headers = std::mem::take(response.headers_mut());
    let extensions = std::mem::take(response.extensions_mut());
    let body: Bytes = read_limited(response.bytes_stream(), declared, max)
        .await
        .map_err(|e| match e {
            ReadError::Read(e) => reqwest_middleware::Error::Reqwest(e),
            ReadError::TooLarge(size) => {
                reqwest_middleware::Error::Middleware(anyhow::Error::new(size))
            }
        })?;
    // One extension map: the response's own, with the URL (which `Response::from` takes out
    // again) and the mark added, rather than a second map merged into it.
    let mut builder = http::Response::builder().status(status).version(version);
    if let Some(slot) = builder.extensions_mut() {
        *slot = extensions;
    }
    let mut rebuilt = builder
        .url(url)
        .body(body)
        .map_err(|e| reqwest_middleware::Error::Middleware(anyhow::Error::new(e)))?;
    *rebuilt.headers_mut() = headers;
    rebuilt.extensions_mut().insert(BodyRead);
    Ok(Response::from(rebuilt))
}
