//! Building a [`Client`]: one line for the common case, a builder for the rest, and a
//! constructor that takes a caller-built middleware stack.

use std::time::Duration;

use std::sync::Arc;

use perspio_auth::{AuthConfig, AuthMiddleware, Clock, Credentials, SystemClock};
use perspio_core::redact::redact_str;
use perspio_policy::{RateLimit, RateLimitMiddleware, RetryConfig, RetryMiddleware};
use reqwest_middleware::ClientWithMiddleware;
use url::Url;

use crate::Error;
use crate::body::{BodyLimitMiddleware, DEFAULT_MAX_BODY_SIZE};
use crate::generated::Client;
use crate::transport::Transport;

/// The production PerspioTalk host.
pub const DEFAULT_BASE_URL: &str = "https://talk.perspio.io";
/// The variable [`ClientBuilder::from_env`] reads the base URL from.
pub const ENV_BASE_URL: &str = "PERSPIO_BASE_URL";
/// The variable [`ClientBuilder::from_env`] reads a fleet's Redis from
/// (`ClientBuilder::with_redis`; feature `redis`).
pub const ENV_REDIS_URL: &str = "PERSPIO_REDIS_URL";
/// The variable [`ClientBuilder::from_env`] reads a fleet's Memcached from
/// (`ClientBuilder::with_memcached`; feature `memcached`).
pub const ENV_MEMCACHED_URL: &str = "PERSPIO_MEMCACHED_URL";
/// The variable [`ClientBuilder::from_env`] reads the fleet's size from
/// ([`ClientBuilder::with_fleet_size`]).
pub const ENV_FLEET_SIZE: &str = "PERSPIO_FLEET_SIZE";
/// Default timeout of one HTTP attempt, connect to last body byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default connect timeout of one HTTP attempt.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const USER_AGENT: &str = concat!("perspio-rs/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// A client for the production host with the default middleware stack, configured from
    /// the `PERSPIO_*` environment variables (see [`ClientBuilder::from_env`]).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), perspio_api::Error> {
    /// let client = perspio_api::Client::from_env()?;
    /// let assets = client.list_assets().call().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::AuthConfig`] naming the variable that is missing or malformed;
    /// [`Error::InvalidBaseUrl`] for a bad `PERSPIO_BASE_URL`.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env()?.build()
    }

    /// A client for the profile `name` of the `perspio` configuration (config.toml and its
    /// secret store, as `perspio profile add` and `perspio auth login` left them), with the
    /// `PERSPIO_*` variables still taking precedence (see [`ClientBuilder::from_profile`]).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), perspio_api::Error> {
    /// // After `perspio auth login --profile acme`:
    /// let client = perspio_api::Client::from_profile("acme")?;
    /// let me = client.get_current_user().call().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a profile that does not exist or lacks a setting (the cause
    /// names every place looked at and the command that fixes it); as
    /// [`from_env`](Self::from_env) otherwise.
    pub fn from_profile(name: &str) -> Result<Client, Error> {
        ClientBuilder::from_profile(name)?.build()
    }

    /// A builder for a client with the default middleware stack and these credentials.
    pub fn builder(credentials: Credentials) -> ClientBuilder {
        ClientBuilder::new(credentials)
    }

    /// A builder for a client with the default middleware stack around an
    /// [`AuthMiddleware`] you configured (another token source or store, an injected clock).
    /// Its API base URL must be the client's base URL, or every request is refused with
    /// [`perspio_auth::AuthError::CredentialsWouldLeak`].
    pub fn builder_with_auth(auth: AuthMiddleware) -> ClientBuilder {
        ClientBuilder::with_auth(auth)
    }

    /// A client that sends every operation through `stack`, a middleware stack you built.
    ///
    /// Use it to add your own middlewares or replace the default ones. Keep the order of the
    /// default stack: **retry → auth → rate limit** (middlewares run in the order they are
    /// added; [`perspio_policy::policy_stack`] adds the three). Retry outside auth makes every
    /// attempt re-read the token cache; auth outside the limiter has the token in hand before
    /// a slot is reserved, and its 401 retry takes a slot of its own; rate limit inside retry
    /// makes every attempt take a slot. Timeouts, connection
    /// pool and redirect policy are those of the `reqwest::Client` inside `stack`; keep
    /// [`perspio_auth::same_origin_redirect_policy`] on it, since reqwest does not strip
    /// `Ocp-Apim-Subscription-Key` on cross-host redirects. Add
    /// [`BodyLimitMiddleware`] last to choose the body limit; without it, bodies are read
    /// with [`DEFAULT_MAX_BODY_SIZE`]. Requests are built with a second, plain
    /// `reqwest::Client` that never sends anything.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use perspio_auth::{AuthConfig, AuthMiddleware, Credentials};
    /// let http = reqwest::Client::builder()
    ///     .redirect(perspio_auth::same_origin_redirect_policy())
    ///     .build()?;
    /// let auth = AuthMiddleware::new(Credentials::from_env()?, AuthConfig::from_env()?)?;
    /// let stack = perspio_policy::policy_stack(
    ///     reqwest_middleware::ClientBuilder::new(http),
    ///     perspio_policy::RetryMiddleware::default(),
    ///     auth,
    ///     None, // or Some(RateLimitMiddleware::new(RateLimit::perspio_documented()))
    /// )
    /// .build();
    /// let client = perspio_api::Client::from_middleware("https://talk.perspio.io", stack)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidBaseUrl`]; [`Error::HttpClient`] if the request-building client cannot
    /// be created.
    pub fn from_middleware(base_url: &str, stack: ClientWithMiddleware) -> Result<Client, Error> {
        let base_url = normalize_base_url(base_url)?;
        perspio_core::tls::install_crypto_provider();
        let builder_client = reqwest::Client::builder()
            .build()
            .map_err(Error::HttpClient)?;
        Ok(Client::new_with_client(
            &base_url,
            builder_client,
            Transport::from(stack).with_base_url(&base_url),
        ))
    }
}

