//! How a call leaves the client: through the default stack's layers called directly (one
//! future per call), or through a `reqwest_middleware` stack.
//!
//! The default stack (retry → auth → body limit, no rate limiter) is the same code as its
//! middlewares, run as plain generic calls ([`perspio_core::layer`]): no boxed future per
//! layer, no `Next`, no `Extensions` map and no [`OperationId`] extension per call, since no
//! middleware of someone else's is there to read them. A stack with a rate limiter, and a stack
//! given to [`Client::from_middleware`](crate::Client::from_middleware), run as middlewares:
//! a rate-limited call waits for its slot (20 per 90 s), so what the boxes cost does not show.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::future::Either;
use perspio_auth::AuthMiddleware;
use perspio_core::layer::{Downstream, Signals};
use perspio_policy::RetryMiddleware;
use reqwest::Request;
use reqwest_middleware::ClientWithMiddleware;
use url::Url;

use crate::body::{DEFAULT_MAX_BODY_SIZE, ReadResponse, was_read};
use crate::hooks::OperationId;

/// What a [`Client`](crate::Client) sends its requests through (progenitor's inner value,
/// `Client::inner()`, of progenitor's `ClientInfo` trait).
///
/// It dereferences to the client's middleware stack, so `client.inner().get(url).send()`
/// sends a request of your own through the same middlewares (authentication included). Made
/// from a stack with `Transport::from(stack)`.
#[derive(Clone)]
pub struct Transport {
    stack: ClientWithMiddleware,
    fused: Option<Arc<Fused>>,
    base: Option<Arc<Base>>,
}

