//! One contract test per spec operation: method, path, the four Perspio headers, and the
//! decoded response, untyped fields included. `coverage.rs` checks that every operationId of
//! the spec has a test here named `<operationId>_…`.

use perspio_api::types;

use crate::helpers::{Perspio, assert_perspio_headers, fixture, fixture_access_token};

/// Runs one call against the fake and returns the single API request it made.
async fn single_request(perspio: &Perspio) -> wiremock::Request {
    let requests = perspio.api_requests().await;
    assert_eq!(requests.len(), 1, "exactly one API request");
    requests.into_iter().next().unwrap()
}

#[tokio::test]
async fn list_assets_sends_get_assets_v3_with_perspio_headers_and_keeps_every_field() {
    // Arrange
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    perspio
        .operation_answers("/assets/v3/", "assets.json", 1)
        .await;

    // Act
    let response = perspio.client().list_assets().call().await.unwrap();

    // Assert
    let request = single_request(&perspio).await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/assets/v3/",
        "trailing slash as documented"
    );
    assert_eq!(request.url.query(), None);
    assert!(request.body.is_empty());
    assert_perspio_headers(&request, &fixture_access_token());

    let types::AssetList::Array(assets) = response.into_inner() else {
        panic!("an array of assets decodes as AssetList::Array");
    };
    let expected = fixture("assets.json");
    assert_eq!(assets.len(), 2);
    assert_eq!(serde_json::Value::Object(assets[0].0.clone()), expected[0]);
    assert_eq!(assets[1].get("telemetry").unwrap()["temperatureC"], 3.9);
}

#[tokio::test]
async fn list_sites_sends_get_sites_v3_with_perspio_headers_and_keeps_every_field() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    perspio
        .operation_answers("/sites/v3/", "sites.json", 1)
        .await;

    let response = perspio.client().list_sites().call().await.unwrap();

    let request = single_request(&perspio).await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/sites/v3/");
    assert!(request.body.is_empty());
    assert_perspio_headers(&request, &fixture_access_token());
    let types::SiteList::Array(sites) = response.into_inner() else {
        panic!("an array of sites decodes as SiteList::Array");
    };
    assert_eq!(
        serde_json::Value::Object(sites[0].0.clone()),
        fixture("sites.json")[0]
    );
}

#[tokio::test]
async fn list_location_labels_sends_get_locations_v3_labels_and_keeps_a_wrapper_object_whole() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    perspio
        .operation_answers("/locations/v3/labels", "location_labels.json", 1)
        .await;

    let response = perspio
        .client()
        .list_location_labels()
        .call()
        .await
        .unwrap();

    let request = single_request(&perspio).await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/locations/v3/labels");
    assert!(request.body.is_empty());
    assert_perspio_headers(&request, &fixture_access_token());
    // The fixture is an object wrapper, not an array: it is kept whole, nothing is lost.
    let types::LocationLabelList::OpenObject(object) = response.into_inner() else {
        panic!("a wrapper object decodes as LocationLabelList::OpenObject");
    };
    assert_eq!(
        serde_json::Value::Object(object.0.clone()),
        fixture("location_labels.json")
    );
}

#[tokio::test]
async fn get_current_user_sends_get_directory_v3_user_and_types_the_evidenced_fields() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    perspio
        .operation_answers("/directory/v3/user", "current_user.json", 1)
        .await;

    let user = perspio
        .client()
        .get_current_user()
        .call()
        .await
        .unwrap()
        .into_inner();

    let request = single_request(&perspio).await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/directory/v3/user");
    assert!(request.body.is_empty());
    assert_perspio_headers(&request, &fixture_access_token());
    assert_eq!(user.display_name.as_deref(), Some("Ada Okafor"));
    assert_eq!(user.o_data_type.as_deref(), Some("microsoft.graph.user"));
    assert_eq!(user.tenant_id, None);
    assert_eq!(
        user.user_principal_name.as_deref(),
        Some("ada.okafor@example.com")
    );
    // Fields the spec does not type stay reachable in the flattened map.
    assert_eq!(user.extra["jobTitle"], "Fleet manager");
    assert_eq!(user.extra["securityGroupIds"][0], "IN-SECG-000003");
    // And nothing is lost on the way back out (a `null` optional field is skipped).
    let mut expected = fixture("current_user.json");
    expected.as_object_mut().unwrap().remove("tenantId");
    assert_eq!(serde_json::to_value(&user).unwrap(), expected);
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_reaches_the_same_paths() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    perspio
        .operation_answers("/sites/v3/", "sites.json", 1)
        .await;
    let client = perspio_api::Client::builder_with_auth(perspio.auth())
        .with_base_url(format!("{}/", perspio.api.uri()))
        .build()
        .unwrap();

    client.list_sites().call().await.unwrap();

    assert_eq!(single_request(&perspio).await.url.path(), "/sites/v3/");
}
