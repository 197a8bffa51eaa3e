//! Client-side rate limiting.

use std::time::Duration;

use perspio_policy::{
    Bandwidth, Limit, ManualClock, PolicyError, RateLimit, RateLimitMiddleware, RetryMiddleware,
};
use reqwest_middleware::ClientBuilder;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    RateEnforcingServer, answers_then, deterministic_retry, limited_client, policy_error, secs,
};

/// A limiter without the guard margin, so that the waits are the windows' exact arithmetic.
fn limiter(limit: Limit, clock: &ManualClock) -> RateLimitMiddleware {
    RateLimitMiddleware::new(
        RateLimit::new([limit])
            .with_max_wait(secs(600))
            .with_guard(Duration::ZERO),
    )
    .with_clock(clock.clone())
}

#[tokio::test]
async fn the_limiter_spaces_a_burst_to_the_configured_rate_and_draws_no_429() {
    // Arrange: a server that allows 5 requests per 10 s on the same virtual clock
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    let enforcer = RateEnforcingServer::new(&clock, 5, secs(10));
    Mock::given(method("GET"))
        .respond_with(enforcer.clone())
        .expect(12)
        .named("rate-enforcing api")
        .mount(&server)
        .await;
    let client = limited_client(limiter(Limit::new(5, secs(10)).unwrap(), &clock));

    // Act: a burst of 12 calls
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(client.get(server.uri()).send().await.unwrap().status());
    }

    // Assert
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(enforcer.rejected(), 0);
    assert_eq!(clock.sleeps(), vec![secs(10), secs(10)]);
    assert_eq!(
        clock.elapsed(),
        secs(20),
        "12 requests at 5 per 10 s take 20 s"
    );
}

#[tokio::test]
async fn without_the_limiter_the_same_burst_draws_429s() {
    // Arrange: control for the test above — the enforcing server really enforces
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    let enforcer = RateEnforcingServer::new(&clock, 5, secs(10));
    Mock::given(method("GET"))
        .respond_with(enforcer.clone())
        .expect(12)
        .named("rate-enforcing api")
        .mount(&server)
        .await;
    perspio_core::tls::install_crypto_provider();
    let client = ClientBuilder::new(reqwest::Client::new()).build();

    // Act
    for _ in 0..12 {
        client.get(server.uri()).send().await.unwrap();
    }

    // Assert
    assert_eq!(enforcer.rejected(), 7);
}

#[tokio::test]
async fn the_documented_preset_lets_20_requests_through_then_waits_90_seconds_and_the_guard() {
    // Arrange
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    let enforcer = RateEnforcingServer::new(&clock, 20, secs(90));
    Mock::given(method("GET"))
        .respond_with(enforcer.clone())
        .expect(21)
        .named("api enforcing 20 per 90 s")
        .mount(&server)
        .await;
    let preset = RateLimit::perspio_documented();
    assert_eq!(
        preset.limits(),
        [
            Limit::new(20, secs(90)).unwrap(),
            Limit::per_tenant(10_000, secs(3600)).unwrap()
        ]
    );
    assert_eq!(preset.bandwidth(), Some(Bandwidth::PERSPIO_PER_TENANT));
    assert_eq!(preset.guard(), secs(1));
    let client = limited_client(RateLimitMiddleware::new(preset).with_clock(clock.clone()));

    // Act
    for _ in 0..21 {
        assert_eq!(client.get(server.uri()).send().await.unwrap().status(), 200);
    }

    // Assert
    assert_eq!(enforcer.rejected(), 0);
    assert_eq!(clock.sleeps(), vec![secs(91)]);
}

#[tokio::test]
async fn clones_of_a_client_and_of_the_middleware_share_one_budget() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(4)
        .named("api")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let shared = limiter(Limit::new(2, secs(10)).unwrap(), &clock);
    let first = limited_client(shared.clone());
    let first_clone = first.clone();
    let second = limited_client(shared);

    // Act
    first.get(server.uri()).send().await.unwrap();
    second.get(server.uri()).send().await.unwrap();
    first_clone.get(server.uri()).send().await.unwrap();
    second.get(server.uri()).send().await.unwrap();

    // Assert: the third request overall waited, whichever client sent it
    assert_eq!(clock.sleeps(), vec![secs(10)]);
}

#[tokio::test]
async fn a_request_that_would_wait_past_max_wait_fails_with_a_typed_error_unsent() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .named("only the first request arrives")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let client = limited_client(
        RateLimitMiddleware::new(
            RateLimit::new([Limit::new(1, secs(60)).unwrap()])
                .with_max_wait(secs(30))
                .with_guard(Duration::ZERO),
        )
        .with_clock(clock.clone()),
    );
    client.get(server.uri()).send().await.unwrap();

    // Act
    let err = client.get(server.uri()).send().await.unwrap_err();

    // Assert
    match policy_error(&err) {
        PolicyError::RateLimitWaitExceeded { wait, max_wait } => {
            assert_eq!((*wait, *max_wait), (secs(60), secs(30)));
        }
        other => panic!("expected RateLimitWaitExceeded, got {other:?}"),
    }
    assert!(clock.sleeps().is_empty());
    assert_eq!(
        policy_error(&err).to_string(),
        "rate limit: the next free slot is 60s away, more than the maximum wait of 30s"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_pauses_the_shared_limiter() {
    // Arrange
    let server = MockServer::start().await;
    // throttled by another application of the tenant, then fine.
    answers_then(
        &server,
        "GET",
        ResponseTemplate::new(429).insert_header("Retry-After", "30"),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let clock = ManualClock::new();
    let shared = limiter(Limit::new(100, secs(10)).unwrap(), &clock);
    let client = limited_client(shared.clone());
    let other_client = limited_client(shared);

    // Act
    let throttled = client.get(server.uri()).send().await.unwrap();
    let next = other_client.get(server.uri()).send().await.unwrap();

    // Assert
    assert_eq!(throttled.status(), 429);
    assert_eq!(next.status(), 200);
    assert_eq!(clock.sleeps(), vec![secs(30)]);
}

#[tokio::test]
async fn each_retry_attempt_takes_a_slot_and_the_limiter_respects_the_call_deadline() {
    // Arrange: retry outside the limiter; 2 requests per 60 s
    let server = MockServer::start().await;
    // transient failure, then retry succeeds.
    answers_then(
        &server,
        "GET",
        ResponseTemplate::new(503),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let clock = ManualClock::new();
    perspio_core::tls::install_crypto_provider();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(
            RetryMiddleware::new(deterministic_retry().with_deadline(secs(30)))
                .with_clock(clock.clone()),
        )
        .with(limiter(Limit::new(2, secs(60)).unwrap(), &clock))
        .build();

    // Act
    let first = client.get(server.uri()).send().await.unwrap();
    let err = client.get(server.uri()).send().await.unwrap_err();

    // Assert: the retry used the second slot; the next call's slot lies beyond its deadline
    assert_eq!(first.status(), 200);
    assert_eq!(clock.sleeps(), vec![secs(1)]);
    match policy_error(&err) {
        PolicyError::DeadlineExceeded {
            next_wait,
            attempts,
            ..
        } => {
            assert_eq!(*next_wait, Some(secs(59)));
            assert_eq!(*attempts, 0);
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
}

#[test]
fn a_limit_of_zero_requests_or_zero_period_is_rejected() {
    assert!(matches!(
        Limit::new(0, secs(1)),
        Err(PolicyError::InvalidLimit { requests: 0, .. })
    ));
    assert!(Limit::new(1, secs(0)).is_err());
    assert!(!Limit::new(0, secs(1)).unwrap_err().is_retryable());
}
