//! Timings, endpoints and their defaults.

use std::fmt;
use std::time::Duration;

use url::{Host, Url};

use crate::credentials::{ENV_SCOPE, ENV_TOKEN_URL};
use crate::error::AuthError;
use perspio_core::redact::redact_url;

/// The Entra v2.0 token endpoint of the Perspio directory tenant.
pub const DEFAULT_TOKEN_URL: &str =
    "https://login.microsoftonline.com/7d548d61-6361-4a6e-85e6-509e2c05d05e/oauth2/v2.0/token";
/// The scope requested with client credentials (read-only access).
pub const DEFAULT_SCOPE: &str = "api://perspiotalk/.default";
/// The production PerspioTalk API.
pub const DEFAULT_API_BASE_URL: &str = "https://talk.perspio.io";

/// Longest time a token is served before a refresh is attempted: the documented 50-minute rule.
pub const DEFAULT_MAX_TOKEN_TTL: Duration = Duration::from_secs(50 * 60);
/// Refresh at least this long before the token expires.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Largest random amount taken off `refresh_at`, so that many processes do not refresh at once.
pub const DEFAULT_REFRESH_JITTER: Duration = Duration::from_secs(60);
/// Past `expires_at − this`, nobody sends the old token.
pub const DEFAULT_EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Lifetime assumed when `expires_in` is missing, zero, negative or unreadable.
pub const DEFAULT_FALLBACK_TTL: Duration = Duration::from_secs(5 * 60);
/// First wait after a failed refresh before the next proactive refresh.
pub const DEFAULT_FAILURE_BACKOFF: Duration = Duration::from_secs(30);
/// Longest wait after repeated failed refreshes.
pub const DEFAULT_MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// At most one refresh forced by a `401` per this interval, for the whole client.
pub const DEFAULT_FORCED_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// How long the process fetching for a fleet holds the shared store's lease.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);
/// Connect timeout of the token endpoint's HTTP client.
pub const DEFAULT_TOKEN_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of one token request attempt.
pub const DEFAULT_TOKEN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for obtaining a token, all attempts and waits included.
pub const DEFAULT_TOKEN_DEADLINE: Duration = Duration::from_secs(30);
/// Attempts per token acquisition for transient failures.
pub const DEFAULT_TOKEN_MAX_ATTEMPTS: u32 = 3;
/// Upper bound of the first retry delay (exponential backoff with full jitter).
pub const DEFAULT_TOKEN_RETRY_BASE: Duration = Duration::from_millis(500);
/// Largest retry delay computed by the exponential backoff.
pub const DEFAULT_TOKEN_RETRY_MAX: Duration = Duration::from_secs(5);
/// Largest `Retry-After` that is honoured; longer values are cut to this.
pub const DEFAULT_RETRY_AFTER_CAP: Duration = Duration::from_secs(10);
/// Largest token-endpoint answer read, in bytes (64 KiB): an Entra token response, refresh and
/// id tokens included, is a few kilobytes, and so is an Entra error.
pub const DEFAULT_MAX_TOKEN_RESPONSE_SIZE: u64 = 64 * 1024;

/// Everything about the middleware that is not a credential: endpoints, scope and timings.
///
/// Every field has a named default (the `DEFAULT_*` constants); setters consume and return
/// the config.
///
/// ```
/// use std::time::Duration;
/// let config = perspio_auth::AuthConfig::default()
///     .with_api_base_url("https://dev-talk.perspio.io".parse().unwrap())
///     .with_forced_refresh_interval(Duration::from_secs(60));
/// ```
#[derive(Clone)]
pub struct AuthConfig {
    pub(crate) token_url: Url,
    pub(crate) authorize_url: Option<Url>,
    pub(crate) scope: String,
    pub(crate) api_base_url: Url,
    pub(crate) allow_insecure_http: bool,
    pub(crate) jitter: bool,
    pub(crate) timings: Timings,
    pub(crate) token_endpoint: TokenEndpointConfig,
}

