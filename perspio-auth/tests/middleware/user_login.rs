//! The user login: the code exchange, refresh with rotation saved back, concurrent refreshes
//! that share one store, and an expired refresh token as a typed error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use perspio_auth::{
    AccessToken, AuthError, AuthorizationCodeSource, AuthorizationRequest, FetchContext,
    InMemoryRefreshTokenStore, Pkce, RefreshReason, RefreshToken, RefreshTokenSource, Token,
    TokenSource,
};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::helpers::*;

/// An authorization server whose refresh tokens rotate strictly: each one is accepted once,
/// answered with a new one, and refused (`invalid_grant`, AADSTS70008) afterwards.
#[derive(Clone, Default)]
struct RotatingRefreshGrant {
    /// Refresh token → still valid.
    valid: Arc<Mutex<HashMap<String, bool>>>,
    issued: Arc<Mutex<u32>>,
}

impl RotatingRefreshGrant {
    fn with_valid(token: &str) -> Self {
        let grant = Self::default();
        grant.valid.lock().unwrap().insert(token.to_owned(), true);
        grant
    }
}

impl Respond for RotatingRefreshGrant {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let presented = form.get("refresh_token").cloned().unwrap_or_default();
        let mut valid = self.valid.lock().unwrap();
        if valid.get(&presented) != Some(&true) {
            return entra_error(400, "invalid_grant", 70008);
        }
        valid.insert(presented, false);
        let mut issued = self.issued.lock().unwrap();
        *issued += 1;
        let next = format!("refresh-token-R{}", *issued + 1);
        valid.insert(next.clone(), true);
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
            "access_token": format!("access-token-from-R{}", *issued),
            "expires_in": 3599,
            "refresh_token": next,
        }))
    }
}

fn context(f: &Fixture) -> FetchContext {
    FetchContext::new(RefreshReason::Initial, Arc::new(f.clock.clone()))
}

#[tokio::test]
async fn the_code_is_exchanged_as_the_confidential_client_with_the_pkce_verifier() {
    // Arrange
    let f = Fixture::start().await;
    let config = test_config(&f.server);
    let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "access_token": TOKEN_A, "expires_in": 3599,
            "scope": "api://perspiotalk/access_as_user", "refresh_token": "refresh-token-R1",
        })))
        .expect(1)
        .named("code exchange")
        .mount(&f.server)
        .await;
    let request = AuthorizationRequest::new(
        &config,
        CLIENT_ID,
        "http://localhost:8400/".parse().unwrap(),
    )
    .with_pkce(pkce);
    let code = request
        .code_from_redirect(&format!(
            "http://localhost:8400/?code=C0DE-1&state={}",
            request.state()
        ))
        .unwrap();

    // Act
    let login = request
        .exchange(code, &credentials(), &config)
        .await
        .unwrap();

    // Assert
    assert_eq!(login.token().access_token().expose_secret(), TOKEN_A);
    assert_eq!(login.refresh_token().expose_secret(), "refresh-token-R1");
    let sent = f.server.received_requests().await.unwrap();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&sent[0].body)
        .into_owned()
        .collect();
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form["code"], "C0DE-1");
    assert_eq!(form["redirect_uri"], "http://localhost:8400/");
    assert_eq!(
        form["scope"],
        "api://perspiotalk/access_as_user offline_access"
    );
    assert_eq!(
        form["code_verifier"],
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    );
    assert_no_secret(&format!("{login:?} {request:?}"));
}

#[tokio::test]
async fn a_login_answer_without_a_refresh_token_is_refused() {
    let f = Fixture::start().await;
    let config = test_config(&f.server);
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_response(TOKEN_A, 3599))
        .mount(&f.server)
        .await;
    let request =
        AuthorizationRequest::new(&config, CLIENT_ID, "http://localhost:1/".parse().unwrap());
    let code = request
        .code_from_redirect(&format!("code=c&state={}", request.state()))
        .unwrap();

    let error = request
        .exchange(code, &credentials(), &config)
        .await
        .unwrap_err();

    assert!(
        matches!(&error, AuthError::MalformedTokenResponse { reason } if reason.contains("offline_access")),
        "{error:?}"
    );
}

#[tokio::test]
async fn each_rotated_refresh_token_is_saved_back_to_the_store() {
    // Arrange
    let f = Fixture::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(RotatingRefreshGrant::with_valid("refresh-token-R1"))
        .named("rotating refresh grant")
        .mount(&f.server)
        .await;
    let store = InMemoryRefreshTokenStore::new(RefreshToken::new("refresh-token-R1"));
    let source = RefreshTokenSource::with_store(
        &credentials(),
        Arc::new(store.clone()),
        &test_config(&f.server),
    )
    .unwrap();

    // Act: two refreshes.
    let first = source.fetch_token(&context(&f)).await.unwrap();
    let second = source.fetch_token(&context(&f)).await.unwrap();

    // Assert: each used the token the one before saved.
    assert_eq!(first.access_token().expose_secret(), "access-token-from-R1");
    assert_eq!(
        second.access_token().expose_secret(),
        "access-token-from-R2"
    );
    assert_eq!(
        store.get().await.unwrap().expose_secret(),
        "refresh-token-R3"
    );
    assert_eq!(
        source.refresh_token().unwrap().expose_secret(),
        "refresh-token-R3"
    );
}

