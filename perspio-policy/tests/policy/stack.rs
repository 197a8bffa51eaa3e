//! The stack order: retry outside, then auth, then the rate limiter.

use std::sync::atomic::{AtomicUsize, Ordering};

use perspio_policy::{
    Limit, ManualClock, RateLimit, RateLimitMiddleware, RetryMiddleware, policy_stack,
};
use reqwest_middleware::{ClientBuilder, Middleware, Next};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{deterministic_retry, secs};

/// Stands in for the auth middleware: every time it runs it reads the "token cache", which
/// hands out a new token each time (`token-1`, `token-2`, …).
#[derive(Debug, Default)]
struct TokenCountingAuth {
    reads: AtomicUsize,
}

#[async_trait::async_trait]
impl Middleware for TokenCountingAuth {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
        req.headers_mut().insert(
            http::header::AUTHORIZATION,
            format!("Bearer token-{n}").parse().unwrap(),
        );
        next.run(req, extensions).await
    }
}

#[tokio::test]
async fn every_attempt_runs_the_auth_middleware_again_and_takes_a_rate_limit_slot() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("Authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .named("first attempt, first token read")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("Authorization", "Bearer token-2"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .named("retry re-reads the token cache")
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let limiter = RateLimitMiddleware::new(
        RateLimit::new([Limit::new(1, secs(10)).unwrap()])
            .with_max_wait(secs(60))
            .with_guard(std::time::Duration::ZERO),
    )
    .with_clock(clock.clone());
    perspio_core::tls::install_crypto_provider();
    let client = policy_stack(
        ClientBuilder::new(reqwest::Client::new()),
        RetryMiddleware::new(deterministic_retry()).with_clock(clock.clone()),
        TokenCountingAuth::default(),
        Some(limiter),
    )
    .build();

    // Act
    let response = client.get(server.uri()).send().await.unwrap();

    // Assert: backoff 1 s, then the limiter (1 per 10 s) held the retry 9 s more
    assert_eq!(response.status(), 200);
    assert_eq!(clock.sleeps(), vec![secs(1), secs(9)]);
}