/// Cache timings (see `cache.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    pub(crate) max_token_ttl: Duration,
    pub(crate) refresh_margin: Duration,
    pub(crate) refresh_jitter: Duration,
    pub(crate) expiry_margin: Duration,
    pub(crate) fallback_ttl: Duration,
    pub(crate) failure_backoff: Duration,
    pub(crate) max_failure_backoff: Duration,
    pub(crate) forced_refresh_interval: Duration,
    pub(crate) lease_ttl: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            max_token_ttl: DEFAULT_MAX_TOKEN_TTL,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            refresh_jitter: DEFAULT_REFRESH_JITTER,
            expiry_margin: DEFAULT_EXPIRY_MARGIN,
            fallback_ttl: DEFAULT_FALLBACK_TTL,
            failure_backoff: DEFAULT_FAILURE_BACKOFF,
            max_failure_backoff: DEFAULT_MAX_FAILURE_BACKOFF,
            forced_refresh_interval: DEFAULT_FORCED_REFRESH_INTERVAL,
            lease_ttl: DEFAULT_LEASE_TTL,
        }
    }
}

/// Token-endpoint HTTP timings (see `token_endpoint.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenEndpointConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) attempt_timeout: Duration,
    pub(crate) deadline: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) retry_base: Duration,
    pub(crate) retry_max: Duration,
    pub(crate) retry_after_cap: Duration,
    pub(crate) max_response_size: u64,
    pub(crate) jitter: bool,
}

impl Default for TokenEndpointConfig {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_TOKEN_CONNECT_TIMEOUT,
            attempt_timeout: DEFAULT_TOKEN_ATTEMPT_TIMEOUT,
            deadline: DEFAULT_TOKEN_DEADLINE,
            max_attempts: DEFAULT_TOKEN_MAX_ATTEMPTS,
            retry_base: DEFAULT_TOKEN_RETRY_BASE,
            retry_max: DEFAULT_TOKEN_RETRY_MAX,
            retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
            max_response_size: DEFAULT_MAX_TOKEN_RESPONSE_SIZE,
            jitter: true,
        }
    }
}

#[allow(
    clippy::expect_used,
    reason = "the argument is one of this module's constants, parsed by a unit test"
)]
fn parse_const_url(url: &'static str) -> Url {
    Url::parse(url).expect("constant URLs of perspio-auth are valid")
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            token_url: parse_const_url(DEFAULT_TOKEN_URL),
            authorize_url: None,
            scope: DEFAULT_SCOPE.to_owned(),
            api_base_url: parse_const_url(DEFAULT_API_BASE_URL),
            allow_insecure_http: false,
            jitter: true,
            timings: Timings::default(),
            token_endpoint: TokenEndpointConfig::default(),
        }
    }
}

impl AuthConfig {
    /// The defaults, with `PERSPIO_TOKEN_URL` and `PERSPIO_SCOPE` applied when set.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidEnvVar`] naming the variable when it is empty, not a URL, or not an
    /// `http(s)` URL with a host.
    pub fn from_env() -> Result<Self, AuthError> {
        Self::default().with_env_overrides(|name| std::env::var(name).ok())
    }

