//! Where tokens come from: client credentials (default), a static token (tests), a refresh token.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::config::AuthConfig;
use crate::credentials::{AccessToken, ClientSecret, Credentials, RefreshToken};
use crate::error::AuthError;
use crate::refresh::{InMemoryRefreshTokenStore, RefreshTokenStore};
use crate::token_endpoint::TokenEndpoint;
use perspio_core::Clock;

/// Why a token is being acquired; recorded on the `acquire_token` tracing span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshReason {
    /// No token has been obtained yet.
    Initial,
    /// The token is past `refresh_at` but still valid; callers keep using it meanwhile.
    Proactive,
    /// The token is past `must_refresh_at` (or expired); callers wait.
    Expired,
    /// The API answered `401` to the current token.
    Invalidated401,
}

impl RefreshReason {
    /// `initial`, `proactive`, `expired` or `invalidated-401`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Proactive => "proactive",
            Self::Expired => "expired",
            Self::Invalidated401 => "invalidated-401",
        }
    }
}

impl fmt::Display for RefreshReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a [`TokenSource`] is told about the acquisition it serves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchContext {
    /// Why the token is needed.
    pub reason: RefreshReason,
    /// The middleware's clock: stamp `issued_at` with it and sleep through it.
    pub clock: Arc<dyn Clock>,
}

impl FetchContext {
    /// A context, for calling a source directly (e.g. in tests).
    pub fn new(reason: RefreshReason, clock: Arc<dyn Clock>) -> Self {
        Self { reason, clock }
    }
}

/// A token as produced by a [`TokenSource`].
#[derive(Debug, Clone)]
pub struct Token {
    access_token: AccessToken,
    issued_at: SystemTime,
    expires_in: Option<Duration>,
    scope: Option<String>,
}

impl Token {
    /// A token issued at `issued_at` (take the time the request was *sent*), with unknown
    /// lifetime (the fallback lifetime applies until [`with_expires_in`](Self::with_expires_in)).
    pub fn new(access_token: AccessToken, issued_at: SystemTime) -> Self {
        Self {
            access_token,
            issued_at,
            expires_in: None,
            scope: None,
        }
    }

    /// The lifetime the issuer announced; `None` or zero means unknown.
    pub fn with_expires_in(mut self, expires_in: Option<Duration>) -> Self {
        self.expires_in = expires_in.filter(|d| !d.is_zero());
        self
    }

    /// The granted scopes, space separated.
    pub fn with_scope(mut self, scope: Option<String>) -> Self {
        self.scope = scope;
        self
    }

    /// The token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// When the token request was sent.
    pub fn issued_at(&self) -> SystemTime {
        self.issued_at
    }

    /// The announced lifetime, if any.
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_in
    }

    /// The granted scopes, if announced.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
}

/// Produces access tokens. The cache calls it at most once at a time (single flight).
///
/// Implement it for other flows; `Arc<dyn TokenSource>` plugs into
/// [`AuthMiddlewareBuilder::with_token_source`](crate::AuthMiddlewareBuilder::with_token_source).
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug + 'static {
    /// Obtains a new token.
    ///
    /// # Errors
    ///
    /// Any [`AuthError`]; custom sources can wrap theirs with [`AuthError::extension`].
    async fn fetch_token(&self, context: &FetchContext) -> Result<Token, AuthError>;
}

/// The OAuth2 client-credentials flow against Entra (read-only PerspioTalk access). The default.
#[derive(Debug)]
pub struct ClientCredentialsSource {
    endpoint: TokenEndpoint,
    client_id: String,
    client_secret: ClientSecret,
    scope: String,
}

