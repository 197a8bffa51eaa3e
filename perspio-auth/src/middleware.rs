//! The reqwest-middleware [`Middleware`]: origin check, headers, token, and the 401 path.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use http::Extensions;
use reqwest::header::{ACCEPT, AUTHORIZATION, Entry, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};
use url::Url;

use crate::cache::{TokenCache, TokenInfo};
use crate::config::{AuthConfig, origin_of};
use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::redirect::{has_origin_prefix, origin_prefix, same_origin};
use crate::shared::{SharedBackend, SharedTokenStore};
use crate::source::{ClientCredentialsSource, TokenSource};
use crate::store::{InMemoryTokenStore, TokenStore};
use perspio_core::layer::{DeadlineReached, Downstream, Reply, Signals, by_deadline};
use perspio_core::replay::{ReplayOffered, ReplayWanted, Replaying};
use perspio_core::{Clock, SystemClock};

/// The `tid` header: the Perspio tenant id.
pub const TENANT_HEADER: HeaderName = HeaderName::from_static("tid");
/// The Azure API Management subscription-key header.
pub const SUBSCRIPTION_KEY_HEADER: HeaderName =
    HeaderName::from_static("ocp-apim-subscription-key");

/// Authenticates every PerspioTalk request.
///
/// For each request to the configured API origin it adds `Authorization: Bearer …` (from a
/// cached token), `tid`, `Ocp-Apim-Subscription-Key` and `Accept: application/json` (each only
/// when absent); on `401` it refreshes the token (at most once per interval for the whole
/// client) and retries the request once. Requests to any other origin are refused with
/// [`AuthError::CredentialsWouldLeak`] and never sent.
///
/// Clones share one token cache. A request that already carries `Authorization` keeps it
/// and is not retried on `401`.
///
/// The copy of the request kept for the `401` retry is made only when no outer layer lends one:
/// under perspio-policy's `RetryMiddleware` (the default stack) the retry layer's template is
/// sent again instead (see [`perspio_core::replay`]), so a call makes one copy, not two.
///
/// Errors reach the caller as `reqwest_middleware::Error::Middleware` wrapping an
/// [`AuthError`]; see [`AuthError`] for downcasting.
#[derive(Clone)]
pub struct AuthMiddleware {
    inner: Arc<Inner>,
}

struct Inner {
    cache: Arc<TokenCache>,
    api_base_url: Url,
    /// `api_base_url`'s origin as text (`redirect::origin_prefix`), for the per-request check.
    api_origin_prefix: Box<str>,
    client_id: String,
    tenant_id: String,
    tenant_header: HeaderValue,
    subscription_key_header: HeaderValue,
}

impl fmt::Debug for AuthMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthMiddleware")
            .field("api_origin", &origin_of(&self.inner.api_base_url))
            .field("tenant", &self.inner.tenant_header)
            .field("subscription_key", &"SubscriptionKey([redacted])")
            .field("cache", &self.inner.cache)
            .finish()
    }
}

impl AuthMiddleware {
    /// The client-credentials middleware with the default store and the system clock.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidConfig`] or [`AuthError::InsecureTransport`] for unusable URLs.
    pub fn new(credentials: Credentials, config: AuthConfig) -> Result<Self, AuthError> {
        Self::builder(credentials).with_config(config).build()
    }

    /// [`Credentials::from_env`] and [`AuthConfig::from_env`].
    ///
    /// # Errors
    ///
    /// As those two and [`new`](Self::new).
    pub fn from_env() -> Result<Self, AuthError> {
        Self::new(Credentials::from_env()?, AuthConfig::from_env()?)
    }

    /// A builder, to replace the token source, store or clock.
    pub fn builder(credentials: Credentials) -> AuthMiddlewareBuilder {
        AuthMiddlewareBuilder {
            credentials,
            config: AuthConfig::default(),
            source: None,
            store: None,
            clock: None,
        }
    }

    /// The current token's metadata, acquiring a token if none is usable.
    ///
    /// # Errors
    ///
    /// The token could not be obtained.
    pub async fn token_info(&self) -> Result<TokenInfo, AuthError> {
        self.inner.cache.token_info().await
    }

