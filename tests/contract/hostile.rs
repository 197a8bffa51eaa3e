//! A hostile PerspioTalk: huge, endless, trickled and silent answers (a raw TCP fake), server
//! text with terminal escapes, odd `Retry-After` values, secrets in a configured URL. Every
//! one ends in bounded memory and time with a typed, readable error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use perspio_api::Error;
use perspio_policy::PolicyError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{
    Perspio, RefusesTokens, TOKEN_PATH, TokenSequence, fixture, fixture_access_token,
};

type Script = Arc<
    dyn Fn(TcpStream, Arc<AtomicU64>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync,
>;

/// A raw TCP PerspioTalk: every connection's request is read, then `script` answers (or does
/// not). Returns the base URL and a counter the script adds the body bytes it wrote to.
async fn raw_api(script: Script) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (script, counter) = (Arc::clone(&script), Arc::clone(&counter));
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = stream.read(&mut request).await;
                script(stream, counter).await;
            });
        }
    });
    (url, written)
}

/// Writes `head`, then `chunk` every `pause` until the client goes away.
fn endless(head: &'static str, chunk: Vec<u8>, pause: Duration) -> Script {
    let chunk: Arc<[u8]> = chunk.into();
    Arc::new(move |mut stream, written| {
        let chunk = Arc::clone(&chunk);
        Box::pin(async move {
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            while stream.write_all(&chunk).await.is_ok() {
                written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        })
    })
}

/// The generated client with the default stack against `base_url`, tokens from `perspio`.
fn client_for(
    perspio: &Perspio,
    base_url: &str,
    configure: impl FnOnce(perspio_api::ClientBuilder) -> perspio_api::ClientBuilder,
) -> perspio_api::Client {
    let auth = perspio_auth::AuthMiddleware::builder(Perspio::credentials())
        .with_config(
            perspio
                .auth_config()
                .with_api_base_url(base_url.parse().unwrap()),
        )
        .build()
        .unwrap();
    configure(
        perspio_api::Client::builder_with_auth(auth)
            .with_base_url(base_url)
            .with_retry(Perspio::fast_retry()),
    )
    .build()
    .unwrap()
}

#[tokio::test]
async fn a_body_declared_larger_than_the_limit_is_refused_before_it_is_read_and_not_retried() {
    // Arrange: `Content-Length: 1 GiB`, body never sent.
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    let (url, _) = raw_api(endless(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n[",
        Vec::new(),
        Duration::from_secs(3600),
    ))
    .await;
    let client = client_for(&perspio, &url, |b| b);

    // Act
    let error = client.list_assets().call().await.unwrap_err();

    // Assert
    let Error::BodyTooLarge { operation, size } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*operation, "list_assets");
    assert_eq!(size.limit, perspio_api::DEFAULT_MAX_BODY_SIZE);
    assert_eq!(size.declared, Some(1 << 30));
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "list_assets: the response is too large: the body is 1 GiB long, more than the limit \
         of 64 MiB; raise the limit with ClientBuilder::with_max_body_size"
    );
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_configured_limit_in_bounded_time() {
    // Arrange: chunked JSON that never ends.
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    let chunk = format!("1000\r\n{}\r\n", " ".repeat(0x1000)).into_bytes();
    let (url, written) = raw_api(endless(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        chunk,
        Duration::ZERO,
    ))
    .await;
    let client = client_for(&perspio, &url, |b| b.with_max_body_size(1024 * 1024));

    // Act
    let error = tokio::time::timeout(Duration::from_secs(20), client.list_assets().call())
        .await
        .expect("stops at the limit")
        .unwrap_err();

    // Assert
    assert!(
        matches!(&error, Error::BodyTooLarge { size, .. } if size.limit == 1024 * 1024 && size.declared.is_none()),
        "{error:?}"
    );
    assert!(
        written.load(Ordering::SeqCst) < 32 * 1024 * 1024,
        "the client stopped reading: {written:?}"
    );
}

#[tokio::test]
async fn a_hand_built_stack_without_the_body_limit_still_reads_with_the_default_one() {
    // Arrange: a stack of auth alone.
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    let (url, _) = raw_api(endless(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 1073741824\r\n\r\n",
        Vec::new(),
        Duration::from_secs(3600),
    ))
    .await;
    let auth = perspio_auth::AuthMiddleware::builder(Perspio::credentials())
        .with_config(
            perspio
                .auth_config()
                .with_api_base_url(url.parse().unwrap()),
        )
        .build()
        .unwrap();
    perspio_core::tls::install_crypto_provider();
    let stack = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth)
        .build();
    let client = perspio_api::Client::from_middleware(&url, stack).unwrap();

    // Act
    let error = client.list_assets().call().await.unwrap_err();

    // Assert: an error answer's body is bounded too.
    assert!(
        matches!(&error, Error::BodyTooLarge { size, .. } if size.limit == perspio_api::DEFAULT_MAX_BODY_SIZE),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_ends_naming_the_attempts_and_the_time_waited() {
    // Arrange: the connection is accepted, the request read, nothing ever sent.
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    let silent: Script = Arc::new(|stream, _| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(stream);
        })
    });
    let (url, _) = raw_api(silent).await;
    let client = client_for(&perspio, &url, |b| {
        b.with_read_timeout(Duration::from_millis(200))
            .with_retry(Perspio::fast_retry().with_max_attempts(3))
    });
    let started = Instant::now();

    // Act
    let error = client.list_assets().call().await.unwrap_err();

    // Assert
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    match error.policy_error() {
        Some(PolicyError::AttemptsExhausted {
            attempts, elapsed, ..
        }) => {
            assert_eq!(*attempts, 3);
            assert!(*elapsed >= Duration::from_millis(600), "{elapsed:?}");
        }
        other => panic!("{other:?}: {error:?}"),
    }
    let shown = perspio_api::cause_chain(&error);
    assert!(
        shown.starts_with("list_assets: the request policy gave up: 3 attempt(s) failed in "),
        "{shown}"
    );
    assert!(shown.contains("timed out"), "{shown}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_trickled_body_is_bounded_by_the_attempt_timeout_and_retried() {
    // Arrange: a byte every 50 ms, forever.
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    let (url, _) = raw_api(endless(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
        b" ".to_vec(),
        Duration::from_millis(50),
    ))
    .await;
    let client = client_for(&perspio, &url, |b| {
        b.with_timeout(Duration::from_millis(300))
            .with_retry(Perspio::fast_retry().with_max_attempts(2))
    });
    let started = Instant::now();

    // Act
    let error = client.list_assets().call().await.unwrap_err();

    // Assert: both attempts timed out inside the stack, which counted them.
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(
            error.policy_error(),
            Some(PolicyError::AttemptsExhausted { attempts: 2, .. })
        ),
        "{error:?}"
    );
}

