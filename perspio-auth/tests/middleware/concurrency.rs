//! Single flight: many callers, one token request.

use futures::future::join_all;
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

use perspio_auth::AuthError;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_endpoint_is_called_once_for_200_concurrent_cold_requests() {
    // Arrange
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(
            token_response(TOKEN_A, 3599).set_delay(std::time::Duration::from_millis(100)),
        )
        .expect(1)
        .named("token endpoint")
        .mount(&f.server)
        .await;
    Mock::given(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(200))
        .expect(200)
        .named("api")
        .mount(&f.server)
        .await;

    // Act
    let responses = join_all((0..200).map(|_| f.client.get(f.url("/assets/v3/")).send())).await;

    // Assert
    for response in responses {
        assert_eq!(response.unwrap().status(), 200);
    }
    for request in f.api_requests().await {
        assert_eq!(header(&request, "authorization"), Some(bearer(TOKEN_A)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_the_failure_of_one_token_request() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(
            entra_error(401, "invalid_client", 7000215)
                .set_delay(std::time::Duration::from_millis(100)),
        )
        .expect(1)
        .named("token endpoint refusing the client")
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .named("api")
        .mount(&f.server)
        .await;

    let results = join_all((0..50).map(|_| f.client.get(f.url("/x")).send())).await;

    for result in results {
        let err = result.unwrap_err();
        assert!(matches!(
            auth_error(&err),
            AuthError::TokenRejected { error: Some(e), .. } if e == "invalid_client"
        ));
    }
}

#[tokio::test]
async fn an_idle_client_never_calls_the_token_endpoint() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .expect(0)
        .named("token endpoint")
        .mount(&f.server)
        .await;

    f.clock.advance(std::time::Duration::from_secs(24 * 3600));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    assert!(f.auth.cached_token_info().is_none());
}

#[tokio::test]
async fn clones_of_the_middleware_share_one_token() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .expect(1)
        .named("token endpoint")
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&f.server)
        .await;
    let other_client = client_with(f.auth.clone());

    f.client.get(f.url("/x")).send().await.unwrap();
    other_client.get(f.url("/x")).send().await.unwrap();
}