    /// The Entra application (client id) the middleware authenticates as.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The Perspio tenant id (`tid`) it sends.
    pub fn tenant_id(&self) -> &str {
        &self.inner.tenant_id
    }

    /// The cached token's metadata, if any, without calling the token endpoint.
    pub fn cached_token_info(&self) -> Option<TokenInfo> {
        self.inner.cache.cached_token_info()
    }

    fn check_origin(&self, url: &Url) -> Result<(), AuthError> {
        if has_origin_prefix(url, &self.inner.api_origin_prefix)
            || same_origin(url, &self.inner.api_base_url)
        {
            Ok(())
        } else {
            Err(AuthError::CredentialsWouldLeak {
                origin: origin_of(url),
                allowed: origin_of(&self.inner.api_base_url),
            })
        }
    }
}

#[async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let mut signals = Signals {
            replay_offered: extensions.get::<ReplayOffered>().is_some(),
            replaying: extensions.get::<Replaying>().is_some(),
            replay_wanted: false,
            // A middleware stack's retry layer bounds the call with its own timer.
            deadline: None,
        };
        // No layer above offers a copy: this future keeps the one for the 401 replay and plays
        // the outer layer's part itself, so that `authenticate` needs no copy of its own (the
        // default stack's call future then holds no room for one). A request that carries its
        // own `Authorization` is never replayed, so it is not copied.
        let own = if signals.replay_offered || request.headers().contains_key(AUTHORIZATION) {
            None
        } else {
            request.try_clone()
        };
        signals.replay_offered |= own.is_some();
        let mut rest = NextDown {
            next: next.clone(),
            extensions: &mut *extensions,
        };
        let outcome = self.authenticate(request, &mut signals, &mut rest).await;
        if !signals.replay_wanted {
            return outcome;
        }
        match own {
            Some(copy) => {
                let mut again = Signals {
                    replaying: true,
                    ..Signals::default()
                };
                let mut rest = NextDown {
                    next,
                    extensions: &mut *extensions,
                };
                self.authenticate(copy, &mut again, &mut rest).await
            }
            None => {
                extensions.insert(ReplayWanted);
                outcome
            }
        }
    }
}

/// The rest of a `reqwest_middleware` stack as a [`Downstream`].
struct NextDown<'n, 'e> {
    next: Next<'n>,
    extensions: &'e mut Extensions,
}

impl Downstream for NextDown<'_, '_> {
    type Reply = Response;

    fn send<'a>(
        &'a mut self,
        request: Request,
        _signals: &'a mut Signals,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'a {
        self.next.clone().run(request, self.extensions)
    }
}