/// The client's base URL, parsed once, and the text it was parsed from.
#[derive(Debug)]
struct Base {
    text: Box<str>,
    url: Url,
    /// The URLs of paths without parameters, joined once ([`Base::constant`]).
    constant: Box<[OnceLock<(&'static str, Url)>]>,
}

/// Slots of [`Base::constant`]: an operation's path without parameters is a `&'static str`,
/// which picks its slot by address. A path whose slot another path holds is joined on every
/// call, as before; every slot is filled at most once, so a client holds at most this many
/// URLs.
const CONSTANT_SLOTS: usize = 64;

impl Base {
    fn new(text: &str, url: Url) -> Self {
        Base {
            text: text.into(),
            url,
            constant: (0..CONSTANT_SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The base joined to `path`: for a path without parameters (a literal), the URL joined
    /// the first time and cloned since (one read of the slot, no lock, no parse); otherwise
    /// joined now.
    fn join(&self, path: fmt::Arguments<'_>) -> Url {
        let Some(literal) = path.as_str() else {
            return join(&self.url, path);
        };
        // The address identifies the literal; pointer equality (not text equality) keeps the
        // check a comparison of two words.
        let slot = (literal.as_ptr() as usize >> 3) % CONSTANT_SLOTS;
        let (held, url) = self.constant[slot].get_or_init(|| (literal, join(&self.url, path)));
        if std::ptr::eq(*held, literal) {
            url.clone()
        } else {
            join(&self.url, path)
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("stack", &self.stack)
            .field("fused", &self.fused.is_some())
            .field("base_parsed", &self.base.is_some())
            .finish()
    }
}

impl From<ClientWithMiddleware> for Transport {
    /// Every call through `stack`, as middlewares.
    fn from(stack: ClientWithMiddleware) -> Self {
        Transport {
            stack,
            fused: None,
            base: None,
        }
    }
}

impl Deref for Transport {
    type Target = ClientWithMiddleware;

    fn deref(&self) -> &ClientWithMiddleware {
        &self.stack
    }
}

impl Transport {
    /// The default stack: operations run its layers directly; `stack` (the same layers as
    /// middlewares, sharing their state) serves [`Deref`].
    pub(crate) fn fused(
        stack: ClientWithMiddleware,
        http: reqwest::Client,
        attempt_timeout: Duration,
        retry: RetryMiddleware,
        auth: AuthMiddleware,
        max_body_size: u64,
    ) -> Self {
        Transport {
            stack,
            fused: Some(Arc::new(Fused {
                http,
                attempt_timeout,
                retry,
                auth,
                max_body_size,
            })),
            base: None,
        }
    }

    /// Keeps `base_url` parsed, for [`url`] to join paths to: only when it is already in the
    /// form `Url` writes it (a normalized base URL, see `client::normalize_base_url`), so that
    /// the joined URL is exactly what parsing the whole text would give.
    pub(crate) fn with_base_url(mut self, base_url: &str) -> Self {
        self.base = Url::parse(base_url)
            .ok()
            .filter(|url| {
                url.query().is_none()
                    && url.fragment().is_none()
                    && !base_url.ends_with('/')
                    && (url.as_str() == base_url
                        || (url.path() == "/" && url.as_str().strip_suffix('/') == Some(base_url)))
            })
            .map(|url| Arc::new(Base::new(base_url, url)));
        self
    }

    /// The middleware stack (also what `*transport` gives).
    pub fn middleware(&self) -> &ClientWithMiddleware {
        &self.stack
    }

    /// Whether operations run the default stack's layers directly rather than as middlewares.
    pub fn is_fused(&self) -> bool {
        self.fused.is_some()
    }

    /// Sends the request of operation `operation_id` and reads its body, bounded. Not an
    /// `async fn`: the future is the stack's own, not one more that holds it.
    pub(crate) fn execute(
        &self,
        request: Request,
        operation_id: &'static str,
    ) -> impl Future<Output = reqwest_middleware::Result<ReadResponse>> + Send + '_ {
        match &self.fused {
            Some(fused) => Either::Left(fused.execute(request)),
            None => Either::Right(self.execute_middleware(request, operation_id)),
        }
    }

    async fn execute_middleware(
        &self,
        request: Request,
        operation_id: &'static str,
    ) -> reqwest_middleware::Result<ReadResponse> {
        let mut extensions = http::Extensions::new();
        extensions.insert(OperationId(operation_id));
        let response = self
            .stack
            .execute_with_extensions(request, &mut extensions)
            .await?;
        // A body the body limit read is in memory, read with that limit; a stack built without
        // the body limit still reads bounded.
        let limit = if was_read(&response) {
            u64::MAX
        } else {
            DEFAULT_MAX_BODY_SIZE
        };
        ReadResponse::read(response, limit).await
    }
}

/// The URL of a generated operation: `path` (the operation's path, parameters encoded, starting
/// with `/`) joined to the client's parsed base URL, one URL copy and no parse of the whole
/// text; `Err` with the text progenitor would have parsed when the base is not kept parsed
/// (a client made with another base URL than its transport's), for [`request`] to parse.
#[allow(
    dead_code,
    reason = "called by generated code only; with no tag feature on, no operation is compiled"
)]
pub(crate) fn url(client: &crate::Client, path: fmt::Arguments<'_>) -> Result<Url, String> {
    match &client.inner.base {
        Some(base) if *base.text == *client.baseurl => Ok(base.join(path)),
        _ => Err(format!("{}{}", client.baseurl, path)),
    }
}

/// `base` with its path followed by `path` (which starts with `/`).
fn join(base: &Url, path: fmt::Arguments<'_>) -> Url {
    let mut url = base.clone();
    match path.as_str() {
        Some(path) if url.path() == "/" => url.set_path(path),
        _ => {
            let stem = match url.path() {
                "/" => "",
                stem => stem,
            };
            let mut full = String::with_capacity(stem.len() + 64);
            full.push_str(stem);
            // Writing to a `String` cannot fail.
            let _ = fmt::Write::write_fmt(&mut full, path);
            url.set_path(&full);
        }
    }
    url
}

/// `http.request(method, url)`, parsing `url` when [`url`] could not join it.
#[allow(
    dead_code,
    reason = "called by generated code only; with no tag feature on, no operation is compiled"
)]
pub(crate) fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: Result<Url, String>,
) -> reqwest::RequestBuilder {
    match url {
        Ok(url) => http.request(method, url),
        Err(text) => http.request(method, text),
    }
}

/// The default stack's layers: retry, then auth, then reqwest and the bounded body read.
#[derive(Debug)]
struct Fused {
    http: reqwest::Client,
    /// `http`'s own timeout per request (its `ClientBuilder::timeout`).
    attempt_timeout: Duration,
    retry: RetryMiddleware,
    auth: AuthMiddleware,
    max_body_size: u64,
}

impl Fused {
    fn execute(
        &self,
        request: Request,
    ) -> impl Future<Output = reqwest_middleware::Result<ReadResponse>> + Send + '_ {
        // Below the retry loop: authentication, then [`Http`].
        self.retry
            .run_around(request, false, self.auth.over(Http(self)))
    }
}

/// The request sent, and its body read whole within the limit (what
/// [`BodyLimitMiddleware`](crate::BodyLimitMiddleware) does in a middleware stack), inside the
/// retry loop: a body that stalls is an attempt that timed out. The answer is the response
/// with its body beside it, not a `reqwest::Response` rebuilt around the bytes.
struct Http<'f>(&'f Fused);

