//! Redirects: reqwest strips `Authorization` on cross-host redirects but not
//! `Ocp-Apim-Subscription-Key`; the client's redirect policy keeps both at home.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Perspio, SUBSCRIPTION_KEY, fixture};

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_and_the_subscription_key_stays_home() {
    // Arrange: the API redirects to a server on another origin.
    let perspio = Perspio::start().await;
    let elsewhere = MockServer::start().await;
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/collect", elsewhere.uri())),
        )
        .named("api redirecting to another origin")
        .expect(1)
        .mount(&perspio.api)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .named("the other origin (must not be called)")
        .expect(0)
        .mount(&elsewhere)
        .await;

    // Act
    let error = perspio.client().list_assets().call().await.unwrap_err();

    // Assert: the 307 comes back to the caller; nothing reached the other origin.
    assert_eq!(
        error.status(),
        Some(http::StatusCode::TEMPORARY_REDIRECT),
        "{error:?}"
    );
    let leaked = elsewhere.received_requests().await.unwrap_or_default();
    assert!(
        leaked
            .iter()
            .all(|r| r.headers.get("ocp-apim-subscription-key").is_none()),
        "subscription key sent to another host"
    );
    assert!(leaked.is_empty());
}

#[tokio::test]
async fn a_redirect_on_the_same_origin_is_followed_with_the_perspio_headers() {
    let perspio = Perspio::start().await;
    perspio.token_endpoint_answers(1).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(
            ResponseTemplate::new(308)
                .insert_header("Location", format!("{}/assets/v3/all", perspio.api.uri())),
        )
        .named("api redirecting on its own origin")
        .expect(1)
        .mount(&perspio.api)
        .await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("assets.json")))
        .named("redirect target")
        .expect(1)
        .mount(&perspio.api)
        .await;

    perspio.client().list_assets().call().await.unwrap();

    let requests = perspio.api_requests().await;
    let followed = requests.last().unwrap();
    assert_eq!(followed.url.path(), "/assets/v3/all");
    assert_eq!(
        followed.headers.get("ocp-apim-subscription-key").unwrap(),
        SUBSCRIPTION_KEY
    );
}