impl ClientCredentialsSource {
    /// Uses the token URL, scope and token-endpoint timings of `config`.
    ///
    /// # Errors
    ///
    /// [`AuthError::InsecureTransport`] or [`AuthError::InvalidConfig`] for a bad token URL.
    pub fn new(credentials: &Credentials, config: &AuthConfig) -> Result<Self, AuthError> {
        config.validate()?;
        Ok(Self {
            endpoint: TokenEndpoint::new(config.token_url.clone(), config.token_endpoint)?,
            client_id: credentials.client_id().to_owned(),
            client_secret: credentials.client_secret().clone(),
            scope: config.scope.clone(),
        })
    }
}

#[async_trait]
impl TokenSource for ClientCredentialsSource {
    async fn fetch_token(&self, context: &FetchContext) -> Result<Token, AuthError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("scope", self.scope.as_str()),
        ];
        let response = self
            .endpoint
            .request_token(&form, context.clock.as_ref())
            .await?;
        Ok(Token::new(response.access_token, response.issued_at)
            .with_expires_in(response.expires_in)
            .with_scope(response.scope))
    }
}

/// The scope requested by [`RefreshTokenSource`] by default (read/write access).
pub const DEFAULT_REFRESH_SCOPE: &str = "api://perspiotalk/all_readwrite offline_access";

/// The OAuth2 refresh-token flow (read/write access for an "API user").
///
/// Each fetch takes the [`RefreshTokenStore`]'s lock, reads the stored refresh token, asks the
/// token endpoint for an access token, saves the rotated refresh token Entra returns (refresh
/// tokens renew on use) and only then releases the lock: a second process sharing the store
/// waits and then uses the rotated token, so concurrent refreshes cannot lose the login.
///
/// A refused refresh token (`invalid_grant`, e.g. Entra's `AADSTS700082` after 90 days
/// without use) is [`AuthError::RefreshTokenRejected`]; an empty store is
/// [`AuthError::NoRefreshToken`]. Both say only a new login helps
/// ([`AuthError::is_login_required`]). The first refresh token comes from the interactive
/// login: [`AuthorizationRequest`](crate::AuthorizationRequest).
///
/// # Limitations
///
/// A rotated token that the store fails to save is kept in this source (this process keeps
/// working) and logged as a warning; another process then still holds the previous token.
pub struct RefreshTokenSource {
    endpoint: TokenEndpoint,
    client_id: String,
    client_secret: ClientSecret,
    scope: String,
    store: Arc<dyn RefreshTokenStore>,
    /// The token this source last used or saved.
    last: Mutex<Option<RefreshToken>>,
}

impl RefreshTokenSource {
    /// Holds `refresh_token` in this process ([`InMemoryRefreshTokenStore`]); uses the token
    /// URL and timings of `config` and [`DEFAULT_REFRESH_SCOPE`] unless `config` sets a scope
    /// other than the client-credentials default.
    ///
    /// # Errors
    ///
    /// As [`ClientCredentialsSource::new`].
    pub fn new(
        credentials: &Credentials,
        refresh_token: RefreshToken,
        config: &AuthConfig,
    ) -> Result<Self, AuthError> {
        let source = Self::with_store(
            credentials,
            Arc::new(InMemoryRefreshTokenStore::new(refresh_token.clone())),
            config,
        )?;
        *source.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(refresh_token);
        Ok(source)
    }

    /// Reads and saves the refresh token through `store` (see the type's docs); otherwise as
    /// [`new`](Self::new).
    ///
    /// # Errors
    ///
    /// As [`ClientCredentialsSource::new`].
    pub fn with_store(
        credentials: &Credentials,
        store: Arc<dyn RefreshTokenStore>,
        config: &AuthConfig,
    ) -> Result<Self, AuthError> {
        config.validate()?;
        let scope = if config.scope == crate::config::DEFAULT_SCOPE {
            DEFAULT_REFRESH_SCOPE.to_owned()
        } else {
            config.scope.clone()
        };
        Ok(Self {
            endpoint: TokenEndpoint::new(config.token_url.clone(), config.token_endpoint)?,
            client_id: credentials.client_id().to_owned(),
            client_secret: credentials.client_secret().clone(),
            scope,
            store,
            last: Mutex::new(None),
        })
    }