impl AuthMiddleware {
    /// What the middleware does, with `downstream` as the rest of the stack: the layers below
    /// called directly ([`perspio_core::layer`]), as the default stack of `perspio-api` does,
    /// without a boxed future or an `Extensions` map per request.
    ///
    /// `signals` are the replay protocol with the layer above: when it offers its copy
    /// ([`Signals::replay_offered`]) no copy is made here, and a `401` answered with a new
    /// token sets [`Signals::replay_wanted`] and returns the `401`, for the layer above to send
    /// its copy again with [`Signals::replaying`]; without an offer the copy for the one
    /// replay is made here.
    ///
    /// # Errors
    /// As the middleware: an [`AuthError`] inside `reqwest_middleware::Error::Middleware`
    /// (another origin, no token), or the downstream's error.
    #[allow(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps each by-value argument twice in its future (the argument and the local it is moved to); the `async move` block keeps the request once, 264 bytes less per call future"
    )]
    pub fn authenticate<D: Downstream>(
        &self,
        mut request: Request,
        signals: &mut Signals,
        downstream: &mut D,
    ) -> impl Future<Output = reqwest_middleware::Result<D::Reply>> {
        async move {
            if let Err(error) = self.check_origin(request.url()) {
                tracing::warn!(%error, "request refused");
                return Err(error.into_middleware_error());
            }
            let headers = request.headers_mut();
            // The cached token without a future; the slow path (acquire, wait, refresh) and the
            // 401 path are boxed, so that their state does not make every request's future
            // larger.
            let token = if only_accept(headers) {
                // A generated operation's request: `Accept` and nothing else, so none of the
                // other headers is there and each is appended, without looking for it first
                // (a third less than `entry` per header, issue 16).
                headers.append(TENANT_HEADER, self.inner.tenant_header.clone());
                headers.append(
                    SUBSCRIPTION_KEY_HEADER,
                    self.inner.subscription_key_header.clone(),
                );
                match self.inner.cache.fresh_authorization() {
                    Some((authorization, generation)) => {
                        headers.append(AUTHORIZATION, authorization);
                        Token::Set(generation)
                    }
                    None => Token::Acquire,
                }
            } else {
                // Any other request: each header only when absent, one hash each (`entry`), not
                // a lookup and then an insert.
                headers
                    .entry(ACCEPT)
                    .or_insert_with(|| HeaderValue::from_static("application/json"));
                headers
                    .entry(TENANT_HEADER)
                    .or_insert_with(|| self.inner.tenant_header.clone());
                headers
                    .entry(SUBSCRIPTION_KEY_HEADER)
                    .or_insert_with(|| self.inner.subscription_key_header.clone());
                match headers.entry(AUTHORIZATION) {
                    Entry::Occupied(_) => Token::Callers,
                    Entry::Vacant(slot) => match self.inner.cache.fresh_authorization() {
                        Some((authorization, generation)) => {
                            slot.insert(authorization);
                            Token::Set(generation)
                        }
                        None => Token::Acquire,
                    },
                }
            };
            // The layers below take no part in the replay protocol; the call deadline, when the
            // layer above hands one down, is theirs too.
            let mut below = Signals {
                deadline: signals.deadline,
                ..Signals::default()
            };
            // What the 401 path needs, when this request may be refreshed and sent again.
            let mut watch = None;
            let generation = match token {
                Token::Callers => None,
                Token::Set(generation) => Some(generation),
                Token::Acquire => {
                    // A wait of this layer's: ended by the call deadline, when there is one.
                    let (authorization, generation) =
                        by_deadline(signals.deadline, Box::pin(self.inner.cache.authorization()))
                            .await
                            .map_err(DeadlineReached::into_error)?
                            .map_err(AuthError::into_middleware_error)?;
                    request.headers_mut().insert(AUTHORIZATION, authorization);
                    Some(generation)
                }
            };
            if let Some(generation) = generation {
                // A replay the outer layer sends for us is answered as it is: retried once, never
                // again.
                if !signals.replaying {
                    // The copy for the one 401 retry: the outer layer's (the retry layer's
                    // template) when it offers one, so that a call makes one copy, not two.
                    let offered = signals.replay_offered;
                    watch = Some(Watch {
                        replay: if offered {
                            None
                        } else {
                            request.try_clone().map(Box::new)
                        },
                        // For the log line of an outer replay (a standard method is copied
                        // without allocating).
                        method: offered.then(|| request.method().clone()),
                        offered,
                        generation,
                    });
                }
            }
            // One send, at one await (one future slot); a request that came with its own
            // `Authorization` is sent as it is and never retried.
            let response = downstream.send(request, &mut below).await?;
            match watch {
                // The 401 path in a future of its own, boxed only when a 401 comes back.
                Some(watch) if response.status() == StatusCode::UNAUTHORIZED => {
                    Box::pin(self.after_unauthorized(response, watch, signals, downstream)).await
                }
                _ => Ok(response),
            }
        }
    }

    /// A 401 came back: refresh (at most once per interval for the client) and send the request
    /// once more, from our copy or (`offered`) by asking the outer layer for its copy.
    async fn after_unauthorized<D: Downstream>(
        &self,
        response: D::Reply,
        watch: Watch,
        signals: &mut Signals,
        downstream: &mut D,
    ) -> reqwest_middleware::Result<D::Reply> {
        let Watch {
            replay,
            method,
            offered,
            generation,
        } = watch;
        let can_retry = offered || replay.is_some();
        // A wait of this layer's (the refresh): ended by the call deadline, when there is one.
        let refreshed = by_deadline(
            signals.deadline,
            self.inner.cache.on_unauthorized(generation, can_retry),
        )
        .await
        .map_err(DeadlineReached::into_error)?;
        match refreshed {
            Ok(Some(entry)) => match replay {
                Some(replay) => {
                    let mut replay = *replay;
                    tracing::info!(
                        method = %replay.method(),
                        path = replay.url().path(),
                        "401 from the api; retrying once with a new token"
                    );
                    replay
                        .headers_mut()
                        .insert(AUTHORIZATION, entry.header.clone());
                    drop(response);
                    let mut below = Signals {
                        deadline: signals.deadline,
                        ..Signals::default()
                    };
                    downstream.send(replay, &mut below).await
                }
                None if offered => {
                    tracing::info!(
                        method = %method.unwrap_or_default(),
                        path = response.url().path(),
                        "401 from the api; retrying once with a new token"
                    );
                    signals.replay_wanted = true;
                    Ok(response)
                }
                None => Ok(response),
            },
            Ok(None) => {
                if !can_retry {
                    tracing::info!("401 for a request whose body cannot be replayed; not retrying");
                }
                Ok(response)
            }
            Err(error) => {
                tracing::warn!(%error, "token refresh after a 401 failed; returning the 401");
                Ok(response)
            }
        }
    }
}

