//! A hostile token endpoint: oversized, endless, cut and hostile-text answers, odd tokens,
//! `Retry-After: 0` forever. Every one ends in a typed, bounded, readable error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use perspio_auth::{AuthConfig, AuthError, AuthMiddleware, Clock, MAX_ACCESS_TOKEN_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::ResponseTemplate;

use crate::helpers::*;

/// A middleware whose token endpoint is `token_url`, one attempt, on the system clock.
fn middleware_for(
    token_url: &str,
    configure: impl FnOnce(AuthConfig) -> AuthConfig,
) -> AuthMiddleware {
    AuthMiddleware::builder(credentials())
        .with_config(configure(
            AuthConfig::default()
                .with_token_url(token_url.parse().unwrap())
                .with_api_base_url("http://127.0.0.1:9".parse().unwrap())
                .with_jitter(false)
                .with_token_max_attempts(1),
        ))
        .build()
        .unwrap()
}

/// A raw TCP token endpoint that answers every request with `head` and then writes `chunk`
/// over and over until the client goes away (or `limit` bytes, then closes). Returns its URL
/// and the number of body bytes it managed to write.
async fn raw_endpoint(
    head: &'static str,
    chunk: impl Into<Vec<u8>>,
    limit: u64,
) -> (String, Arc<AtomicU64>) {
    let chunk: Arc<[u8]> = chunk.into().into();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{TOKEN_PATH}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (counter, chunk) = (Arc::clone(&counter), Arc::clone(&chunk));
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = stream.read(&mut request).await;
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                while counter.load(Ordering::SeqCst) < limit {
                    if stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, written)
}

#[tokio::test]
async fn an_endless_token_answer_is_cut_at_the_limit_with_a_typed_error_naming_it() {
    // Arrange: chunked, no length, never ending.
    let chunk = format!("1000\r\n{}\r\n", " ".repeat(0x1000));
    let (url, written) = raw_endpoint(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        chunk,
        u64::MAX,
    )
    .await;
    let auth = middleware_for(&url, |c| c.with_max_token_response_size(16 * 1024));

    // Act
    let err = tokio::time::timeout(Duration::from_secs(10), auth.token_info())
        .await
        .expect("the read stops at the limit instead of running forever")
        .unwrap_err();

    // Assert
    let AuthError::TokenResponseTooLarge { size } = &err else {
        panic!("{err:?}");
    };
    assert_eq!((size.limit, size.declared), (16 * 1024, None));
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "token endpoint answer too large: the body is longer than the limit of 16 KiB; \
         raise the limit with AuthConfig::with_max_token_response_size"
    );
    // The client stopped reading: what was written is bounded by the socket buffers.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        written.load(Ordering::SeqCst) < 64 * 1024 * 1024,
        "{written:?}"
    );
}

#[tokio::test]
async fn a_token_answer_declaring_a_huge_length_is_refused_before_its_body_is_read() {
    // Arrange: a Content-Length of 1 GiB, of which a little is ever sent.
    let (url, _) = raw_endpoint(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n",
        "{",
        1,
    )
    .await;
    let auth = middleware_for(&url, |c| c);

    // Act
    let err = auth.token_info().await.unwrap_err();

    // Assert
    assert!(
        matches!(
            &err,
            AuthError::TokenResponseTooLarge { size } if size.declared == Some(1 << 30) && size.limit == 64 * 1024
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("1 GiB"), "{err}");
}

#[tokio::test]
async fn a_cut_token_answer_is_a_transport_failure_and_is_retried() {
    // Arrange: promises 100 bytes, sends 10, closes; every time.
    let (url, _) = raw_endpoint(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n",
        "{\"access_t",
        10,
    )
    .await;
    let auth = middleware_for(&url, |c| {
        c.with_token_max_attempts(2)
            .with_token_retry_base(Duration::from_millis(1))
    });

    // Act
    let err = auth.token_info().await.unwrap_err();

    // Assert
    assert!(
        matches!(err, AuthError::TokenEndpointUnreachable { attempts: 2, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn tokens_outside_the_rfc_6750_character_set_or_too_long_are_refused_at_acquisition() {
    let long = "a".repeat(MAX_ACCESS_TOKEN_LEN + 1);
    for token in [
        "tökén-with-non-ascii",
        "two words",
        "tab\there",
        "line\nbreak",
        "quote\"d",
        "=leading-padding",
        "",
        long.as_str(),
    ] {
        // Arrange
        let f = Fixture::start().await;
        token_endpoint()
            .respond_with(token_response(token, 3599))
            .expect(1)
            .named("token endpoint issuing an odd token")
            .mount(&f.server)
            .await;

        // Act
        let err = f.auth.token_info().await.unwrap_err();

        // Assert: refused once, typed, never quoting the token.
        assert!(
            matches!(err, AuthError::MalformedTokenResponse { .. }),
            "{token:?}: {err:?}"
        );
        let shown = err.to_string();
        assert!(shown.len() < 200, "{shown}");
        if token.len() > 3 {
            assert!(!shown.contains(token), "{shown}");
        }
    }
    // JWTs and padded tokens are fine.
    for token in ["eyJ0eXAi.eyJhdWQi.c2lnbmF0dXJl", "YWJj+/_~-.==", "x"] {
        let f = Fixture::start().await;
        token_endpoint()
            .respond_with(token_response(token, 3599))
            .mount(&f.server)
            .await;
        let info = f.auth.token_info().await.unwrap();
        assert_eq!(info.access_token().expose_secret(), token);
    }
}

#[tokio::test]
async fn entra_text_is_neutralised_and_bounded_in_the_error_and_its_fields() {
    // Arrange: terminal escapes and a long description, trace id and error.
    let f = Fixture::start().await;
    let hostile = "AADSTS7000215: \u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m bad secret";
    token_endpoint()
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": format!("invalid_client\u{1b}[31m{}", "e".repeat(10_000)),
            "error_description": format!("{hostile}{}", "x".repeat(40_000)),
            "error_codes": [7000215],
            "trace_id": format!("trace\u{7}{}", "t".repeat(10_000)),
            "correlation_id": "corr\r\nInjected: header",
        })))
        .expect(1)
        .named("token endpoint with hostile text")
        .mount(&f.server)
        .await;

    // Act
    let err = f.auth.token_info().await.unwrap_err();

    // Assert
    let shown = err.to_string();
    let fields = [
        err.trace_id().unwrap().to_owned(),
        err.correlation_id().unwrap().to_owned(),
    ];
    for text in fields.iter().chain([&shown]) {
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
    assert!(shown.contains("AADSTS7000215: \\e]0;pwned\\a"), "{shown}");
    assert!(
        shown.chars().count() < 1_000,
        "{} chars",
        shown.chars().count()
    );
    assert!(fields[0].chars().count() < 400, "{}", fields[0]);
}

#[tokio::test]
async fn a_retry_after_of_zero_on_every_answer_still_backs_off_from_the_second_retry() {
    // Arrange
    let f = Fixture::start_with(|c| {
        c.with_token_retry_base(Duration::from_millis(100))
            .with_token_retry_max(Duration::from_secs(1))
    })
    .await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .expect(3)
        .named("token endpoint throttling with no wait")
        .mount(&f.server)
        .await;
    let start = f.clock.now();

    // Act
    let err = f.auth.token_info().await.unwrap_err();

    // Assert: 0, then the backoff of the first retry.
    assert!(
        matches!(err, AuthError::TokenEndpointThrottled { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(!err.is_rejection());
    let waited = f.clock.now().duration_since(start).unwrap();
    assert_eq!(waited, Duration::from_millis(100));
}
