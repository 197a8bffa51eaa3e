//! The request policy in the default stack: `Retry-After`, transient failures, the deadline.

use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Perspio, fixture};

async fn api_answers_then_succeeds(perspio: &Perspio, first: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .named("first answer")
        .expect(1)
        .mount(&perspio.api)
        .await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("assets.json")))
        .with_priority(2)
        .named("then success")
        .expect(1)
        .mount(&perspio.api)
        .await;
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_the_call_succeeds() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    api_answers_then_succeeds(
        &perspio,
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "0")
            .set_body_json(fixture("apim_429.json")),
    )
    .await;

    let result = perspio.client().list_assets().call().await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_503_on_a_get_is_retried_and_the_call_succeeds() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    api_answers_then_succeeds(&perspio, ResponseTemplate::new(503)).await;

    let result = perspio.client().list_assets().call().await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_retried_request_is_the_request_sent_first() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    api_answers_then_succeeds(&perspio, ResponseTemplate::new(503)).await;

    // A request of the caller's own (same transport as the operations) with a header and a
    // query of its own, which no layer would add again if a retry lost them.
    let result = perspio
        .client()
        .request(reqwest::Method::GET, "/assets/v3/")
        .query("top", "10")
        .header("x-request-tag", "sync-7")
        .send()
        .await;

    assert!(result.is_ok(), "{result:?}");
    let sent = perspio.api_requests().await;
    assert_eq!(sent.len(), 2);
    let (first, retried) = (&sent[0], &sent[1]);
    assert_eq!(first.method, retried.method);
    assert_eq!(first.url, retried.url);
    assert_eq!(first.body, retried.body);
    let headers = |r: &wiremock::Request| {
        let mut all: Vec<(String, Vec<u8>)> = r
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        all.sort();
        all
    };
    assert_eq!(headers(first), headers(retried));
    for name in [
        "authorization",
        "accept",
        "ocp-apim-subscription-key",
        "tid",
    ] {
        assert!(
            retried.headers.contains_key(name),
            "{name} missing on the retry"
        );
    }
}

#[tokio::test]
async fn the_call_deadline_cuts_a_long_retry_after_short_with_a_policy_error() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .named("api throttling")
        .expect(1)
        .mount(&perspio.api)
        .await;
    let client = perspio_api::Client::builder_with_auth(perspio.auth())
        .with_base_url(perspio.api.uri())
        .with_retry(Perspio::fast_retry().with_deadline(Duration::from_secs(5)))
        .build()
        .unwrap();

    let error = client.list_assets().call().await.unwrap_err();

    assert_eq!(error.to_string(), "list_assets: the request policy gave up");
    assert!(
        matches!(
            error.policy_error(),
            Some(perspio_policy::PolicyError::DeadlineExceeded { .. })
        ),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    assert!(error.is_retryable());
}
