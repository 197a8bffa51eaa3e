//! The shared rate budget against a real `redis-server` (started by the test, installed from
//! the OS packages when missing). Each "process" is its own `RateLimitMiddleware` with its own
//! clock: they share nothing but Redis. Waits come from Redis `TIME` and are slept on the
//! virtual clocks, so they are asserted within a few milliseconds of real time.

use std::time::Duration;

use perspio_policy::{
    Bandwidth, Limit, ManualClock, PolicyError, RateLimit, RateLimitMiddleware, SharedRateLimit,
    StoreFailure,
};
use perspio_store::testing::RedisServer;
use perspio_store::{RedisStore, StoreConfig};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{answers_then, limited_client, policy_error, secs};

const TENANT: &str = "in-fleet";

fn exact(limits: impl IntoIterator<Item = Limit>) -> RateLimit {
    RateLimit::new(limits)
        .with_guard(Duration::ZERO)
        .with_max_wait(secs(600))
}

fn fast_store(redis: &RedisServer) -> RedisStore {
    RedisStore::open(
        &redis.url(),
        StoreConfig::default()
            .with_connect_timeout(Duration::from_millis(200))
            .with_response_timeout(Duration::from_millis(200))
            .with_failures_to_open(1)
            .with_open_for(Duration::from_millis(100)),
    )
    .unwrap()
}

/// A "process": its own limiter and clock, sharing `redis` with the others.
fn process(
    redis: &RedisServer,
    application: &str,
    config: RateLimit,
) -> (RateLimitMiddleware, ManualClock) {
    let clock = ManualClock::new();
    let shared = SharedRateLimit::new(fast_store(redis), TENANT, application);
    (
        RateLimitMiddleware::shared(config, shared).with_clock(clock.clone()),
        clock,
    )
}

#[track_caller]
fn assert_about(actual: &[Duration], expected: Duration) {
    assert_eq!(actual.len(), 1, "one wait expected: {actual:?}");
    let slack = Duration::from_millis(500);
    assert!(
        actual[0] <= expected && actual[0] + slack >= expected,
        "waited {:?}, expected about {expected:?}",
        actual[0]
    );
}

async fn ok_server(expected: impl Into<wiremock::Times>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(expected)
        .mount(&server)
        .await;
    server
}