/// Configures a [`Client`] with the default middleware stack, outermost first:
///
/// 1. [`RetryMiddleware`]: waits out `429`/`503` `Retry-After` (up to 90 s), retries transient
///    failures of idempotent requests with exponential backoff and full jitter, and bounds
///    each call by an overall deadline (180 s); see [`perspio_policy::RetryConfig`].
/// 2. [`AuthMiddleware`]: token cache, Perspio headers, one retry on `401`.
/// 3. [`RateLimitMiddleware`], only when [`with_rate_limit`](Self::with_rate_limit) is set:
///    each request sent (auth's 401 retry included) waits for a slot instead of drawing a
///    `429`; the token is in hand before the slot is reserved.
/// 4. [`BodyLimitMiddleware`]: reads each body whole, at most
///    [`with_max_body_size`](Self::with_max_body_size) bytes, inside the retry layer.
///
/// over a `reqwest::Client` with per-attempt timeouts and a same-origin redirect policy.
///
/// ```no_run
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use perspio_auth::{ClientSecret, Credentials, SubscriptionKey};
///
/// let credentials = Credentials::new(
///     "my-client-id",
///     ClientSecret::new("my-client-secret"),
///     "in-my-tenant",
///     SubscriptionKey::new("my-subscription-key"),
/// )?;
/// let client = perspio_api::Client::builder(credentials)
///     .with_base_url("https://dev-talk.perspio.io")
///     .with_timeout(Duration::from_secs(60))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    auth: Auth,
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryConfig,
    rate_limit: Option<RateLimit>,
    clock: Arc<dyn Clock>,
    read_timeout: Option<Duration>,
    max_body_size: u64,
    fleet: Fleet,
}

