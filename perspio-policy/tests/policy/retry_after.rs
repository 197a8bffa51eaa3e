//! `429` (and `503`) with `Retry-After`.

use std::time::Duration;

use perspio_policy::{Clock, ManualClock, parse_retry_after};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{answers_then, deterministic_retry, retry_client, secs};

#[tokio::test]
async fn a_429_with_retry_after_in_seconds_is_waited_out_exactly_then_retried() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("first call is throttled for 7 s")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("assets"))
        .expect(1)
        .named("second call succeeds")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let response = client
        .get(format!("{}/assets/v3/", server.uri()))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "assets");
    assert_eq!(
        clock.sleeps(),
        vec![secs(7)],
        "waited exactly the advised 7 s"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_as_an_http_date_is_waited_out_until_that_date() {
    // Arrange
    let server = MockServer::start().await;
    let start = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
    let clock = ManualClock::starting_at(start);
    let retry_at = httpdate::fmt_http_date(start + secs(12));
    // throttled until a date 12 s ahead, then succeeds after the date.
    answers_then(
        &server,
        "GET",
        ResponseTemplate::new(429).insert_header("Retry-After", retry_at.as_str()),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let response = client.get(server.uri()).send().await.unwrap();

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(clock.sleeps(), vec![secs(12)]);
}

#[tokio::test]
async fn a_retry_after_above_the_cap_returns_the_429_to_the_caller_after_one_request() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .expect(1)
        .named("hourly quota exhausted")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let config = deterministic_retry().with_max_retry_after(secs(90));
    let client = retry_client(config, &clock);

    // Act
    let response = client.get(server.uri()).send().await.unwrap();

    // Assert: the 429 comes back unchanged, with the advised wait readable from it
    assert_eq!(response.status(), 429);
    assert_eq!(
        parse_retry_after(response.headers(), clock.now()),
        Some(secs(3600))
    );
    assert!(clock.sleeps().is_empty(), "no wait at all");
}

#[tokio::test]
async fn a_429_without_retry_after_is_retried_with_backoff() {
    // Arrange
    let server = MockServer::start().await;
    // throttled twice, no advice, then succeeds.
    answers_then(
        &server,
        "GET",
        ResponseTemplate::new(429),
        2,
        ResponseTemplate::new(200),
    )
    .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let response = client.get(server.uri()).send().await.unwrap();

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(clock.sleeps(), vec![secs(1), secs(2)]);
}

#[tokio::test]
async fn a_429_for_a_post_is_retried_because_the_server_did_not_process_it() {
    // Arrange
    let server = MockServer::start().await;
    // create is throttled, then create succeeds.
    answers_then(
        &server,
        "POST",
        ResponseTemplate::new(429).insert_header("Retry-After", "3"),
        1,
        ResponseTemplate::new(201),
    )
    .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let response = client.post(server.uri()).body("{}").send().await.unwrap();

    // Assert
    assert_eq!(response.status(), 201);
    assert_eq!(clock.sleeps(), vec![secs(3)]);
}

#[tokio::test]
async fn a_503_with_retry_after_for_a_get_is_waited_out() {
    // Arrange
    let server = MockServer::start().await;
    // backend in maintenance for 20 s, then back.
    answers_then(
        &server,
        "GET",
        ResponseTemplate::new(503).insert_header("Retry-After", "20"),
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
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(20)]);
}

#[tokio::test]
async fn a_retry_after_of_zero_that_repeats_is_still_backed_off_from_the_second_retry() {
    // Arrange: a server that says "retry now" every time, then gives in.
    let server = MockServer::start().await;
    answers_then(
        &server,
        "GET",
        ResponseTemplate::new(429).insert_header("Retry-After", "0"),
        3,
        ResponseTemplate::new(200),
    )
    .await;
    let clock = ManualClock::new();
    let client = retry_client(deterministic_retry(), &clock);

    // Act
    let response = client.get(server.uri()).send().await.unwrap();

    // Assert: the first advice is followed exactly, then never below the previous backoff.
    assert_eq!(response.status(), 200);
    assert_eq!(clock.sleeps(), vec![secs(0), secs(1), secs(2)]);
}
