//! Each fault switch: what is served, what the client does with it, and what is counted.

use std::error::Error as _;
use std::time::{Duration, Instant};

use perspio_sandbox::Sandbox;

use crate::helpers::*;

#[tokio::test]
async fn one_injected_401_is_answered_by_a_new_token_and_one_retry() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = sandbox.client().unwrap();
    client.list_sites().call().await.unwrap();

    sandbox.faults().unauthorized_next(1);
    client.list_sites().call().await.unwrap();

    let seen = sandbox.counters();
    assert_eq!(seen.tokens_issued, 2);
    assert_eq!(seen.operation("list_sites"), 3);
    assert_eq!(seen.unauthorized, 1);
    assert_eq!(seen.ok, 2);
}

#[tokio::test]
async fn two_injected_401s_reach_the_caller_and_the_next_call_succeeds() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = sandbox.client().unwrap();

    sandbox.faults().unauthorized_next(2);
    let status = status_of(client.list_assets().call().await);
    client.list_assets().call().await.unwrap();

    assert_eq!(status, 401);
    let seen = sandbox.counters();
    assert_eq!(seen.unauthorized, 2);
    assert_eq!(seen.tokens_issued, 2, "one forced refresh");
    assert_eq!(seen.operation("list_assets"), 3);
    assert_eq!(seen.ok, 1);
}

#[tokio::test]
async fn injected_429s_carry_retry_after_in_whole_seconds_rounded_up() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = client_without_retries(&sandbox);

    sandbox
        .faults()
        .throttle_next(1, Duration::from_millis(6500));
    let error = client.list_sites().call().await.unwrap_err();

    assert_eq!(error.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(sandbox.counters().rate_limited, 1);
}

#[tokio::test]
async fn injected_429s_with_retry_after_zero_are_waited_out_by_the_client() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = sandbox.client().unwrap();

    sandbox.faults().throttle_next(2, Duration::ZERO);
    client.list_location_labels().call().await.unwrap();

    let seen = sandbox.counters();
    assert_eq!(seen.operation("list_location_labels"), 3);
    assert_eq!(seen.rate_limited, 2);
    assert_eq!(seen.ok, 1);
}

#[tokio::test]
async fn a_faulted_request_takes_no_slot_of_the_rate_limit() {
    let sandbox = Sandbox::builder().with_rate_limit(1).start().await.unwrap();
    let client = client_without_retries(&sandbox);

    sandbox.faults().unauthorized_next(1);
    sandbox.faults().throttle_next(1, Duration::ZERO);
    // 401 (injected), refreshed and retried: 429 (injected).
    assert_eq!(status_of(client.list_sites().call().await), 429);
    client.list_sites().call().await.unwrap();
    // Now the one slot is taken: the rate limit's own 429.
    let error = client.list_sites().call().await.unwrap_err();

    assert!(error.retry_after().unwrap() > Duration::from_secs(80));
    let seen = sandbox.counters();
    assert_eq!(seen.unauthorized, 1);
    assert_eq!(seen.rate_limited, 2);
    assert_eq!(seen.ok, 1);
    assert_eq!(seen.api_requests, 4);
}

#[tokio::test]
async fn a_token_endpoint_down_is_a_retryable_503_until_it_is_back_up() {
    let sandbox = Sandbox::start().await.unwrap();
    // Retry the token request without waiting, to keep the test fast.
    let auth_config = sandbox
        .auth_config()
        .with_token_retry_base(Duration::from_millis(1))
        .with_token_retry_max(Duration::from_millis(1));
    let client = sandbox
        .client_builder()
        .with_auth_config(auth_config)
        .build()
        .unwrap();

    sandbox.faults().set_token_endpoint_down(true);
    let error = client.list_assets().call().await.unwrap_err();

    let auth = error.auth_error().expect("an authentication error");
    assert_eq!(auth.status().map(|s| s.as_u16()), Some(503));
    assert!(
        auth.to_string().contains("temporarily_unavailable"),
        "{auth}"
    );
    assert!(error.is_retryable());
    let seen = sandbox.counters();
    assert_eq!(seen.token_requests, 3, "the client tries 3 times");
    assert_eq!(seen.token_endpoint_unavailable, 3);
    assert_eq!(seen.api_requests, 0);

    sandbox.faults().set_token_endpoint_down(false);
    client.list_assets().call().await.unwrap();

    let seen = sandbox.counters();
    assert_eq!(seen.token_requests, 4);
    assert_eq!(seen.tokens_issued, 1);
    assert_eq!(seen.ok, 1);
}

#[tokio::test]
async fn a_token_issued_before_the_endpoint_went_down_keeps_working() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = sandbox.client().unwrap();
    client.list_sites().call().await.unwrap();

    sandbox.faults().set_token_endpoint_down(true);
    client.list_sites().call().await.unwrap();

    let seen = sandbox.counters();
    assert_eq!(seen.token_requests, 1);
    assert_eq!(seen.ok, 2);
}

#[tokio::test]
async fn an_api_delay_makes_answers_late_and_trips_a_shorter_client_timeout() {
    let sandbox = Sandbox::start().await.unwrap();
    let impatient = sandbox
        .client_builder()
        .with_timeout(Duration::from_millis(100))
        .with_retry(perspio_policy::RetryConfig::default().with_max_attempts(1))
        .build()
        .unwrap();
    let client = sandbox.client().unwrap();
    client.list_sites().call().await.unwrap();
    impatient.list_sites().call().await.unwrap();

    sandbox.faults().set_api_delay(Duration::from_millis(400));
    let error = impatient.list_sites().call().await.unwrap_err();
    let started = Instant::now();
    client.list_sites().call().await.unwrap();
    let late = started.elapsed();

    let reqwest_error = error
        .source()
        .and_then(|e| e.downcast_ref::<reqwest::Error>())
        .expect("a transport error");
    assert!(reqwest_error.is_timeout(), "{error}");
    assert!(late >= Duration::from_millis(400), "{late:?}");
    assert_eq!(sandbox.counters().operation("list_sites"), 4);

    sandbox.faults().set_api_delay(Duration::ZERO);
    impatient.list_sites().call().await.unwrap();
}

#[tokio::test]
async fn clear_switches_every_fault_off() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = client_without_retries(&sandbox);
    let faults = sandbox.faults();
    faults.unauthorized_next(5);
    faults.throttle_next(5, Duration::from_secs(60));
    faults.set_token_endpoint_down(true);
    faults.set_api_delay(Duration::from_secs(60));

    faults.clear();
    client.list_assets().call().await.unwrap();

    let seen = sandbox.counters();
    assert_eq!(seen.ok, 1);
    assert_eq!(seen.tokens_issued, 1);
    assert_eq!((seen.unauthorized, seen.rate_limited), (0, 0));
}
