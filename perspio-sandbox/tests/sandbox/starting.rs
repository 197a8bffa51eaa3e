//! Starting a sandbox: options, where it is, how clients find it.

use std::time::Duration;

use perspio_api::ClientBuilder;
use perspio_sandbox::{CLIENT_ID, CLIENT_SECRET, Sandbox, SandboxError};

#[tokio::test]
async fn the_sandbox_listens_on_loopback_only() {
    let sandbox = Sandbox::start().await.unwrap();

    assert_eq!(sandbox.address().ip().to_string(), "127.0.0.1");
    assert_eq!(
        sandbox.base_url(),
        format!("http://127.0.0.1:{}", sandbox.address().port())
    );
    assert_eq!(
        sandbox.token_url(),
        format!(
            "{}/7d548d61-6361-4a6e-85e6-509e2c05d05e/oauth2/v2.0/token",
            sandbox.base_url()
        )
    );
}

#[tokio::test]
async fn a_port_already_taken_is_a_bind_error_naming_it() {
    let first = Sandbox::start().await.unwrap();
    let port = first.address().port();

    let error = Sandbox::builder()
        .with_port(port)
        .start()
        .await
        .unwrap_err();

    match error {
        SandboxError::Bind { address, .. } => assert_eq!(address, first.address()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_token_lifetime_is_the_expires_in_of_every_token() {
    let sandbox = Sandbox::builder()
        .with_token_lifetime(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();

    perspio_core::tls::install_crypto_provider();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(sandbox.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("scope", "api://perspiotalk/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(answer["expires_in"], 3600);
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["access_token"].as_str().unwrap().starts_with("sbx_"));
    assert_eq!(sandbox.counters().tokens_issued, 1);
}

#[tokio::test]
async fn the_perspio_variables_point_a_client_at_the_sandbox() {
    let sandbox = Sandbox::start().await.unwrap();
    let names: Vec<&str> = sandbox.env().iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "PERSPIO_CLIENT_ID",
            "PERSPIO_CLIENT_SECRET",
            "PERSPIO_TENANT_ID",
            "PERSPIO_SUBSCRIPTION_KEY",
            "PERSPIO_BASE_URL",
            "PERSPIO_TOKEN_URL",
        ]
    );
    assert_eq!(
        sandbox.setting("PERSPIO_BASE_URL"),
        Some(sandbox.base_url())
    );
    assert_eq!(sandbox.setting("PERSPIO_SCOPE"), None);

    let client = ClientBuilder::from_env_with(|name| sandbox.setting(name))
        .unwrap()
        .build()
        .unwrap();
    client.get_current_user().call().await.unwrap();

    assert_eq!(sandbox.counters().operation("get_current_user"), 1);
}
