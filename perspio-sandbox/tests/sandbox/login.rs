//! The interactive login against the sandbox: the test plays the browser (it follows the
//! authorize URL with an HTTP client that does not follow redirects), then the client side
//! is perspio-auth's.

use std::sync::Arc;

use perspio_api::auth::{
    AuthError, AuthorizationCodeSource, AuthorizationRequest, InMemoryRefreshTokenStore, Login,
    Pkce, RefreshToken,
};
use perspio_api::types::CurrentUser;
use perspio_sandbox::{CLIENT_ID, Sandbox, USER_DISPLAY_NAME, USER_ID, USER_PRINCIPAL_NAME};

/// Where the browser would come back; nothing listens there, the test reads the redirect.
const REDIRECT: &str = "http://localhost:8400/";

fn request(sandbox: &Sandbox) -> AuthorizationRequest {
    AuthorizationRequest::new(&sandbox.auth_config(), CLIENT_ID, REDIRECT.parse().unwrap())
}

/// Opens `url` as a browser would and returns the `Location` it is redirected to.
async fn follow(url: &str) -> String {
    perspio_core::tls::install_crypto_provider();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    answer.headers()["location"].to_str().unwrap().to_owned()
}

async fn log_in(sandbox: &Sandbox) -> Login {
    let request = request(sandbox);
    let redirected = follow(request.url().as_str()).await;
    assert!(redirected.starts_with(REDIRECT), "{redirected}");
    let code = request.code_from_redirect(&redirected).unwrap();
    request
        .exchange(code, &sandbox.credentials(), &sandbox.auth_config())
        .await
        .unwrap()
}

fn user_client(
    sandbox: &Sandbox,
    login: Login,
) -> (perspio_api::Client, Arc<InMemoryRefreshTokenStore>) {
    let (token, refresh_token) = login.into_parts();
    let store = Arc::new(InMemoryRefreshTokenStore::new(refresh_token));
    let source = AuthorizationCodeSource::new(
        &sandbox.credentials(),
        store.clone(),
        &sandbox.auth_config(),
    )
    .unwrap()
    .with_first_token(token);
    let client = sandbox
        .client_builder()
        .with_token_source(Arc::new(source))
        .build()
        .unwrap();
    (client, store)
}

