//! No secret in `Debug`/`Display` of any public type or error, nor in trace output.

use std::sync::Arc;
use std::time::Duration;

use perspio_auth::{
    AccessToken, AuthConfig, AuthError, AuthMiddleware, ClientCredentialsSource, ClientSecret,
    Credentials, FetchContext, InMemoryTokenStore, ManualClock, RefreshReason, RefreshToken,
    RefreshTokenSource, StaticTokenSource, StoredToken, SubscriptionKey, SystemClock, Token,
    TokenSource, TokenStore,
};
use tracing_subscriber::fmt::format::FmtSpan;
use wiremock::matchers::{body_string_contains, header as header_is, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

const REFRESH_1: &str = "refresh-token-R1";
const REFRESH_2: &str = "refresh-token-R2";

#[track_caller]
fn assert_hidden(value: &(impl std::fmt::Debug + ?Sized)) {
    let shown = format!("{value:?}");
    assert_no_secret(&shown);
    assert!(
        !shown.contains(REFRESH_1) && !shown.contains(REFRESH_2),
        "{shown}"
    );
}

#[tokio::test]
async fn secrets_are_absent_from_debug_and_display_of_every_public_type() {
    // Arrange: a middleware holding a token, and every public type with secrets inside.
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .mount(&f.server)
        .await;
    let info = f.auth.token_info().await.unwrap();
    let creds = credentials();
    let config = test_config(&f.server);
    let store = InMemoryTokenStore::new();
    let stored = StoredToken {
        access_token: AccessToken::new(TOKEN_B),
        issued_at: std::time::SystemTime::now(),
        expires_at: std::time::SystemTime::now(),
    };
    store.put(stored.clone()).await.unwrap();
    let token = Token::new(AccessToken::new(TOKEN_C), std::time::SystemTime::now());
    let refresh_source =
        RefreshTokenSource::new(&creds, RefreshToken::new(REFRESH_1), &config).unwrap();
    let builder = AuthMiddleware::builder(credentials())
        .with_config(config.clone())
        .with_token_source(Arc::new(StaticTokenSource::new(AccessToken::new(TOKEN_C))));

    // Assert
    assert_hidden(&f.auth);
    assert_hidden(&info);
    assert_hidden(&creds);
    assert_hidden(&config);
    assert_hidden(&store);
    assert_hidden(&stored);
    assert_hidden(&token);
    assert_hidden(&refresh_source);
    assert_hidden(&builder);
    assert_hidden(&ClientCredentialsSource::new(&creds, &config).unwrap());
    assert_hidden(&StaticTokenSource::new(AccessToken::new(TOKEN_A)));
    assert_hidden(&FetchContext::new(
        RefreshReason::Initial,
        Arc::new(SystemClock),
    ));
    assert_hidden(&ManualClock::new());
    for secret_display in [
        ClientSecret::new(CLIENT_SECRET).to_string(),
        SubscriptionKey::new(SUBSCRIPTION_KEY).to_string(),
        AccessToken::new(TOKEN_A).to_string(),
        RefreshToken::new(REFRESH_1).to_string(),
        format!("{:?}", RefreshToken::new(REFRESH_1)),
    ] {
        assert_no_secret(&secret_display);
        assert!(!secret_display.contains(REFRESH_1));
    }
    // The token is reachable, but only on purpose.
    assert_eq!(info.access_token().expose_secret(), TOKEN_A);
}

#[tokio::test]
async fn secrets_are_absent_from_every_error() {
    let mut errors: Vec<AuthError> = Vec::new();

    // Configuration errors, with secrets in the refused values.
    errors.push(
        Credentials::new(
            CLIENT_ID,
            ClientSecret::new(CLIENT_SECRET),
            TENANT,
            SubscriptionKey::new(format!("{SUBSCRIPTION_KEY}\n")),
        )
        .unwrap_err(),
    );
    errors.push(
        Credentials::from_env_with(|name| match name {
            "PERSPIO_SUBSCRIPTION_KEY" => Some(format!("{SUBSCRIPTION_KEY}\r\n")),
            _ => Some(CLIENT_SECRET.to_owned()),
        })
        .unwrap_err(),
    );
    errors.push(Credentials::from_env_with(|_| None).unwrap_err());
    errors.push(
        AuthMiddleware::new(
            credentials(),
            AuthConfig::default().with_api_base_url("http://talk.example".parse().unwrap()),
        )
        .unwrap_err(),
    );

    // Token-endpoint errors.
    let f = Fixture::start_with(|c| c.with_token_max_attempts(1)).await;
    for response in [
        entra_error(401, "invalid_client", 7000215),
        ResponseTemplate::new(500),
        ResponseTemplate::new(429).insert_header("retry-after", "1"),
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": TOKEN_A, "token_type": "pop"
        })),
        ResponseTemplate::new(200).set_body_string(format!("{TOKEN_A} not json")),
        ResponseTemplate::new(200).set_body_string(format!("{TOKEN_A}{}", " ".repeat(70_000))),
        token_response(TOKEN_A, 3599).set_delay(Duration::from_secs(2)),
    ] {
        f.server.reset().await;
        token_endpoint()
            .respond_with(response)
            .mount(&f.server)
            .await;
        let auth = AuthMiddleware::builder(credentials())
            .with_config(
                test_config(&f.server)
                    .with_token_max_attempts(1)
                    .with_token_attempt_timeout(Duration::from_millis(100)),
            )
            .build()
            .unwrap();
        let err = client_with(auth).get(f.url("/x")).send().await.unwrap_err();
        assert_no_secret(&format!("{err} {err:?}"));
        errors.push(auth_error(&err).clone());
    }

    // The overall deadline.
    f.server.reset().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599).set_delay(Duration::from_secs(2)))
        .mount(&f.server)
        .await;
    let auth = AuthMiddleware::builder(credentials())
        .with_config(
            test_config(&f.server)
                .with_token_attempt_timeout(Duration::from_millis(100))
                .with_token_deadline(Duration::from_millis(150)),
        )
        .build()
        .unwrap();
    errors.push(auth.token_info().await.unwrap_err());

    // A custom extension failing.
    errors.push(AuthError::extension(
        "token store",
        std::io::Error::other("memcached unreachable"),
    ));

    // Requests refused before sending.
    let err = f
        .client
        .get("http://127.0.0.2:9/x")
        .send()
        .await
        .unwrap_err();
    errors.push(auth_error(&err).clone());

    // Assert: every error, in every rendering, with its whole source chain.
    let kinds: std::collections::HashSet<_> = errors.iter().map(std::mem::discriminant).collect();
    assert_eq!(kinds.len(), 13, "covers every variant: {errors:#?}");
    for err in &errors {
        let mut shown = format!("{err} {err:?} {:#}", anyhow::Error::new(err.clone()));
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            shown.push_str(&format!(" {cause} {cause:?}"));
            source = cause.source();
        }
        assert_no_secret(&shown);
    }
}

