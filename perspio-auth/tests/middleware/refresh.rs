//! Lifetime end to end, driven by the ManualClock: reuse, refresh ahead, expiry, failures.

use std::sync::Arc;
use std::time::Duration;

use perspio_auth::{AccessToken, AuthMiddleware, ManualClock, StaticTokenSource};
use wiremock::matchers::{header as header_is, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const MIN: Duration = Duration::from_secs(60);

async fn mount_api_ok(f: &Fixture) {
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&f.server)
        .await;
}

async fn send(f: &Fixture) -> String {
    f.client.get(f.url("/x")).send().await.unwrap();
    let sent = f.api_requests().await;
    header(sent.last().unwrap(), "authorization").unwrap()
}

#[tokio::test]
async fn a_token_is_reused_until_refresh_at_then_refreshed_in_the_background_while_still_sent() {
    // Arrange: one-hour tokens; refresh_at is 48 min (80 %), must_refresh_at 59 min.
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3600))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_B, 3600))
        .with_priority(2)
        .expect(1)
        .named("refreshed token")
        .mount(&f.server)
        .await;
    mount_api_ok(&f).await;

    // Act + Assert
    assert_eq!(send(&f).await, bearer(TOKEN_A));
    f.clock.advance(47 * MIN);
    assert_eq!(send(&f).await, bearer(TOKEN_A));
    assert_eq!(f.token_requests().await, 1, "fresh: no refresh");

    f.clock.advance(2 * MIN); // 49 min: refresh ahead
    assert_eq!(send(&f).await, bearer(TOKEN_A), "the request did not wait");
    f.wait_for_token_requests(2).await;
    assert_eq!(send(&f).await, bearer(TOKEN_B));
}

#[tokio::test]
async fn past_must_refresh_at_requests_wait_for_a_new_token() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3600))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_B, 3600))
        .with_priority(2)
        .expect(1)
        .named("refreshed token")
        .mount(&f.server)
        .await;
    mount_api_ok(&f).await;

    assert_eq!(send(&f).await, bearer(TOKEN_A));
    f.clock.advance(59 * MIN + Duration::from_secs(1));
    assert_eq!(send(&f).await, bearer(TOKEN_B));
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_before_it_expires() {
    // A 10-minute tenant policy: refresh_at is 5 min, not 50.
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 600))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_B, 600))
        .with_priority(2)
        .mount(&f.server)
        .await;
    mount_api_ok(&f).await;

    send(&f).await;
    f.clock.advance(9 * MIN + Duration::from_secs(1));
    assert_eq!(send(&f).await, bearer(TOKEN_B));
}

#[tokio::test]
async fn a_failed_proactive_refresh_keeps_serving_the_valid_token_and_backs_off() {
    // Arrange
    let f = Fixture::start_with(|c| c.with_token_max_attempts(1)).await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3600))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(2)
        .expect(1)
        .named("failing refresh")
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_B, 3600))
        .with_priority(3)
        .expect(1)
        .named("refresh after the backoff")
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .and(header_is("authorization", bearer(TOKEN_A).as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(4)
        .named("api with token A")
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .and(header_is("authorization", bearer(TOKEN_B).as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .named("api with token B")
        .mount(&f.server)
        .await;
    send(&f).await;

    // Act: refresh ahead fails in the background.
    f.clock.advance(50 * MIN);
    assert_eq!(send(&f).await, bearer(TOKEN_A));
    f.wait_for_token_requests(2).await;

    // Assert: within the 30 s backoff, the valid token is sent and no refresh is attempted.
    f.clock.advance(Duration::from_secs(20));
    assert_eq!(send(&f).await, bearer(TOKEN_A));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(f.token_requests().await, 2);

    // After the backoff, the next request triggers a refresh that succeeds.
    f.clock.advance(Duration::from_secs(11));
    assert_eq!(send(&f).await, bearer(TOKEN_A));
    f.wait_for_token_requests(3).await;
    assert_eq!(send(&f).await, bearer(TOKEN_B));
}

#[tokio::test]
async fn a_static_token_source_and_a_manual_clock_drive_expiry_without_a_token_endpoint() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let source = Arc::new(
        StaticTokenSource::new(AccessToken::new(TOKEN_A))
            .with_expires_in(Duration::from_secs(3600)),
    );
    let auth = AuthMiddleware::builder(credentials())
        .with_config(test_config(&server))
        .with_token_source(source.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let client = client_with(auth);

    // Act
    client
        .get(format!("{}/x", server.uri()))
        .send()
        .await
        .unwrap();
    source.set_token(AccessToken::new(TOKEN_B));
    clock.advance(61 * MIN);
    client
        .get(format!("{}/x", server.uri()))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(source.fetch_count(), 2);
    let sent = server.received_requests().await.unwrap();
    assert_eq!(header(&sent[0], "authorization"), Some(bearer(TOKEN_A)));
    assert_eq!(header(&sent[1], "authorization"), Some(bearer(TOKEN_B)));
}