/// `list_assets` through the default stack with a 300 ms call deadline: it must end by that
/// deadline during its first attempt (not before a wait), well before the token deadline of 3 s.
async fn list_assets_cut_by_a_300_ms_deadline(perspio: &Perspio) {
    let client = client_for(perspio, &perspio.api.uri(), |b| {
        b.with_retry(Perspio::fast_retry().with_deadline(Duration::from_millis(300)))
    });
    let started = Instant::now();
    let error = client.list_assets().call().await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(
        matches!(
            error.policy_error(),
            Some(PolicyError::DeadlineExceeded {
                attempts: 1,
                next_wait: None,
                ..
            })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_call_deadline_covers_waiting_for_a_token() {
    // Arrange: Entra answers after 5 s (each token attempt gives up at 500 ms, the token
    // deadline is 3 s); the call may take 300 ms.
    let perspio = Perspio::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(TokenSequence::slow(Duration::from_secs(5)))
        .mount(&perspio.entra)
        .await;
    // Act and assert: the call's deadline, not the token's, and nothing sent to the API.
    list_assets_cut_by_a_300_ms_deadline(&perspio).await;
    assert!(perspio.api_requests().await.is_empty());
}

#[tokio::test]
async fn the_call_deadline_covers_the_token_refresh_after_a_401() {
    // Arrange: the first token at once, refused with a 401; the refresh answers after 5 s; the
    // call may take 300 ms.
    let perspio = Perspio::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("entra_token.json")))
        .up_to_n_times(1)
        .mount(&perspio.entra)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(TokenSequence::slow(Duration::from_secs(5)))
        .mount(&perspio.entra)
        .await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(RefusesTokens {
            refused: vec![fixture_access_token()],
            body: fixture("assets.json"),
        })
        .mount(&perspio.api)
        .await;
    // Act and assert: the deadline cut the refresh short; the 401 was the only request.
    list_assets_cut_by_a_300_ms_deadline(&perspio).await;
    assert_eq!(perspio.api_requests().await.len(), 1);
}

#[tokio::test]
async fn server_text_in_an_error_answer_is_neutralised_and_bounded() {
    // Arrange
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    let hostile = format!(
        "denied\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}{}",
        "x".repeat(1_000_000)
    );
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(serde_json::json!({ "message": hostile })),
        )
        .expect(1)
        .named("api answering with hostile text")
        .mount(&perspio.api)
        .await;

    // Act
    let error = perspio.client().list_assets().call().await.unwrap_err();

    // Assert: the data stays as sent; the message is safe to print.
    let response = error.api_response().unwrap();
    assert_eq!(response.body["message"], hostile.as_str());
    let message = response.message().unwrap();
    assert!(
        message.starts_with("denied\\e]0;pwned\\a\\e[2J\\u{9b}31m\\u{202e}"),
        "{message}"
    );
    assert!(!message.chars().any(char::is_control));
    assert!(
        message.chars().count() <= perspio_core_bound(),
        "{}",
        message.len()
    );
}

