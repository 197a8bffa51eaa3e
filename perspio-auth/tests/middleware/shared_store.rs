//! The shared token store against real `redis-server` and `memcached` processes (started by
//! the tests, installed from the OS packages when missing). Each "process" is its own
//! `AuthMiddleware` with its own cache; they share nothing but the store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use perspio_auth::{
    AuthMiddleware, ClientSecret, Credentials, MemcachedTokenBackend, RedisTokenBackend,
    SharedBackend, SubscriptionKey, shared_token_key,
};
use perspio_store::testing::{MemcachedServer, RedisServer};
use perspio_store::{MemcachedStore, RedisStore, StoreConfig};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    CLIENT_ID, CLIENT_SECRET, SECRETS, TENANT, TOKEN_A, TOKEN_B, TOKEN_PATH, bearer, client_with,
    credentials, test_config, token_endpoint, token_response,
};

fn fast() -> StoreConfig {
    StoreConfig::default()
        .with_connect_timeout(Duration::from_millis(200))
        .with_response_timeout(Duration::from_millis(200))
        .with_failures_to_open(1)
        .with_open_for(Duration::from_secs(30))
}

/// One real server of each kind, and a backend on it.
enum Store {
    Redis(RedisServer),
    Memcached(MemcachedServer),
}

impl Store {
    fn redis() -> Self {
        Store::Redis(RedisServer::start().unwrap())
    }

    fn memcached() -> Self {
        Store::Memcached(MemcachedServer::start().unwrap())
    }

    fn backend(&self) -> Arc<dyn SharedBackend> {
        match self {
            Store::Redis(s) => Arc::new(RedisTokenBackend::new(
                RedisStore::open(&s.url(), fast()).unwrap(),
            )),
            Store::Memcached(s) => Arc::new(MemcachedTokenBackend::new(
                MemcachedStore::open(&s.url(), fast()).unwrap(),
            )),
        }
    }

    fn stop(&mut self) {
        match self {
            Store::Redis(s) => s.stop(),
            Store::Memcached(s) => s.stop(),
        }
    }

    /// The raw bytes at `key`.
    async fn raw(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            Store::Redis(s) => {
                let mut conn = redis::Client::open(s.url())
                    .unwrap()
                    .get_multiplexed_async_connection()
                    .await
                    .unwrap();
                redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .unwrap()
            }
            Store::Memcached(s) => {
                let client =
                    memcache::exp::AsyncMetaClient::connect(format!("127.0.0.1:{}", s.port()))
                        .await
                        .unwrap();
                client
                    .run(memcache::exp::Get::new(key))
                    .await
                    .unwrap()
                    .value
            }
        }
    }

    async fn put_raw(&self, key: &str, value: Vec<u8>) {
        self.backend()
            .set(key, value, Duration::from_secs(600))
            .await
            .unwrap();
    }
}

/// A "process" of the fleet: its own middleware and cache over the shared `store`.
fn process(store: &Store, server: &MockServer, secret: &str) -> AuthMiddleware {
    let credentials = Credentials::new(
        CLIENT_ID,
        ClientSecret::new(secret),
        TENANT,
        SubscriptionKey::new("subscription-K3Y-value"),
    )
    .unwrap();
    AuthMiddleware::builder(credentials)
        .with_config(test_config(server).with_lease_ttl(Duration::from_secs(2)))
        .with_shared_store(store.backend())
        .build()
        .unwrap()
}

fn record_key(server: &MockServer) -> String {
    shared_token_key(&credentials(), &test_config(server))
}

async fn api_answers_ok(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
}

async fn token_requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == TOKEN_PATH)
        .count()
}

async fn cold_processes_fetch_one_token_between_them(store: Store) {
    let server = MockServer::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3600).set_delay(Duration::from_millis(150)))
        .expect(1)
        .named("one token for the fleet")
        .mount(&server)
        .await;
    api_answers_ok(&server).await;
    let url = format!("{}/assets/v3/", server.uri());
    let clients: Vec<_> = (0..4)
        .map(|_| client_with(process(&store, &server, CLIENT_SECRET)))
        .collect();

    let calls = clients.iter().map(|c| c.get(&url).send());
    let responses = futures::future::join_all(calls).await;

    for response in responses {
        assert_eq!(response.unwrap().status(), 200);
    }
    assert_eq!(token_requests(&server).await, 1);
    // What the store holds: no secret, no plaintext token.
    let record = store
        .raw(&record_key(&server))
        .await
        .expect("a shared record");
    for secret in SECRETS.iter().chain([&"S3CR3T"]) {
        assert!(
            !record.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the record holds {secret:?}"
        );
    }
}

#[tokio::test]
async fn redis_cold_processes_fetch_one_token_between_them_and_the_record_is_sealed() {
    cold_processes_fetch_one_token_between_them(Store::redis()).await;
}

#[tokio::test]
async fn memcached_cold_processes_fetch_one_token_between_them_and_the_record_is_sealed() {
    cold_processes_fetch_one_token_between_them(Store::memcached()).await;
}

