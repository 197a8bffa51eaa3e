//! The interactive login of an "API user": Entra's authorization-code flow with PKCE, as the
//! documented confidential client, and the token source that then refreshes the login.
//!
//! 1. [`AuthorizationRequest::new`] makes a `state` and a PKCE verifier (S256) and gives the
//!    authorize URL to open in a browser ([`AuthorizationRequest::url`]).
//! 2. The browser comes back to the `redirect_uri` (a loopback listener, or a URL the user
//!    pastes): [`AuthorizationRequest::code_from_redirect`] checks `state` and takes the code,
//!    or the error the authorize endpoint answered instead (a declined consent).
//! 3. [`AuthorizationRequest::exchange`] redeems the code at the token endpoint with the
//!    client secret and the PKCE verifier, and returns a [`Login`]: the first access token
//!    and the refresh token.
//! 4. [`AuthorizationCodeSource`] serves that first token, then refreshes through a
//!    [`RefreshTokenStore`] that keeps each rotated refresh token.
//!
//! ```no_run
//! # async fn run() -> Result<(), perspio_auth::AuthError> {
//! use perspio_auth::{AuthConfig, AuthorizationRequest, Credentials};
//!
//! let credentials = Credentials::from_env()?;
//! let config = AuthConfig::from_env()?;
//! let request = AuthorizationRequest::new(
//!     &config,
//!     credentials.client_id(),
//!     "http://localhost:53682/".parse().expect("a url"),
//! );
//! println!("open {}", request.url());
//! // … the browser is redirected to http://localhost:53682/?code=…&state=…
//! # let redirected = String::new();
//! let code = request.code_from_redirect(&redirected)?;
//! let login = request.exchange(code, &credentials, &config).await?;
//! // Keep login.refresh_token() in a RefreshTokenStore; serve login.token() first.
//! # let _ = login; Ok(()) }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::config::AuthConfig;
use crate::credentials::{Credentials, RefreshToken};
use crate::error::AuthError;
use crate::refresh::RefreshTokenStore;
use crate::source::{FetchContext, RefreshReason, RefreshTokenSource, Token, TokenSource};
use crate::token_endpoint::TokenEndpoint;
use perspio_core::text;

/// The scope of PerspioTalk's interactive login ("API user", read/write), as documented.
pub const DEFAULT_USER_SCOPE: &str = "api://perspiotalk/access_as_user";
/// Added to the login's scope: Entra issues a refresh token only to a login that asks for it.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// A PKCE pair (RFC 7636, method `S256`): a random verifier kept by the client, its SHA-256
/// challenge sent with the authorize request. `Debug` hides the verifier.
#[derive(Clone)]
pub struct Pkce {
    verifier: SecretString,
    challenge: String,
}

impl Pkce {
    /// A new pair: a 43-character verifier from 32 random bytes.
    pub fn new() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_verifier(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The pair of a known verifier (tests; RFC 7636 appendix B).
    pub fn from_verifier(verifier: impl Into<String>) -> Self {
        let verifier = verifier.into();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier: SecretString::from(verifier),
            challenge,
        }
    }

    /// `BASE64URL(SHA256(verifier))`, sent as `code_challenge`.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// The verifier, sent only with the code to the token endpoint.
    pub fn expose_verifier(&self) -> &str {
        self.verifier.expose_secret()
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &"[redacted]")
            .field("challenge", &self.challenge)
            .finish()
    }
}

/// The authorization code the authorize endpoint gave; single use, short-lived. `Debug` and
/// `Display` print a placeholder.
#[derive(Clone)]
pub struct AuthorizationCode(SecretString);

impl AuthorizationCode {
    /// Wraps a code.
    pub fn new(code: impl Into<String>) -> Self {
        Self(SecretString::from(code.into()))
    }

    /// The code itself, to redeem it.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationCode([redacted])")
    }
}

impl fmt::Display for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One interactive login attempt: its `state`, its PKCE pair, where the browser comes back.
///
/// The request parameters are the documented ones (`client_id`, `response_type=code`,
/// `redirect_uri`, `response_mode=query`, `scope`, `state`) plus PKCE's `code_challenge` and
/// `code_challenge_method=S256`. The scope is [`DEFAULT_USER_SCOPE`] and [`OFFLINE_ACCESS`]
/// unless [`with_scope`](Self::with_scope) says otherwise.
#[derive(Clone)]
pub struct AuthorizationRequest {
    authorize_url: Url,
    client_id: String,
    redirect_uri: Url,
    scope: String,
    state: String,
    pkce: Pkce,
}

