//! Against a wiremock stand-in for Entra and PerspioTalk, configured only through `PERSPIO_*`.

use wiremock::matchers::{body_string_contains, header, method, path};
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