async fn tampered_and_foreign_records_are_ignored_and_a_token_is_fetched(store: Store) {
    let server = MockServer::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3600))
        .expect(3)
        .mount(&server)
        .await;
    api_answers_ok(&server).await;
    let url = format!("{}/assets/v3/", server.uri());
    let key = record_key(&server);

    // A record sealed by another application (same client id, another secret).
    client_with(process(&store, &server, "another-applications-secret"))
        .get(&url)
        .send()
        .await
        .unwrap();
    let foreign = store.raw(&key).await.unwrap();
    client_with(process(&store, &server, CLIENT_SECRET))
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        token_requests(&server).await,
        2,
        "the foreign record was not used"
    );

    // A tampered record.
    let mut tampered = store.raw(&key).await.unwrap();
    assert_ne!(tampered, foreign);
    let last = tampered.len() - 1;
    tampered[last] ^= 0x40;
    store.put_raw(&key, tampered).await;
    let response = client_with(process(&store, &server, CLIENT_SECRET))
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        token_requests(&server).await,
        3,
        "the tampered record was not used"
    );
}

#[tokio::test]
async fn redis_tampered_and_foreign_records_are_ignored() {
    tampered_and_foreign_records_are_ignored_and_a_token_is_fetched(Store::redis()).await;
}

#[tokio::test]
async fn memcached_tampered_and_foreign_records_are_ignored() {
    tampered_and_foreign_records_are_ignored_and_a_token_is_fetched(Store::memcached()).await;
}

async fn a_401_in_one_process_makes_the_fleet_refresh_once(store: Store) {
    let server = MockServer::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3600))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_B, 3600))
        .with_priority(2)
        .mount(&server)
        .await;
    let url = format!("{}/assets/v3/", server.uri());
    let a = client_with(process(&store, &server, CLIENT_SECRET));
    let b = client_with(process(&store, &server, CLIENT_SECRET));
    api_answers_ok(&server).await;
    a.get(&url).send().await.unwrap();
    b.get(&url).send().await.unwrap();
    assert_eq!(token_requests(&server).await, 1, "b adopted a's token");

    // The API now refuses TOKEN_A (revoked) and accepts TOKEN_B.
    server.reset().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_B, 3600))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", bearer(TOKEN_A)))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", bearer(TOKEN_B)))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;

    assert_eq!(a.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(b.get(&url).send().await.unwrap().status(), 200);

    assert_eq!(
        token_requests(&server).await,
        1,
        "a refreshed once after its 401; b's 401 adopted a's new token"
    );
}

#[tokio::test]
async fn redis_a_401_in_one_process_makes_the_fleet_refresh_once() {
    a_401_in_one_process_makes_the_fleet_refresh_once(Store::redis()).await;
}

#[tokio::test]
async fn memcached_a_401_in_one_process_makes_the_fleet_refresh_once() {
    a_401_in_one_process_makes_the_fleet_refresh_once(Store::memcached()).await;
}

async fn a_store_that_is_down_costs_one_timeout_and_tokens_are_fetched_directly(mut store: Store) {
    let server = MockServer::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3600))
        .expect(1)
        .mount(&server)
        .await;
    api_answers_ok(&server).await;
    let url = format!("{}/assets/v3/", server.uri());
    let client = client_with(process(&store, &server, CLIENT_SECRET));
    store.stop();

    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    }

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a dead store must not slow every request: {:?}",
        started.elapsed()
    );
    assert_eq!(token_requests(&server).await, 1);
}

#[tokio::test]
async fn redis_a_store_that_is_down_does_not_fail_or_slow_requests() {
    a_store_that_is_down_costs_one_timeout_and_tokens_are_fetched_directly(Store::redis()).await;
}

#[tokio::test]
async fn memcached_a_store_that_is_down_does_not_fail_or_slow_requests() {
    a_store_that_is_down_costs_one_timeout_and_tokens_are_fetched_directly(Store::memcached())
        .await;
}

async fn a_lease_held_by_another_process_is_waited_out_then_taken(store: Store) {
    let server = MockServer::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3600))
        .expect(1)
        .mount(&server)
        .await;
    api_answers_ok(&server).await;
    // Another process took the lease and died: nothing will release it.
    let lease = format!("{}:lease", record_key(&server));
    assert!(
        store
            .backend()
            .add(&lease, b"dead-holder".to_vec(), Duration::from_secs(2))
            .await
            .unwrap()
    );
    let client = client_with(process(&store, &server, CLIENT_SECRET));

    let started = Instant::now();
    let response = client
        .get(format!("{}/assets/v3/", server.uri()))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "waited {waited:?} for the dead holder's 2 s lease (memcached counts whole seconds)"
    );
    assert_eq!(token_requests(&server).await, 1);
}

#[tokio::test]
async fn redis_a_dead_holders_lease_expires_and_another_process_fetches() {
    a_lease_held_by_another_process_is_waited_out_then_taken(Store::redis()).await;
}

#[tokio::test]
async fn memcached_a_dead_holders_lease_expires_and_another_process_fetches() {
    a_lease_held_by_another_process_is_waited_out_then_taken(Store::memcached()).await;
}

#[test]
fn bad_store_urls_are_refused_when_the_backend_is_opened_and_shown_redacted() {
    let redis = RedisTokenBackend::open("redis//:hunter2@host").unwrap_err();
    let memcached = MemcachedTokenBackend::open("memcache://u:hunter2@host:1").unwrap_err();
    for err in [redis, memcached] {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("url"), "{shown}");
    }
}
