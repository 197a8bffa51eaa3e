//! Tracing events for retries and waits.

use perspio_policy::{Limit, ManualClock, RateLimit, RateLimitMiddleware};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    CapturedEvents, answers_then, deterministic_retry, limited_client, retry_client, secs,
};

#[tokio::test]
async fn a_retry_emits_a_warning_with_reason_delay_attempt_status_and_method_but_no_headers() {
    // Arrange
    let (events, _guard) = CapturedEvents::install();
    let server = MockServer::start().await;
    // throttled, then ok.
    answers_then(
        &server,
        "GET",
        ResponseTemplate::new(429).insert_header("Retry-After", "3"),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    client
        .get(server.uri())
        .header("Authorization", "Bearer secret-token-value")
        .send()
        .await
        .unwrap();

    // Assert
    let retries = events.with_message("retrying request");
    assert_eq!(retries.len(), 1, "{retries:?}");
    let event = &retries[0];
    assert_eq!(event["level"], "WARN");
    assert_eq!(event["target"], "perspio_policy");
    assert_eq!(event["reason"], "retry-after");
    assert_eq!(event["delay"], "3s");
    assert_eq!(event["attempt"], "1");
    assert_eq!(event["status"], "429");
    assert_eq!(event["method"], "GET");
    assert!(!events.all_text().contains("secret-token-value"));
}

#[tokio::test]
async fn a_rate_limit_wait_emits_an_event_with_reason_and_delay() {
    // Arrange
    let (events, _guard) = CapturedEvents::install();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .named("api")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let client = limited_client(
        RateLimitMiddleware::new(
            RateLimit::new([Limit::new(1, secs(4)).unwrap()]).with_guard(secs(1)),
        )
        .with_clock(clock.clone()),
    );

    // Act
    client.get(server.uri()).send().await.unwrap();
    client.get(server.uri()).send().await.unwrap();

    // Assert
    let waits = events.with_message("waiting for a rate-limit slot");
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0]["reason"], "rate-limit");
    assert_eq!(waits[0]["delay"], "5s", "the 4 s window and the 1 s guard");
    assert_eq!(waits[0]["method"], "GET");
}
