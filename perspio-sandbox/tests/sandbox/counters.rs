//! The counters: exact numbers for each kind of request and answer.

use perspio_api::types;
use perspio_sandbox::{Counters, Sandbox};

use crate::helpers::*;

#[tokio::test]
async fn each_operation_once_is_one_token_request_and_one_request_per_operation() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = sandbox.client().unwrap();

    let assets = client.list_assets().call().await.unwrap().into_inner();
    client.list_sites().call().await.unwrap();
    client.list_location_labels().call().await.unwrap();
    let user = client.get_current_user().call().await.unwrap().into_inner();

    let types::AssetList::Array(assets) = assets else {
        panic!("the fixture is an array: {assets:?}")
    };
    assert_eq!(assets.len(), 5);
    assert_eq!(user.display_name.as_deref(), Some("Sandbox User"));
    let seen = sandbox.counters();
    assert_eq!(seen.token_requests, 1);
    assert_eq!(seen.tokens_issued, 1);
    assert_eq!(seen.api_requests, 4);
    assert_eq!(seen.ok, 4);
    for operation in [
        "list_assets",
        "list_sites",
        "list_location_labels",
        "get_current_user",
    ] {
        assert_eq!(seen.operation(operation), 1, "{operation}");
    }
    assert_eq!(seen.operation("get_tenant_info"), 0);
    assert_eq!(
        (seen.unauthorized, seen.rate_limited, seen.not_found),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn a_wrong_secret_is_one_refused_token_request_and_no_api_request() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = client_with(&sandbox, "not-the-secret", KEY);

    let error = client.list_assets().call().await.unwrap_err();

    let auth = error.auth_error().expect("an authentication error");
    assert_eq!(auth.status().map(|s| s.as_u16()), Some(401));
    assert!(auth.to_string().contains("invalid_client"), "{auth}");
    let seen = sandbox.counters();
    assert_eq!(seen.token_requests, 1, "invalid_client is not retried");
    assert_eq!(seen.tokens_refused, 1);
    assert_eq!(seen.tokens_issued, 0);
    assert_eq!(seen.api_requests, 0);
}

#[tokio::test]
async fn a_wrong_subscription_key_is_two_401s_since_the_client_retries_once_with_a_new_token() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = client_with(&sandbox, SECRET, "not-the-key");

    let status = status_of(client.list_sites().call().await);

    assert_eq!(status, 401);
    let seen = sandbox.counters();
    assert_eq!(seen.unauthorized, 2);
    assert_eq!(seen.operation("list_sites"), 2);
    assert_eq!(seen.tokens_issued, 2);
    assert_eq!(seen.ok, 0);
}

#[tokio::test]
async fn the_request_over_the_rate_limit_is_a_429_with_the_seconds_until_a_slot_frees() {
    let sandbox = Sandbox::builder().with_rate_limit(2).start().await.unwrap();
    let client = client_without_retries(&sandbox);

    client.list_sites().call().await.unwrap();
    client.list_assets().call().await.unwrap();
    let error = client.list_sites().call().await.unwrap_err();

    assert_eq!(error.status().map(|s| s.as_u16()), Some(429));
    let wait = error.retry_after().expect("a Retry-After").as_secs();
    assert!((89..=90).contains(&wait), "{wait}");
    let seen = sandbox.counters();
    assert_eq!(seen.api_requests, 3);
    assert_eq!(seen.ok, 2);
    assert_eq!(seen.rate_limited, 1);
}

#[tokio::test]
async fn an_unknown_path_is_a_404_not_counted_as_an_api_request() {
    let sandbox = Sandbox::start().await.unwrap();

    perspio_core::tls::install_crypto_provider();
    let response = reqwest::get(format!("{}/tenants/v3/info", sandbox.base_url()))
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["statusCode"], 404);
    let seen = sandbox.counters();
    assert_eq!(seen.not_found, 1);
    assert_eq!(seen.api_requests, 0);
}

#[tokio::test]
async fn reset_counters_starts_again_from_zero_and_keeps_the_token_valid() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = sandbox.client().unwrap();
    client.list_sites().call().await.unwrap();

    sandbox.reset_counters();
    assert_eq!(sandbox.counters(), Counters::default());
    client.list_sites().call().await.unwrap();

    let seen = sandbox.counters();
    assert_eq!(seen.token_requests, 0, "the cached token is still accepted");
    assert_eq!(seen.operation("list_sites"), 1);
}