/// Where a fleet shares its state, and how big it is.
#[derive(Debug, Clone)]
struct Fleet {
    /// The Redis URL and the setting it came from (for errors).
    redis: Option<(String, &'static str)>,
    memcached: Option<(String, &'static str)>,
    size: u32,
}

impl ClientBuilder {
    /// A builder with these credentials and every default.
    pub fn new(credentials: Credentials) -> Self {
        Self::from_auth(Auth::FromCredentials {
            credentials,
            config: Box::default(),
            source: None,
        })
    }

    /// A builder around an [`AuthMiddleware`] you configured; see [`Client::builder_with_auth`].
    pub fn with_auth(auth: AuthMiddleware) -> Self {
        Self::from_auth(Auth::Ready(auth))
    }

    fn from_auth(auth: Auth) -> Self {
        ClientBuilder {
            auth,
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryConfig::default(),
            rate_limit: None,
            clock: Arc::new(SystemClock),
            read_timeout: None,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            fleet: Fleet {
                redis: None,
                memcached: None,
                size: 1,
            },
        }
    }

    /// A builder configured from the environment: the credentials from `PERSPIO_CLIENT_ID`,
    /// `PERSPIO_CLIENT_SECRET`, `PERSPIO_TENANT_ID` and `PERSPIO_SUBSCRIPTION_KEY`;
    /// `PERSPIO_TOKEN_URL` and `PERSPIO_SCOPE` when set; the base URL from
    /// `PERSPIO_BASE_URL` when set.
    ///
    /// **Profiles**: what a variable does not set comes from the profile named by
    /// `PERSPIO_PROFILE`, else from config.toml's `default_profile` (the `perspio` CLI's
    /// configuration: `PERSPIO_CONFIG_DIR`, else `~/.config/perspio` on Linux and macOS,
    /// `%APPDATA%\perspio` on Windows), secrets from its secret store. A profile with
    /// `flow = "authorization_code"` uses the refresh token of `perspio auth login` and saves
    /// each rotated one back. Without a profile, only the variables count, as before.
    ///
    /// A fleet: `PERSPIO_REDIS_URL` shares the token and the rate budget through Redis (and
    /// turns on the documented rate limits, shared by the fleet); `PERSPIO_MEMCACHED_URL`
    /// shares the token through Memcached instead; `PERSPIO_FLEET_SIZE` is the number of
    /// processes (see [`with_fleet_size`](Self::with_fleet_size)).
    ///
    /// # Errors
    /// [`Error::AuthConfig`] naming the variable that is missing or malformed (also a store
    /// variable set while the crate was built without the store's feature);
    /// [`Error::Config`] for a profile that is missing, incomplete or unreadable.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_resolver(perspio_config::Resolver::from_env())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`. config.toml is
    /// read only from the directory `lookup` names with `PERSPIO_CONFIG_DIR`: a lookup is a
    /// sealed environment (a test's, a sandbox's), so the platform directory is not used.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::from_resolver(perspio_config::Resolver::from_lookup_copied(lookup))
    }

    /// A builder for the profile `name` (see [`Client::from_profile`]): the `PERSPIO_*`
    /// variables first, then the profile, then the built-in defaults; `PERSPIO_PROFILE` and
    /// `default_profile` are not consulted.
    ///
    /// # Errors
    /// As [`Client::from_profile`].
    pub fn from_profile(name: &str) -> Result<Self, Error> {
        Self::from_resolver(perspio_config::Resolver::from_env().with_profile(Some(name)))
    }

    /// As [`from_profile`](Self::from_profile), reading variables through `lookup` (and
    /// config.toml from its `PERSPIO_CONFIG_DIR` only, as [`from_env_with`](Self::from_env_with)).
    ///
    /// # Errors
    /// As [`Client::from_profile`].
    pub fn from_profile_with(
        name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        Self::from_resolver(
            perspio_config::Resolver::from_lookup_copied(lookup).with_profile(Some(name)),
        )
    }

    /// A builder from resolved settings: precedence applied, secrets read, the flow's token
    /// source chosen.
    fn from_resolver(resolver: perspio_config::Resolver) -> Result<Self, Error> {
        use perspio_config::{Flow, RateLimitPreset};
        let resolved = resolver.resolve().map_err(Error::Config)?;
        if resolved.profile().is_some() {
            // Name every place looked at, rather than only the variable.
            resolved.check_complete().map_err(Error::Config)?;
        }
        let lookup = |name: &str| resolved.lookup(name);
        let credentials = Credentials::from_env_with(lookup).map_err(Error::AuthConfig)?;
        let auth_config = AuthConfig::default()
            .with_env_overrides(lookup)
            .map_err(Error::AuthConfig)?;
        let mut builder = Self::new(credentials.clone()).with_auth_config(auth_config.clone());
        if let Some(base_url) = lookup(ENV_BASE_URL) {
            builder = builder.with_base_url(base_url);
        }
        if resolved.flow() == Flow::AuthorizationCode {
            let store = resolved.refresh_token_store().map_err(Error::Config)?;
            let source = perspio_auth::AuthorizationCodeSource::new(
                &credentials,
                Arc::new(store),
                &auth_config,
            )
            .map_err(Error::AuthConfig)?;
            builder = builder.with_token_source(Arc::new(source));
        }
        if resolved.rate_limit() == Some(RateLimitPreset::Documented) {
            builder = builder.with_rate_limit(RateLimit::perspio_documented());
        }
        let mut builder = builder.with_fleet_env(lookup)?;
        if resolved.rate_limit() == Some(RateLimitPreset::Off) {
            builder.rate_limit = None;
        }
        Ok(builder)
    }

    /// The fleet settings of the environment, read through `lookup`: `PERSPIO_REDIS_URL`
    /// (`with_redis`, feature `redis`, and the documented rate limits, shared by the
    /// fleet, unless a rate limit is already set), `PERSPIO_MEMCACHED_URL`
    /// (`with_memcached`, feature `memcached`), `PERSPIO_FLEET_SIZE`
    /// ([`with_fleet_size`](Self::with_fleet_size)). [`from_env`](Self::from_env) calls it.
    ///
    /// # Errors
    /// [`Error::AuthConfig`] with [`perspio_auth::AuthError::InvalidEnvVar`] naming the
    /// variable: a fleet size that is not a whole number ≥ 1, or a store variable set while
    /// this crate was built without the store's feature.
    pub fn with_fleet_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let invalid = |name: &'static str, reason: String| {
            Error::AuthConfig(perspio_auth::AuthError::InvalidEnvVar { name, reason })
        };
        let unsupported = |name: &'static str, feature: &str| {
            invalid(
                name,
                format!(
                    "this program was built without the `{feature}` feature (of perspio-api or the \
                     perspio CLI); unset it, or build with the feature"
                ),
            )
        };
        if let Some(url) = lookup(ENV_REDIS_URL).filter(|v| !v.trim().is_empty()) {
            if !cfg!(feature = "redis") {
                return Err(unsupported(ENV_REDIS_URL, "redis"));
            }
            self.fleet.redis = Some((url, ENV_REDIS_URL));
            self.rate_limit = self
                .rate_limit
                .or_else(|| Some(RateLimit::perspio_documented()));
        }
        if let Some(url) = lookup(ENV_MEMCACHED_URL).filter(|v| !v.trim().is_empty()) {
            if !cfg!(feature = "memcached") {
                return Err(unsupported(ENV_MEMCACHED_URL, "memcached"));
            }
            self.fleet.memcached = Some((url, ENV_MEMCACHED_URL));
        }
        if let Some(raw) = lookup(ENV_FLEET_SIZE) {
            self.fleet.size = raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    invalid(
                        ENV_FLEET_SIZE,
                        "must be a whole number of processes, at least 1".into(),
                    )
                })?;
        }
        Ok(self)
    }

    /// The PerspioTalk host (a trailing `/` is ignored). Credentials are sent to this host
    /// only. Defaults to [`DEFAULT_BASE_URL`].
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Token endpoint, scope and cache timings of the authentication middleware; its API base
    /// URL is replaced by this builder's. Ignored by a builder made
    /// [`with_auth`](Self::with_auth). Defaults to [`AuthConfig::default`].
    pub fn with_auth_config(mut self, auth_config: AuthConfig) -> Self {
        if let Auth::FromCredentials { config, .. } = &mut self.auth {
            **config = auth_config;
        }
        self
    }

    /// Where tokens come from, for example an
    /// [`AuthorizationCodeSource`](perspio_auth::AuthorizationCodeSource) (a user login).
    /// Ignored by a builder made [`with_auth`](Self::with_auth). Defaults to the
    /// client-credentials flow with the builder's credentials.
    pub fn with_token_source(mut self, token_source: Arc<dyn perspio_auth::TokenSource>) -> Self {
        if let Auth::FromCredentials { source, .. } = &mut self.auth {
            *source = Some(token_source);
        }
        self
    }

    /// Timeout of one HTTP attempt. Defaults to [`DEFAULT_TIMEOUT`] (30 s).
    /// Zero is refused by [`build`](Self::build) ([`Error::InvalidSetting`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connect timeout of one HTTP attempt. Defaults to [`DEFAULT_CONNECT_TIMEOUT`] (10 s).
    /// Zero is refused by [`build`](Self::build) ([`Error::InvalidSetting`]).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest silence of one HTTP attempt: no response or no further body bytes for this
    /// long and the attempt fails as timed out (and is retried like any timeout). Detects a
    /// server that accepted the connection and went quiet sooner than
    /// [`with_timeout`](Self::with_timeout), without cutting a large answer that keeps
    /// arriving. Defaults to none (the attempt timeout bounds it).
    /// Zero is refused by [`build`](Self::build) ([`Error::InvalidSetting`]).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Largest response body read, in bytes; a larger one (or one whose `Content-Length`
    /// says so) ends the call with [`Error::BodyTooLarge`] as soon as that is known, without
    /// reading the rest. Defaults to [`DEFAULT_MAX_BODY_SIZE`] (64 MiB).
    pub fn with_max_body_size(mut self, bytes: u64) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Retries, `Retry-After` cap and the overall deadline of a call. Defaults to
    /// [`RetryConfig::default`]: 4 attempts, `Retry-After` honoured up to 90 s, 180 s per
    /// call. `RetryConfig::default().with_max_attempts(1)` turns retries off.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Client-side rate limiting: calls wait for a slot instead of drawing a `429`; all clones
    /// of the client share the budget. [`RateLimit::perspio_documented`] is the documented
    /// 20 requests per 90 s and 10,000 per hour; the documentation is not consistent about its
    /// limits, so they are configuration. Defaults to none (the server's `429`s are waited out
    /// by the retry layer instead).
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// No client-side rate limit, also when [`with_fleet_env`](Self::with_fleet_env) found
    /// `PERSPIO_REDIS_URL` (which turns the documented limits on): the server's `429`s are
    /// then waited out by the retry layer alone. Call it after `with_fleet_env`.
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// Shares state with every process of the fleet through the Redis at `url`
    /// (`redis://[:password@]host[:port][/db]`, `rediss://…` for TLS, `redis+unix:///path`):
    ///
    /// - the token: one sealed record for the application, fetched by one process at a time
    ///   (see [`perspio_auth::AuthMiddlewareBuilder::with_shared_store`]), unless
    ///   [`with_memcached`](Self::with_memcached) is also set;
    /// - the rate budget, when a rate limit is set ([`with_rate_limit`](Self::with_rate_limit)):
    ///   one budget for the fleet (see [`perspio_policy::SharedRateLimit`]).
    ///
    /// A store that is down or slow never fails a call: after one short timeout its circuit
    /// breaker opens, tokens are fetched directly and the rate limit falls back to a local
    /// share ([`with_fleet_size`](Self::with_fleet_size)); recovery is automatic. The URL is
    /// checked by [`build`](Self::build) and shown only redacted.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), perspio_api::Error> {
    /// # let credentials = perspio_api::auth::Credentials::from_env().map_err(perspio_api::Error::AuthConfig)?;
    /// let client = perspio_api::Client::builder(credentials)
    ///     .with_redis("rediss://:password@cache.example:6380/0")
    ///     .with_rate_limit(perspio_api::policy::RateLimit::perspio_documented())
    ///     .with_fleet_size(8)
    ///     .build()?;
    /// # let _ = client; Ok(()) }
    /// ```
    #[cfg(feature = "redis")]
    pub fn with_redis(mut self, url: impl Into<String>) -> Self {
        self.fleet.redis = Some((url.into(), "the redis url"));
        self
    }

    /// Shares the token with every process of the fleet through the Memcached at `url`
    /// (`memcache://host:port`). Memcached holds the token only (no scripts, no server clock);
    /// a shared rate budget needs [`with_redis`](Self::with_redis).
    #[cfg(feature = "memcached")]
    pub fn with_memcached(mut self, url: impl Into<String>) -> Self {
        self.fleet.memcached = Some((url.into(), "the memcached url"));
        self
    }

    /// How many processes share the application's budget. While the shared store is
    /// unreachable, each limits itself to `limit / processes`. Defaults to 1.
    pub fn with_fleet_size(mut self, processes: u32) -> Self {
        self.fleet.size = processes.max(1);
        self
    }

    /// The one clock of the whole stack: token lifetimes and token-endpoint retries, retry
    /// backoff, `Retry-After` waits, the call deadline and the rate limiter all read and wait
    /// on it. Tests pass a [`perspio_auth::ManualClock`] and keep a clone to advance; a
    /// builder made [`with_auth`](Self::with_auth) keeps its middleware's own clock for
    /// authentication. Defaults to [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The client, with the default middleware stack.
    ///
    /// # Errors
    /// [`Error::InvalidBaseUrl`], [`Error::AuthConfig`] (for example plain `http` to a host
    /// that is not loopback, or a zero token timeout), [`Error::InvalidStore`] (a fleet store
    /// URL), [`Error::InvalidSetting`] (a zero timeout or deadline: no call could finish),
    /// [`Error::HttpClient`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use perspio_api::auth::{ClientSecret, Credentials, SubscriptionKey};
    ///
    /// let credentials = Credentials::new(
    ///     "client-id",
    ///     ClientSecret::new("secret"),
    ///     "in-tenant",
    ///     SubscriptionKey::new("key"),
    /// )?;
    /// let refused = perspio_api::ClientBuilder::new(credentials)
    ///     .with_timeout(Duration::ZERO)
    ///     .build();
    /// assert!(matches!(
    ///     refused,
    ///     Err(perspio_api::Error::InvalidSetting { setting: "ClientBuilder::with_timeout", .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        self.build_with_auth().map(|(client, _)| client)
    }

    /// The durations no call could succeed with ([`Error::InvalidSetting`]): a zero timeout,
    /// connect timeout, read timeout or call deadline ends every request at once. Checked
    /// before anything is built, so the error names the setting instead of every call failing
    /// later with a timeout.
    fn check_durations(&self) -> Result<(), Error> {
        let settings = [
            ("ClientBuilder::with_timeout", Some(self.timeout)),
            (
                "ClientBuilder::with_connect_timeout",
                Some(self.connect_timeout),
            ),
            ("ClientBuilder::with_read_timeout", self.read_timeout),
            ("RetryConfig::with_deadline", Some(self.retry.deadline())),
        ];
        match settings
            .into_iter()
            .find(|(_, value)| value.is_some_and(|value| value.is_zero()))
        {
            Some((setting, _)) => Err(Error::InvalidSetting {
                setting,
                reason: "must be above zero: a request given no time cannot finish \
                         (for no practical limit, give Duration::MAX)",
            }),
            None => Ok(()),
        }
    }

    /// As [`build`](Self::build), and the client's authentication middleware: it shares the
    /// client's token cache, for [`AuthMiddleware::token_info`] and friends.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_with_auth(self) -> Result<(Client, AuthMiddleware), Error> {
        self.build_parts().map(|parts| (parts.client, parts.auth))
    }

    /// As [`build`](Self::build), with the middlewares inside the client that a program may
    /// want to watch: the authentication middleware (token metadata) and the rate limiter
    /// (its [`stats`](RateLimitMiddleware::stats): slots reserved in the shared budget or
    /// locally, store failures, fallbacks and recoveries).
    ///
    /// ```no_run
    /// # fn run() -> Result<(), perspio_api::Error> {
    /// let parts = perspio_api::ClientBuilder::from_env()?.build_parts()?;
    /// if let Some(limiter) = &parts.rate_limit {
    ///     println!("{:?}", limiter.stats());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_parts(self) -> Result<ClientParts, Error> {
        self.check_durations()?;
        let base_url = normalize_base_url(&self.base_url)?;
        let api_url = Url::parse(&base_url).map_err(|_| Error::InvalidBaseUrl {
            url: redact_str(&self.base_url),
            reason: "not an absolute url",
        })?;
        let stores = self.fleet.open(&self.clock)?;
        let auth = match self.auth {
            Auth::FromCredentials {
                credentials,
                config,
                source,
            } => {
                let mut builder = AuthMiddleware::builder(credentials)
                    .with_config(config.with_api_base_url(api_url))
                    .with_clock(Arc::clone(&self.clock));
                if let Some(source) = source {
                    builder = builder.with_token_source(source);
                }
                stores
                    .with_token_store(builder)
                    .build()
                    .map_err(Error::AuthConfig)?
            }
            Auth::Ready(auth) => auth,
        };
        let rate_limit = self.rate_limit.map(|limit| {
            stores
                .rate_limiter(limit, &auth, self.fleet.size)
                .with_clock(Arc::clone(&self.clock))
        });
        let rate_limit_handle = rate_limit.clone();
        perspio_core::tls::install_crypto_provider();
        let mut http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(perspio_auth::same_origin_redirect_policy());
        if let Some(read_timeout) = self.read_timeout {
            // reqwest adds the read timeout to `Instant::now()` as a body arrives, which panics
            // past what an `Instant` holds: a longer one is 100 years, the same wait to anyone.
            http = http.read_timeout(read_timeout.min(perspio_core::clock::FAR_FUTURE));
        }
        let http = http.build().map_err(Error::HttpClient)?;
        let retry = RetryMiddleware::new(self.retry).with_clock(Arc::clone(&self.clock));
        let fused = rate_limit.is_none();
        let stack = perspio_policy::policy_stack(
            reqwest_middleware::ClientBuilder::new(http.clone()),
            retry.clone(),
            auth.clone(),
            rate_limit,
        )
        .with(BodyLimitMiddleware::new(self.max_body_size))
        .build();
        // Without a rate limiter the operations run the same layers directly (crate::transport).
        let transport = if fused {
            Transport::fused(
                stack,
                http.clone(),
                self.timeout,
                retry,
                auth.clone(),
                self.max_body_size,
            )
        } else {
            Transport::from(stack)
        }
        .with_base_url(&base_url);
        Ok(ClientParts {
            client: Client::new_with_client(&base_url, http, transport),
            auth,
            rate_limit: rate_limit_handle,
        })
    }
}