    /// Applies `PERSPIO_TOKEN_URL` and `PERSPIO_SCOPE`, read through `lookup`.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn with_env_overrides(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, AuthError> {
        if let Some(raw) = lookup(ENV_TOKEN_URL) {
            let invalid = |reason: String| AuthError::InvalidEnvVar {
                name: ENV_TOKEN_URL,
                reason,
            };
            let url =
                Url::parse(raw.trim()).map_err(|e| invalid(format!("not a valid url: {e}")))?;
            if let Err(reason) = check_http_url(&url) {
                return Err(invalid(reason.into()));
            }
            self.token_url = url;
        }
        if let Some(raw) = lookup(ENV_SCOPE) {
            if raw.trim().is_empty() {
                return Err(AuthError::InvalidEnvVar {
                    name: ENV_SCOPE,
                    reason: "must not be empty".into(),
                });
            }
            self.scope = raw.trim().to_owned();
        }
        Ok(self)
    }

    /// The Entra token endpoint. Defaults to [`DEFAULT_TOKEN_URL`].
    pub fn with_token_url(mut self, url: Url) -> Self {
        self.token_url = url;
        self
    }

    /// The Entra authorize endpoint of the interactive login
    /// ([`AuthorizationRequest`](crate::AuthorizationRequest)). Defaults to the token URL with
    /// its last path segment `token` replaced by `authorize` (Entra's
    /// `…/oauth2/v2.0/authorize` beside `…/oauth2/v2.0/token`).
    pub fn with_authorize_url(mut self, url: Url) -> Self {
        self.authorize_url = Some(url);
        self
    }

    /// The OAuth2 scope. Defaults to [`DEFAULT_SCOPE`].
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The API the credentials belong to: only requests to this URL's scheme, host and port
    /// get credentials; any other request is refused with
    /// [`AuthError::CredentialsWouldLeak`]. Defaults to [`DEFAULT_API_BASE_URL`].
    pub fn with_api_base_url(mut self, url: Url) -> Self {
        self.api_base_url = url;
        self
    }

    /// Allows plain `http` to hosts that are not loopback addresses. Plain `http` to
    /// `localhost`, `127.0.0.0/8` and `::1` is always allowed. Defaults to `false`.
    pub fn with_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Whether random jitter is applied (to `refresh_at`, failure backoff and retry delays).
    /// Turn it off for deterministic tests; the upper bound of each range is then used.
    /// Defaults to `true`.
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self.token_endpoint.jitter = jitter;
        self
    }

    /// Longest time a token is served before a refresh is attempted; never more than
    /// `expires_in` allows. Defaults to [`DEFAULT_MAX_TOKEN_TTL`] (50 minutes).
    pub fn with_max_token_ttl(mut self, ttl: Duration) -> Self {
        self.timings.max_token_ttl = ttl;
        self
    }

    /// Refresh at least this long before expiry (ignored for tokens shorter than the margin,
    /// which are refreshed at 80 % of their lifetime). Defaults to [`DEFAULT_REFRESH_MARGIN`] (5 minutes).
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.timings.refresh_margin = margin;
        self
    }

    /// Largest random amount taken off `refresh_at`. Defaults to [`DEFAULT_REFRESH_JITTER`] (60 seconds).
    pub fn with_refresh_jitter(mut self, jitter: Duration) -> Self {
        self.timings.refresh_jitter = jitter;
        self
    }

    /// Past `expires_at` minus this margin the token is no longer sent and requests wait for a
    /// new one. Defaults to [`DEFAULT_EXPIRY_MARGIN`] (60 seconds).
    pub fn with_expiry_margin(mut self, margin: Duration) -> Self {
        self.timings.expiry_margin = margin;
        self
    }

    /// Lifetime assumed when `expires_in` is missing, zero, negative or unreadable.
    /// Defaults to [`DEFAULT_FALLBACK_TTL`] (5 minutes).
    pub fn with_fallback_ttl(mut self, ttl: Duration) -> Self {
        self.timings.fallback_ttl = ttl;
        self
    }

    /// First wait after a failed refresh; doubles with each further failure.
    /// Defaults to [`DEFAULT_FAILURE_BACKOFF`] (30 seconds).
    pub fn with_failure_backoff(mut self, backoff: Duration) -> Self {
        self.timings.failure_backoff = backoff;
        self
    }

    /// Largest wait after repeated failed refreshes. Defaults to [`DEFAULT_MAX_FAILURE_BACKOFF`] (5 minutes).
    pub fn with_max_failure_backoff(mut self, backoff: Duration) -> Self {
        self.timings.max_failure_backoff = backoff;
        self
    }

    /// At most one refresh forced by a `401` per interval, for the whole client (all clones).
    /// Defaults to [`DEFAULT_FORCED_REFRESH_INTERVAL`] (30 seconds).
    pub fn with_forced_refresh_interval(mut self, interval: Duration) -> Self {
        self.timings.forced_refresh_interval = interval;
        self
    }

    /// With a shared token store: how long the one process fetching for the fleet holds the
    /// store's lease. The others wait for its token at most twice this long, then fetch
    /// themselves; a holder that dies frees the lease after this long. Defaults to
    /// [`DEFAULT_LEASE_TTL`] (15 seconds).
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.timings.lease_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// Connect timeout of the token endpoint's HTTP client.
    /// Defaults to [`DEFAULT_TOKEN_CONNECT_TIMEOUT`] (5 seconds).
    /// Zero is refused when the middleware is built ([`AuthError::InvalidConfig`]).
    pub fn with_token_connect_timeout(mut self, timeout: Duration) -> Self {
        self.token_endpoint.connect_timeout = timeout;
        self
    }

    /// Timeout of one token request attempt. Defaults to [`DEFAULT_TOKEN_ATTEMPT_TIMEOUT`] (10 seconds).
    /// Zero is refused when the middleware is built ([`AuthError::InvalidConfig`]).
    pub fn with_token_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.token_endpoint.attempt_timeout = timeout;
        self
    }

    /// Deadline for one token acquisition, all attempts and waits included.
    /// Defaults to [`DEFAULT_TOKEN_DEADLINE`] (30 seconds).
    /// Zero is refused when the middleware is built ([`AuthError::InvalidConfig`]).
    pub fn with_token_deadline(mut self, deadline: Duration) -> Self {
        self.token_endpoint.deadline = deadline;
        self
    }

    /// Attempts per token acquisition for transient failures (at least 1).
    /// Defaults to [`DEFAULT_TOKEN_MAX_ATTEMPTS`] (3).
    pub fn with_token_max_attempts(mut self, attempts: u32) -> Self {
        self.token_endpoint.max_attempts = attempts.max(1);
        self
    }

    /// Upper bound of the first retry delay; doubles per attempt, with full jitter.
    /// Defaults to [`DEFAULT_TOKEN_RETRY_BASE`] (500 milliseconds).
    pub fn with_token_retry_base(mut self, base: Duration) -> Self {
        self.token_endpoint.retry_base = base;
        self
    }

    /// Largest computed retry delay. Defaults to [`DEFAULT_TOKEN_RETRY_MAX`] (5 seconds).
    pub fn with_token_retry_max(mut self, max: Duration) -> Self {
        self.token_endpoint.retry_max = max;
        self
    }

    /// Largest `Retry-After` honoured; longer values are cut to it.
    /// Defaults to [`DEFAULT_RETRY_AFTER_CAP`] (10 seconds).
    pub fn with_retry_after_cap(mut self, cap: Duration) -> Self {
        self.token_endpoint.retry_after_cap = cap;
        self
    }

    /// Largest token-endpoint answer read, in bytes; a longer one (or one that declares a
    /// longer `Content-Length`) is refused with [`AuthError::TokenResponseTooLarge`] as soon
    /// as that is known, without reading the rest. Defaults to
    /// [`DEFAULT_MAX_TOKEN_RESPONSE_SIZE`] (64 KiB).
    pub fn with_max_token_response_size(mut self, bytes: u64) -> Self {
        self.token_endpoint.max_response_size = bytes;
        self
    }

    /// The configured API base URL.
    pub fn api_base_url(&self) -> &Url {
        &self.api_base_url
    }

    /// The configured token URL.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// The authorize endpoint: the one set with
    /// [`with_authorize_url`](Self::with_authorize_url), else derived from the token URL.
    pub fn authorize_url(&self) -> Url {
        if let Some(url) = &self.authorize_url {
            return url.clone();
        }
        let mut url = self.token_url.clone();
        let path = url.path();
        let derived = match path.strip_suffix("/token") {
            Some(stem) => format!("{stem}/authorize"),
            None => format!("{}/authorize", path.trim_end_matches('/')),
        };
        url.set_path(&derived);
        url.set_query(None);
        url
    }

    /// The configured scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Checks the URLs (both must be `http(s)` with a host, and `https` unless loopback or
    /// insecure http is enabled), the scope, and the token request's timeouts (above zero).
    pub(crate) fn validate(&self) -> Result<(), AuthError> {
        for (field, url) in [
            ("api_base_url", &self.api_base_url),
            ("token_url", &self.token_url),
        ] {
            if let Err(reason) = check_http_url(url) {
                return Err(AuthError::InvalidConfig {
                    field,
                    reason: reason.into(),
                });
            }
            check_transport(field, url, self.allow_insecure_http)?;
        }
        if self.scope.trim().is_empty() {
            return Err(AuthError::InvalidConfig {
                field: "scope",
                reason: "must not be empty".into(),
            });
        }
        // A token request given no time cannot succeed: refused here, naming the setting,
        // rather than every call failing later with "authentication failed".
        for (field, value) in [
            ("token_connect_timeout", self.token_endpoint.connect_timeout),
            ("token_attempt_timeout", self.token_endpoint.attempt_timeout),
            ("token_deadline", self.token_endpoint.deadline),
        ] {
            if value.is_zero() {
                return Err(AuthError::InvalidConfig {
                    field,
                    reason: "must be above zero: a token request given no time cannot \
                             succeed (for no practical limit, give Duration::MAX)"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

/// An `http(s)` URL with a host, or why not.
fn check_http_url(url: &Url) -> Result<(), &'static str> {
    if url.host().is_none() || !matches!(url.scheme(), "http" | "https") {
        Err("must be an http(s) url with a host")
    } else {
        Ok(())
    }
}

/// `https`, or `http` to a loopback host, or `http` anywhere when explicitly allowed; `field`
/// names the URL's configuration field in the refusal.
pub(crate) fn check_transport(
    field: &'static str,
    url: &Url,
    allow_insecure_http: bool,
) -> Result<(), AuthError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(url) => Ok(()),
        _ => Err(AuthError::InsecureTransport {
            field,
            origin: origin_of(url),
        }),
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `scheme://host:port`, for messages: never user information, path or query; a URL without
/// a tuple origin is shown redacted ([`redact_url`]).
pub(crate) fn origin_of(url: &Url) -> String {
    let origin = url.origin();
    if origin.is_tuple() {
        origin.ascii_serialization()
    } else {
        redact_url(url)
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("token_url", &redact_url(&self.token_url))
            .field(
                "authorize_url",
                &self.authorize_url.as_ref().map(redact_url),
            )
            .field("scope", &self.scope)
            .field("api_base_url", &redact_url(&self.api_base_url))
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("jitter", &self.jitter)
            .field("timings", &self.timings)
            .field("token_endpoint", &self.token_endpoint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_default_urls_parse_and_validate() {
        let config = AuthConfig::default();
        assert_eq!(config.token_url().as_str(), DEFAULT_TOKEN_URL);
        assert_eq!(config.api_base_url().as_str(), "https://talk.perspio.io/");
        assert_eq!(config.scope(), DEFAULT_SCOPE);
        config.validate().unwrap();
    }

    #[test]
    fn the_authorize_url_sits_beside_the_token_url() {
        let config = AuthConfig::default();
        assert_eq!(
            config.authorize_url().as_str(),
            "https://login.microsoftonline.com/7d548d61-6361-4a6e-85e6-509e2c05d05e/oauth2/v2.0/authorize"
        );
        let set = config.with_authorize_url("https://login.example/a".parse().unwrap());
        assert_eq!(set.authorize_url().as_str(), "https://login.example/a");
    }

    #[test]
    fn token_url_and_scope_are_overridden_from_the_environment() {
        let config = AuthConfig::default()
            .with_env_overrides(|name| match name {
                "PERSPIO_TOKEN_URL" => Some("https://login.example/token".into()),
                "PERSPIO_SCOPE" => Some("api://other/.default".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.token_url().as_str(), "https://login.example/token");
        assert_eq!(config.scope(), "api://other/.default");
    }

    #[test]
    fn a_malformed_token_url_in_the_environment_names_the_variable() {
        let err = AuthConfig::default()
            .with_env_overrides(|name| (name == "PERSPIO_TOKEN_URL").then(|| "not a url".into()))
            .unwrap_err();
        assert!(matches!(
            err,
            AuthError::InvalidEnvVar {
                name: "PERSPIO_TOKEN_URL",
                ..
            }
        ));
    }

    #[test]
    fn a_token_url_in_the_environment_that_is_not_http_is_refused_naming_the_variable() {
        for raw in ["ftp://login.example/token", "mailto:someone@example.com"] {
            let err = AuthConfig::default()
                .with_env_overrides(|name| (name == "PERSPIO_TOKEN_URL").then(|| raw.into()))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    AuthError::InvalidEnvVar {
                        name: "PERSPIO_TOKEN_URL",
                        ..
                    }
                ),
                "{raw}: {err:?}"
            );
        }
    }

    #[test]
    fn urls_in_debug_output_and_refusals_are_redacted() {
        let config = AuthConfig::default()
            .with_token_url("https://u:pw@login.example/t?key=K3Y".parse().unwrap())
            .with_api_base_url(
                "http://me:s3cret@talk.example/?subscription-key=K3Y"
                    .parse()
                    .unwrap(),
            );
        let shown = format!("{config:?} {}", config.validate().unwrap_err());
        assert!(
            !shown.contains("K3Y") && !shown.contains("pw@") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert!(shown.contains("(api_base_url)"), "{shown}");
    }

    #[test]
    fn plain_http_is_allowed_only_for_loopback_unless_enabled() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:9",
            "http://localhost:1",
            "https://example.com",
        ] {
            check_transport("token_url", &ok.parse().unwrap(), false).unwrap();
        }
        let err =
            check_transport("token_url", &"http://10.0.0.1".parse().unwrap(), false).unwrap_err();
        assert!(matches!(
            err,
            AuthError::InsecureTransport {
                field: "token_url",
                ..
            }
        ));
        check_transport("token_url", &"http://10.0.0.1".parse().unwrap(), true).unwrap();
    }
}
