//! No secret (client secret, subscription key, access token) in any error message, any
//! `Debug` output, or the captured tracing output of a whole scenario set.

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{
    CapturedLogs, Perspio, RefusesTokens, TOKEN_PATH, TokenSequence, assert_no_secret, fixture,
};

#[tokio::test]
async fn no_secret_appears_in_errors_debug_output_or_logs_of_the_scenario_set() {
    let (logs, _guard) = CapturedLogs::start();
    let mut outputs: Vec<(String, String)> = Vec::new();

    // 1. 401 → refresh → retry → success.
    {
        let perspio = Perspio::start().await;
        perspio.token_endpoint_issues_sequence(2).await;
        Mock::given(method("GET"))
            .and(path("/assets/v3/"))
            .respond_with(RefusesTokens {
                refused: vec![TokenSequence::token(1)],
                body: fixture("assets.json"),
            })
            .mount(&perspio.api)
            .await;
        let client = perspio.client();
        let response = client.list_assets().call().await.unwrap();
        outputs.push(("response".into(), format!("{response:?}")));
        outputs.push(("client".into(), format!("{client:?}")));
        outputs.push(("auth middleware".into(), format!("{:?}", perspio.auth())));
        outputs.push((
            "credentials".into(),
            format!("{:?}", Perspio::credentials()),
        ));
        outputs.push(("auth config".into(), format!("{:?}", perspio.auth_config())));
    }

    // 2. Always 401: the error the caller gets.
    {
        let perspio = Perspio::start().await;
        perspio.token_endpoint_answers(2).await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401).set_body_json(fixture("apim_401.json")))
            .mount(&perspio.api)
            .await;
        let error = perspio.client().list_assets().call().await.unwrap_err();
        outputs.push(("401 error".into(), format!("{error} / {error:?}")));
    }

    // 3. Entra refuses the client secret.
    {
        let perspio = Perspio::start().await;
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(
                ResponseTemplate::new(401).set_body_json(fixture("entra_invalid_client.json")),
            )
            .mount(&perspio.entra)
            .await;
        let client = perspio.client();
        let error = client.list_assets().call().await.unwrap_err();
        outputs.push((
            "invalid_client error".into(),
            format!("{error} / {error:?}"),
        ));
        let sent = client.list_assets().send().await.unwrap_err();
        outputs.push((
            "invalid_client via send".into(),
            format!("{sent} / {sent:?}"),
        ));
    }

    // 4. Configuration errors from the environment.
    {
        let error = perspio_api::ClientBuilder::from_env_with(|name| match name {
            "PERSPIO_CLIENT_ID" => Some(crate::helpers::CLIENT_ID.into()),
            "PERSPIO_CLIENT_SECRET" => Some(crate::helpers::CLIENT_SECRET.into()),
            "PERSPIO_SUBSCRIPTION_KEY" => Some(crate::helpers::SUBSCRIPTION_KEY.into()),
            _ => None,
        })
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("invalid authentication configuration")
        );
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("PERSPIO_TENANT_ID"), "{cause}");
        outputs.push((
            "config error".into(),
            format!("{error} / {error:?} / {cause}"),
        ));
    }

    // Assert
    let logs = logs.text();
    assert!(!logs.is_empty(), "the scenarios log something");
    assert_no_secret("tracing output", &logs);
    for (what, text) in &outputs {
        assert_no_secret(what, text);
    }
}
