//! Transient failures: 5xx, resets; idempotency; attempts; non-cloneable bodies.

use std::sync::atomic::Ordering;

use perspio_policy::{ManualClock, RetryNonIdempotent};
use wiremock::matchers::{body_string, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{answers_then, deterministic_retry, reset_then_ok_server, retry_client, secs};

#[tokio::test]
async fn a_503_then_200_for_a_get_is_retried_once_after_the_base_backoff() {
    // Arrange
    let server = MockServer::start().await;
    // gateway hiccup, then recovered.
    answers_then(
        &server,
        "GET",
        ResponseTemplate::new(503),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let response = client.get(server.uri()).send().await.unwrap();

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(clock.sleeps(), vec![secs(1)]);
}

#[tokio::test]
async fn a_503_for_a_post_is_returned_after_one_request() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .named("create fails transiently, may have been processed")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let response = client.post(server.uri()).body("{}").send().await.unwrap();

    // Assert
    assert_eq!(response.status(), 503);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_patch_is_not_repeated_after_a_502_either() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .named("update fails at the gateway")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let response = client.patch(server.uri()).body("{}").send().await.unwrap();

    // Assert
    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn a_post_opted_in_with_retry_non_idempotent_is_retried_after_a_503() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string("{\"name\":\"pump\"}"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("create fails transiently")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string("{\"name\":\"pump\"}"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .named("the same body is sent again and succeeds")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let response = client
        .post(server.uri())
        .body("{\"name\":\"pump\"}")
        .with_extension(RetryNonIdempotent)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), 201);
    assert_eq!(clock.sleeps(), vec![secs(1)]);
}

#[tokio::test]
async fn an_always_failing_get_makes_exactly_max_attempts_requests_with_doubling_waits() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(504))
        .expect(5)
        .named("gateway keeps timing out")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry().with_max_attempts(5), &clock);

    // Act
    let response = client.get(server.uri()).send().await.unwrap();

    // Assert: the last response is returned as is
    assert_eq!(response.status(), 504);
    assert_eq!(clock.sleeps(), vec![secs(1), secs(2), secs(4), secs(8)]);
}

#[tokio::test]
async fn a_500_is_not_retried_by_default_but_can_be_made_transient() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1 + 2)
        .named("internal error")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let default_client = retry_client(deterministic_retry(), &clock);
    let opted_client = retry_client(
        deterministic_retry()
            .with_max_attempts(2)
            .with_transient_statuses([http::StatusCode::INTERNAL_SERVER_ERROR]),
        &clock,
    );

    // Act
    let by_default = default_client.get(server.uri()).send().await.unwrap();
    let when_listed = opted_client.get(server.uri()).send().await.unwrap();

    // Assert: 1 request by default, 2 when 500 is listed
    assert_eq!(by_default.status(), 500);
    assert_eq!(when_listed.status(), 500);
}

#[tokio::test]
async fn a_connection_reset_then_success_for_a_get_is_retried() {
    // Arrange
    let (url, connections) = reset_then_ok_server(1).await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let outcome = client.get(&url).send().await;

    // Assert
    let connections = connections.load(Ordering::SeqCst);
    let response = outcome.unwrap_or_else(|err| {
        panic!(
            "{err:?} after {connections} connection(s), waits {:?}",
            clock.sleeps()
        )
    });
    assert_eq!(response.status(), 200);
    assert_eq!(connections, 2);
    assert_eq!(clock.sleeps(), vec![secs(1)]);
}

#[tokio::test]
async fn a_connection_reset_for_a_post_is_returned_not_repeated() {
    // Arrange
    let (url, connections) = reset_then_ok_server(1).await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let err = client.post(&url).body("{}").send().await.unwrap_err();

    // Assert
    assert!(
        matches!(err, reqwest_middleware::Error::Reqwest(_)),
        "{err:?}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_connect_error_for_a_get_is_retried_up_to_max_attempts() {
    // Arrange: a port with nothing listening
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry().with_max_attempts(3), &clock);

    // Act
    let err = client.get(&url).send().await.unwrap_err();

    // Assert: after 3 tries, the last transport error comes back as the cause
    match crate::helpers::policy_error(&err) {
        perspio_policy::PolicyError::AttemptsExhausted {
            attempts: 3,
            last_error: reqwest_middleware::Error::Reqwest(inner),
            ..
        } => assert!(inner.is_connect(), "{err:?}"),
        other => panic!("expected the attempts to be exhausted, got {other:?}"),
    }
    assert_eq!(clock.sleeps(), vec![secs(1), secs(2)]);
}

#[tokio::test]
async fn a_streaming_body_is_sent_once_and_not_retried() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(body_string("streamed"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .named("the one attempt, body received in full")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
        vec![Ok("stream".into()), Ok("ed".into())];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));

    // Act: PUT is idempotent, but its body cannot be replayed
    let response = client.put(server.uri()).body(body).send().await.unwrap();

    // Assert: sent (not failed before sending), and the 503 returned without a retry
    assert_eq!(response.status(), 503);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn when_every_attempt_fails_the_error_names_the_attempts_and_the_time_spent() {
    // Arrange: every connection is reset.
    let (url, connections) = reset_then_ok_server(usize::MAX).await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry().with_max_attempts(3), &clock);

    // Act
    let err = client
        .get(format!("{url}/assets/v3/?subscription-key=K3Y"))
        .send()
        .await
        .unwrap_err();

    // Assert
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    match crate::helpers::policy_error(&err) {
        perspio_policy::PolicyError::AttemptsExhausted {
            attempts, elapsed, ..
        } => {
            assert_eq!(*attempts, 3);
            assert_eq!(*elapsed, secs(3), "backoff 1 s + 2 s on the virtual clock");
        }
        other => panic!("{other:?}"),
    }
    let chain = perspio_core_chain(&err);
    assert!(chain.starts_with("3 attempt(s) failed in 3 s: "), "{chain}");
    assert!(!chain.contains("K3Y"), "the url is shown redacted: {chain}");
}

/// The error and its causes, joined like anyhow's `{:#}`.
fn perspio_core_chain(err: &reqwest_middleware::Error) -> String {
    let policy = crate::helpers::policy_error(err);
    let mut text = policy.to_string();
    let mut source = std::error::Error::source(policy);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
