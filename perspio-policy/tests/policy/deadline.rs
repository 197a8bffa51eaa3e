//! The overall deadline of a call, covering every attempt and every wait.

use std::time::{Duration, Instant};

use perspio_policy::{ManualClock, PolicyError, RetryConfig, RetryMiddleware};
use reqwest_middleware::ClientBuilder;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{deterministic_retry, policy_error, retry_client, secs};

#[tokio::test]
async fn the_deadline_cuts_a_long_retry_after_short_with_a_typed_error() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "60"))
        .expect(1)
        .named("throttled for a minute")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let config = deterministic_retry()
        .with_max_retry_after(secs(90))
        .with_deadline(secs(30));
    let client = retry_client(config, &clock);

    // Act
    let err = client.get(server.uri()).send().await.unwrap_err();

    // Assert: no wait, a clear error naming the advised wait
    assert!(
        clock.sleeps().is_empty(),
        "did not start a wait it cannot finish"
    );
    match policy_error(&err) {
        PolicyError::DeadlineExceeded {
            deadline,
            attempts,
            next_wait,
            last_status,
            ..
        } => {
            assert_eq!(*deadline, secs(30));
            assert_eq!(*attempts, 1);
            assert_eq!(*next_wait, Some(secs(60)));
            assert_eq!(*last_status, Some(http::StatusCode::TOO_MANY_REQUESTS));
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    let policy = policy_error(&err);
    assert!(policy.is_retryable());
    assert_eq!(policy.suggested_wait(), Some(secs(60)));
    assert_eq!(
        policy.to_string(),
        "call deadline of 30 s exceeded after 0 s and 1 attempt(s); \
         the next wait of 60 s would have crossed it"
    );
}

#[tokio::test]
async fn the_deadline_covers_the_waits_of_earlier_attempts() {
    // Arrange: backoff 10 s then 20 s; 10 + 20 > 25
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .expect(2)
        .named("unavailable")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let config = deterministic_retry()
        .with_base_delay(secs(10))
        .with_max_delay(secs(60))
        .with_max_attempts(10)
        .with_deadline(secs(25));
    let client = retry_client(config, &clock);

    // Act
    let err = client.get(server.uri()).send().await.unwrap_err();

    // Assert
    assert_eq!(clock.sleeps(), vec![secs(10)]);
    match policy_error(&err) {
        PolicyError::DeadlineExceeded {
            elapsed,
            attempts,
            next_wait,
            ..
        } => {
            assert_eq!(*elapsed, secs(10));
            assert_eq!(*attempts, 2);
            assert_eq!(*next_wait, Some(secs(20)));
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn the_deadline_cuts_a_request_in_flight_on_the_real_clock() {
    // Arrange: a 100 ms deadline against a server that takes 5 s
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .expect(1)
        .named("very slow")
        .mount(&server)
        .await;
    perspio_core::tls::install_crypto_provider();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(
            RetryConfig::default().with_deadline(Duration::from_millis(100)),
        ))
        .build();
    let wall = Instant::now();

    // Act
    let err = client.get(server.uri()).send().await.unwrap_err();

    // Assert
    assert!(
        wall.elapsed() < Duration::from_secs(2),
        "{:?}",
        wall.elapsed()
    );
    match policy_error(&err) {
        PolicyError::DeadlineExceeded {
            attempts,
            next_wait,
            last_status,
            ..
        } => {
            assert_eq!(*attempts, 1);
            assert_eq!(*next_wait, None, "cut during a request, not before a wait");
            assert_eq!(*last_status, None);
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
}