/// A client and the middlewares inside it that share its state, from
/// [`ClientBuilder::build_parts`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ClientParts {
    /// The client.
    pub client: Client,
    /// Its authentication middleware (shares the client's token cache).
    pub auth: AuthMiddleware,
    /// Its rate limiter, when one is set (shares the client's budget).
    pub rate_limit: Option<RateLimitMiddleware>,
}

/// The fleet's stores, opened.
#[derive(Debug, Default)]
struct Stores {
    #[cfg(feature = "redis")]
    redis: Option<perspio_store::RedisStore>,
    #[cfg(feature = "memcached")]
    memcached: Option<perspio_store::MemcachedStore>,
}

impl Fleet {
    /// Opens (validates; nothing connects yet) the configured stores.
    fn open(&self, clock: &Arc<dyn Clock>) -> Result<Stores, Error> {
        #[allow(unused_mut, reason = "without store features nothing is opened")]
        let mut stores = Stores::default();
        let _ = clock;
        #[cfg(feature = "redis")]
        if let Some((url, setting)) = &self.redis {
            stores.redis = Some(
                perspio_store::RedisStore::open_with_clock(
                    url,
                    perspio_store::StoreConfig::default(),
                    Arc::clone(clock),
                )
                .map_err(|source| Error::InvalidStore { setting, source })?,
            );
        }
        #[cfg(feature = "memcached")]
        if let Some((url, setting)) = &self.memcached {
            stores.memcached = Some(
                perspio_store::MemcachedStore::open_with_clock(
                    url,
                    perspio_store::StoreConfig::default(),
                    Arc::clone(clock),
                )
                .map_err(|source| Error::InvalidStore { setting, source })?,
            );
        }
        Ok(stores)
    }
}