#[tokio::test]
async fn a_login_is_consented_at_once_and_get_current_user_answers_the_logged_in_user() {
    // Arrange, act
    let sandbox = Sandbox::start().await.unwrap();
    let login = log_in(&sandbox).await;
    let (client, _) = user_client(&sandbox, login);

    let user = client.get_current_user().call().await.unwrap().into_inner();

    // Assert
    let user: CurrentUser = user;
    assert_eq!(user.id.as_deref(), Some(USER_ID));
    assert_eq!(user.mail.as_deref(), Some(USER_PRINCIPAL_NAME));
    assert_eq!(user.display_name.as_deref(), Some(USER_DISPLAY_NAME));
    let seen = sandbox.counters();
    assert_eq!(
        (seen.authorizations, seen.logins, seen.refreshes),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn an_application_token_still_gets_the_fixture_user() {
    let sandbox = Sandbox::start().await.unwrap();

    let user = sandbox
        .client()
        .unwrap()
        .get_current_user()
        .call()
        .await
        .unwrap();

    let shown = serde_json::to_string(&user.into_inner()).unwrap();
    assert!(shown.contains("sandbox.user@example.com"), "{shown}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_only_the_newest_is_valid() {
    // Arrange
    let sandbox = Sandbox::builder()
        .with_token_lifetime(std::time::Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let login = log_in(&sandbox).await;
    let first = login.refresh_token().expose_secret().to_owned();
    let store = Arc::new(InMemoryRefreshTokenStore::new(RefreshToken::new(
        first.clone(),
    )));
    let source = AuthorizationCodeSource::new(
        &sandbox.credentials(),
        store.clone(),
        &sandbox.auth_config(),
    )
    .unwrap();
    let client = sandbox
        .client_builder()
        .with_token_source(Arc::new(source))
        .build()
        .unwrap();

    // Act: no first token given, so the first call refreshes.
    client.get_current_user().call().await.unwrap();

    // Assert
    let rotated = store.get().await.unwrap().expose_secret().to_owned();
    assert_ne!(rotated, first);
    assert!(sandbox.refresh_token_is_valid(&rotated));
    assert!(!sandbox.refresh_token_is_valid(&first));
    assert_eq!(sandbox.counters().refreshes, 1);
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_and_the_code_is_used_up() {
    // Arrange: the authorize request carries one challenge, the exchange another verifier.
    let sandbox = Sandbox::start().await.unwrap();
    let request = request(&sandbox);
    let redirected = follow(request.url().as_str()).await;
    let code = request.code_from_redirect(&redirected).unwrap();
    let imposter = request.clone().with_pkce(Pkce::new());

    // Act
    let error = imposter
        .exchange(code.clone(), &sandbox.credentials(), &sandbox.auth_config())
        .await
        .unwrap_err();
    let again = request
        .exchange(code, &sandbox.credentials(), &sandbox.auth_config())
        .await
        .unwrap_err();

    // Assert
    assert!(error.to_string().contains("AADSTS501481"), "{error}");
    assert!(
        matches!(error, AuthError::TokenRejected { .. }),
        "{error:?}"
    );
    assert!(again.to_string().contains("AADSTS70008"), "{again}");
    assert_eq!(sandbox.counters().logins, 0);
}

#[tokio::test]
async fn a_declined_consent_redirects_with_access_denied_and_the_state() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.faults().deny_consent_next(1);
    let request = request(&sandbox);

    let redirected = follow(request.url().as_str()).await;
    let error = request.code_from_redirect(&redirected).unwrap_err();

    match error {
        AuthError::AuthorizationDenied {
            error,
            error_description,
        } => {
            assert_eq!(error, "access_denied");
            assert!(error_description.unwrap().contains("AADSTS65004"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sandbox.counters().logins_refused, 1);
    // The next login is consented again.
    let redirected = follow(request.url().as_str()).await;
    assert!(request.code_from_redirect(&redirected).is_ok());
}

#[tokio::test]
async fn an_authorize_request_without_pkce_or_state_is_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    let url = request(&sandbox).url();
    let without = |drop: &str| {
        let mut stripped = url.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != drop)
            .collect();
        stripped.query_pairs_mut().clear().extend_pairs(kept);
        stripped.to_string()
    };

    for (dropped, code) in [
        ("code_challenge", "AADSTS9002325"),
        ("state", "AADSTS900144"),
    ] {
        let redirected = follow(&without(dropped)).await;
        assert!(
            redirected.contains("error=invalid_request"),
            "{dropped}: {redirected}"
        );
        assert!(redirected.contains(code), "{dropped}: {redirected}");
        assert!(!redirected.contains("code=sbx"), "{dropped}: {redirected}");
    }
}

#[tokio::test]
async fn a_redirect_to_a_host_that_is_not_loopback_is_a_login_page_error() {
    let sandbox = Sandbox::start().await.unwrap();
    let request = AuthorizationRequest::new(
        &sandbox.auth_config(),
        CLIENT_ID,
        "https://attacker.example/cb".parse().unwrap(),
    );

    perspio_core::tls::install_crypto_provider();
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(request.url())
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), 400);
    assert!(answer.text().await.unwrap().contains("AADSTS50011"));
}

#[tokio::test]
async fn expired_refresh_tokens_are_refused_with_aadsts700082() {
    let sandbox = Sandbox::start().await.unwrap();
    let login = log_in(&sandbox).await;
    sandbox.faults().expire_refresh_tokens();
    let store = Arc::new(InMemoryRefreshTokenStore::new(
        login.refresh_token().clone(),
    ));
    let source =
        AuthorizationCodeSource::new(&sandbox.credentials(), store, &sandbox.auth_config())
            .unwrap();
    let client = sandbox
        .client_builder()
        .with_token_source(Arc::new(source))
        .build()
        .unwrap();

    let error = client.get_current_user().call().await.unwrap_err();

    let auth = error.auth_error().unwrap();
    assert!(auth.is_login_required(), "{auth:?}");
    match auth {
        AuthError::RefreshTokenRejected { error_codes, .. } => assert_eq!(error_codes, &[700082]),
        other => panic!("{other:?}"),
    }
}
