//! Fixtures and assertion helpers shared by every module.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use perspio_auth::{
    AuthConfig, AuthError, AuthMiddleware, ClientSecret, Credentials, ManualClock, SubscriptionKey,
};
use reqwest_middleware::ClientWithMiddleware;
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

pub const CLIENT_ID: &str = "client-id-1234";
pub const CLIENT_SECRET: &str = "client-secret-S3CR3T-value";
pub const TENANT: &str = "in-tenant-42";
pub const SUBSCRIPTION_KEY: &str = "subscription-K3Y-value";
pub const TOKEN_A: &str = "access-token-AAAA";
pub const TOKEN_B: &str = "access-token-BBBB";
pub const TOKEN_C: &str = "access-token-CCCC";
pub const TOKEN_PATH: &str = "/tenant/oauth2/v2.0/token";

/// Every secret the tests use; none may ever appear in output.
pub const SECRETS: [&str; 5] = [CLIENT_SECRET, SUBSCRIPTION_KEY, TOKEN_A, TOKEN_B, TOKEN_C];

pub fn credentials() -> Credentials {
    Credentials::new(
        CLIENT_ID,
        ClientSecret::new(CLIENT_SECRET),
        TENANT,
        SubscriptionKey::new(SUBSCRIPTION_KEY),
    )
    .unwrap()
}

/// Token endpoint and API on `server`; no jitter; millisecond retry delays.
pub fn test_config(server: &MockServer) -> AuthConfig {
    AuthConfig::default()
        .with_token_url(format!("{}{TOKEN_PATH}", server.uri()).parse().unwrap())
        .with_api_base_url(server.uri().parse().unwrap())
        .with_jitter(false)
        .with_token_retry_base(Duration::from_millis(1))
        .with_token_retry_max(Duration::from_millis(4))
        .with_token_attempt_timeout(Duration::from_millis(300))
        .with_token_deadline(Duration::from_secs(3))
}

/// Everything a test needs: the mock server (token endpoint + API), the clock, the middleware
/// and a client using it.
pub struct Fixture {
    pub server: MockServer,
    pub clock: ManualClock,
    pub auth: AuthMiddleware,
    pub client: ClientWithMiddleware,
}

impl Fixture {
    pub async fn start() -> Self {
        Self::start_with(|c| c).await
    }

    pub async fn start_with(configure: impl FnOnce(AuthConfig) -> AuthConfig) -> Self {
        let server = MockServer::start().await;
        let clock = ManualClock::new();
        let auth = AuthMiddleware::builder(credentials())
            .with_config(configure(test_config(&server)))
            .with_clock(clock.clone())
            .build()
            .unwrap();
        let client = client_with(auth.clone());
        Self {
            server,
            clock,
            auth,
            client,
        }
    }

    pub fn url(&self, p: &str) -> String {
        format!("{}{p}", self.server.uri())
    }

    /// Requests the API received (the token endpoint excluded).
    pub async fn api_requests(&self) -> Vec<wiremock::Request> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() != TOKEN_PATH)
            .collect()
    }

    pub async fn token_requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == TOKEN_PATH)
            .count()
    }

    /// Waits (in real time, briefly) until the token endpoint has seen `n` requests; for
    /// refreshes that run in the background.
    pub async fn wait_for_token_requests(&self, n: usize) {
        for _ in 0..200 {
            if self.token_requests().await >= n {
                // Let the background task store its result.
                tokio::time::sleep(Duration::from_millis(20)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!(
            "expected {n} token requests, saw {}",
            self.token_requests().await
        );
    }
}

pub fn client_with(auth: AuthMiddleware) -> ClientWithMiddleware {
    perspio_core::tls::install_crypto_provider();
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth)
        .build()
}

/// The token endpoint: a client-credentials form POST.
pub fn token_endpoint() -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=client_credentials"))
}

/// A successful token response.
pub fn token_response(token: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": token,
        "scope": "api://perspiotalk/.default",
    }))
}

/// Entra's error body.
pub fn entra_error(status: u16, error: &str, code: u64) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": error,
        "error_description": format!("AADSTS{code}: something about {error}."),
        "error_codes": [code],
        "timestamp": "2026-01-01 00:00:00Z",
        "trace_id": "trace-0001",
        "correlation_id": "correlation-0001",
    }))
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The `AuthError` inside a middleware error.
#[track_caller]
pub fn auth_error(err: &reqwest_middleware::Error) -> &AuthError {
    match err {
        reqwest_middleware::Error::Middleware(inner) => inner
            .downcast_ref::<AuthError>()
            .unwrap_or_else(|| panic!("not an AuthError: {inner:?}")),
        other => panic!("not a middleware error: {other:?}"),
    }
}

#[track_caller]
pub fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "secret {secret:?} leaked into:\n{text}"
        );
    }
}

/// A header of a received request, as text.
pub fn header(request: &wiremock::Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// A `MakeWriter` that collects tracing output in memory.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
