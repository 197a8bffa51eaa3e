//! Token lifecycle and the 401 path, end to end through the generated client.

use std::time::Duration;

use futures::future::join_all;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Perspio, RefusesTokens, TokenSequence, bearer, fixture};

#[tokio::test]
async fn one_token_serves_many_calls_and_every_clone_of_the_client() {
    // Arrange
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    perspio
        .operation_answers("/assets/v3/", "assets.json", 10)
        .await;
    let client = perspio.client();

    // Act: five calls on the client, five on clones of it.
    for _ in 0..5 {
        client.list_assets().call().await.unwrap();
    }
    for _ in 0..5 {
        let clone = client.clone();
        clone.list_assets().call().await.unwrap();
    }

    // Assert: the token endpoint mock expects exactly one request (checked on drop).
}

#[tokio::test]
async fn clients_built_around_clones_of_one_auth_middleware_share_its_token() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    perspio
        .operation_answers("/sites/v3/", "sites.json", 2)
        .await;
    let auth = perspio.auth();
    let build = |auth| {
        perspio_api::Client::builder_with_auth(auth)
            .with_base_url(perspio.api.uri())
            .build()
            .unwrap()
    };
    let (first, second) = (build(auth.clone()), build(auth));

    first.list_sites().call().await.unwrap();
    second.list_sites().call().await.unwrap();
}

#[tokio::test]
async fn two_hundred_concurrent_cold_calls_make_exactly_one_token_request() {
    let perspio = Perspio::start().await;
    let tokens = TokenSequence::slow(Duration::from_millis(50));
    Mock::given(method("POST"))
        .respond_with(tokens.clone())
        .named("entra token endpoint")
        .expect(1)
        .mount(&perspio.entra)
        .await;
    perspio
        .operation_answers("/assets/v3/", "assets.json", 200)
        .await;
    let client = perspio.client();

    let results = join_all((0..200).map(|_| client.list_assets().call())).await;

    assert!(results.iter().all(Result::is_ok));
    assert_eq!(tokens.issued(), 1);
    let sent: Vec<_> = perspio
        .api_requests()
        .await
        .iter()
        .filter_map(bearer)
        .collect();
    assert_eq!(sent.len(), 200);
    assert!(sent.iter().all(|t| *t == TokenSequence::token(1)));
}

#[tokio::test]
async fn an_expired_token_is_replaced_before_the_call_is_sent() {
    let perspio = Perspio::start().await;
    let tokens = perspio.token_endpoint_issues_sequence(2).await;
    perspio
        .operation_answers("/assets/v3/", "assets.json", 2)
        .await;
    let client = perspio.client();
    client.list_assets().call().await.unwrap();

    perspio.clock.advance(Duration::from_secs(61 * 60));
    client.list_assets().call().await.unwrap();

    assert_eq!(tokens.issued(), 2);
    let sent: Vec<_> = perspio
        .api_requests()
        .await
        .iter()
        .filter_map(bearer)
        .collect();
    assert_eq!(sent, [TokenSequence::token(1), TokenSequence::token(2)]);
}

#[tokio::test]
async fn refresh_ahead_leaves_calls_unblocked_while_the_new_token_is_fetched() {
    // Arrange: a token endpoint that takes 400 ms to answer.
    let perspio = Perspio::start().await;
    let tokens = TokenSequence::slow(Duration::from_millis(400));
    Mock::given(method("POST"))
        .respond_with(tokens.clone())
        .named("entra token endpoint (slow)")
        .expect(2)
        .mount(&perspio.entra)
        .await;
    Mock::given(method("GET"))
        .and(path("/sites/v3/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("sites.json")))
        .mount(&perspio.api)
        .await;
    let client = perspio.client();
    client.list_sites().call().await.unwrap();

    // Act: 49 minutes later the token is in its refresh-ahead window (refresh at 48 min,
    // must refresh at 59 min). Ten calls go out while the refresh is in flight.
    perspio.clock.advance(Duration::from_secs(49 * 60));
    for _ in 0..10 {
        client.list_sites().call().await.unwrap();
    }

    // Assert: a refresh started, and none of the ten calls waited for it.
    let sent: Vec<_> = perspio
        .api_requests()
        .await
        .iter()
        .filter_map(bearer)
        .collect();
    assert_eq!(sent.len(), 11);
    assert!(
        sent.iter().all(|t| *t == TokenSequence::token(1)),
        "calls in the refresh-ahead window keep the valid token: {sent:?}"
    );
    assert_eq!(tokens.issued(), 2, "the refresh-ahead request was sent");

    // Once the refresh lands, calls carry the new token.
    let mut carried_new = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.list_sites().call().await.unwrap();
        let last = perspio.api_requests().await.last().and_then(bearer);
        if last == Some(TokenSequence::token(2)) {
            carried_new = true;
            break;
        }
    }
    assert!(carried_new, "the refreshed token is used once it arrives");
}

/// Mounts an API that refuses `token-1`, calls `list_assets` with `client`, and checks that the
/// call succeeds after one refresh and one retry with `token-2`; the requests the API received.
async fn list_assets_through_one_401(
    perspio: &Perspio,
    client: &perspio_api::Client,
) -> Vec<wiremock::Request> {
    let tokens = perspio.token_endpoint_issues_sequence(2).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(RefusesTokens {
            refused: vec![TokenSequence::token(1)],
            body: fixture("assets.json"),
        })
        .named("api refusing token-1")
        .expect(2)
        .mount(&perspio.api)
        .await;

    let response = client.list_assets().call().await;

    assert!(response.is_ok(), "{response:?}");
    assert_eq!(tokens.issued(), 2);
    let requests = perspio.api_requests().await;
    let sent: Vec<_> = requests.iter().filter_map(bearer).collect();
    assert_eq!(sent, [TokenSequence::token(1), TokenSequence::token(2)]);
    requests
}

/// `/assets/v3/` answers every `http_method` request with the gateway's 401, and expects
/// exactly `expected` of them (checked when the server is dropped).
async fn assets_answer_401(perspio: &Perspio, http_method: &str, expected: u64) {
    Mock::given(method(http_method))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("apim_401.json")))
        .named("api answering 401")
        .expect(expected)
        .mount(&perspio.api)
        .await;
}