impl AuthorizationRequest {
    /// A login at `config`'s authorize endpoint ([`AuthConfig::authorize_url`]) for the
    /// application `client_id`, coming back to `redirect_uri`, with a fresh random `state`
    /// and PKCE pair.
    pub fn new(config: &AuthConfig, client_id: &str, redirect_uri: Url) -> Self {
        let mut state = [0u8; 16];
        rand::rng().fill_bytes(&mut state);
        Self {
            authorize_url: config.authorize_url(),
            client_id: client_id.to_owned(),
            redirect_uri,
            scope: format!("{DEFAULT_USER_SCOPE} {OFFLINE_ACCESS}"),
            state: URL_SAFE_NO_PAD.encode(state),
            pkce: Pkce::new(),
        }
    }

    /// The scopes asked for, space separated; [`OFFLINE_ACCESS`] is added when missing.
    /// Defaults to [`DEFAULT_USER_SCOPE`] and [`OFFLINE_ACCESS`].
    pub fn with_scope(mut self, scope: &str) -> Self {
        let mut scope = scope.trim().to_owned();
        if !scope.split_whitespace().any(|s| s == OFFLINE_ACCESS) {
            scope.push(' ');
            scope.push_str(OFFLINE_ACCESS);
        }
        self.scope = scope;
        self
    }

    /// Replaces the PKCE pair (tests).
    pub fn with_pkce(mut self, pkce: Pkce) -> Self {
        self.pkce = pkce;
        self
    }

    /// The URL to open in a browser.
    pub fn url(&self) -> Url {
        let mut url = self.authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", self.redirect_uri.as_str())
            .append_pair("response_mode", "query")
            .append_pair("scope", &self.scope)
            .append_pair("state", &self.state)
            .append_pair("code_challenge", self.pkce.challenge())
            .append_pair("code_challenge_method", "S256");
        url
    }

    /// The `state` this login sent: an answer with another one is refused.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// Where the browser comes back.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The scopes asked for.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The code of the answer the browser was redirected to: a full URL, the request target
    /// a loopback listener received (`/?code=…&state=…`), or only the query (`code=…&state=…`,
    /// with or without the leading `?`).
    ///
    /// # Errors
    ///
    /// [`AuthError::AuthorizationDenied`] when the answer carries an `error` (a declined
    /// consent is `access_denied`); [`AuthError::StateMismatch`] when its `state` is not this
    /// login's (checked before anything else is read, so a forged answer's error text is not
    /// shown either); [`AuthError::InvalidRedirect`] when it has no code or is unreadable.
    pub fn code_from_redirect(&self, answer: &str) -> Result<AuthorizationCode, AuthError> {
        let answer = answer.trim();
        let query = match Url::parse(answer) {
            Ok(url) => url.query().unwrap_or_default().to_owned(),
            // A request target (`/?code=…`) or a bare query (`code=…`, `?code=…`).
            Err(_) if answer.contains('=') => answer
                .split_once('?')
                .map_or(answer, |(_, query)| query)
                .to_owned(),
            Err(_) => {
                return Err(AuthError::InvalidRedirect {
                    reason: "it is neither the url the browser was sent to nor its query".into(),
                });
            }
        };
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        match field("state") {
            Some(state) if constant_time_eq(state.as_bytes(), self.state.as_bytes()) => {}
            _ => return Err(AuthError::StateMismatch),
        }
        if let Some(error) = field("error") {
            return Err(AuthError::AuthorizationDenied {
                error: text::remote(error),
                error_description: field("error_description")
                    .map(text::remote)
                    .filter(|d| !d.is_empty()),
            });
        }
        match field("code").filter(|code| !code.is_empty()) {
            Some(code) => Ok(AuthorizationCode::new(code)),
            None => Err(AuthError::InvalidRedirect {
                reason: "it has no code".into(),
            }),
        }
    }