/// Whether `headers` hold one value, `Accept` (what a generated operation's request carries when
/// it reaches auth): found without hashing, by the map's one entry.
fn only_accept(headers: &HeaderMap) -> bool {
    headers.len() == 1 && headers.keys().next() == Some(&ACCEPT)
}

/// Authentication over `below`, as one layer of a stack called directly: what
/// [`AuthMiddleware::over`] returns.
#[derive(Debug)]
pub struct Authenticated<'a, D> {
    auth: &'a AuthMiddleware,
    below: D,
}

impl AuthMiddleware {
    /// This middleware as a [`Downstream`] layer over `below` (the rest of a stack called
    /// directly): each request sent through it is [authenticated](Self::authenticate) and
    /// then sent to `below`.
    pub fn over<D: Downstream>(&self, below: D) -> Authenticated<'_, D> {
        Authenticated { auth: self, below }
    }
}

impl<D: Downstream> Downstream for Authenticated<'_, D> {
    type Reply = D::Reply;
    /// Auth's own waits (a token to acquire, the refresh after a 401) end by
    /// [`Signals::deadline`]; the rest is `below`'s.
    const BOUNDS_WAITS: bool = D::BOUNDS_WAITS;

    fn send<'a>(
        &'a mut self,
        request: Request,
        signals: &'a mut Signals,
    ) -> impl Future<Output = reqwest_middleware::Result<D::Reply>> + Send + 'a {
        self.auth.authenticate(request, signals, &mut self.below)
    }
}

/// Where a request's `Authorization` comes from.
enum Token {
    /// The caller set it: sent as it is, never retried on 401.
    Callers,
    /// The cached token, set; its generation.
    Set(u64),
    /// No usable token is cached: acquire one.
    Acquire,
}

/// What the 401 path of one request needs.
struct Watch {
    /// Our own copy, when the outer layer offered none. Boxed: the default stack's retry
    /// layer offers its copy, and an inline `Request` (264 bytes) would be in every call's
    /// future all the same.
    replay: Option<Box<Request>>,
    /// The method, for the log line of an outer replay.
    method: Option<http::Method>,
    /// The outer layer keeps a copy and sends it again on [`Signals::replay_wanted`].
    offered: bool,
    /// The token generation the request was sent with.
    generation: u64,
}

/// Builds an [`AuthMiddleware`] with a custom token source, store or clock.
///
/// ```
/// use std::sync::Arc;
/// use perspio_auth::{AccessToken, AuthMiddleware, ClientSecret, Credentials, ManualClock,
///     StaticTokenSource, SubscriptionKey};
///
/// let creds = Credentials::new("app", ClientSecret::new("s"), "in-tenant", SubscriptionKey::new("k"))?;
/// let clock = ManualClock::new();
/// let source = Arc::new(StaticTokenSource::new(AccessToken::new("test-token")));
/// let middleware = AuthMiddleware::builder(creds)
///     .with_token_source(source.clone())
///     .with_clock(clock.clone())
///     .build()?;
/// # let _ = middleware;
/// # Ok::<(), perspio_auth::AuthError>(())
/// ```
pub struct AuthMiddlewareBuilder {
    credentials: Credentials,
    config: AuthConfig,
    source: Option<Arc<dyn TokenSource>>,
    store: Option<Store>,
    clock: Option<Arc<dyn Clock>>,
}