/// The one bound of a remote string in a message, plus its "… (N more characters)" tail.
fn perspio_core_bound() -> usize {
    300 + 40
}

#[tokio::test]
async fn a_retry_after_the_retry_layer_cannot_use_is_no_advised_wait_in_the_error_either() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "+5"))
        .named("api throttling with a signed wait the retry layer cannot use")
        .mount(&perspio.api)
        .await;
    let client = perspio_api::Client::builder_with_auth(perspio.auth())
        .with_base_url(perspio.api.uri())
        .with_retry(Perspio::fast_retry().with_max_attempts(1))
        .build()
        .unwrap();

    let error = client.list_assets().call().await.unwrap_err();

    assert_eq!(error.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(error.retry_after(), None);
}

#[tokio::test]
async fn a_secret_in_a_configured_base_url_is_never_shown() {
    for base_url in [
        "https://talk.perspio.io/?subscription-key=K3Y-IN-QUERY",
        "https://user:PA55WORD@talk.perspio.io",
    ] {
        let error = perspio_api::ClientBuilder::from_env_with(|name| match name {
            "PERSPIO_BASE_URL" => Some(base_url.to_owned()),
            "PERSPIO_TOKEN_URL"
            | "PERSPIO_SCOPE"
            | "PERSPIO_REDIS_URL"
            | "PERSPIO_MEMCACHED_URL"
            | "PERSPIO_FLEET_SIZE"
            // Profiles (perspio-config): no configuration directory, no profile.
            | "PERSPIO_CONFIG_DIR"
            | "PERSPIO_PROFILE"
            | "PERSPIO_SECRET_STORE"
            | "PERSPIO_FLOW"
            | "PERSPIO_OUTPUT"
            | "PERSPIO_RATE_LIMIT" => None,
            _ => Some("in-value".to_owned()),
        })
        .unwrap()
        .build()
        .unwrap_err();

        let shown = format!("{} {error:?}", perspio_api::cause_chain(&error));
        assert!(matches!(error, Error::InvalidBaseUrl { .. }), "{shown}");
        assert!(
            !shown.contains("K3Y-IN-QUERY") && !shown.contains("PA55WORD"),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn the_call_deadline_covers_reading_the_body() {
    // Arrange: headers at once, then a byte every 50 ms; attempts may take 10 s, the call 500 ms.
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    let (url, _) = raw_api(endless(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
        b" ".to_vec(),
        Duration::from_millis(50),
    ))
    .await;
    let client = client_for(&perspio, &url, |b| {
        b.with_timeout(Duration::from_secs(10))
            .with_retry(Perspio::fast_retry().with_deadline(Duration::from_millis(500)))
    });
    let started = Instant::now();

    // Act
    let error = client.list_assets().call().await.unwrap_err();

    // Assert: the deadline the docs promise, not the attempt timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            error.policy_error(),
            Some(PolicyError::DeadlineExceeded { attempts: 1, .. })
        ),
        "{error:?}"
    );
}

/// `Retry-After` values whose wait is past what an `Instant` holds, or far beyond any window:
/// `Instant::now() + Duration::from_secs(u64::MAX)` panics, the rate limiter pauses its
/// budget for the advised wait, and more seconds than a `u64` holds are still a wait.
const ENDLESS_WAITS: [&str; 4] = [
    "18446744073709551615",
    "9223372036854775807",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "99999999999999999999999",
];

/// A PerspioTalk whose `/assets/v3/` answers `status` with `Retry-After: advised` exactly
/// once and the assets after that, and a client of it with `retry`, and with the documented
/// rate limits when `limited`.
async fn advising_once(
    status: u16,
    advised: &str,
    retry: perspio_policy::RetryConfig,
    limited: bool,
) -> (Perspio, perspio_api::Client) {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(status).insert_header("Retry-After", advised))
        .up_to_n_times(1)
        .expect(1)
        .named("one answer advising a wait longer than an Instant holds")
        .mount(&perspio.api)
        .await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("assets.json")))
        .named("then the assets")
        .mount(&perspio.api)
        .await;
    let builder = perspio_api::Client::builder_with_auth(perspio.auth())
        .with_base_url(perspio.api.uri())
        .with_retry(retry);
    let builder = if limited {
        builder.with_rate_limit(perspio_policy::RateLimit::perspio_documented())
    } else {
        builder.without_rate_limit()
    };
    (perspio, builder.build().unwrap())
}