    /// Redeems `code` at `config`'s token endpoint as the confidential client (`client_id`,
    /// `client_secret`, `code`, `redirect_uri`, `grant_type=authorization_code`, `scope`,
    /// PKCE's `code_verifier`), with the token endpoint's retries and timeouts.
    ///
    /// # Errors
    ///
    /// Any token-endpoint error ([`AuthError::TokenRejected`] for a used, expired or foreign
    /// code, or a verifier that does not match); [`AuthError::MalformedTokenResponse`] when
    /// the answer has no refresh token.
    pub async fn exchange(
        &self,
        code: AuthorizationCode,
        credentials: &Credentials,
        config: &AuthConfig,
    ) -> Result<Login, AuthError> {
        config.validate()?;
        let endpoint = TokenEndpoint::new(config.token_url.clone(), config.token_endpoint)?;
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", credentials.client_id()),
            ("client_secret", credentials.client_secret().expose_secret()),
            ("code", code.expose_secret()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", self.scope.as_str()),
            ("code_verifier", self.pkce.expose_verifier()),
        ];
        let response = endpoint
            .request_token(&form, &perspio_core::SystemClock)
            .await?;
        let refresh_token =
            response
                .refresh_token
                .ok_or_else(|| AuthError::MalformedTokenResponse {
                    reason: format!(
                        "the login answer has no refresh_token (was {OFFLINE_ACCESS} granted?)"
                    ),
                })?;
        Ok(Login {
            token: Token::new(response.access_token, response.issued_at)
                .with_expires_in(response.expires_in)
                .with_scope(response.scope),
            refresh_token,
        })
    }
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field(
                "authorize_url",
                &perspio_core::redact::redact_url(&self.authorize_url),
            )
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("scope", &self.scope)
            .field("state", &"[redacted]")
            .field("pkce", &self.pkce)
            .finish()
    }
}

/// Compares without an early exit, so that the time taken does not tell how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The result of a successful login: the first access token and the refresh token.
#[derive(Debug, Clone)]
pub struct Login {
    token: Token,
    refresh_token: RefreshToken,
}

impl Login {
    /// The access token the code was exchanged for.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The refresh token: keep it in a [`RefreshTokenStore`].
    pub fn refresh_token(&self) -> &RefreshToken {
        &self.refresh_token
    }

    /// Both parts.
    pub fn into_parts(self) -> (Token, RefreshToken) {
        (self.token, self.refresh_token)
    }
}

/// The token source of an authorization-code login: the access token of the login itself
/// first (when given), then refreshes through a [`RefreshTokenSource`] over `store`, which
/// keeps each rotated refresh token (see [`RefreshTokenSource`] for the locking).
///
/// ```no_run
/// # async fn run(login: perspio_auth::Login) -> Result<(), perspio_auth::AuthError> {
/// use std::sync::Arc;
/// use perspio_auth::{AuthConfig, AuthMiddleware, AuthorizationCodeSource, Credentials,
///     InMemoryRefreshTokenStore};
///
/// let credentials = Credentials::from_env()?;
/// let config = AuthConfig::from_env()?;
/// let (token, refresh_token) = login.into_parts();
/// let store = Arc::new(InMemoryRefreshTokenStore::new(refresh_token));
/// let source = AuthorizationCodeSource::new(&credentials, store, &config)?.with_first_token(token);
/// let auth = AuthMiddleware::builder(credentials)
///     .with_config(config)
///     .with_token_source(Arc::new(source))
///     .build()?;
/// # let _ = auth; Ok(()) }
/// ```
pub struct AuthorizationCodeSource {
    first: Mutex<Option<Token>>,
    refresh: RefreshTokenSource,
}

impl AuthorizationCodeSource {
    /// Refreshes through `store` with `config`'s token endpoint (see
    /// [`RefreshTokenSource::with_store`] for the scope).
    ///
    /// # Errors
    ///
    /// As [`RefreshTokenSource::with_store`].
    pub fn new(
        credentials: &Credentials,
        store: Arc<dyn RefreshTokenStore>,
        config: &AuthConfig,
    ) -> Result<Self, AuthError> {
        Ok(Self {
            first: Mutex::new(None),
            refresh: RefreshTokenSource::with_store(credentials, store, config)?,
        })
    }