    /// The refresh token this source last used or saved (it changes after each successful
    /// refresh), if it has one yet.
    pub fn refresh_token(&self) -> Option<RefreshToken> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn remember(&self, token: &RefreshToken) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
    }
}

impl fmt::Debug for RefreshTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenSource")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scope", &self.scope)
            .field("store", &self.store)
            .field("refresh_token", &"RefreshToken([redacted])")
            .finish()
    }
}

#[async_trait]
impl TokenSource for RefreshTokenSource {
    async fn fetch_token(&self, context: &FetchContext) -> Result<Token, AuthError> {
        // Held until the rotated token is saved: another process waits, then reads it.
        let mut guard = self.store.lock().await?;
        let refresh_token = match guard.current() {
            Some(token) => token,
            // The store was emptied (a logout) while this process kept a token: use none.
            None => return Err(AuthError::NoRefreshToken),
        };
        self.remember(&refresh_token);
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("refresh_token", refresh_token.expose_secret()),
            ("scope", self.scope.as_str()),
        ];
        let response = self
            .endpoint
            .request_token(&form, context.clock.as_ref())
            .await
            .map_err(refresh_refusal)?;
        if let Some(rotated) = response.refresh_token {
            self.remember(&rotated);
            if let Err(error) = guard.replace(rotated) {
                tracing::warn!(
                    %error,
                    "the rotated refresh token could not be saved; this process keeps it, \
                     other processes still hold the previous one"
                );
            }
        }
        drop(guard);
        Ok(Token::new(response.access_token, response.issued_at)
            .with_expires_in(response.expires_in)
            .with_scope(response.scope))
    }
}

/// `invalid_grant` answering a refresh means the refresh token is no longer usable.
pub(crate) fn refresh_refusal(error: AuthError) -> AuthError {
    match error {
        AuthError::TokenRejected {
            error: Some(code),
            error_codes,
            error_description,
            trace_id,
            correlation_id,
            ..
        } if code == "invalid_grant" => AuthError::RefreshTokenRejected {
            error_codes,
            error_description,
            trace_id,
            correlation_id,
        },
        other => other,
    }
}

/// A fixed token, for tests and for tokens obtained elsewhere. Counts how often it is asked.
///
/// ```
/// use std::time::Duration;
/// use perspio_auth::{AccessToken, StaticTokenSource};
/// let source = StaticTokenSource::new(AccessToken::new("test-token"))
///     .with_expires_in(Duration::from_secs(3600));
/// source.set_token(AccessToken::new("rotated")); // later fetches return the new token
/// assert_eq!(source.fetch_count(), 0);
/// ```
pub struct StaticTokenSource {
    token: Mutex<AccessToken>,
    expires_in: Option<Duration>,
    fetches: AtomicU64,
}

impl StaticTokenSource {
    /// Always returns `token`, issued at the clock's current time, lifetime unknown (the
    /// fallback lifetime applies) until [`with_expires_in`](Self::with_expires_in).
    pub fn new(token: AccessToken) -> Self {
        Self {
            token: Mutex::new(token),
            expires_in: None,
            fetches: AtomicU64::new(0),
        }
    }

    /// The lifetime announced with each token.
    pub fn with_expires_in(mut self, expires_in: Duration) -> Self {
        self.expires_in = Some(expires_in);
        self
    }

    /// Replaces the token returned by later fetches.
    pub fn set_token(&self, token: AccessToken) {
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) = token;
    }

    /// How many times a token was fetched.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for StaticTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokenSource")
            .field("token", &"AccessToken([redacted])")
            .field("expires_in", &self.expires_in)
            .field("fetch_count", &self.fetch_count())
            .finish()
    }
}

#[async_trait]
impl TokenSource for StaticTokenSource {
    async fn fetch_token(&self, context: &FetchContext) -> Result<Token, AuthError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let token = self
            .token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Ok(Token::new(token, context.clock.now()).with_expires_in(self.expires_in))
    }
}