impl Stores {
    /// The token store: Memcached when configured, else Redis, else the default.
    fn with_token_store(
        &self,
        builder: perspio_auth::AuthMiddlewareBuilder,
    ) -> perspio_auth::AuthMiddlewareBuilder {
        #[cfg(feature = "memcached")]
        if let Some(store) = &self.memcached {
            return builder
                .with_shared_store(perspio_auth::MemcachedTokenBackend::new(store.clone()));
        }
        #[cfg(feature = "redis")]
        if let Some(store) = &self.redis {
            return builder.with_shared_store(perspio_auth::RedisTokenBackend::new(store.clone()));
        }
        builder
    }

    /// The rate limiter: shared through Redis when configured, else local.
    fn rate_limiter(
        &self,
        limit: RateLimit,
        auth: &AuthMiddleware,
        size: u32,
    ) -> RateLimitMiddleware {
        #[cfg(feature = "redis")]
        if let Some(store) = &self.redis {
            let shared = perspio_policy::SharedRateLimit::new(
                store.clone(),
                auth.tenant_id(),
                auth.client_id(),
            )
            .with_expected_processes(size);
            return RateLimitMiddleware::shared(limit, shared);
        }
        let _ = (auth, size);
        RateLimitMiddleware::new(limit)
    }
}

