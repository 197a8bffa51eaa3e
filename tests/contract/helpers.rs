//! The shared fixture: a fake Entra token endpoint and a fake PerspioTalk, each a wiremock
//! `MockServer`, and a generated client pointed at them with an injected clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use perspio_auth::{
    AuthConfig, AuthMiddleware, ClientSecret, Credentials, ManualClock, SubscriptionKey,
};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const CLIENT_ID: &str = "contract-client-id";
pub const CLIENT_SECRET: &str = "contract-client-secret-S3CR3T";
pub const TENANT_ID: &str = "in-contract";
pub const SUBSCRIPTION_KEY: &str = "contract-subscription-key-K3Y";
/// The path of the fake Entra token endpoint.
pub const TOKEN_PATH: &str = "/7d548d61-6361-4a6e-85e6-509e2c05d05e/oauth2/v2.0/token";

/// A file under `tests/data/`.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The access token of `tests/data/entra_token.json`.
pub fn fixture_access_token() -> String {
    fixture("entra_token.json")["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every secret the scenarios use: none may appear in an error, a `Debug` or a log line.
pub fn secrets() -> Vec<String> {
    vec![
        CLIENT_SECRET.to_owned(),
        SUBSCRIPTION_KEY.to_owned(),
        fixture_access_token(),
        TokenSequence::token(1),
        TokenSequence::token(2),
    ]
}

#[track_caller]
pub fn assert_no_secret(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(&secret), "{what} leaks a secret: {text}");
    }
}

/// A fake PerspioTalk and a fake Entra, with a clock the test controls.
pub struct Perspio {
    pub api: MockServer,
    pub entra: MockServer,
    pub clock: ManualClock,
}

impl Perspio {
    pub async fn start() -> Self {
        Perspio {
            api: MockServer::start().await,
            entra: MockServer::start().await,
            clock: ManualClock::new(),
        }
    }

    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.entra.uri())
    }

    pub fn credentials() -> Credentials {
        Credentials::new(
            CLIENT_ID,
            ClientSecret::new(CLIENT_SECRET),
            TENANT_ID,
            SubscriptionKey::new(SUBSCRIPTION_KEY),
        )
        .unwrap()
    }

    /// Deterministic and fast: no jitter, millisecond retry delays on the token endpoint.
    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig::default()
            .with_token_url(self.token_url().parse().unwrap())
            .with_api_base_url(self.api.uri().parse().unwrap())
            .with_jitter(false)
            .with_token_retry_base(Duration::from_millis(1))
            .with_token_retry_max(Duration::from_millis(5))
            .with_token_attempt_timeout(Duration::from_millis(500))
            .with_token_deadline(Duration::from_secs(3))
    }

    pub fn auth(&self) -> AuthMiddleware {
        AuthMiddleware::builder(Self::credentials())
            .with_config(self.auth_config())
            .with_clock(self.clock.clone())
            .build()
            .unwrap()
    }

    /// The default retry policy with millisecond backoff, so that tests stay fast.
    pub fn fast_retry() -> perspio_policy::RetryConfig {
        perspio_policy::RetryConfig::default()
            .with_base_delay(Duration::from_millis(1))
            .with_max_delay(Duration::from_millis(5))
    }

    /// The generated client with the default middleware stack, pointed at the fakes.
    pub fn client(&self) -> perspio_api::Client {
        perspio_api::Client::builder_with_auth(self.auth())
            .with_base_url(self.api.uri())
            .with_retry(Self::fast_retry())
            .build()
            .unwrap()
    }

    /// Entra answers every token request with `tests/data/entra_token.json`.
    pub async fn token_endpoint_answers(&self, expected_requests: u64) {
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .and(body_string_contains("grant_type=client_credentials"))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("entra_token.json")))
            .named("entra token endpoint")
            .expect(expected_requests)
            .mount(&self.entra)
            .await;
    }

    /// Entra answers with a new token each time (`token-1`, `token-2`, …).
    pub async fn token_endpoint_issues_sequence(&self, expected_requests: u64) -> TokenSequence {
        let sequence = TokenSequence::default();
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(sequence.clone())
            .named("entra token endpoint (sequence)")
            .expect(expected_requests)
            .mount(&self.entra)
            .await;
        sequence
    }

    /// PerspioTalk answers `GET {route}` with a fixture.
    pub async fn operation_answers(&self, route: &str, fixture_name: &str, expected_requests: u64) {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(fixture_name)))
            .named(format!("GET {route}"))
            .expect(expected_requests)
            .mount(&self.api)
            .await;
    }

    pub async fn api_requests(&self) -> Vec<Request> {
        self.api.received_requests().await.unwrap_or_default()
    }
}

/// A token endpoint that issues `token-1`, `token-2`, … valid for an hour.
#[derive(Clone, Default)]
pub struct TokenSequence {
    issued: Arc<AtomicUsize>,
    delay: Option<Duration>,
}

impl TokenSequence {
    pub fn token(n: usize) -> String {
        format!("sequence-access-token-{n}")
    }

    pub fn slow(delay: Duration) -> Self {
        TokenSequence {
            issued: Arc::default(),
            delay: Some(delay),
        }
    }

    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}

impl Respond for TokenSequence {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let template = ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "access_token": TokenSequence::token(n),
        }));
        match self.delay {
            Some(delay) => template.set_delay(delay),
            None => template,
        }
    }
}

/// An API that answers 401 to any token in `refused` and 200 with a fixture otherwise.
pub struct RefusesTokens {
    pub refused: Vec<String>,
    pub body: serde_json::Value,
}

impl Respond for RefusesTokens {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let sent = bearer(request).unwrap_or_default();
        if self.refused.contains(&sent) {
            ResponseTemplate::new(401).set_body_json(fixture("apim_401.json"))
        } else {
            ResponseTemplate::new(200).set_body_json(self.body.clone())
        }
    }
}

/// The bearer token a request carried.
pub fn bearer(request: &Request) -> Option<String> {
    request
        .headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

/// Asserts the four Perspio headers and the absence of progenitor's `api-version`.
#[track_caller]
pub fn assert_perspio_headers(request: &Request, token: &str) {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("authorization"), Some(format!("Bearer {token}")));
    assert_eq!(header("tid").as_deref(), Some(TENANT_ID));
    assert_eq!(
        header("ocp-apim-subscription-key").as_deref(),
        Some(SUBSCRIPTION_KEY)
    );
    assert_eq!(header("accept").as_deref(), Some("application/json"));
    assert_eq!(
        header("api-version"),
        None,
        "progenitor's api-version header must be removed"
    );
}

/// Captures everything `tracing` emits (TRACE and up) while the guard lives, on this thread.
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl CapturedLogs {
    pub fn start() -> (Self, tracing::subscriber::DefaultGuard) {
        let buffer: Arc<Mutex<Vec<u8>>> = Arc::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || BufferWriter(writer.clone()))
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (CapturedLogs { buffer }, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