#[tokio::test]
async fn a_retry_after_of_any_length_pauses_the_rate_limiter_an_hour_at_most_and_never_panics() {
    for advised in ENDLESS_WAITS {
        let (_perspio, client) = advising_once(429, advised, Perspio::fast_retry(), true).await;

        let throttled = client.list_assets().call().await.unwrap_err();
        let next = client.list_assets().call().await.unwrap_err();

        assert_eq!(
            throttled.status(),
            Some(http::StatusCode::TOO_MANY_REQUESTS),
            "{advised}: {throttled:?}"
        );
        // The pause holds the next call back without sending it, for an hour at most.
        match next.policy_error() {
            Some(PolicyError::RateLimitWaitExceeded { wait, .. }) => assert!(
                *wait <= perspio_policy::RateLimit::MAX_PAUSE && *wait > Duration::from_secs(3000),
                "{advised}: {wait:?}"
            ),
            other => panic!("{advised}: {other:?} ({next:?})"),
        }
    }
}

#[tokio::test]
async fn a_deadline_set_to_the_longest_duration_is_a_setting_not_a_panic() {
    let retry = Perspio::fast_retry()
        .with_deadline(Duration::MAX)
        .with_max_retry_after(Duration::from_millis(1));
    let (_perspio, client) = advising_once(503, ENDLESS_WAITS[0], retry, true).await;

    // The advice is past the retry cap: the 503 is the answer, and the call after it goes.
    let first = client.list_assets().call().await.unwrap_err();
    let second = client.list_assets().call().await;

    assert_eq!(
        first.status(),
        Some(http::StatusCode::SERVICE_UNAVAILABLE),
        "{first:?}"
    );
    assert!(second.is_ok(), "{second:?}");
}

#[tokio::test]
async fn an_endless_advice_under_an_uncapped_retry_wait_ends_at_the_call_deadline() {
    let retry = Perspio::fast_retry().with_max_retry_after(Duration::MAX);
    let (_perspio, client) = advising_once(429, ENDLESS_WAITS[0], retry, false).await;

    let error = client.list_assets().call().await.unwrap_err();

    match error.policy_error() {
        Some(PolicyError::DeadlineExceeded { attempts, .. }) => assert_eq!(*attempts, 1),
        other => panic!("{other:?} ({error:?})"),
    }
}
