//! Authentication for PerspioTalk as a [reqwest-middleware] [`Middleware`](reqwest_middleware::Middleware).
//!
//! [`AuthMiddleware`] makes every request to the PerspioTalk API authenticated: it obtains
//! an Entra ID access token with the client-credentials flow, caches it, and adds
//! `Authorization: Bearer …`, `tid`, `Ocp-Apim-Subscription-Key` and `Accept: application/json`.
//!
//! ```no_run
//! use perspio_auth::{AuthConfig, AuthMiddleware, Credentials, same_origin_redirect_policy};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // PERSPIO_CLIENT_ID, PERSPIO_CLIENT_SECRET, PERSPIO_TENANT_ID, PERSPIO_SUBSCRIPTION_KEY
//! let credentials = Credentials::from_env()?;
//! let config = AuthConfig::from_env()? // PERSPIO_TOKEN_URL, PERSPIO_SCOPE (optional)
//!     .with_api_base_url("https://talk.perspio.io".parse()?);
//! let auth = AuthMiddleware::new(credentials, config)?;
//!
//! let http = reqwest::Client::builder()
//!     .redirect(same_origin_redirect_policy()) // keep the subscription key on its origin
//!     .build()?;
//! let client = reqwest_middleware::ClientBuilder::new(http).with(auth.clone()).build();
//!
//! let assets = client.get("https://talk.perspio.io/assets/v3/").send().await?;
//! println!("{}", assets.status());
//!
//! let info = auth.token_info().await?; // metadata; the token only via expose_secret()
//! println!("token expires at {:?}", info.expires_at());
//! # Ok(()) }
//! ```
//!
//! # What it does
//!
//! - **Token lifetime**: a token is served until `refresh_at = issued + min(50 min,
//!   expires_in − 5 min, 80 % of expires_in)` minus up to 60 s of jitter, and never after
//!   `expires_at − 60 s`. A missing, zero or negative `expires_in` means 5 minutes. The issue
//!   time is when the token request was sent. Every timing is in [`AuthConfig`].
//! - **Concurrency**: the hot path is a lock-free snapshot with a prebuilt header. Any number
//!   of callers needing a token cause one token request (single flight) and share its result.
//!   Past `refresh_at` one background refresh runs while requests keep using the valid token; a
//!   failed refresh never discards a valid token and backs off (30 s doubling to 5 min).
//! - **Token endpoint**: a dedicated client (no redirects, 5 s connect, 10 s per attempt, 30 s
//!   overall), up to 3 attempts for transient failures with full-jitter backoff and
//!   `Retry-After`; `invalid_client` and similar are not retried. Entra's error fields are in
//!   [`AuthError::TokenRejected`] (a 4xx: the request was refused) and
//!   [`AuthError::TokenEndpointFailed`] (a 5xx: an outage), neutralised and bounded like every
//!   remote text. An answer is read up to 64 KiB
//!   ([`AuthConfig::with_max_token_response_size`]); an access token outside the RFC 6750
//!   character set or longer than [`MAX_ACCESS_TOKEN_LEN`] is refused as malformed. All the
//!   bounds of the stack: the workspace README, "Bounds".
//! - **401**: the request is retried once with a new token. The token is replaced only if it is
//!   still the one the request carried; refreshes forced by 401 happen at most once per 30 s;
//!   403 is never retried; a request whose body cannot be cloned (a stream) is sent with
//!   credentials but not retried.
//! - **Security**: credentials go only to the configured API origin and only over https (plain
//!   http only to loopback unless [`AuthConfig::with_allow_insecure_http`]); requests to other
//!   origins are refused with [`AuthError::CredentialsWouldLeak`]. Secrets are types that print
//!   a placeholder; header values are marked sensitive; errors and logs carry no secret.
//! - **User login**: [`AuthorizationRequest`] is the interactive authorization-code flow
//!   (PKCE S256, `state` checked), exchanged as the documented confidential client;
//!   [`AuthorizationCodeSource`] then refreshes through a [`RefreshTokenStore`] that saves each
//!   rotated refresh token under a lock, so two processes refreshing at once cannot lose the
//!   login. A refused refresh token is [`AuthError::RefreshTokenRejected`]
//!   ([`AuthError::is_login_required`]).
//! - **Extensible**: [`TokenSource`] (client credentials, [`StaticTokenSource`],
//!   [`RefreshTokenSource`], [`AuthorizationCodeSource`]), [`TokenStore`] (in memory by
//!   default), [`Clock`] ([`ManualClock`] for tests).
//!
//! # Errors
//!
//! One enum, [`AuthError`]. Through reqwest-middleware it arrives as
//! `reqwest_middleware::Error::Middleware(anyhow::Error)`; use
//! `err.downcast_ref::<AuthError>()` on the inner error.
//!
//! # Testing code that uses this crate
//!
//! Give the builder a [`StaticTokenSource`] (no token endpoint needed) and a [`ManualClock`]
//! (advance it to drive expiry and refresh). Plain `http` to `127.0.0.1` is accepted, so a
//! `wiremock` server works as the API base URL.
//!
//! # Limitations
//!
//! - One API origin per middleware; build another middleware for another origin.
//! - Redirects are handled by reqwest, not by the middleware: use
//!   [`same_origin_redirect_policy`] on the underlying client.
//! - Failure backoff only delays *proactive* refreshes. When no usable token exists, each
//!   request that needs one triggers a (single-flight) acquisition even right after a failure.
//! - If the refresh forced by a 401 fails, the old token is kept (the 401 may have been caused
//!   by the subscription key) and the 401 is returned.
//! - Background refreshes need a Tokio runtime; without one the next caller that needs the
//!   token performs the pending refresh.
//! - The interactive login builds the URL and redeems the code; opening a browser and
//!   receiving the redirect (a loopback listener, a pasted URL) is the caller's part (the
//!   `perspio` CLI's `auth login` does both).
//!
//! [reqwest-middleware]: https://docs.rs/reqwest-middleware

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authorization_code;
mod cache;
mod clock;
mod config;
mod credentials;
mod error;
mod middleware;
mod redirect;
mod refresh;
mod shared;
mod source;
mod store;
mod token_endpoint;

