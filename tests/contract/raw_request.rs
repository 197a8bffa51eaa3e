//! `Client::request`: a path the spec does not have, through the same middleware stack as a
//! generated operation (headers, token, 401 refresh, retries, body limit, the same `Error`),
//! and paths that would leave the origin refused before anything is sent.

use std::time::Duration;

use perspio_api::{Error, Method, PathRefusal};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Perspio, TokenSequence, assert_perspio_headers, fixture_access_token};

#[tokio::test]
async fn a_get_to_a_path_outside_the_spec_carries_the_perspio_headers_and_its_query() {
    // Arrange
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/IN-000123"))
        .and(query_param("expand", "devices"))
        .and(query_param("top", "10"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", "req-1")
                .set_body_json(serde_json::json!({"id": "IN-000123", "name": "Forklift"})),
        )
        .named("GET an asset by id")
        .expect(1)
        .mount(&perspio.api)
        .await;

    // Act
    let answer = perspio
        .client()
        .request(Method::GET, "/assets/v3/IN-000123?expand=devices")
        .query("top", "10")
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-request-id"], "req-1");
    let asset: serde_json::Value = answer.json().unwrap();
    assert_eq!(asset["name"], "Forklift");
    let requests = perspio.api_requests().await;
    assert_eq!(requests.len(), 1);
    assert_perspio_headers(&requests[0], &fixture_access_token());
}

#[tokio::test]
async fn a_post_sends_its_json_body_and_an_error_status_is_the_same_api_error() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("POST"))
        .and(path("/geofences/v3/"))
        .and(header("content-type", "application/json"))
        .and(body_json(serde_json::json!({"name": "Yard", "radius": 50})))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(
                serde_json::json!({"statusCode": 403, "message": "Read-only token"}),
            ),
        )
        .named("POST refused")
        .expect(1)
        .mount(&perspio.api)
        .await;

    let error = perspio
        .client()
        .request(Method::POST, "/geofences/v3/")
        .json(&serde_json::json!({"name": "Yard", "radius": 50}))
        .send()
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(http::StatusCode::FORBIDDEN));
    assert_eq!(error.operation(), Some(perspio_api::REQUEST_OPERATION));
    let response = error.api_response().unwrap();
    assert_eq!(response.message().as_deref(), Some("Read-only token"));
}

#[tokio::test]
async fn a_401_refreshes_the_token_and_retries_a_raw_request_once() {
    let perspio = Perspio::start().await;
    let tokens = perspio.token_endpoint_issues_sequence(2).await;
    let refused = format!("Bearer {}", TokenSequence::token(1));
    Mock::given(method("GET"))
        .and(path("/workflows/v3/"))
        .and(header("authorization", refused.as_str()))
        .respond_with(ResponseTemplate::new(401))
        .named("api refusing token-1")
        .expect(1)
        .mount(&perspio.api)
        .await;
    Mock::given(method("GET"))
        .and(path("/workflows/v3/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .named("api accepting token-2")
        .with_priority(10)
        .expect(1)
        .mount(&perspio.api)
        .await;

    let answer = perspio
        .client()
        .request(Method::GET, "workflows/v3/")
        .send()
        .await;

    assert_eq!(answer.unwrap().status(), 200);
    assert_eq!(tokens.issued(), 2);
}

#[tokio::test]
async fn a_429_is_waited_out_and_a_body_over_the_limit_is_refused_as_for_operations() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("GET"))
        .and(path("/dashboards/v3/"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .named("throttled once")
        .expect(1)
        .mount(&perspio.api)
        .await;
    Mock::given(method("GET"))
        .and(path("/dashboards/v3/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(4096)))
        .named("a large answer")
        .expect(1)
        .mount(&perspio.api)
        .await;
    let client = perspio_api::Client::builder_with_auth(perspio.auth())
        .with_base_url(perspio.api.uri())
        .with_retry(Perspio::fast_retry().with_deadline(Duration::from_secs(10)))
        .with_max_body_size(1024)
        .build()
        .unwrap();

    let error = client
        .request(Method::GET, "/dashboards/v3/")
        .send()
        .await
        .unwrap_err();

    assert!(matches!(error, Error::BodyTooLarge { .. }), "{error:?}");
}

#[tokio::test]
async fn paths_that_leave_the_origin_are_refused_before_anything_is_sent() {
    let perspio = Perspio::start().await;
    let client = perspio.client();
    let elsewhere = format!("{}/x", perspio.entra.uri());
    for (path, reason) in [
        ("https://evil.example/assets/v3/", PathRefusal::OtherOrigin),
        (elsewhere.as_str(), PathRefusal::OtherOrigin),
        ("//evil.example/assets/v3/", PathRefusal::SchemeRelative),
        ("/assets/../../etc/passwd", PathRefusal::AboveBasePath),
        ("/%2e%2e/admin", PathRefusal::EncodedDotSegment),
        ("/assets/..%2fadmin", PathRefusal::EncodedSeparator),
        ("/assets\\..\\admin", PathRefusal::Backslash),
        (
            "/assets/v3/\r\nX-Injected: 1",
            PathRefusal::ControlCharacter,
        ),
    ] {
        let error = client.request(Method::GET, path).send().await.unwrap_err();

        match &error {
            Error::PathRefused { reason: r, .. } => assert_eq!(*r, reason, "{path:?}"),
            other => panic!("{path:?}: {other:?}"),
        }
        assert!(!error.to_string().contains('\n'), "{error}");
    }
    assert_eq!(
        perspio.api_requests().await.len(),
        0,
        "nothing reached the api"
    );
    let token_requests = perspio.entra.received_requests().await.unwrap_or_default();
    assert_eq!(token_requests.len(), 0, "no token was even fetched");
}

#[tokio::test]
async fn headers_that_change_what_the_request_means_are_refused_before_sending() {
    let perspio = Perspio::start().await;

    for name in ["Host", "Content-Length", "Transfer-Encoding"] {
        let error = perspio
            .client()
            .request(Method::GET, "/assets/v3/")
            .header(name, "1")
            .send()
            .await
            .unwrap_err();

        assert!(
            matches!(error, Error::InvalidRequest { .. }),
            "{name}: {error:?}"
        );
    }
    assert_eq!(perspio.api_requests().await.len(), 0);
}