#[tokio::test]
async fn two_sources_refreshing_at_once_through_one_store_both_succeed_and_keep_the_login() {
    // Arrange: two "processes" (sources) sharing one store, against strict rotation.
    let f = Fixture::start().await;
    let grant = RotatingRefreshGrant::with_valid("refresh-token-R1");
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(grant.clone())
        .mount(&f.server)
        .await;
    let store = Arc::new(InMemoryRefreshTokenStore::new(RefreshToken::new(
        "refresh-token-R1",
    )));
    let config = test_config(&f.server);
    let a = RefreshTokenSource::with_store(&credentials(), store.clone(), &config).unwrap();
    let b = RefreshTokenSource::with_store(&credentials(), store.clone(), &config).unwrap();

    // Act
    let (ca, cb) = (context(&f), context(&f));
    let (ta, tb) = tokio::join!(a.fetch_token(&ca), b.fetch_token(&cb));

    // Assert: neither was refused; the store holds the last rotation, still valid.
    let (ta, tb) = (ta.unwrap(), tb.unwrap());
    assert_ne!(
        ta.access_token().expose_secret(),
        tb.access_token().expose_secret()
    );
    assert_eq!(*grant.issued.lock().unwrap(), 2);
    let kept = store.get().await.unwrap();
    assert_eq!(kept.expose_secret(), "refresh-token-R3");
    assert_eq!(
        grant.valid.lock().unwrap().get("refresh-token-R3"),
        Some(&true)
    );
}

#[tokio::test]
async fn an_expired_refresh_token_is_a_typed_login_required_error_with_entras_ids() {
    // Arrange
    let f = Fixture::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(entra_error(400, "invalid_grant", 700082))
        .expect(1)
        .named("refresh refused once, not retried")
        .mount(&f.server)
        .await;
    let source = RefreshTokenSource::new(
        &credentials(),
        RefreshToken::new("refresh-token-old"),
        &test_config(&f.server),
    )
    .unwrap();

    // Act
    let error = source.fetch_token(&context(&f)).await.unwrap_err();

    // Assert
    match &error {
        AuthError::RefreshTokenRejected { error_codes, .. } => {
            assert_eq!(error_codes, &[700082]);
        }
        other => panic!("{other:?}"),
    }
    assert!(error.is_login_required() && error.is_rejection() && !error.is_retryable());
    assert_eq!(error.trace_id(), Some("trace-0001"));
    assert!(error.to_string().contains("AADSTS700082"), "{error}");
    assert!(!error.to_string().contains("refresh-token-old"));
}

#[tokio::test]
async fn an_empty_store_is_not_logged_in_and_nothing_is_sent() {
    let f = Fixture::start().await;
    let source = RefreshTokenSource::with_store(
        &credentials(),
        Arc::new(InMemoryRefreshTokenStore::empty()),
        &test_config(&f.server),
    )
    .unwrap();

    let error = source.fetch_token(&context(&f)).await.unwrap_err();

    assert!(matches!(error, AuthError::NoRefreshToken), "{error:?}");
    assert!(error.is_login_required());
    assert_eq!(f.token_requests().await, 0);
}

#[tokio::test]
async fn the_authorization_code_source_serves_the_logins_token_first_then_refreshes() {
    // Arrange
    let f = Fixture::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(RotatingRefreshGrant::with_valid("refresh-token-R1"))
        .mount(&f.server)
        .await;
    let store = Arc::new(InMemoryRefreshTokenStore::new(RefreshToken::new(
        "refresh-token-R1",
    )));
    let source = AuthorizationCodeSource::new(&credentials(), store, &test_config(&f.server))
        .unwrap()
        .with_first_token(Token::new(
            AccessToken::new(TOKEN_B),
            std::time::SystemTime::now(),
        ));

    // Act
    let first = source.fetch_token(&context(&f)).await.unwrap();
    let expired = FetchContext::new(RefreshReason::Expired, Arc::new(f.clock.clone()));
    let second = source.fetch_token(&expired).await.unwrap();

    // Assert
    assert_eq!(first.access_token().expose_secret(), TOKEN_B);
    assert_eq!(
        second.access_token().expose_secret(),
        "access-token-from-R1"
    );
    assert_eq!(f.token_requests().await, 1);
    assert_no_secret(&format!("{source:?}"));
}