async fn redis(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_processes_share_one_window_and_the_third_request_waits_for_the_oldest_slot() {
    let server = RedisServer::start().unwrap();
    let api = ok_server(3).await;
    let limit = || exact([Limit::new(2, secs(10)).unwrap()]);
    let (a, a_clock) = process(&server, "app", limit());
    let (b, b_clock) = process(&server, "app", limit());

    limited_client(a.clone())
        .get(api.uri())
        .send()
        .await
        .unwrap();
    limited_client(b).get(api.uri()).send().await.unwrap();
    limited_client(a.clone())
        .get(api.uri())
        .send()
        .await
        .unwrap();

    assert!(b_clock.sleeps().is_empty());
    assert_about(&a_clock.sleeps(), secs(10));
    let stats = a.stats();
    assert_eq!(
        (stats.shared_reservations, stats.local_reservations),
        (2, 0)
    );
}

#[tokio::test]
async fn a_429_seen_by_one_process_pauses_the_others() {
    let server = RedisServer::start().unwrap();
    let api = MockServer::start().await;
    answers_then(
        &api,
        "GET",
        ResponseTemplate::new(429).insert_header("Retry-After", "30"),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let (a, _) = process(&server, "app", exact([Limit::new(100, secs(10)).unwrap()]));
    let (b, b_clock) = process(&server, "app", exact([Limit::new(100, secs(10)).unwrap()]));

    let throttled = limited_client(a).get(api.uri()).send().await.unwrap();
    let next = limited_client(b).get(api.uri()).send().await.unwrap();

    assert_eq!(
        (throttled.status().as_u16(), next.status().as_u16()),
        (429, 200)
    );
    assert_about(&b_clock.sleeps(), secs(30));
}

#[tokio::test]
async fn a_403_quota_answer_with_retry_after_pauses_every_application_of_the_tenant() {
    let server = RedisServer::start().unwrap();
    let api = MockServer::start().await;
    answers_then(
        &api,
        "GET",
        ResponseTemplate::new(403).insert_header("Retry-After", "20"),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let (a, _) = process(
        &server,
        "app-a",
        exact([Limit::new(100, secs(10)).unwrap()]),
    );
    let (b, b_clock) = process(
        &server,
        "app-b",
        exact([Limit::new(100, secs(10)).unwrap()]),
    );

    limited_client(a).get(api.uri()).send().await.unwrap();
    limited_client(b).get(api.uri()).send().await.unwrap();

    assert_about(&b_clock.sleeps(), secs(20));
}

#[tokio::test]
async fn application_windows_are_per_application_and_tenant_windows_are_shared() {
    let server = RedisServer::start().unwrap();
    let api = ok_server(3).await;
    let config = || {
        exact([
            Limit::new(1, secs(10)).unwrap(),
            Limit::per_tenant(2, secs(60)).unwrap(),
        ])
    };
    let (a, a_clock) = process(&server, "app-a", config());
    let (b, b_clock) = process(&server, "app-b", config());
    let (c, c_clock) = process(&server, "app-c", config());

    limited_client(a).get(api.uri()).send().await.unwrap();
    limited_client(b).get(api.uri()).send().await.unwrap();
    limited_client(c).get(api.uri()).send().await.unwrap();

    assert!(a_clock.sleeps().is_empty() && b_clock.sleeps().is_empty());
    assert_about(&c_clock.sleeps(), secs(60));
}

#[tokio::test]
async fn a_wait_beyond_max_wait_is_refused_unsent_and_reserves_nothing() {
    let server = RedisServer::start().unwrap();
    let api = ok_server(1).await;
    let config = || {
        RateLimit::new([Limit::new(1, secs(60)).unwrap()])
            .with_guard(Duration::ZERO)
            .with_max_wait(secs(5))
    };
    let (a, _) = process(&server, "app", config());
    let (b, b_clock) = process(&server, "app", config());

    limited_client(a).get(api.uri()).send().await.unwrap();
    let err = limited_client(b).get(api.uri()).send().await.unwrap_err();

    match policy_error(&err) {
        PolicyError::RateLimitWaitExceeded { wait, max_wait } => {
            assert!(*wait > secs(59) && *max_wait == secs(5), "{wait:?}");
        }
        other => panic!("expected RateLimitWaitExceeded, got {other:?}"),
    }
    assert!(b_clock.sleeps().is_empty());
    let mut conn = redis(&server).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("perspio:v1:*rl:app:app:1/60000ms")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let reserved: u64 = redis::cmd("ZCARD")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(reserved, 1, "the refused request reserved no slot");
}

#[tokio::test]
async fn every_key_carries_the_tenant_hash_tag_and_a_ttl() {
    let server = RedisServer::start().unwrap();
    let api = MockServer::start().await;
    answers_then(
        &api,
        "GET",
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
        1,
        ResponseTemplate::new(200).set_body_string("x".repeat(100)),
    )
    .await;
    let (a, a_clock) = process(
        &server,
        "app",
        RateLimit::perspio_documented().with_guard(Duration::ZERO),
    );
    let client = limited_client(a);
    client.get(api.uri()).send().await.unwrap();
    client.get(api.uri()).send().await.unwrap();
    assert_about(&a_clock.sleeps(), secs(1));

    let mut conn = redis(&server).await;
    let mut keys: Vec<String> = Vec::new();
    for _ in 0..100 {
        keys = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut conn)
            .await
            .unwrap();
        if keys.len() == 4 {
            break; // the bandwidth charge lands on a task
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    keys.sort();
    assert_eq!(
        keys.len(),
        4,
        "two windows, the bandwidth, the pause: {keys:?}"
    );
    for key in &keys {
        assert!(key.starts_with("perspio:v1:{in-fleet}:"), "{key}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0, "{key} has no ttl ({ttl})");
    }
}

#[tokio::test]
async fn the_script_is_loaded_again_after_the_script_cache_is_emptied() {
    let server = RedisServer::start().unwrap();
    let api = ok_server(2).await;
    let (a, _) = process(&server, "app", exact([Limit::new(10, secs(10)).unwrap()]));
    let client = limited_client(a.clone());
    client.get(api.uri()).send().await.unwrap();

    let mut conn = redis(&server).await;
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    client.get(api.uri()).send().await.unwrap();

    assert_eq!(a.stats().shared_reservations, 2);
    assert_eq!(a.stats().store_failures, 0);
}

#[tokio::test]
async fn a_shared_bandwidth_quota_spent_by_one_process_makes_the_other_wait() {
    let server = RedisServer::start().unwrap();
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("y".repeat(1000)))
        .expect(2)
        .mount(&api)
        .await;
    let config = || {
        exact([Limit::new(100, secs(10)).unwrap()])
            .with_bandwidth(Bandwidth::new(1000, secs(60)).unwrap())
    };
    let (a, _) = process(&server, "app", config());
    let (b, b_clock) = process(&server, "app", config());

    limited_client(a).get(api.uri()).send().await.unwrap();
    let mut conn = redis(&server).await;
    for _ in 0..100 {
        let charged: Vec<(String, u64)> = redis::cmd("HGETALL")
            .arg("perspio:v1:{in-fleet}:bw:1000/60000ms")
            .query_async(&mut conn)
            .await
            .unwrap();
        if charged.iter().map(|(_, n)| n).sum::<u64>() == 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    limited_client(b).get(api.uri()).send().await.unwrap();

    // The bytes sit in a 1 s bucket: they age out 60 s after the end of that bucket.
    let waited = b_clock.sleeps();
    assert_eq!(waited.len(), 1, "{waited:?}");
    assert!(waited[0] > secs(59) && waited[0] <= secs(61), "{waited:?}");
}

#[tokio::test]
async fn a_redis_outage_falls_back_to_a_local_share_of_the_budget_and_recovers_by_itself() {
    let mut server = RedisServer::start().unwrap();
    let api = ok_server(5..=25).await;
    let clock = ManualClock::new();
    let shared =
        SharedRateLimit::new(fast_store(&server), TENANT, "app").with_expected_processes(2);
    let limiter = RateLimitMiddleware::shared(exact([Limit::new(4, secs(10)).unwrap()]), shared)
        .with_clock(clock.clone());
    let client = limited_client(limiter.clone());
    client.get(api.uri()).send().await.unwrap();

    server.stop();
    // Down: 2 of the 4 per 10 s (the local share, 4 / 2 processes), and no call fails.
    for _ in 0..3 {
        let response = client.get(api.uri()).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(clock.sleeps(), vec![secs(10)]);
    let down = limiter.stats();
    assert_eq!((down.fallbacks, down.local_reservations), (1, 3));
    assert!(down.store_failures >= 1);

    server.restart().unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await; // the breaker's open phase
    client.get(api.uri()).send().await.unwrap();
    let mut recovered = limiter.stats();
    for _ in 0..20 {
        if recovered.recoveries == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        client
            .get(api.uri())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        recovered = limiter.stats();
    }
    assert_eq!(recovered.recoveries, 1, "{recovered:?}");
    assert!(recovered.shared_reservations >= 2, "{recovered:?}");
}

#[tokio::test]
async fn fail_closed_refuses_calls_unsent_while_the_store_is_down() {
    let mut server = RedisServer::start().unwrap();
    let api = ok_server(0).await;
    let shared = SharedRateLimit::new(fast_store(&server), TENANT, "app")
        .with_store_failure(StoreFailure::FailClosed);
    server.stop();
    let client = limited_client(RateLimitMiddleware::shared(
        exact([Limit::new(4, secs(10)).unwrap()]),
        shared,
    ));

    let err = client.get(api.uri()).send().await.unwrap_err();

    assert!(
        matches!(
            policy_error(&err),
            PolicyError::SharedBudgetUnavailable { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn a_bad_redis_url_is_refused_when_the_limiter_is_built_and_shown_redacted() {
    let err = SharedRateLimit::open("http://:hunter2@host/", TENANT, "app").unwrap_err();
    let shown = format!("{err} / {:?}", err);
    assert!(matches!(err, PolicyError::InvalidStore { .. }));
    assert!(!shown.contains("hunter2"), "{shown}");
}
