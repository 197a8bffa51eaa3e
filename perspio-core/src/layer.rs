//! Layers called directly, without a boxed future per layer: how the default stack of
//! `perspio-api` runs the retry, authentication and body-limit layers as one future.
//!
//! A `reqwest_middleware` stack boxes one future per middleware per request and passes what
//! the layers say to each other ([`crate::replay`]) through the request's `Extensions`, a map
//! allocated per call. The same layers also run as plain generic code: each takes the rest of
//! the stack as a [`Downstream`], and the replay protocol travels in [`Signals`], a struct on
//! the caller's stack. The middlewares (`RetryMiddleware`, `AuthMiddleware`) are this code with
//! a `Next` as their downstream, so both forms have one implementation.

use std::fmt;
use std::future::Future;
use std::time::Instant;

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
    /// The call's deadline, from a layer above that bounds this send by it without a timer of
    /// its own, because the layers below end each of their waits by it
    /// ([`Downstream::BOUNDS_WAITS`]): a wait that would outlast it ends with
    /// [`DeadlineReached`], and reqwest's own timer is set no later than it. Passed on to the
    /// layer below. `None`: no deadline to keep here (the layer above has its own timer, or
    /// none).
    pub deadline: Option<Instant>,
}

/// A layer below stopped waiting at [`Signals::deadline`]: the call's deadline was reached
/// during a send. The layer that set the deadline reports it (perspio-policy's
/// `PolicyError::DeadlineExceeded`); it does not reach a caller as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineReached;

impl fmt::Display for DeadlineReached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the call deadline was reached during a request")
    }
}

impl std::error::Error for DeadlineReached {}

impl DeadlineReached {
    /// As the error of a layer: `reqwest_middleware::Error::Middleware`.
    pub fn into_error(self) -> reqwest_middleware::Error {
        reqwest_middleware::Error::Middleware(self.into())
    }

    /// Whether `error` is this one (from [`into_error`](Self::into_error)).
    pub fn is(error: &reqwest_middleware::Error) -> bool {
        matches!(error, reqwest_middleware::Error::Middleware(e) if e.is::<DeadlineReached>())
    }
}

/// `future`, ended at `deadline` when there is one ([`Signals::deadline`]): what a layer that
/// says it [bounds its waits](Downstream::BOUNDS_WAITS) does with each wait of its own.
///
/// # Errors
/// [`DeadlineReached`] when `deadline` comes first (`future` is dropped).
pub async fn by_deadline<F: Future>(
    deadline: Option<Instant>,
    future: F,
) -> Result<F::Output, DeadlineReached> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at.into(), future)
            .await
            .map_err(|_| DeadlineReached),
        None => Ok(future.await),
    }
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

    /// Whether every wait of this downstream ends by [`Signals::deadline`] when one is given
    /// (its timers set no later than it, its other waits raced against it with
    /// [`by_deadline`]), so that a layer above may bound a send by a deadline without a timer
    /// of its own. `false` unless the downstream says so; a layer over others says so only when
    /// it bounds its own waits and the layers below do too.
    const BOUNDS_WAITS: bool = false;

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
    const BOUNDS_WAITS: bool = D::BOUNDS_WAITS;

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

/// The headers a [`RequestParts`] keeps inline; a request with more is kept whole.
const INLINE_HEADERS: usize = 4;

/// What a request without a body is made of, kept to send it again: the method, a copy of the
/// URL, and the headers inline (a `HeaderValue` clone shares its bytes). Keeping these costs
/// one allocation (the URL's text) where a request copy costs three (the URL and the two
/// arrays of a `HeaderMap`); a request is built from them only when it is sent again.
///
/// For requests built by reqwest's `RequestBuilder`, like [`copy_request`]: the (private)
/// extensions of a request are not kept, except its timeout.
#[derive(Debug, Clone)]
pub struct RequestParts {
    method: reqwest::Method,
    url: Url,
    headers: smallvec::SmallVec<
        [(reqwest::header::HeaderName, reqwest::header::HeaderValue); INLINE_HEADERS],
    >,
    version: reqwest::Version,
    timeout: Option<std::time::Duration>,
}

