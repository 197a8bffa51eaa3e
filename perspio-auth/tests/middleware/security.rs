//! Credentials stay on the configured origin and off plain http.

use perspio_auth::{AuthConfig, AuthError, AuthMiddleware, same_origin_redirect_policy};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn a_request_to_another_origin_is_refused_and_nothing_is_sent_there() {
    // Arrange
    let f = Fixture::start().await;
    let other = MockServer::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .expect(0)
        .named("token endpoint")
        .mount(&f.server)
        .await;
    Mock::given(path("/collect"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .named("another origin")
        .mount(&other)
        .await;

    // Act
    let err = f
        .client
        .get(format!("{}/collect", other.uri()))
        .send()
        .await
        .unwrap_err();

    // Assert
    match auth_error(&err) {
        AuthError::CredentialsWouldLeak { origin, allowed } => {
            assert_eq!(origin, &other.uri());
            assert_eq!(allowed, &f.server.uri());
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn localhost_and_127_0_0_1_are_different_origins() {
    let f = Fixture::start().await;
    let port = f.server.address().port();

    let err = f
        .client
        .get(format!("http://localhost:{port}/x"))
        .send()
        .await
        .unwrap_err();

    assert!(matches!(
        auth_error(&err),
        AuthError::CredentialsWouldLeak { .. }
    ));
}

#[test]
fn plain_http_to_a_non_loopback_api_or_token_endpoint_is_refused_at_construction() {
    let api = AuthConfig::default().with_api_base_url("http://talk.example".parse().unwrap());
    let token = AuthConfig::default().with_token_url("http://login.example/token".parse().unwrap());
    for config in [api, token] {
        let err = AuthMiddleware::new(credentials(), config).unwrap_err();
        assert!(
            matches!(err, AuthError::InsecureTransport { .. }),
            "{err:?}"
        );
    }
}

#[test]
fn plain_http_to_a_non_loopback_host_can_be_enabled_explicitly() {
    let config = AuthConfig::default()
        .with_api_base_url("http://talk.internal".parse().unwrap())
        .with_allow_insecure_http(true);
    AuthMiddleware::new(credentials(), config).unwrap();
}

/// API server A redirects to server B.
async fn redirecting_pair() -> (Fixture, MockServer) {
    let f = Fixture::start().await;
    let other = MockServer::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .mount(&f.server)
        .await;
    Mock::given(path("/moved"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", format!("{}/steal", other.uri())),
        )
        .mount(&f.server)
        .await;
    Mock::given(path("/steal"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&other)
        .await;
    (f, other)
}

#[tokio::test]
async fn the_same_origin_redirect_policy_keeps_the_subscription_key_from_another_origin() {
    // Arrange
    let (f, other) = redirecting_pair().await;
    perspio_core::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(same_origin_redirect_policy())
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(http)
        .with(f.auth.clone())
        .build();

    // Act
    let response = client.get(f.url("/moved")).send().await.unwrap();

    // Assert: the 302 comes back; the other origin saw nothing.
    assert_eq!(response.status(), 302);
    assert!(other.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn without_the_policy_reqwest_would_forward_the_subscription_key_to_another_origin() {
    // This is why the policy exists: reqwest drops Authorization on cross-host redirects,
    // but not Ocp-Apim-Subscription-Key.
    let (f, other) = redirecting_pair().await;

    let response = f.client.get(f.url("/moved")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let stolen = &other.received_requests().await.unwrap()[0];
    assert_eq!(
        header(stolen, "ocp-apim-subscription-key").as_deref(),
        Some(SUBSCRIPTION_KEY)
    );
}

#[tokio::test]
async fn the_same_origin_redirect_policy_follows_redirects_within_the_origin() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .mount(&f.server)
        .await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/new"))
        .mount(&f.server)
        .await;
    Mock::given(path("/new"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .named("redirect target on the same origin")
        .mount(&f.server)
        .await;
    perspio_core::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(same_origin_redirect_policy())
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(http)
        .with(f.auth.clone())
        .build();

    let response = client.get(f.url("/old")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let sent = f.api_requests().await;
    assert_eq!(
        header(sent.last().unwrap(), "ocp-apim-subscription-key").as_deref(),
        Some(SUBSCRIPTION_KEY)
    );
}

#[tokio::test]
async fn the_same_origin_redirect_policy_stops_after_ten_redirects() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .mount(&f.server)
        .await;
    Mock::given(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop"))
        .expect(11)
        .named("redirect loop")
        .mount(&f.server)
        .await;
    perspio_core::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(same_origin_redirect_policy())
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(http)
        .with(f.auth.clone())
        .build();

    let response = client.get(f.url("/loop")).send().await.unwrap();

    assert_eq!(response.status(), 302);
}
