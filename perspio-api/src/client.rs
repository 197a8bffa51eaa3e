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

/// The production PerspioTalk host.
pub const DEFAULT_BASE_URL: &str = "https://talk.perspio.io";
/// The variable [`ClientBuilder::from_env`] reads the base URL from.
pub const ENV_BASE_URL: &str = "PERSPIO_BASE_URL";
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
    /// default stack: **retry → rate limit → auth** (middlewares run in the order they are
    /// added; [`perspio_policy::policy_stack`] adds the first two). Retry outside auth makes
    /// every attempt re-read the token cache; rate limit inside retry makes every attempt take
    /// a slot. Timeouts, connection
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
    ///     None, // or Some(RateLimitMiddleware::new(RateLimit::perspio_documented()))
    /// )
    /// .with(auth)
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
        let builder_client = reqwest::Client::builder()
            .build()
            .map_err(Error::HttpClient)?;
        Ok(Client::new_with_client(&base_url, builder_client, stack))
    }
}

/// Configures a [`Client`] with the default middleware stack, outermost first:
///
/// 1. [`RetryMiddleware`]: waits out `429`/`503` `Retry-After` (up to 90 s), retries transient
///    failures of idempotent requests with exponential backoff and full jitter, and bounds
///    each call by an overall deadline (180 s); see [`perspio_policy::RetryConfig`].
/// 2. [`RateLimitMiddleware`], only when [`with_rate_limit`](Self::with_rate_limit) is set:
///    calls wait for a slot instead of drawing a `429`.
/// 3. [`AuthMiddleware`]: token cache, Perspio headers, one retry on `401`.
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
}

impl ClientBuilder {
    /// A builder with these credentials and every default.
    pub fn new(credentials: Credentials) -> Self {
        Self::from_auth(Auth::FromCredentials {
            credentials,
            config: Box::default(),
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
        }
    }

    /// A builder configured from the environment: the credentials from `PERSPIO_CLIENT_ID`,
    /// `PERSPIO_CLIENT_SECRET`, `PERSPIO_TENANT_ID` and `PERSPIO_SUBSCRIPTION_KEY`;
    /// `PERSPIO_TOKEN_URL` and `PERSPIO_SCOPE` when set; the base URL from
    /// `PERSPIO_BASE_URL` when set.
    ///
    /// # Errors
    /// [`Error::AuthConfig`] naming the variable that is missing or malformed.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let credentials = Credentials::from_env_with(&lookup).map_err(Error::AuthConfig)?;
        let auth_config = AuthConfig::default()
            .with_env_overrides(&lookup)
            .map_err(Error::AuthConfig)?;
        let mut builder = Self::new(credentials).with_auth_config(auth_config);
        if let Some(base_url) = lookup(ENV_BASE_URL) {
            builder = builder.with_base_url(base_url);
        }
        Ok(builder)
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

    /// Timeout of one HTTP attempt. Defaults to [`DEFAULT_TIMEOUT`] (30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connect timeout of one HTTP attempt. Defaults to [`DEFAULT_CONNECT_TIMEOUT`] (10 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest silence of one HTTP attempt: no response or no further body bytes for this
    /// long and the attempt fails as timed out (and is retried like any timeout). Detects a
    /// server that accepted the connection and went quiet sooner than
    /// [`with_timeout`](Self::with_timeout), without cutting a large answer that keeps
    /// arriving. Defaults to none (the attempt timeout bounds it).
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
    /// that is not loopback), [`Error::HttpClient`].
    pub fn build(self) -> Result<Client, Error> {
        let base_url = normalize_base_url(&self.base_url)?;
        let api_url = Url::parse(&base_url).map_err(|_| Error::InvalidBaseUrl {
            url: redact_str(&self.base_url),
            reason: "not an absolute url",
        })?;
        let auth = match self.auth {
            Auth::FromCredentials {
                credentials,
                config,
            } => AuthMiddleware::builder(credentials)
                .with_config(config.with_api_base_url(api_url))
                .with_clock(Arc::clone(&self.clock))
                .build()
                .map_err(Error::AuthConfig)?,
            Auth::Ready(auth) => auth,
        };
        let mut http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(perspio_auth::same_origin_redirect_policy());
        if let Some(read_timeout) = self.read_timeout {
            http = http.read_timeout(read_timeout);
        }
        let http = http.build().map_err(Error::HttpClient)?;
        let stack = perspio_policy::policy_stack(
            reqwest_middleware::ClientBuilder::new(http.clone()),
            RetryMiddleware::new(self.retry).with_clock(Arc::clone(&self.clock)),
            self.rate_limit
                .map(|limit| RateLimitMiddleware::new(limit).with_clock(Arc::clone(&self.clock))),
        )
        .with(auth)
        .with(BodyLimitMiddleware::new(self.max_body_size))
        .build();
        Ok(Client::new_with_client(&base_url, http, stack))
    }
}

/// Where the builder's authentication middleware comes from.
#[derive(Debug)]
enum Auth {
    FromCredentials {
        credentials: Credentials,
        config: Box<AuthConfig>,
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
}
