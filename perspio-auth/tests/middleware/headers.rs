//! What the middleware adds to every request.

use std::sync::{Arc, Mutex};

use http::Extensions;
use reqwest::header::HeaderMap;
use reqwest_middleware::{Middleware, Next};
use wiremock::matchers::{header as header_is, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn every_request_carries_bearer_token_tid_subscription_key_and_accept() {
    // Arrange
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .expect(1)
        .named("token endpoint")
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .and(header_is("authorization", bearer(TOKEN_A).as_str()))
        .and(header_is("tid", TENANT))
        .and(header_is("ocp-apim-subscription-key", SUBSCRIPTION_KEY))
        .and(header_is("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200))
        .expect(3)
        .named("get assets with all perspio headers")
        .mount(&f.server)
        .await;

    // Act
    for _ in 0..3 {
        let response = f.client.get(f.url("/assets/v3/")).send().await.unwrap();
        // Assert
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn the_token_request_is_a_client_credentials_form_post() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .expect(1)
        .named("token endpoint")
        .mount(&f.server)
        .await;

    f.auth.token_info().await.unwrap();

    let requests = f.server.received_requests().await.unwrap();
    let body = String::from_utf8(requests[0].body.clone()).unwrap();
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form["scope"], "api://perspiotalk/.default");
    assert_eq!(
        header(&requests[0], "content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn an_accept_header_set_by_the_caller_is_kept() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&f.server)
        .await;

    f.client
        .get(f.url("/x"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();

    let sent = &f.api_requests().await[0];
    assert_eq!(header(sent, "accept").as_deref(), Some("text/csv"));
}

#[tokio::test]
async fn a_request_that_already_has_authorization_is_left_alone_and_no_token_is_fetched() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .expect(0)
        .named("token endpoint")
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .named("api answering 401")
        .mount(&f.server)
        .await;

    let response = f
        .client
        .get(f.url("/x"))
        .header("authorization", "Bearer callers-own-token")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401, "not retried");
    let sent = &f.api_requests().await[0];
    assert_eq!(
        header(sent, "authorization").as_deref(),
        Some("Bearer callers-own-token")
    );
}

/// Records the headers as the next middleware sees them.
#[derive(Clone, Default)]
struct RecordHeaders(Arc<Mutex<Option<HeaderMap>>>);

#[async_trait::async_trait]
impl Middleware for RecordHeaders {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        *self.0.lock().unwrap() = Some(req.headers().clone());
        next.run(req, extensions).await
    }
}

/// A fixture whose token endpoint and `/x` answer, and a client that sends through its auth
/// middleware and then records the headers.
async fn recorded() -> (
    Fixture,
    reqwest_middleware::ClientWithMiddleware,
    RecordHeaders,
) {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .mount(&f.server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&f.server)
        .await;
    let recorder = RecordHeaders::default();
    perspio_core::tls::install_crypto_provider();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(f.auth.clone())
        .with(recorder.clone())
        .build();
    (f, client, recorder)
}

#[tokio::test]
async fn authorization_and_subscription_key_are_marked_sensitive_and_tid_is_not() {
    let (f, client, recorder) = recorded().await;

    client.get(f.url("/x")).send().await.unwrap();

    let headers = recorder.0.lock().unwrap().clone().unwrap();
    assert!(headers["authorization"].is_sensitive());
    assert!(headers["ocp-apim-subscription-key"].is_sensitive());
    assert!(!headers["tid"].is_sensitive());
    assert_no_secret(&format!("{headers:?}"));
}

#[tokio::test]
async fn each_header_is_sent_once_whatever_the_request_already_carries() {
    // Arrange: requests of every shape; `Accept` alone is a generated operation's (appended
    // without lookups), the others take the path that looks for each header first.
    let (f, client, recorder) = recorded().await;
    let shapes: [&[(&str, &str)]; 6] = [
        &[],
        &[("accept", "application/json")],
        &[("accept", "text/csv")],
        &[("accept", "application/json"), ("tid", "callers-tenant")],
        &[("ocp-apim-subscription-key", "callers-key")],
        &[("x-extra", "1")],
    ];

    for shape in shapes {
        // Act
        let mut request = client.get(f.url("/x"));
        for (name, value) in shape {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap();

        // Assert: one value per header, the caller's where it set one.
        let headers = recorder.0.lock().unwrap().clone().unwrap();
        let expected = |name: &str, ours: &str| {
            shape
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(ours.to_owned(), |(_, v)| (*v).to_owned())
        };
        for (name, ours) in [
            ("accept", "application/json".to_owned()),
            ("tid", TENANT.to_owned()),
            ("ocp-apim-subscription-key", SUBSCRIPTION_KEY.to_owned()),
            ("authorization", bearer(TOKEN_A)),
        ] {
            let values: Vec<_> = headers.get_all(name).iter().collect();
            assert_eq!(values.len(), 1, "{name} in {shape:?}: {values:?}");
            assert_eq!(
                values[0],
                expected(name, &ours).as_str(),
                "{name} in {shape:?}"
            );
        }
        assert!(headers["authorization"].is_sensitive(), "{shape:?}");
        let callers_key = shape.iter().any(|(n, _)| *n == "ocp-apim-subscription-key");
        if !callers_key {
            assert!(
                headers["ocp-apim-subscription-key"].is_sensitive(),
                "{shape:?}"
            );
        }
        let extra = usize::from(shape.iter().any(|(n, _)| *n == "x-extra"));
        assert_eq!(headers.len(), 4 + extra, "{shape:?}");
    }
}