    /// Serves `token` (the login's own access token) for the first acquisition, so that a
    /// login is not followed by an immediate refresh.
    pub fn with_first_token(self, token: Token) -> Self {
        *self.first.lock().unwrap_or_else(PoisonError::into_inner) = Some(token);
        self
    }

    /// The refresh source underneath.
    pub fn refresh_source(&self) -> &RefreshTokenSource {
        &self.refresh
    }
}

impl fmt::Debug for AuthorizationCodeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCodeSource")
            .field(
                "first",
                &self
                    .first
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some(),
            )
            .field("refresh", &self.refresh)
            .finish()
    }
}

#[async_trait]
impl TokenSource for AuthorizationCodeSource {
    async fn fetch_token(&self, context: &FetchContext) -> Result<Token, AuthError> {
        let first = self
            .first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match first {
            // A 401 to the login's own token, or an expired one, asks for a refresh.
            Some(token) if context.reason == RefreshReason::Initial => Ok(token),
            _ => self.refresh.fetch_token(context).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn request() -> AuthorizationRequest {
        AuthorizationRequest::new(
            &AuthConfig::default(),
            "client-1",
            "http://localhost:8400/".parse().unwrap(),
        )
    }

    #[test]
    fn the_challenge_is_rfc_7636s_s256_of_the_verifier() {
        // RFC 7636, appendix B.
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let fresh = Pkce::new();
        assert_eq!(fresh.expose_verifier().len(), 43);
        assert!(!format!("{fresh:?}").contains(fresh.expose_verifier()));
    }

    #[test]
    fn the_authorize_url_carries_the_documented_fields_state_and_pkce() {
        let request = request();
        let url = request.url();
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert!(url.path().ends_with("/oauth2/v2.0/authorize"), "{url}");
        assert_eq!(pairs["client_id"], "client-1");
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["redirect_uri"], "http://localhost:8400/");
        assert_eq!(pairs["response_mode"], "query");
        assert_eq!(
            pairs["scope"],
            "api://perspiotalk/access_as_user offline_access"
        );
        assert_eq!(pairs["state"], request.state());
        assert_eq!(pairs["code_challenge"], request.pkce.challenge());
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert!(!url.as_str().contains(request.pkce.expose_verifier()));
    }

    #[test]
    fn the_code_is_taken_from_a_url_or_a_bare_query_with_the_right_state() {
        let request = request();
        let state = request.state().to_owned();
        for answer in [
            format!("http://localhost:8400/?code=C0DE&state={state}"),
            format!("code=C0DE&state={state}"),
            format!("?state={state}&code=C0DE\n"),
            format!("/?code=C0DE&state={state}"),
        ] {
            let code = request.code_from_redirect(&answer).unwrap();
            assert_eq!(code.expose_secret(), "C0DE");
        }
    }

    #[test]
    fn a_wrong_or_missing_state_is_refused_before_anything_else_is_read() {
        let request = request();
        for answer in [
            "http://localhost:8400/?code=C0DE&state=someone-elses",
            "http://localhost:8400/?code=C0DE",
            "http://localhost:8400/?error=access_denied&state=forged",
        ] {
            assert!(matches!(
                request.code_from_redirect(answer),
                Err(AuthError::StateMismatch)
            ));
        }
    }

    #[test]
    fn a_declined_consent_is_typed_with_its_description() {
        let request = request();
        let answer = format!(
            "http://localhost:8400/?error=access_denied&error_description=AADSTS65004%3A+User+declined&state={}",
            request.state()
        );
        match request.code_from_redirect(&answer) {
            Err(AuthError::AuthorizationDenied {
                error,
                error_description,
            }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(
                    error_description.as_deref(),
                    Some("AADSTS65004: User declined")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            request.code_from_redirect(&format!("state={}", request.state())),
            Err(AuthError::InvalidRedirect { .. })
        ));
        assert!(matches!(
            request.code_from_redirect("not an answer"),
            Err(AuthError::InvalidRedirect { .. })
        ));
    }

    #[test]
    fn offline_access_is_always_asked_for() {
        let request = request().with_scope("api://other/x");
        assert_eq!(request.scope(), "api://other/x offline_access");
        let request = request.with_scope("offline_access api://other/x");
        assert_eq!(request.scope(), "offline_access api://other/x");
    }
}