impl Downstream for Http<'_> {
    type Reply = ReadResponse;
    /// reqwest's own timer, set no later than the call deadline, ends the send and the body
    /// read: the retry loop above needs no timer of its own per call.
    const BOUNDS_WAITS: bool = true;

    fn send<'a>(
        &'a mut self,
        mut request: Request,
        signals: &'a mut Signals,
    ) -> impl Future<Output = reqwest_middleware::Result<ReadResponse>> + Send + 'a {
        let fused = self.0;
        if let Some(at) = signals.deadline {
            // reqwest's timer covers the response and its body; it is set to what is left of
            // the call when that is less than the request's own timeout (which the request
            // carries, or else is the client's). Only then is the request's timeout written,
            // in the last `attempt_timeout` of a call.
            let left = at.saturating_duration_since(Instant::now());
            let own = request.timeout().copied().unwrap_or(fused.attempt_timeout);
            if left < own {
                *request.timeout_mut() = Some(left);
            }
        }
        async move {
            let response = fused.http.execute(request).await?;
            ReadResponse::read(response, fused.max_body_size).await
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use proptest::prelude::*;

    use super::*;

    /// What progenitor did: the base text and the path formatted, and parsed whole.
    fn parsed_whole(base: &str, path: &str) -> Url {
        Url::parse(&format!("{base}{path}")).unwrap()
    }

    #[test]
    fn a_path_joined_to_a_base_with_or_without_a_stem_is_the_url_parsing_gives() {
        for base in ["https://talk.perspio.io", "http://127.0.0.1:8080/stem/v1"] {
            let url = Url::parse(base).unwrap();
            for path in ["/assets/v3/", "/a/../b/./c", "/x%2Fy/%2e%2e/z"] {
                assert_eq!(
                    join(&url, format_args!("{path}")),
                    parsed_whole(base, path),
                    "{base} {path}"
                );
                let literal = join(&url, format_args!("/assets/v3/"));
                assert_eq!(literal, parsed_whole(base, "/assets/v3/"));
            }
        }
    }

    #[test]
    fn a_path_without_parameters_is_joined_once_and_is_the_url_parsing_gives() {
        for text in ["https://talk.perspio.io", "http://127.0.0.1:8080/stem/v1"] {
            let base = Base::new(text, Url::parse(text).unwrap());
            for _ in 0..3 {
                assert_eq!(
                    base.join(format_args!("/assets/v3/")),
                    parsed_whole(text, "/assets/v3/")
                );
                assert_eq!(
                    base.join(format_args!("/sites/v3/")),
                    parsed_whole(text, "/sites/v3/")
                );
                let id = "a b";
                assert_eq!(
                    base.join(format_args!("/assets/v3/{}", id)),
                    parsed_whole(text, "/assets/v3/a%20b")
                );
            }
            assert!(
                base.constant
                    .iter()
                    .filter(|slot| slot.get().is_some())
                    .count()
                    >= 1
            );
        }
    }

    #[test]
    fn a_path_whose_slot_another_path_holds_is_joined_as_before() {
        let text = "https://talk.perspio.io";
        let base = Base::new(text, Url::parse(text).unwrap());
        let other = parsed_whole(text, "/other");
        for slot in base.constant.iter() {
            slot.set(("/other", other.clone())).unwrap();
        }
        assert_eq!(
            base.join(format_args!("/assets/v3/")),
            parsed_whole(text, "/assets/v3/")
        );
        assert_eq!(
            base.join(format_args!("/locations/v3/labels")),
            parsed_whole(text, "/locations/v3/labels")
        );
    }

    #[test]
    fn only_a_base_in_its_written_form_is_kept_parsed() {
        perspio_core::tls::install_crypto_provider();
        let stack = || {
            Transport::from(reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build())
        };
        for kept in ["https://talk.perspio.io", "http://127.0.0.1:1/stem"] {
            assert!(stack().with_base_url(kept).base.is_some(), "{kept}");
        }
        for not_kept in [
            "https://talk.perspio.io/",
            "https://TALK.perspio.io",
            "https://talk.perspio.io?x=1",
            "https://talk.perspio.io/#f",
            "not a url",
        ] {
            assert!(stack().with_base_url(not_kept).base.is_none(), "{not_kept}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Path parameters as progenitor encodes them (`encode_path`): whatever they hold
        /// (dots, backslashes, percent signs, non-ASCII, controls), the joined URL is the
        /// parsed one.
        #[test]
        fn any_encoded_parameter_joins_to_the_url_parsing_gives(
            stem in prop_oneof![Just(""), Just("/stem"), Just("/a/b")],
            parameter in any::<String>(),
            tail in prop_oneof![Just(""), Just("/"), Just("/labels")],
        ) {
            let base = format!("https://talk.perspio.io{stem}");
            let encoded = progenitor_client::encode_path(&parameter);
            let url = Url::parse(&base).unwrap();
            let joined = join(&url, format_args!("/assets/v3/{}{}", encoded, tail));
            let path = format!("/assets/v3/{encoded}{tail}");
            prop_assert_eq!(joined, parsed_whole(&base, &path));
        }
    }
}