impl RequestParts {
    /// The parts of `request`: `None` when it has a body or more than four header values
    /// (keep a copy of the request instead, [`copy_request`]).
    pub fn of(request: &Request) -> Option<Self> {
        if request.body().is_some() || request.headers().len() > INLINE_HEADERS {
            return None;
        }
        Some(RequestParts {
            method: request.method().clone(),
            url: request.url().clone(),
            headers: request
                .headers()
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            version: request.version(),
            timeout: request.timeout().copied(),
        })
    }

    /// A request made of these parts: what [`copy_request`] of the original gives.
    pub fn request(&self) -> Request {
        let mut request = Request::new(self.method.clone(), self.url.clone());
        let headers = request.headers_mut();
        headers.reserve(self.headers.len());
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        *request.version_mut() = self.version;
        *request.timeout_mut() = self.timeout;
        request
    }
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

    #[tokio::test]
    async fn a_wait_ends_at_its_deadline_and_not_before_and_without_one_runs_out() {
        use std::time::Instant;

        let started = Instant::now();
        let cut = by_deadline(
            Some(started + Duration::from_millis(30)),
            std::future::pending::<()>(),
        )
        .await;
        assert_eq!(cut, Err(DeadlineReached));
        assert!(started.elapsed() >= Duration::from_millis(30));

        let in_time = by_deadline(Some(Instant::now() + Duration::from_secs(60)), async { 7 });
        assert_eq!(in_time.await, Ok(7));
        let passed = by_deadline(Some(started), async { 8 }).await;
        assert_eq!(passed, Ok(8), "a ready future is polled before the timer");
        let slow = by_deadline(None, tokio::time::sleep(Duration::from_millis(40))).await;
        assert_eq!(slow, Ok(()));
    }

    #[test]
    fn the_deadline_error_is_recognised_as_a_layer_error_and_nothing_else_is() {
        let error = DeadlineReached.into_error();
        assert!(DeadlineReached::is(&error));
        assert_eq!(
            error.to_string(),
            "the call deadline was reached during a request"
        );
        let other = reqwest_middleware::Error::Middleware(std::io::Error::other("x").into());
        assert!(!DeadlineReached::is(&other));
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
    fn a_request_made_of_its_parts_is_its_copy() {
        let url: reqwest::Url = "https://talk.perspio.io/assets/v3/?a=1".parse().unwrap();
        let mut plain = Request::new(Method::GET, url.clone());
        let headers = plain.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.append("x-twice", HeaderValue::from_static("1"));
        headers.append("x-twice", HeaderValue::from_static("2"));
        let mut timed = Request::new(Method::DELETE, url.clone());
        *timed.timeout_mut() = Some(Duration::from_secs(7));
        *timed.version_mut() = Version::HTTP_2;
        for request in [plain, timed] {
            same(
                &RequestParts::of(&request).unwrap().request(),
                &request.try_clone().unwrap(),
            );
        }
        let mut with_body = Request::new(Method::POST, url.clone());
        *with_body.body_mut() = Some(reqwest::Body::from("{}"));
        assert!(RequestParts::of(&with_body).is_none());
        let mut many = Request::new(Method::GET, url);
        for i in 0..=INLINE_HEADERS {
            many.headers_mut()
                .append("x-many", HeaderValue::from_str(&i.to_string()).unwrap());
        }
        assert!(RequestParts::of(&many).is_none());
    }

    #[test]
    fn a_streamed_body_cannot_be_copied() {
        let mut streamed = Request::new(Method::POST, "https://h/".parse().unwrap());
        let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("x")];
        *streamed.body_mut() = Some(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        assert!(copy_request(&streamed).is_none());
    }
}