/// A process-wide TRACE subscriber writing into memory. Global rather than `set_default`:
/// thread-local subscribers miss events when other tests register the same callsites
/// concurrently (tracing's interest cache).
fn global_trace_capture() -> CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(logs.clone())
            .init();
        logs
    })
    .clone()
}

#[tokio::test]
async fn secrets_are_absent_from_trace_output_of_a_401_refresh_retry_flow() {
    // Arrange: capture everything at TRACE level (from every test running meanwhile, too).
    let logs = global_trace_capture();
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_B, 3599))
        .with_priority(2)
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .and(header_is("authorization", bearer(TOKEN_A).as_str()))
        .respond_with(ResponseTemplate::new(401))
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .and(header_is("authorization", bearer(TOKEN_B).as_str()))
        .respond_with(ResponseTemplate::new(200))
        .mount(&f.server)
        .await;

    // Act: initial token, 401, forced refresh, retry; then a failing refresh.
    let response = f.client.get(f.url("/x")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    f.server.reset().await;
    token_endpoint()
        .respond_with(entra_error(401, "invalid_client", 7000215))
        .mount(&f.server)
        .await;
    f.clock.advance(Duration::from_secs(3600));
    let _ = f.client.get(f.url("/x")).send().await.unwrap_err();

    // Assert: the flow is visible, the secrets are not.
    let text = logs.text();
    for expected in [
        "acquire_token",
        "reason=\"initial\"",
        "reason=\"invalidated-401\"",
        "reason=\"expired\"",
        "retrying once with a new token",
        "token refresh failed",
        "trace_id=\"trace-0001\"",
        "correlation_id=\"correlation-0001\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_no_secret(&text);
}

#[tokio::test]
async fn the_refresh_token_source_sends_a_refresh_grant_and_keeps_the_rotated_token() {
    let f = Fixture::start().await;
    Mock::given(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(
            format!("refresh_token={REFRESH_1}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "access_token": TOKEN_A, "expires_in": 3599,
            "refresh_token": REFRESH_2,
        })))
        .expect(1)
        .named("refresh grant")
        .mount(&f.server)
        .await;
    let source = RefreshTokenSource::new(
        &credentials(),
        RefreshToken::new(REFRESH_1),
        &test_config(&f.server),
    )
    .unwrap();

    let token = source
        .fetch_token(&FetchContext::new(
            RefreshReason::Initial,
            Arc::new(f.clock.clone()),
        ))
        .await
        .unwrap();

    assert_eq!(token.access_token().expose_secret(), TOKEN_A);
    assert_eq!(source.refresh_token().unwrap().expose_secret(), REFRESH_2);
    let sent = f.server.received_requests().await.unwrap();
    let body = String::from_utf8(sent[0].body.clone()).unwrap();
    assert!(body.contains("offline_access"), "{body}");
}
