//! Every duration setting of the SDK at its extremes, `Duration::ZERO` and `Duration::MAX`, one
//! at a time: a setting, never a panic or a call that hangs. Each case makes two calls through
//! the default stack (the first answered `401` once, so the token is refreshed and the call
//! replayed), with the token cache and the rate limit in the process, then shared through
//! Redis, then through Memcached (the store's lease and TTLs, the shared budget).

use std::future::Future;
use std::time::Duration;

use perspio_api::ClientBuilder;
use perspio_auth::AuthConfig;
use perspio_policy::{RateLimit, RetryConfig};
use perspio_store::testing::{MemcachedServer, RedisServer};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Perspio, TOKEN_PATH, fixture};

type Setting<T> = (&'static str, fn(T, Duration) -> T);

const AUTH: [Setting<AuthConfig>; 15] = [
    (
        "AuthConfig::with_max_token_ttl",
        AuthConfig::with_max_token_ttl,
    ),
    (
        "AuthConfig::with_refresh_margin",
        AuthConfig::with_refresh_margin,
    ),
    (
        "AuthConfig::with_refresh_jitter",
        AuthConfig::with_refresh_jitter,
    ),
    (
        "AuthConfig::with_expiry_margin",
        AuthConfig::with_expiry_margin,
    ),
    (
        "AuthConfig::with_fallback_ttl",
        AuthConfig::with_fallback_ttl,
    ),
    (
        "AuthConfig::with_failure_backoff",
        AuthConfig::with_failure_backoff,
    ),
    (
        "AuthConfig::with_max_failure_backoff",
        AuthConfig::with_max_failure_backoff,
    ),
    (
        "AuthConfig::with_forced_refresh_interval",
        AuthConfig::with_forced_refresh_interval,
    ),
    ("AuthConfig::with_lease_ttl", AuthConfig::with_lease_ttl),
    (
        "AuthConfig::with_token_connect_timeout",
        AuthConfig::with_token_connect_timeout,
    ),
    (
        "AuthConfig::with_token_attempt_timeout",
        AuthConfig::with_token_attempt_timeout,
    ),
    (
        "AuthConfig::with_token_deadline",
        AuthConfig::with_token_deadline,
    ),
    (
        "AuthConfig::with_token_retry_base",
        AuthConfig::with_token_retry_base,
    ),
    (
        "AuthConfig::with_token_retry_max",
        AuthConfig::with_token_retry_max,
    ),
    (
        "AuthConfig::with_retry_after_cap",
        AuthConfig::with_retry_after_cap,
    ),
];

const CLIENT: [Setting<ClientBuilder>; 3] = [
    ("ClientBuilder::with_timeout", ClientBuilder::with_timeout),
    (
        "ClientBuilder::with_connect_timeout",
        ClientBuilder::with_connect_timeout,
    ),
    (
        "ClientBuilder::with_read_timeout",
        ClientBuilder::with_read_timeout,
    ),
];

const RETRY: [Setting<RetryConfig>; 4] = [
    ("RetryConfig::with_base_delay", RetryConfig::with_base_delay),
    ("RetryConfig::with_max_delay", RetryConfig::with_max_delay),
    (
        "RetryConfig::with_max_retry_after",
        RetryConfig::with_max_retry_after,
    ),
    ("RetryConfig::with_deadline", RetryConfig::with_deadline),
];

const RATE: [Setting<RateLimit>; 2] = [
    ("RateLimit::with_guard", RateLimit::with_guard),
    ("RateLimit::with_max_wait", RateLimit::with_max_wait),
];

/// What one case sets: each of the four families' defaults, one of them changed.
struct Case {
    name: String,
    /// The builder method, e.g. `ClientBuilder::with_timeout`.
    setting: &'static str,
    /// Whether it is set to `Duration::ZERO` (else `Duration::MAX`).
    zero: bool,
    auth: Box<dyn Fn(AuthConfig) -> AuthConfig + Send + Sync>,
    client: Box<dyn Fn(ClientBuilder) -> ClientBuilder + Send + Sync>,
    retry: Box<dyn Fn(RetryConfig) -> RetryConfig + Send + Sync>,
    rate: Box<dyn Fn(RateLimit) -> RateLimit + Send + Sync>,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for value in [Duration::ZERO, Duration::MAX] {
        let shown = if value.is_zero() { "ZERO" } else { "MAX" };
        let case = |name: &'static str| Case {
            name: format!("{name}(Duration::{shown})"),
            setting: name,
            zero: value.is_zero(),
            auth: Box::new(|c| c),
            client: Box::new(|c| c),
            retry: Box::new(|c| c),
            rate: Box::new(|c| c),
        };
        for (name, set) in AUTH {
            cases.push(Case {
                auth: Box::new(move |c| set(c, value)),
                ..case(name)
            });
        }
        for (name, set) in CLIENT {
            cases.push(Case {
                client: Box::new(move |c| set(c, value)),
                ..case(name)
            });
        }
        for (name, set) in RETRY {
            cases.push(Case {
                retry: Box::new(move |c| set(c, value)),
                ..case(name)
            });
        }
        for (name, set) in RATE {
            cases.push(Case {
                rate: Box::new(move |c| set(c, value)),
                ..case(name)
            });
        }
    }
    cases
}

