//! One [`ManualClock`] for the whole stack: token lifetimes, retry backoff, `Retry-After` and
//! the rate limiter all read and wait on the clock given to `ClientBuilder::with_clock`.

use std::sync::Mutex;
use std::time::Duration;

use perspio_api::Client;
use perspio_auth::ManualClock;
use perspio_policy::{Jitter, Limit, RateLimit, RetryConfig};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::helpers::{Perspio, TokenSequence, bearer, fixture};

/// Answers `GET /assets/v3/` with the scripted statuses in order (then 200), and records the
/// bearer token of every request.
struct Script {
    statuses: Mutex<Vec<ResponseTemplate>>,
    tokens: std::sync::Arc<Mutex<Vec<String>>>,
}

impl Respond for Script {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.tokens
            .lock()
            .unwrap()
            .push(bearer(request).unwrap_or_default());
        let mut statuses = self.statuses.lock().unwrap();
        if statuses.is_empty() {
            ResponseTemplate::new(200).set_body_json(fixture("assets.json"))
        } else {
            statuses.remove(0)
        }
    }
}

#[tokio::test]
async fn one_manual_clock_drives_token_lifetime_retry_backoff_retry_after_and_the_rate_limiter() {
    let perspio = Perspio::start().await;
    let tokens = perspio.token_endpoint_issues_sequence(2).await;
    let ok = || ResponseTemplate::new(200).set_body_json(fixture("assets.json"));
    let sent = std::sync::Arc::default();
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(Script {
            statuses: Mutex::new(vec![
                ok(),
                ResponseTemplate::new(429).insert_header("Retry-After", "30"),
                ok(),
                ResponseTemplate::new(503),
            ]),
            tokens: std::sync::Arc::clone(&sent),
        })
        .expect(5)
        .mount(&perspio.api)
        .await;
    let clock = ManualClock::new();
    let client = Client::builder(Perspio::credentials())
        .with_auth_config(perspio.auth_config())
        .with_base_url(perspio.api.uri())
        .with_clock(clock.clone())
        .with_retry(
            RetryConfig::default()
                .with_jitter(Jitter::None)
                .with_base_delay(Duration::from_secs(1)),
        )
        .with_rate_limit(
            RateLimit::new([Limit::new(2, Duration::from_secs(90)).unwrap()])
                .with_guard(Duration::ZERO),
        )
        .build()
        .unwrap();

    // t = 0: the first token (an hour, `expires_in` 3599) and the first rate-limit slot.
    client.list_assets().call().await.unwrap();
    // 429 `Retry-After: 30` on the limiter's second slot: the retry waits 30 s, then the
    // limiter (2 per 90 s, both slots taken at t = 0) waits the remaining 60 s.
    client.list_assets().call().await.unwrap();
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(30), Duration::from_secs(60)]
    );
    // Past `expires_at − 60 s` of the first token (t = 59 min 15 s): it is no longer sent.
    clock.advance(Duration::from_secs(57 * 60 + 45));
    // A 503 is retried after the 1 s backoff (no jitter), with the second token.
    client.list_assets().call().await.unwrap();

    assert_eq!(
        clock.sleeps(),
        [
            Duration::from_secs(30),
            Duration::from_secs(60),
            Duration::from_secs(1)
        ]
    );
    assert_eq!(tokens.issued(), 2);
    let (first, second) = (TokenSequence::token(1), TokenSequence::token(2));
    assert_eq!(
        *sent.lock().unwrap(),
        [first.clone(), first.clone(), first, second.clone(), second]
    );
}

#[tokio::test]
async fn auths_401_retry_takes_its_own_rate_limit_slot() {
    let perspio = Perspio::start().await;
    let tokens = perspio.token_endpoint_issues_sequence(2).await;
    let sent = std::sync::Arc::default();
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(Script {
            statuses: Mutex::new(vec![ResponseTemplate::new(401)]),
            tokens: std::sync::Arc::clone(&sent),
        })
        .expect(2)
        .mount(&perspio.api)
        .await;
    let clock = ManualClock::new();
    let client = Client::builder(Perspio::credentials())
        .with_auth_config(perspio.auth_config())
        .with_base_url(perspio.api.uri())
        .with_clock(clock.clone())
        .with_rate_limit(
            RateLimit::new([Limit::new(1, Duration::from_secs(10)).unwrap()])
                .with_guard(Duration::ZERO),
        )
        .build()
        .unwrap();

    client.list_assets().call().await.unwrap();

    // The 401 retry is a second request the gateway counts: it waited for the next slot.
    assert_eq!(clock.sleeps(), [Duration::from_secs(10)]);
    assert_eq!(tokens.issued(), 2);
    assert_eq!(
        *sent.lock().unwrap(),
        [TokenSequence::token(1), TokenSequence::token(2)]
    );
}