#[tokio::test]
async fn a_401_refreshes_the_token_and_retries_once_with_the_new_one() {
    let perspio = Perspio::start().await;
    list_assets_through_one_401(&perspio, &perspio.client()).await;
}

/// The auth middleware alone in a `reqwest_middleware` stack (no retry layer above it to
/// lend a copy): a client built with `Client::from_middleware`.
fn client_with_auth_alone(perspio: &Perspio) -> perspio_api::Client {
    perspio_core::tls::install_crypto_provider();
    let stack = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(perspio.auth())
        .build();
    perspio_api::Client::from_middleware(&perspio.api.uri(), stack).unwrap()
}

#[tokio::test]
async fn the_auth_middleware_alone_refreshes_after_a_401_and_retries_once_with_the_new_token() {
    let perspio = Perspio::start().await;
    let requests = list_assets_through_one_401(&perspio, &client_with_auth_alone(&perspio)).await;
    for request in &requests {
        // The replay carries the Perspio headers once each, like the first send.
        for name in [
            "tid",
            "ocp-apim-subscription-key",
            "authorization",
            "accept",
        ] {
            assert_eq!(
                request.headers.get_all(name).iter().count(),
                1,
                "{name} in {:?}",
                request.headers
            );
        }
    }
}

#[tokio::test]
async fn the_auth_middleware_alone_sends_at_most_twice_to_an_api_that_always_answers_401() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_issues_sequence(2).await;
    assets_answer_401(&perspio, "GET", 2).await;

    let error = client_with_auth_alone(&perspio)
        .list_assets()
        .call()
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(http::StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn the_auth_middleware_alone_sends_a_request_with_the_callers_authorization_once() {
    use progenitor_client::ClientInfo;

    let perspio = Perspio::start().await;
    // The caller's token is used: none is fetched, before the send or after the 401.
    perspio.token_endpoint_answers(0).await;
    assets_answer_401(&perspio, "GET", 1).await;
    let client = client_with_auth_alone(&perspio);

    let response = client
        .inner()
        .get(format!("{}/assets/v3/", perspio.api.uri()))
        .header("authorization", "Bearer the-callers-own")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    let requests = perspio.api_requests().await;
    assert_eq!(
        requests[0].headers.get("authorization").unwrap(),
        "Bearer the-callers-own"
    );
}

#[tokio::test]
async fn an_api_that_always_answers_401_gets_exactly_two_requests_and_the_caller_gets_the_401() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_issues_sequence(2).await;
    assets_answer_401(&perspio, "GET", 2).await;

    let error = perspio.client().list_assets().call().await.unwrap_err();

    assert_eq!(error.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert_eq!(error.operation(), Some("list_assets"));
    let body = &error.api_response().unwrap().body;
    assert_eq!(body["statusCode"], 401, "the gateway's body is handed over");
}

#[tokio::test]
async fn repeated_401s_from_a_fresh_token_do_not_cause_a_refetch_storm() {
    // A refused subscription key makes every call 401, whatever the token.
    let perspio = Perspio::start().await;
    let tokens = perspio.token_endpoint_issues_sequence(2).await;
    assets_answer_401(&perspio, "GET", 21).await;
    let client = perspio.client();

    for _ in 0..20 {
        let error = client.list_assets().call().await.unwrap_err();
        assert_eq!(error.status(), Some(http::StatusCode::UNAUTHORIZED));
    }

    // One token to start, one forced refresh for the first 401; the other 19 calls are sent
    // once each and their 401 returned (forced refreshes: at most one per 30 s).
    assert_eq!(tokens.issued(), 2);
}

#[tokio::test]
async fn a_401_on_a_request_whose_body_cannot_be_cloned_is_sent_once_and_returned() {
    use progenitor_client::ClientInfo;

    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    assets_answer_401(&perspio, "POST", 1).await;
    let client = perspio.client();
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("{\"name\":"), Ok("\"x\"}")];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));

    // The spec has no operation with a body; the client's own middleware stack is used.
    let response = client
        .inner()
        .post(format!("{}/assets/v3/", perspio.api.uri()))
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    let requests = perspio.api_requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, b"{\"name\":\"x\"}", "sent with its body");
    assert!(bearer(&requests[0]).is_some(), "sent with credentials");
}
