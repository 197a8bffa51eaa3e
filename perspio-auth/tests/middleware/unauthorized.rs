//! The 401 path: compare-and-refresh, retry once, rate-limited forced refreshes.

use std::time::Duration;

use futures::future::join_all;
use serde_json::json;
use wiremock::matchers::{header as header_is, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

/// Token A first, token B on every later request.
async fn mount_tokens_a_then_b(f: &Fixture, b_expected: u64) {
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("first token: A")
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_B, 3599))
        .with_priority(2)
        .expect(b_expected)
        .named("later tokens: B")
        .mount(&f.server)
        .await;
}

#[tokio::test]
async fn a_401_is_retried_once_with_a_new_token_and_its_json_body_intact() {
    // Arrange
    let f = Fixture::start().await;
    mount_tokens_a_then_b(&f, 1).await;
    Mock::given(method("POST"))
        .and(path("/assets/v3/"))
        .and(header_is("authorization", bearer(TOKEN_A).as_str()))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .named("api refusing token A")
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/assets/v3/"))
        .and(header_is("authorization", bearer(TOKEN_B).as_str()))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .named("api accepting token B")
        .mount(&f.server)
        .await;
    let body = json!({"name": "pump 7", "tags": ["north"]});

    // Act
    let response = f
        .client
        .post(f.url("/assets/v3/"))
        .json(&body)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), 201);
    let sent = f.api_requests().await;
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert_eq!(request.body_json::<serde_json::Value>().unwrap(), body);
        assert_eq!(
            header(request, "content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(header(request, "tid").as_deref(), Some(TENANT));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_endpoint_is_called_once_for_200_concurrent_401s_carrying_the_same_token() {
    // Arrange
    let f = Fixture::start().await;
    mount_tokens_a_then_b(&f, 1).await;
    Mock::given(path("/x"))
        .and(header_is("authorization", bearer(TOKEN_A).as_str()))
        .respond_with(ResponseTemplate::new(401).set_delay(Duration::from_millis(300)))
        .expect(200)
        .named("api refusing token A (slowly, so all 200 carry A)")
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .and(header_is("authorization", bearer(TOKEN_B).as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(200)
        .named("api accepting token B")
        .mount(&f.server)
        .await;
    f.auth.token_info().await.unwrap(); // token A cached

    // Act
    let responses = join_all((0..200).map(|_| f.client.get(f.url("/x")).send())).await;

    // Assert
    for response in responses {
        assert_eq!(response.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn an_api_that_always_answers_401_gets_exactly_two_requests_and_the_401_is_returned() {
    let f = Fixture::start().await;
    mount_tokens_a_then_b(&f, 1).await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(401).set_body_string("bad subscription key"))
        .expect(2)
        .named("api always answering 401")
        .mount(&f.server)
        .await;

    let response = f.client.get(f.url("/x")).send().await.unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(response.text().await.unwrap(), "bad subscription key");
}

#[tokio::test]
async fn a_second_401_inside_the_forced_refresh_interval_does_not_refetch_the_token() {
    // Arrange
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_B, 3599))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_C, 3599))
        .with_priority(3)
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(401))
        .named("api always answering 401")
        .mount(&f.server)
        .await;

    // Act 1: initial token A, 401, forced refresh to B, retry, 401.
    let first = f.client.get(f.url("/x")).send().await.unwrap();
    // Act 2: 10 s later, B is refused again: inside the interval, no refetch, no retry.
    f.clock.advance(Duration::from_secs(10));
    let second = f.client.get(f.url("/x")).send().await.unwrap();

    // Assert
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (401, 401)
    );
    assert_eq!(f.token_requests().await, 2);
    assert_eq!(f.api_requests().await.len(), 3);

    // Act 3: after the interval, a 401 may force a refresh again.
    f.clock.advance(Duration::from_secs(21));
    let third = f.client.get(f.url("/x")).send().await.unwrap();
    assert_eq!(third.status(), 401);
    assert_eq!(f.token_requests().await, 3);
    let sent = f.api_requests().await;
    assert_eq!(sent.len(), 5);
    assert_eq!(header(&sent[4], "authorization"), Some(bearer(TOKEN_C)));
}

#[tokio::test]
async fn a_403_is_not_retried_and_does_not_refresh_the_token() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .expect(1)
        .named("token endpoint")
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .named("api answering 403")
        .mount(&f.server)
        .await;

    let response = f.client.get(f.url("/x")).send().await.unwrap();

    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_streaming_body_is_sent_with_credentials_and_not_retried() {
    // Arrange
    let f = Fixture::start().await;
    mount_tokens_a_then_b(&f, 1).await;
    Mock::given(method("POST"))
        .and(path("/upload"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .named("api refusing the streamed upload")
        .mount(&f.server)
        .await;
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("chunk-1,"), Ok("chunk-2")];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));

    // Act
    let response = f
        .client
        .post(f.url("/upload"))
        .body(body)
        .send()
        .await
        .unwrap();

    // Assert: sent once, with credentials and the whole body; the 401 comes back.
    assert_eq!(response.status(), 401);
    let sent = f.api_requests().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0], "authorization"), Some(bearer(TOKEN_A)));
    assert_eq!(
        header(&sent[0], "ocp-apim-subscription-key").as_deref(),
        Some(SUBSCRIPTION_KEY)
    );
    assert_eq!(sent[0].body, b"chunk-1,chunk-2");
    // The refused token is still replaced (in the background) for the next request.
    f.wait_for_token_requests(2).await;
}

#[tokio::test]
async fn a_failed_refresh_after_a_401_returns_the_401_and_keeps_the_old_token() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(entra_error(400, "invalid_request", 900144))
        .with_priority(2)
        .expect(1)
        .named("token endpoint failing the forced refresh")
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .named("api answering 401")
        .mount(&f.server)
        .await;

    let response = f.client.get(f.url("/x")).send().await.unwrap();

    assert_eq!(response.status(), 401);
    let info = f.auth.cached_token_info().unwrap();
    assert_eq!(info.access_token().expose_secret(), TOKEN_A);
}