/// Where the builder's authentication middleware comes from.
#[derive(Debug)]
enum Auth {
    FromCredentials {
        credentials: Credentials,
        config: Box<AuthConfig>,
        source: Option<Arc<dyn perspio_auth::TokenSource>>,
    },
    Ready(AuthMiddleware),
}

/// Checks `raw` is an absolute `http(s)` URL without query or fragment and drops trailing
/// slashes, since generated paths start with `/`.
pub(crate) fn normalize_base_url(raw: &str) -> Result<String, Error> {
    let invalid = |reason| Error::InvalidBaseUrl {
        url: redact_str(raw),
        reason,
    };
    let url = Url::parse(raw.trim()).map_err(|_| invalid("not an absolute url"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not carry user information"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn base_urls_lose_trailing_slashes_and_keep_path_stems() {
        assert_eq!(
            normalize_base_url("https://talk.perspio.io/").unwrap(),
            "https://talk.perspio.io"
        );
        assert_eq!(
            normalize_base_url("https://talk.perspio.io").unwrap(),
            "https://talk.perspio.io"
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080/stem//").unwrap(),
            "http://127.0.0.1:8080/stem"
        );
    }

    #[test]
    fn a_refused_base_url_is_shown_without_its_secrets() {
        for raw in [
            "https://talk.perspio.io/?subscription-key=K3Y-SECRET",
            "https://me:pa55word@talk.perspio.io",
            "https://talk.perspio.io/#K3Y-SECRET",
        ] {
            let error = normalize_base_url(raw).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(
                !shown.contains("K3Y-SECRET") && !shown.contains("pa55word"),
                "{shown}"
            );
        }
    }

    #[test]
    fn bad_base_urls_are_typed_errors_naming_the_url() {
        for (raw, reason) in [
            ("talk.perspio.io", "not an absolute url"),
            ("ftp://talk.perspio.io", "the scheme must be http or https"),
            (
                "https://talk.perspio.io/?x=1",
                "it must not have a query or fragment",
            ),
            (
                "https://user:pw@talk.perspio.io",
                "it must not carry user information",
            ),
        ] {
            match normalize_base_url(raw) {
                Err(Error::InvalidBaseUrl { url, reason: r }) => {
                    assert_eq!(url, redact_str(raw));
                    assert_eq!(r, reason);
                }
                other => panic!("{raw}: {other:?}"),
            }
        }
    }

    fn env(extra: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            let base = [
                ("PERSPIO_CLIENT_ID", "client"),
                ("PERSPIO_CLIENT_SECRET", "secret"),
                ("PERSPIO_TENANT_ID", "in-tenant"),
                ("PERSPIO_SUBSCRIPTION_KEY", "key"),
            ];
            base.iter()
                .chain(extra)
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_bad_redis_url_in_the_environment_is_refused_at_build_naming_the_variable_not_the_password()
    {
        let error = ClientBuilder::from_env_with(env(&[(
            "PERSPIO_REDIS_URL",
            "http://:hunter2@cache.example/",
        )]))
        .unwrap()
        .build()
        .unwrap_err();
        let shown = cause_chain_of(&error);
        assert!(matches!(
            error,
            Error::InvalidStore {
                setting: "PERSPIO_REDIS_URL",
                ..
            }
        ));
        assert!(
            shown.contains("PERSPIO_REDIS_URL") && shown.contains("scheme"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_redis_url_in_the_environment_turns_on_the_documented_limits_shared() {
        let builder =
            ClientBuilder::from_env_with(env(&[("PERSPIO_REDIS_URL", "redis://127.0.0.1:1/")]))
                .unwrap();
        assert_eq!(builder.rate_limit, Some(RateLimit::perspio_documented()));
        assert!(builder.build().is_ok(), "nothing connects at build time");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn without_rate_limit_turns_off_the_limits_a_redis_url_turned_on() {
        let builder =
            ClientBuilder::from_env_with(env(&[("PERSPIO_REDIS_URL", "redis://127.0.0.1:1/")]))
                .unwrap()
                .without_rate_limit();
        assert_eq!(builder.rate_limit, None);
        assert!(builder.fleet.redis.is_some(), "the token is still shared");
    }

    #[test]
    fn a_fleet_size_that_is_not_a_whole_number_names_the_variable() {
        for bad in ["0", "-1", "eight", ""] {
            let error = ClientBuilder::from_env_with(move |name| {
                if name == ENV_FLEET_SIZE {
                    Some(bad.to_owned())
                } else {
                    env(&[])(name)
                }
            })
            .unwrap_err();
            assert!(
                cause_chain_of(&error).contains("PERSPIO_FLEET_SIZE"),
                "{bad:?}"
            );
        }
    }

    #[cfg(not(feature = "memcached"))]
    #[test]
    fn a_store_variable_without_its_feature_is_a_clear_error() {
        let error = ClientBuilder::from_env_with(env(&[(
            "PERSPIO_MEMCACHED_URL",
            "memcache://127.0.0.1:11211",
        )]))
        .unwrap_err();
        assert!(cause_chain_of(&error).contains("`memcached` feature"));
    }

    fn cause_chain_of(error: &Error) -> String {
        crate::cause_chain(error)
    }
}
