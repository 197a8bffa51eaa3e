//! Layers called directly, without a boxed future per layer: how the default stack of
//! `perspio-api` runs the retry, authentication and body-limit layers as one future.
//!
//! A `reqwest_middleware` stack boxes one future per middleware per request and passes what
//! the layers say to each other ([`crate::replay`]) through the request's `Extensions`, a map
//! allocated per call. The same layers also run as plain generic code: each takes the rest of
//! the stack as a [`Downstream`], and the replay protocol travels in [`Signals`], a struct on
//! the caller's stack. The middlewares (`RetryMiddleware`, `AuthMiddleware`) are this code with
//! a `Next` as their downstream, so both forms have one implementation.

use std::future::Future;

use reqwest::header::HeaderMap;
use reqwest::{Request, Response, StatusCode, Url};

/// What a layer tells the layer below about one request, and hears back: the
/// [`crate::replay`] protocol without the `Extensions` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals {
    /// The caller keeps a copy of this request and sends it again on
    /// [`replay_wanted`](Self::replay_wanted) ([`ReplayOffered`](crate::replay::ReplayOffered)).
    pub replay_offered: bool,
    /// This request is that replay: answer it as it is
    /// ([`Replaying`](crate::replay::Replaying)).
    pub replaying: bool,
    /// Set by the layer below on the way back: send the copy once more
    /// ([`ReplayWanted`](crate::replay::ReplayWanted)).
    pub replay_wanted: bool,
}

/// What a layer reads of an answer on its way back up: its status, headers and URL. The body
/// is the caller's.
///
/// A `reqwest::Response` is one; the default stack of `perspio-api` answers with its own type,
/// a response whose body it has already read (bounded, inside the retry loop), so that the
/// generated code decodes those bytes without a `reqwest::Response` rebuilt around them.
pub trait Reply: Send {
    /// The status code.
    fn status(&self) -> StatusCode;
    /// The headers.
    fn headers(&self) -> &HeaderMap;
    /// The URL the answer came from.
    fn url(&self) -> &Url;
}

impl Reply for Response {
    fn status(&self) -> StatusCode {
        Response::status(self)
    }

    fn headers(&self) -> &HeaderMap {
        Response::headers(self)
    }

    fn url(&self) -> &Url {
        Response::url(self)
    }
}

/// The rest of a stack below a layer: one request in, one answer out.
///
/// Implemented by the layers' adapters of `reqwest_middleware::Next` (answering with a
/// `reqwest::Response`) and by the default stack's own inner layers (perspio-api); a layer
/// calls [`send`](Self::send) once per request it sends (a retry or a replay is one more
/// call), and hands the answer up as it came.
pub trait Downstream: Send {
    /// What the rest of the stack answers with.
    type Reply: Reply;

    /// Sends `request` through the rest of the stack.
    fn send<'a>(
        &'a mut self,
        request: Request,
        signals: &'a mut Signals,
    ) -> impl Future<Output = reqwest_middleware::Result<Self::Reply>> + Send + 'a;
}

/// A downstream lent for a while is a downstream.
impl<D: Downstream + ?Sized> Downstream for &mut D {
    type Reply = D::Reply;

    fn send<'a>(
        &'a mut self,
        request: Request,
        signals: &'a mut Signals,
    ) -> impl Future<Output = reqwest_middleware::Result<D::Reply>> + Send + 'a {
        (**self).send(request, signals)
    }
}

/// A copy of a request built by reqwest's `RequestBuilder` (the generated operations' and
/// `perspio-api`'s raw requests), to send again: what `Request::try_clone` makes of it (`None`
/// for a body that cannot be copied, a stream), without the extension map reqwest 0.13's
/// `try_clone` allocates to write an absent timeout into it: three allocations of the six a
/// bodyless copy made (issue 16).
///
/// A `RequestBuilder` puts nothing in a request's (private) extensions but its timeout, which
/// is copied; a request converted from an `http::Request` may carry other extensions, which a
/// copy made here would not: use `try_clone` for those.
pub fn copy_request(request: &Request) -> Option<Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::Duration;

    use reqwest::header::{ACCEPT, HeaderValue};
    use reqwest::{Method, Version};

    use super::*;

    fn same(a: &Request, b: &Request) {
        assert_eq!(a.method(), b.method());
        assert_eq!(a.url(), b.url());
        assert_eq!(a.headers(), b.headers());
        assert_eq!(a.version(), b.version());
        assert_eq!(a.timeout(), b.timeout());
        assert_eq!(
            a.body().and_then(|b| b.as_bytes()),
            b.body().and_then(|b| b.as_bytes())
        );
    }

    #[test]
    fn a_copy_is_what_try_clone_makes_with_or_without_timeout_body_and_version() {
        let url: reqwest::Url = "https://talk.perspio.io/assets/v3/?a=1".parse().unwrap();
        let mut plain = Request::new(Method::GET, url.clone());
        plain
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut timed = Request::new(Method::DELETE, url.clone());
        *timed.timeout_mut() = Some(Duration::from_secs(7));
        *timed.version_mut() = Version::HTTP_2;
        let mut with_body = Request::new(Method::POST, url);
        *with_body.body_mut() = Some(reqwest::Body::from("{}"));
        for request in [plain, timed, with_body] {
            same(
                &copy_request(&request).unwrap(),
                &request.try_clone().unwrap(),
            );
        }
    }

    #[test]
    fn a_streamed_body_cannot_be_copied() {
        let mut streamed = Request::new(Method::POST, "https://h/".parse().unwrap());
        let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("x")];
        *streamed.body_mut() = Some(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        assert!(copy_request(&streamed).is_none());
    }
}