/// Fakes for one case: tokens on every request, `/assets/v3/` answering `401` once, then
/// the assets.
async fn fakes() -> Perspio {
    let perspio = Perspio::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("entra_token.json")))
        .mount(&perspio.entra)
        .await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .mount(&perspio.api)
        .await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("assets.json")))
        .mount(&perspio.api)
        .await;
    perspio
}

/// Where the token cache and the rate limit are kept.
#[derive(Debug, Clone)]
enum Kept {
    InProcess,
    Redis(String),
    Memcached(String),
}

/// The builder of `case`: the test's own settings first, then the case's change over them.
fn builder(case: &Case, token_url: &str, base_url: &str, kept: Kept) -> ClientBuilder {
    let auth = (case.auth)(
        AuthConfig::default()
            .with_token_url(token_url.parse().unwrap())
            .with_api_base_url(base_url.parse().unwrap()),
    );
    let retry = (case.retry)(RetryConfig::default());
    let rate = (case.rate)(RateLimit::perspio_documented());
    let builder = ClientBuilder::new(Perspio::credentials())
        .with_auth_config(auth)
        .with_base_url(base_url)
        .with_retry(retry)
        .with_rate_limit(rate);
    let builder = match kept {
        Kept::InProcess => builder,
        Kept::Redis(url) => builder.with_redis(url),
        Kept::Memcached(url) => builder.with_memcached(url),
    };
    (case.client)(builder)
}

/// Two calls of `case` against fresh fakes; the outcomes, as text.
async fn run(case: &Case, kept: Kept) -> Result<Vec<String>, String> {
    let perspio = fakes().await;
    let client = builder(case, &perspio.token_url(), &perspio.api.uri(), kept)
        .build()
        .map_err(|e| format!("build: {e}"))?;
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        outcomes.push(match client.list_assets().call().await {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("error: {e}"),
        });
    }
    Ok(outcomes)
}

/// `future` on a task of its own, so that a panic is reported as the case's failure; bounded
/// in time, so that a hang is too.
async fn contained<T: Send + 'static>(
    future: impl Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_secs(20), tokio::spawn(future)).await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(join)) if join.is_panic() => Err("panicked".to_owned()),
        Ok(Err(join)) => Err(format!("{join}")),
        Err(_) => Err("did not end in 20 s".to_owned()),
    }
}

/// Empties a store on loopback between cases (an inline command both servers read), so
/// that every case fetches its own token and takes its own lease.
fn flush(port: u16, command: &[u8]) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(command).unwrap();
    let mut answer = [0u8; 64];
    let read = stream.read(&mut answer).unwrap();
    assert!(answer[..read].starts_with(b"+OK") || answer[..read].starts_with(b"OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_duration_setting_at_zero_or_max_is_a_setting_not_a_panic_or_a_hang() {
    let redis = RedisServer::start().unwrap();
    let memcached = MemcachedServer::start().unwrap();
    let mut failures = Vec::new();
    let mut ended = 0;
    for case in cases() {
        let case = std::sync::Arc::new(case);
        for kept in [
            Kept::InProcess,
            Kept::Redis(redis.url()),
            Kept::Memcached(memcached.url()),
        ] {
            match kept {
                Kept::InProcess => {}
                Kept::Redis(_) => flush(redis.port(), b"FLUSHALL\r\n"),
                Kept::Memcached(_) => flush(memcached.port(), b"flush_all\r\n"),
            }
            let one = std::sync::Arc::clone(&case);
            let shown = format!("{} ({kept:?})", case.name);
            match contained(async move { run(&one, kept).await }).await {
                Ok(outcome) => {
                    ended += 1;
                    eprintln!("{shown}: {outcome:?}");
                }
                Err(failure) => failures.push(format!("{shown}: {failure}")),
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        ended,
        2 * 3 * (AUTH.len() + CLIENT.len() + RETRY.len() + RATE.len())
    );
}

/// The settings at zero that no call could succeed with: refused when the client is built.
const REFUSED_AT_ZERO: [&str; 7] = [
    "AuthConfig::with_token_connect_timeout",
    "AuthConfig::with_token_attempt_timeout",
    "AuthConfig::with_token_deadline",
    "ClientBuilder::with_timeout",
    "ClientBuilder::with_connect_timeout",
    "ClientBuilder::with_read_timeout",
    "RetryConfig::with_deadline",
];

/// A zero timeout or deadline is refused by `build()` with a typed error naming the setting
/// (the auth settings through `AuthError::InvalidConfig`, naming the field); every other
/// setting at zero, and every setting at `Duration::MAX`, builds.
#[tokio::test]
async fn zero_timeouts_and_deadlines_are_refused_when_the_client_is_built() {
    let mut wrong = Vec::new();
    for case in cases() {
        let built = builder(
            &case,
            "https://login.microsoftonline.com/in-tenant/oauth2/v2.0/token",
            "https://talk.perspio.io",
            Kept::InProcess,
        )
        .build();
        let refused = case.zero && REFUSED_AT_ZERO.contains(&case.setting);
        match built {
            Ok(_) if !refused => {}
            Err(perspio_api::Error::InvalidSetting { setting, reason })
                if refused && setting == case.setting =>
            {
                assert!(reason.contains("above zero"), "{reason}");
            }
            Err(perspio_api::Error::AuthConfig(perspio_auth::AuthError::InvalidConfig {
                field,
                reason,
            })) if refused && case.setting == format!("AuthConfig::with_{field}") => {
                assert!(reason.contains("above zero"), "{reason}");
            }
            other => wrong.push(format!("{}: {other:?}", case.name)),
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
