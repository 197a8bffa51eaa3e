//! Against a wiremock stand-in for Entra and PerspioTalk, configured only through `PERSPIO_*`.

use wiremock::matchers::{
    body_json, body_string, body_string_contains, header, method, path, query_param,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const TOKEN: &str = "wm-access-token-0123456789";
const SECRET: &str = "wm-client-secret-abcdef";
const KEY: &str = "wm-subscription-key-987";

struct Api {
    server: MockServer,
}

impl Api {
    async fn start() -> Api {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/directory-x/oauth2/v2.0/token"))
            .and(body_string_contains("grant_type=client_credentials"))
            .and(body_string_contains("client_id=wm-client"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "token_type": "Bearer",
                "expires_in": 3599,
                "access_token": TOKEN,
            })))
            .named("token endpoint")
            .expect(1)
            .mount(&server)
            .await;
        Api { server }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PERSPIO_BASE_URL", self.server.uri()),
            (
                "PERSPIO_TOKEN_URL",
                format!("{}/directory-x/oauth2/v2.0/token", self.server.uri()),
            ),
            ("PERSPIO_CLIENT_ID", "wm-client".into()),
            ("PERSPIO_CLIENT_SECRET", SECRET.into()),
            ("PERSPIO_TENANT_ID", "in-wiremock".into()),
            ("PERSPIO_SUBSCRIPTION_KEY", KEY.into()),
        ]
    }

    fn run(&self, args: &[&str]) -> Run {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
        perspio(args, &env)
    }
}

#[tokio::test]
async fn list_sites_sends_the_perspio_headers_and_prints_the_answer() {
    let api = Api::start().await;
    Mock::given(method("GET"))
        .and(path("/sites/v3/"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("ocp-apim-subscription-key", KEY))
        .and(header("tid", "in-wiremock"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([{"id": "WM-SITE-000001", "name": "Dock"}])),
        )
        .named("list_sites")
        .expect(1)
        .mount(&api.server)
        .await;

    let run = api.run(&["list-sites"]);

    run.assert_code(0).assert_nothing_of(&[TOKEN, SECRET, KEY]);
    assert_eq!(run.json()[0]["id"], "WM-SITE-000001");
}

#[tokio::test]
async fn an_api_error_status_exits_with_the_api_code_and_its_message() {
    let api = Api::start().await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(serde_json::json!({"statusCode": 503, "message": "maintenance"})),
        )
        .named("list_assets failing")
        .expect(2)
        .mount(&api.server)
        .await;

    // One retry of the 503 (GET is idempotent), then the error.
    let run = api.run(&["--retries", "1", "list-assets"]);

    run.assert_code(EXIT_API)
        .assert_one_line_error()
        .assert_nothing_of(&[TOKEN, SECRET, KEY]);
    assert!(
        run.stderr.contains("503") && run.stderr.contains("maintenance"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn token_reads_the_metadata_the_token_endpoint_sent() {
    let api = Api::start().await;

    let run = api.run(&["token"]);

    run.assert_code(0).assert_nothing_of(&[TOKEN, SECRET, KEY]);
    let metadata = run.json();
    assert!(
        metadata["expires_in"].as_u64().unwrap() > 3500,
        "{metadata}"
    );
    assert!(metadata["scope"].is_null(), "no scope was sent: {metadata}");
}

#[tokio::test]
async fn api_sends_the_fields_of_a_get_as_its_query() {
    let api = Api::start().await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .and(query_param("siteId", "IN-SITE-000123"))
        .and(query_param("top", "10"))
        .and(query_param("active", "true"))
        .and(query_param("ids", "a"))
        .and(query_param("ids", "b"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("ocp-apim-subscription-key", KEY))
        .and(header("tid", "in-wiremock"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .named("GET with a query")
        .expect(1)
        .mount(&api.server)
        .await;

    let run = api.run(&[
        "api",
        "/assets/v3/",
        "-f",
        "siteId=IN-SITE-000123",
        "-F",
        "top=10",
        "-F",
        "active=true",
        "-f",
        "ids[]=a",
        "-f",
        "ids[]=b",
    ]);

    run.assert_code(0).assert_nothing_of(&[TOKEN, SECRET, KEY]);
    assert_eq!(run.stdout, "[]\n");
}

#[tokio::test]
async fn api_sends_typed_fields_as_a_json_body_in_the_order_given() {
    let api = Api::start().await;
    Mock::given(method("POST"))
        .and(path("/geofences/v3/"))
        .and(header("content-type", "application/json"))
        .and(body_string(
            r#"{"name":"Yard","radius":50,"active":true,"note":null,"tags":["a",2],"centre":{"lat":51.5}}"#,
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": "IN-GF-1"})))
        .named("POST with a JSON body")
        .expect(1)
        .mount(&api.server)
        .await;

    let run = api.run(&[
        "api",
        "-X",
        "post",
        "/geofences/v3/",
        "-f",
        "name=Yard",
        "-F",
        "radius=50",
        "-F",
        "active=true",
        "-F",
        "note=null",
        "-f",
        "tags[]=a",
        "-F",
        "tags[]=2",
        "-F",
        "centre[lat]=51.5",
    ]);

    run.assert_code(0);
    assert_eq!(run.json()["id"], "IN-GF-1");
}

#[tokio::test]
async fn api_sends_an_input_body_as_it_is_and_its_fields_as_the_query() {
    let api = Api::start().await;
    let body = "{\"name\": \"Forklift 8\",\n \"tags\": []}\n";
    Mock::given(method("PATCH"))
        .and(path("/assets/v3/IN-000123"))
        .and(query_param("dryRun", "true"))
        .and(header("content-type", "application/json"))
        .and(body_string(body))
        .respond_with(ResponseTemplate::new(204))
        .named("PATCH with a raw body")
        .expect(1)
        .mount(&api.server)
        .await;
    let env = api.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();

    let run = perspio_with_stdin(
        &[
            "api",
            "-X",
            "PATCH",
            "/assets/v3/IN-000123",
            "--input",
            "-",
            "-F",
            "dryRun=true",
        ],
        &env,
        body.as_bytes(),
    );

    run.assert_code(0);
    assert!(run.stdout.is_empty(), "204: no document: {run:#?}");
}

#[tokio::test]
async fn api_body_json_matcher_sees_the_same_json_as_body_string() {
    // Guards the exact-text matchers above: the fields produce this JSON value too.
    let api = Api::start().await;
    Mock::given(method("PUT"))
        .and(path("/x/v1/"))
        .and(body_json(serde_json::json!({"a": {"b": [1]}})))
        .respond_with(ResponseTemplate::new(200).set_body_string("plain text"))
        .named("PUT")
        .expect(1)
        .mount(&api.server)
        .await;

    let run = api.run(&["api", "-X", "PUT", "/x/v1/", "-F", "a[b][]=1"]);

    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!("plain text"));
    assert!(run.stderr.contains("the answer is not JSON"), "{run:#?}");
}
