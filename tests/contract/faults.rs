//! Faults of the token endpoint and of the API, as the caller of the generated client sees them.

use perspio_api::Error;
use perspio_auth::AuthError;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Perspio, TOKEN_PATH, fixture};

/// The authentication error behind a call error, with the checks every such error must pass.
#[track_caller]
fn auth_failure(error: &Error) -> &AuthError {
    assert_eq!(error.operation(), Some("list_assets"));
    assert!(
        error
            .to_string()
            .starts_with("list_assets: authentication failed"),
        "{error}"
    );
    error
        .auth_error()
        .unwrap_or_else(|| panic!("not an auth error: {error:?}"))
}

/// The whole cause chain, as `{:#}` would print it.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn token_endpoint_answers_with(perspio: &Perspio, response: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(response)
        .named("entra token endpoint (failing)")
        .expect(times)
        .mount(&perspio.entra)
        .await;
}

async fn api_is_never_called(perspio: &Perspio) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .named("api (must not be called)")
        .expect(0)
        .mount(&perspio.api)
        .await;
}

#[tokio::test]
async fn a_token_endpoint_that_is_down_is_an_auth_error_naming_the_operation_and_the_cause() {
    // Arrange: a token URL on a loopback port where nothing listens.
    let perspio = Perspio::start().await;
    api_is_never_called(&perspio).await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let auth = perspio_auth::AuthMiddleware::builder(Perspio::credentials())
        .with_config(
            perspio.auth_config().with_token_url(
                format!("http://127.0.0.1:{closed_port}{TOKEN_PATH}")
                    .parse()
                    .unwrap(),
            ),
        )
        .build()
        .unwrap();
    let client = perspio_api::Client::builder_with_auth(auth)
        .with_base_url(perspio.api.uri())
        .build()
        .unwrap();

    // Act
    let error = client.list_assets().call().await.unwrap_err();

    // Assert
    let auth = auth_failure(&error);
    assert!(
        matches!(
            auth,
            AuthError::TokenEndpointUnreachable { attempts: 3, .. }
        ),
        "{auth:?}"
    );
    assert!(auth.is_retryable());
    assert!(error.is_retryable());
    assert!(
        chain(&error).contains("token endpoint unreachable after 3 attempt(s)"),
        "{}",
        chain(&error)
    );
}

#[tokio::test]
async fn a_token_endpoint_answering_500_is_tried_three_times_then_reported() {
    let perspio = Perspio::start().await;
    api_is_never_called(&perspio).await;
    token_endpoint_answers_with(&perspio, ResponseTemplate::new(500), 3).await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    let auth = auth_failure(&error);
    assert_eq!(auth.status(), Some(http::StatusCode::INTERNAL_SERVER_ERROR));
    assert!(auth.is_retryable());
}

#[tokio::test]
async fn a_token_endpoint_answering_429_is_reported_as_throttled_with_its_retry_after() {
    let perspio = Perspio::start().await;
    api_is_never_called(&perspio).await;
    token_endpoint_answers_with(
        &perspio,
        ResponseTemplate::new(429).insert_header("Retry-After", "0"),
        3,
    )
    .await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    let auth = auth_failure(&error);
    assert!(
        matches!(auth, AuthError::TokenEndpointThrottled { attempts: 3, retry_after: Some(d) } if d.is_zero()),
        "{auth:?}"
    );
}

#[tokio::test]
async fn a_malformed_token_response_is_reported_without_its_body() {
    let perspio = Perspio::start().await;
    api_is_never_called(&perspio).await;
    token_endpoint_answers_with(
        &perspio,
        ResponseTemplate::new(200).set_body_string("<html>not json: secret-looking-body</html>"),
        1,
    )
    .await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    let auth = auth_failure(&error);
    assert!(
        matches!(auth, AuthError::MalformedTokenResponse { .. }),
        "{auth:?}"
    );
    assert!(!chain(&error).contains("secret-looking-body"));
}

#[tokio::test]
async fn an_entra_invalid_client_error_is_not_retried_and_carries_entras_fields() {
    let perspio = Perspio::start().await;
    api_is_never_called(&perspio).await;
    token_endpoint_answers_with(
        &perspio,
        ResponseTemplate::new(401).set_body_json(fixture("entra_invalid_client.json")),
        1,
    )
    .await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    let auth = auth_failure(&error);
    let AuthError::TokenRejected {
        status,
        error: entra_error,
        error_codes,
        ..
    } = auth
    else {
        panic!("{auth:?}");
    };
    assert_eq!(*status, http::StatusCode::UNAUTHORIZED);
    assert_eq!(entra_error.as_deref(), Some("invalid_client"));
    assert_eq!(error_codes, &[7000215]);
    assert_eq!(
        auth.trace_id(),
        Some("2f4c1a9e-1b7d-4e3a-9f1c-0a2b3c4d5e6f")
    );
    assert_eq!(
        auth.correlation_id(),
        Some("7d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6")
    );
    assert!(!error.is_retryable());
    assert!(chain(&error).contains("invalid_client"));
}