/// The store a builder was given.
#[derive(Debug)]
enum Store {
    Ready(Arc<dyn TokenStore>),
    Shared(Arc<dyn SharedBackend>),
}

impl fmt::Debug for AuthMiddlewareBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthMiddlewareBuilder")
            .field("credentials", &self.credentials)
            .field("config", &self.config)
            .field("source", &self.source)
            .field("store", &self.store)
            .field("clock", &self.clock)
            .finish()
    }
}

impl AuthMiddlewareBuilder {
    /// Endpoints and timings. Defaults to [`AuthConfig::default()`].
    pub fn with_config(mut self, config: AuthConfig) -> Self {
        self.config = config;
        self
    }

    /// Where tokens come from. Defaults to a [`ClientCredentialsSource`] built from the
    /// credentials and config.
    pub fn with_token_source(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.source = Some(source);
        self
    }

    /// Where tokens are kept. Defaults to a new [`InMemoryTokenStore`].
    pub fn with_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(Store::Ready(store));
        self
    }

    /// Shares the token with every process of the application through `backend` (Redis:
    /// `RedisTokenBackend`, feature `redis`; Memcached:
    /// `MemcachedTokenBackend`, feature `memcached`).
    ///
    /// One record per token URL, tenant, client id and scope, sealed with a key derived from
    /// the client secret (XChaCha20-Poly1305, HKDF-SHA256): the store never sees the secret or
    /// a usable token, and a tampered or foreign record is ignored. One process fetches while
    /// the others wait for its token (a lease, [`AuthConfig::with_lease_ttl`]); a `401` deletes
    /// the shared token only if it is the refused one, so the fleet refreshes once. The
    /// per-request path stays local: the store is read only when this process needs a new
    /// token, and a store that is down costs at most one short timeout before its circuit
    /// breaker opens and tokens are fetched directly.
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")]
    /// # fn run() -> Result<(), perspio_auth::AuthError> {
    /// use perspio_auth::{AuthMiddleware, Credentials, RedisTokenBackend};
    ///
    /// let auth = AuthMiddleware::builder(Credentials::from_env()?)
    ///     .with_shared_store(RedisTokenBackend::open("rediss://:password@cache.example:6380/0")?)
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok(()) }
    /// ```
    pub fn with_shared_store(mut self, backend: impl SharedBackend) -> Self {
        self.store = Some(Store::Shared(Arc::new(backend)));
        self
    }

    /// The clock. Defaults to [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Validates the configuration and builds the middleware.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidConfig`] or [`AuthError::InsecureTransport`] for unusable URLs.
    pub fn build(self) -> Result<AuthMiddleware, AuthError> {
        self.config.validate()?;
        let source = match self.source {
            Some(source) => source,
            None => Arc::new(ClientCredentialsSource::new(
                &self.credentials,
                &self.config,
            )?),
        };
        let store: Arc<dyn TokenStore> = match self.store {
            Some(Store::Ready(store)) => store,
            Some(Store::Shared(backend)) => Arc::new(SharedTokenStore::new(
                backend,
                &self.credentials,
                &self.config,
            )),
            None => Arc::new(InMemoryTokenStore::new()),
        };
        let cache = TokenCache::new(
            source,
            store,
            self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            self.config.timings,
            self.config.jitter,
        );
        Ok(AuthMiddleware {
            inner: Arc::new(Inner {
                cache: Arc::new(cache),
                api_origin_prefix: origin_prefix(&self.config.api_base_url),
                api_base_url: self.config.api_base_url,
                client_id: self.credentials.client_id().to_owned(),
                tenant_id: self.credentials.tenant_id().to_owned(),
                tenant_header: self.credentials.tenant_header.clone(),
                subscription_key_header: self.credentials.subscription_key_header.clone(),
            }),
        })
    }
}