pub use authorization_code::{
    AuthorizationCode, AuthorizationCodeSource, AuthorizationRequest, DEFAULT_USER_SCOPE, Login,
    OFFLINE_ACCESS, Pkce,
};
pub use cache::TokenInfo;
pub use config::{
    AuthConfig, DEFAULT_API_BASE_URL, DEFAULT_EXPIRY_MARGIN, DEFAULT_FAILURE_BACKOFF,
    DEFAULT_FALLBACK_TTL, DEFAULT_FORCED_REFRESH_INTERVAL, DEFAULT_LEASE_TTL,
    DEFAULT_MAX_FAILURE_BACKOFF, DEFAULT_MAX_TOKEN_RESPONSE_SIZE, DEFAULT_MAX_TOKEN_TTL,
    DEFAULT_REFRESH_JITTER, DEFAULT_REFRESH_MARGIN, DEFAULT_RETRY_AFTER_CAP, DEFAULT_SCOPE,
    DEFAULT_TOKEN_ATTEMPT_TIMEOUT, DEFAULT_TOKEN_CONNECT_TIMEOUT, DEFAULT_TOKEN_DEADLINE,
    DEFAULT_TOKEN_MAX_ATTEMPTS, DEFAULT_TOKEN_RETRY_BASE, DEFAULT_TOKEN_RETRY_MAX,
    DEFAULT_TOKEN_URL,
};
pub use credentials::{
    AccessToken, ClientSecret, Credentials, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_SCOPE,
    ENV_SUBSCRIPTION_KEY, ENV_TENANT_ID, ENV_TOKEN_URL, RefreshToken, SubscriptionKey,
};
pub use error::AuthError;
pub use middleware::{
    AuthMiddleware, AuthMiddlewareBuilder, Authenticated, SUBSCRIPTION_KEY_HEADER, TENANT_HEADER,
};
pub use perspio_core::{BoxFuture, Clock, ManualClock, SystemClock};
pub use redirect::{MAX_SAME_ORIGIN_REDIRECTS, same_origin_redirect_policy};
pub use refresh::{InMemoryRefreshTokenStore, RefreshTokenGuard, RefreshTokenStore};
#[cfg(feature = "memcached")]
pub use shared::MemcachedTokenBackend;
#[cfg(feature = "redis")]
pub use shared::RedisTokenBackend;
pub use shared::{SharedBackend, shared_token_key};
pub use source::{
    ClientCredentialsSource, DEFAULT_REFRESH_SCOPE, FetchContext, RefreshReason,
    RefreshTokenSource, StaticTokenSource, Token, TokenSource,
};
pub use store::{InMemoryTokenStore, Lease, StoredToken, TokenStore};
pub use token_endpoint::MAX_ACCESS_TOKEN_LEN;
