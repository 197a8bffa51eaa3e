//! The stores against real `redis-server` and `memcached` processes: reachable, then down
//! (the breaker opens and refuses at once), then back (it recovers by itself).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests panic on failure"
)]

use std::time::{Duration, Instant};

use memcache::exp::{Get, Meta, Set};
use perspio_store::testing::{MemcachedServer, RedisServer};
use perspio_store::{MemcachedStore, RedisStore, StoreConfig, StoreError};

fn fast() -> StoreConfig {
    StoreConfig::default()
        .with_connect_timeout(Duration::from_millis(300))
        .with_response_timeout(Duration::from_millis(300))
        .with_failures_to_open(1)
        .with_open_for(Duration::from_millis(200))
}

async fn ping(store: &RedisStore) -> Result<String, StoreError> {
    store
        .run("ping", |mut conn| async move {
            redis::cmd("PING").query_async(&mut conn).await
        })
        .await
}

#[tokio::test]
async fn a_redis_outage_opens_the_breaker_and_a_restart_closes_it_again() {
    let mut server = RedisServer::start().unwrap();
    let store = RedisStore::open(&server.url(), fast()).unwrap();
    assert_eq!(ping(&store).await.unwrap(), "PONG");

    server.stop();
    let failed = ping(&store).await.unwrap_err();
    assert!(failed.is_unavailable(), "{failed}");
    let started = Instant::now();
    let refused = ping(&store).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::CircuitOpen { .. }),
        "{refused}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "an open breaker answers at once"
    );

    server.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if ping(&store).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the store never recovered");
    }
    let stats = store.breaker().stats();
    assert!(stats.opened >= 1 && stats.recovered >= 1, "{stats:?}");
}

#[tokio::test]
async fn memcached_answers_through_the_store_and_its_outage_opens_the_breaker() {
    let mut server = MemcachedServer::start().unwrap();
    let store = MemcachedStore::open(&server.url(), fast()).unwrap();
    let stored = store
        .run("set", |client| async move {
            client.run(Set::new("k", "v")).await
        })
        .await
        .unwrap();
    assert!(stored.applied());
    let got = store
        .run("get", |client| async move {
            client.run(Get::new("k").meta(Meta::default().cas())).await
        })
        .await
        .unwrap();
    assert_eq!(got.value.as_deref(), Some(&b"v"[..]));

    server.stop();
    let failed = store
        .run(
            "get",
            |client| async move { client.run(Get::new("k")).await },
        )
        .await
        .unwrap_err();
    assert!(failed.is_unavailable(), "{failed}");
    assert!(!store.breaker().is_closed());
}
