//! The one error type of this crate.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

/// Everything that can go wrong while configuring the middleware or obtaining a token.
///
/// The error is [`Clone`] (wrapped causes sit behind an [`Arc`]) because one failed token
/// request is shared by every caller that waited for it.
///
/// No variant ever holds a client secret, subscription key, access token or request body.
///
/// # Downcasting from reqwest-middleware
///
/// [`AuthMiddleware`](crate::AuthMiddleware) returns
/// `reqwest_middleware::Error::Middleware(anyhow::Error::new(auth_error))`:
///
/// ```
/// # fn inspect(err: reqwest_middleware::Error) {
/// if let reqwest_middleware::Error::Middleware(inner) = &err {
///     if let Some(auth) = inner.downcast_ref::<perspio_auth::AuthError>() {
///         eprintln!("authentication failed (retryable: {})", auth.is_retryable());
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A required environment variable is not set.
    #[error("environment variable {name} is not set")]
    MissingEnvVar {
        /// The variable, e.g. `PERSPIO_CLIENT_ID`.
        name: &'static str,
    },

    /// An environment variable is set but its value cannot be used. The value is never included.
    #[error("environment variable {name} is invalid: {reason}")]
    InvalidEnvVar {
        /// The variable, e.g. `PERSPIO_TOKEN_URL`.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },

    /// A value given in code cannot be used. The value itself is never included.
    #[error("invalid configuration for {field}: {reason}")]
    InvalidConfig {
        /// The configuration field, e.g. `client_id` or `token_url`.
        field: &'static str,
        /// Why the value was refused.
        reason: String,
    },

    /// Credentials would travel over plain `http` to a host that is not a loopback address.
    #[error(
        "refusing to send credentials over plain http to {origin} ({field}): use https or a loopback address, or allow plain http explicitly with AuthConfig::with_allow_insecure_http"
    )]
    InsecureTransport {
        /// The configuration field of the URL: `api_base_url` or `token_url`.
        field: &'static str,
        /// `scheme://host:port` of the refused URL.
        origin: String,
    },

    /// A request was addressed to an origin other than the configured API origin; it was
    /// refused instead of being sent, so no credential left the process.
    #[error("refusing to send credentials to {origin}: the configured api origin is {allowed}")]
    CredentialsWouldLeak {
        /// `scheme://host:port` of the refused request.
        origin: String,
        /// `scheme://host:port` the credentials belong to.
        allowed: String,
    },

    /// The token endpoint could not be reached (connect error, timeout, reset) after all attempts.
    #[error("token endpoint unreachable after {attempts} attempt(s)")]
    TokenEndpointUnreachable {
        /// How many requests were sent.
        attempts: u32,
        /// The last transport error.
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// The token endpoint did not produce a token within the overall deadline.
    #[error(
        "token endpoint gave no token within the overall deadline of {} ({attempts} attempt(s))",
        perspio_core::retry_after::describe(*deadline)
    )]
    TokenEndpointTimedOut {
        /// The configured overall deadline.
        deadline: Duration,
        /// How many requests were started.
        attempts: u32,
    },

    /// The token endpoint answered `429 Too Many Requests` on every attempt.
    #[error("token endpoint throttled the request after {attempts} attempt(s)")]
    TokenEndpointThrottled {
        /// The last `Retry-After`, if the endpoint sent one.
        retry_after: Option<Duration>,
        /// How many requests were sent.
        attempts: u32,
    },

    /// The token endpoint failed: it answered a server error (5xx) or Entra's
    /// `temporarily_unavailable`, on every attempt. An outage, not a verdict on the
    /// credentials: retryable.
    ///
    /// The Entra fields are copied from the JSON error body when there is one, neutralised and
    /// bounded like every remote text ([`perspio_core::text::remote`]).
    #[error(
        "token endpoint failed with status {status} after {attempts} attempt(s){}{}",
        error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default(),
        error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    TokenEndpointFailed {
        /// The HTTP status of the last answer.
        status: StatusCode,
        /// Entra's `error`, e.g. `temporarily_unavailable`.
        error: Option<String>,
        /// Entra's `error_codes`.
        error_codes: Vec<u64>,
        /// Entra's `error_description`.
        error_description: Option<String>,
        /// Entra's `trace_id`.
        trace_id: Option<String>,
        /// Entra's `correlation_id`.
        correlation_id: Option<String>,
        /// How many requests were sent.
        attempts: u32,
    },

    /// The token endpoint refused to issue a token: a client error (4xx) other than `429`,
    /// for example Entra's `invalid_client`. The credentials, scope or request are wrong;
    /// trying again does not help ([`AuthError::is_rejection`]).
    ///
    /// The Entra fields are copied from the JSON error body when there is one, neutralised and
    /// bounded like every remote text ([`perspio_core::text::remote`]).
    #[error(
        "token endpoint rejected the request with status {status}{}{}",
        error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default(),
        error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    TokenRejected {
        /// The HTTP status.
        status: StatusCode,
        /// Entra's `error`, e.g. `invalid_client`.
        error: Option<String>,
        /// Entra's `error_codes`, e.g. `[7000215]`.
        error_codes: Vec<u64>,
        /// Entra's `error_description`.
        error_description: Option<String>,
        /// Entra's `trace_id`.
        trace_id: Option<String>,
        /// Entra's `correlation_id`.
        correlation_id: Option<String>,
        /// How many requests were sent.
        attempts: u32,
    },

    /// The token endpoint answered 200 with a body that is not a usable token response (not
    /// JSON, no `access_token`, a token outside the RFC 6750 character set or longer than
    /// [`MAX_ACCESS_TOKEN_LEN`](crate::MAX_ACCESS_TOKEN_LEN), …).
    #[error("malformed token response: {reason}")]
    MalformedTokenResponse {
        /// What is wrong; never the body itself.
        reason: String,
    },

    /// The token endpoint's answer is longer than the configured limit; reading stopped there.
    #[error(
        "token endpoint answer too large: {size}; raise the limit with AuthConfig::with_max_token_response_size"
    )]
    TokenResponseTooLarge {
        /// The limit and the declared length.
        size: perspio_core::body::BodyTooLarge,
    },

    /// The token endpoint refused the login's refresh token (`invalid_grant`): it expired
    /// (Entra's `AADSTS700082`, 90 days without use), was revoked, or was already used up.
    /// Trying again does not help; only a new interactive login does
    /// ([`AuthError::is_login_required`]).
    #[error(
        "the login has expired or was revoked: the token endpoint refused the refresh token (invalid_grant){}",
        error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    RefreshTokenRejected {
        /// Entra's `error_codes`, e.g. `[700082]`.
        error_codes: Vec<u64>,
        /// Entra's `error_description`, neutralised and bounded.
        error_description: Option<String>,
        /// Entra's `trace_id`.
        trace_id: Option<String>,
        /// Entra's `correlation_id`.
        correlation_id: Option<String>,
    },

    /// No refresh token is stored: nobody has logged in, or the login was removed.
    #[error("not logged in: no refresh token is stored")]
    NoRefreshToken,

    /// The answer to an interactive login carries a `state` other than the one this login
    /// sent: it belongs to another login attempt, or was forged. It is not used.
    #[error(
        "the login answer does not belong to this login (its state does not match); it was not used"
    )]
    StateMismatch,

    /// The authorize endpoint answered the login with an error instead of a code, for
    /// example `access_denied` when consent was declined.
    #[error(
        "the login was refused ({error}){}",
        error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    AuthorizationDenied {
        /// The OAuth2 `error`, e.g. `access_denied`.
        error: String,
        /// Its `error_description`, neutralised and bounded.
        error_description: Option<String>,
    },

    /// The answer to an interactive login cannot be read: not a URL, or no `code`.
    #[error("the login answer is unusable: {reason}")]
    InvalidRedirect {
        /// What is wrong with it; never the code.
        reason: String,
    },

    /// A [`TokenSource`](crate::TokenSource) or [`TokenStore`](crate::TokenStore) implementation failed.
    #[error("{component} failed")]
    Extension {
        /// Which extension failed, e.g. `token store`.
        component: &'static str,
        /// The cause reported by the implementation.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl AuthError {
    /// Whether trying again later can succeed: transport failures, timeouts, throttling and
    /// 5xx answers are retryable; configuration errors and Entra refusals such as
    /// `invalid_client` are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::TokenEndpointUnreachable { .. }
            | Self::TokenEndpointTimedOut { .. }
            | Self::TokenEndpointThrottled { .. } => true,
            Self::TokenEndpointFailed { .. } => true,
            Self::TokenRejected { .. } => false,
            Self::Extension { .. } => true,
            Self::RefreshTokenRejected { .. }
            | Self::NoRefreshToken
            | Self::StateMismatch
            | Self::AuthorizationDenied { .. }
            | Self::InvalidRedirect { .. } => false,
            Self::MissingEnvVar { .. }
            | Self::InvalidEnvVar { .. }
            | Self::InvalidConfig { .. }
            | Self::InsecureTransport { .. }
            | Self::CredentialsWouldLeak { .. }
            | Self::MalformedTokenResponse { .. }
            | Self::TokenResponseTooLarge { .. } => false,
        }
    }

    /// Whether the token endpoint refused the request on its merits ([`AuthError::TokenRejected`]:
    /// a 4xx other than `429`, such as `invalid_client`): the credentials, tenant or scope
    /// need fixing. An endpoint that is down, throttling, unreachable or answering garbage is
    /// not a rejection: a script that rotates secrets should act on this predicate only.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::TokenRejected { .. } | Self::RefreshTokenRejected { .. }
        )
    }

    /// Whether only a new interactive login helps: the refresh token was refused
    /// ([`AuthError::RefreshTokenRejected`]) or there is none ([`AuthError::NoRefreshToken`]).
    pub fn is_login_required(&self) -> bool {
        matches!(
            self,
            Self::RefreshTokenRejected { .. } | Self::NoRefreshToken
        )
    }

    /// The HTTP status the token endpoint answered with, when the error comes from an answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::TokenRejected { status, .. } | Self::TokenEndpointFailed { status, .. } => {
                Some(*status)
            }
            Self::TokenEndpointThrottled { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            Self::TokenEndpointUnreachable { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Wraps an error of a custom [`TokenSource`](crate::TokenSource) or
    /// [`TokenStore`](crate::TokenStore).
    pub fn extension(
        component: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Extension {
            component,
            source: Arc::new(source),
        }
    }

    /// Entra's `trace_id`, when the token endpoint sent one.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Self::TokenRejected { trace_id, .. }
            | Self::TokenEndpointFailed { trace_id, .. }
            | Self::RefreshTokenRejected { trace_id, .. } => trace_id.as_deref(),
            _ => None,
        }
    }

    /// Entra's `correlation_id`, when the token endpoint sent one.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Self::TokenRejected { correlation_id, .. }
            | Self::TokenEndpointFailed { correlation_id, .. }
            | Self::RefreshTokenRejected { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// Converts into the error type of a reqwest-middleware [`Middleware`](reqwest_middleware::Middleware).
    pub(crate) fn into_middleware_error(self) -> reqwest_middleware::Error {
        reqwest_middleware::Error::Middleware(anyhow::Error::new(self))
    }
}