#[tokio::test]
async fn send_reports_a_middleware_failure_as_custom_text_naming_the_operation_and_cause() {
    let perspio = Perspio::start().await;
    api_is_never_called(&perspio).await;
    token_endpoint_answers_with(
        &perspio,
        ResponseTemplate::new(401).set_body_json(fixture("entra_invalid_client.json")),
        1,
    )
    .await;

    let error = perspio.client().list_assets().send().await.unwrap_err();

    let progenitor_client::Error::Custom(message) = error else {
        panic!("{error:?}");
    };
    // The same text `call()`'s error shows.
    assert!(
        message.starts_with("list_assets: authentication failed: "),
        "{message}"
    );
    assert!(message.contains("invalid_client"), "{message}");
}

async fn api_answers(perspio: &Perspio, response: ResponseTemplate) {
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(response)
        .named("api error answer")
        .expect(1)
        .mount(&perspio.api)
        .await;
}

#[tokio::test]
async fn an_api_403_is_an_api_error_with_status_and_json_body_and_is_not_retried() {
    let perspio = Perspio::start().await;
    let body = serde_json::json!({"statusCode": 403, "message": "Forbidden"});
    api_answers(
        &perspio,
        ResponseTemplate::new(403).set_body_json(body.clone()),
    )
    .await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    assert!(
        matches!(
            error,
            Error::Api {
                operation: "list_assets",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(http::StatusCode::FORBIDDEN));
    assert_eq!(error.api_response().unwrap().body, body);
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "list_assets: the api answered 403 Forbidden"
    );
}

#[tokio::test]
async fn an_api_404_with_an_empty_body_keeps_its_status_and_gives_a_null_body() {
    let perspio = Perspio::start().await;
    api_answers(&perspio, ResponseTemplate::new(404)).await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    assert_eq!(error.status(), Some(http::StatusCode::NOT_FOUND));
    assert_eq!(error.api_response().unwrap().body, serde_json::Value::Null);
}

#[tokio::test]
async fn an_api_429_past_the_retry_cap_reaches_the_caller_with_the_advised_wait() {
    let perspio = Perspio::start().await;
    api_answers(
        &perspio,
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "3600")
            .set_body_json(fixture("apim_429.json")),
    )
    .await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    assert_eq!(error.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(
        error.retry_after(),
        Some(std::time::Duration::from_secs(3600))
    );
    assert!(error.is_retryable());
    assert_eq!(error.api_response().unwrap().body["statusCode"], 429);
}

#[tokio::test]
async fn an_api_500_with_a_text_body_gives_the_text_as_a_json_string() {
    let perspio = Perspio::start().await;
    api_answers(
        &perspio,
        ResponseTemplate::new(500).set_body_string("upstream exploded"),
    )
    .await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    assert_eq!(
        error.status(),
        Some(http::StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert_eq!(error.api_response().unwrap().body, "upstream exploded");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_success_body_that_is_not_the_documented_shape_is_an_error_naming_the_operation() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("GET"))
        .and(path("/directory/v3/user"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"displayName": 42})),
        )
        .named("api answers a wrong shape")
        .expect(1)
        .mount(&perspio.api)
        .await;

    let error = perspio
        .client()
        .get_current_user()
        .call()
        .await
        .unwrap_err();

    let Error::InvalidResponse {
        operation, body, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(*operation, "get_current_user");
    assert_eq!(&body[..], br#"{"displayName":42}"#);
    assert_eq!(
        error.to_string(),
        "get_current_user: the response body is not the documented shape"
    );
}

#[tokio::test]
async fn a_list_answer_that_is_neither_array_nor_object_is_an_error_not_a_panic() {
    let perspio = Perspio::start().await;
    api_answers(
        &perspio,
        ResponseTemplate::new(200).set_body_string("\"just a string\""),
    )
    .await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    assert!(
        matches!(
            error,
            Error::InvalidResponse {
                operation: "list_assets",
                ..
            }
        ),
        "{error:?}"
    );
}
