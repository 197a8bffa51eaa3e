//! The SDK reads the CLI's configuration: `ClientBuilder::from_env_with` with the default
//! profile, `from_profile_with` with a user login whose rotated refresh token is saved back.
//! Each test has its own `PERSPIO_CONFIG_DIR` and the plain `file` store (no keyring).

use std::collections::HashMap;

use perspio_api::ClientBuilder;
use perspio_api::auth::AuthorizationRequest;
use perspio_config::{ConfigFile, Key, SecretName};
use perspio_sandbox::{
    CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION_KEY, Sandbox, TENANT_ID, USER_PRINCIPAL_NAME,
};
use secrecy::ExposeSecret as _;

/// config.toml with the profile `sbx` (the default) for `sandbox`, its app secrets stored.
fn configure(
    sandbox: &Sandbox,
    flow: &str,
) -> (
    tempfile::TempDir,
    impl Fn(&str) -> Option<String> + Clone + Send + Sync + 'static + use<>,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut file = ConfigFile::load(dir.path()).unwrap();
    for (key, value) in [
        (Key::BaseUrl, sandbox.base_url()),
        (Key::TokenUrl, sandbox.token_url()),
        (Key::TenantId, TENANT_ID.to_owned()),
        (Key::ClientId, CLIENT_ID.to_owned()),
        (Key::Flow, flow.to_owned()),
    ] {
        file.set(Some("sbx"), key, &value).unwrap();
    }
    file.set_default_profile(Some("sbx")).unwrap();
    file.save().unwrap();
    let env: HashMap<&str, String> = [
        ("PERSPIO_CONFIG_DIR", dir.path().display().to_string()),
        ("PERSPIO_SECRET_STORE", "file".to_owned()),
    ]
    .into_iter()
    .collect();
    let lookup = move |name: &str| env.get(name).cloned();
    let store = perspio_config::Resolver::from_lookup(lookup.clone())
        .open_store()
        .unwrap();
    store
        .update(&mut |s| {
            s.set("sbx", SecretName::ClientSecret, CLIENT_SECRET);
            s.set("sbx", SecretName::SubscriptionKey, SUBSCRIPTION_KEY);
        })
        .unwrap();
    (dir, lookup)
}

#[tokio::test]
async fn from_env_reads_the_default_profile_and_its_secrets() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_dir, lookup) = configure(&sandbox, "client_credentials");

    let client = ClientBuilder::from_env_with(lookup)
        .unwrap()
        .build()
        .unwrap();
    client.list_sites().call().await.unwrap();

    assert_eq!(sandbox.counters().ok, 1);
}

#[tokio::test]
async fn a_variable_still_beats_the_profile() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_dir, lookup) = configure(&sandbox, "client_credentials");
    let with_wrong_tenant = move |name: &str| match name {
        "PERSPIO_TENANT_ID" => Some("in-someone-else".to_owned()),
        _ => lookup(name),
    };

    let client = ClientBuilder::from_env_with(with_wrong_tenant)
        .unwrap()
        .build()
        .unwrap();
    let error = client.list_sites().call().await.unwrap_err();

    assert_eq!(error.status().map(|s| s.as_u16()), Some(401), "{error:?}");
}

#[tokio::test]
async fn a_login_profile_refreshes_and_saves_the_rotated_token() {
    // Arrange: a login, as `perspio auth login` makes it, its refresh token stored.
    let sandbox = Sandbox::start().await.unwrap();
    let (_dir, lookup) = configure(&sandbox, "authorization_code");
    let request = AuthorizationRequest::new(
        &sandbox.auth_config(),
        CLIENT_ID,
        "http://localhost:8400/".parse().unwrap(),
    );
    perspio_core::tls::install_crypto_provider();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirected = browser.get(request.url()).send().await.unwrap();
    let location = redirected.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let code = request.code_from_redirect(&location).unwrap();
    let login = request
        .exchange(code, &sandbox.credentials(), &sandbox.auth_config())
        .await
        .unwrap();
    let store = perspio_config::Resolver::from_lookup(lookup.clone())
        .open_store()
        .unwrap();
    perspio_config::ProfileRefreshToken::new(store.clone(), "sbx")
        .save(login.refresh_token())
        .unwrap();
    let first = login.refresh_token().expose_secret().to_owned();

    // Act
    let client = ClientBuilder::from_profile_with("sbx", lookup)
        .unwrap()
        .build()
        .unwrap();
    let user = client.get_current_user().call().await.unwrap().into_inner();

    // Assert
    assert_eq!(user.mail.as_deref(), Some(USER_PRINCIPAL_NAME));
    let saved = store.get("sbx", SecretName::RefreshToken).unwrap().unwrap();
    assert_ne!(saved.expose_secret(), first);
    assert!(sandbox.refresh_token_is_valid(saved.expose_secret()));
}

#[tokio::test]
async fn a_profile_that_does_not_exist_is_a_config_error_with_the_fix() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_dir, lookup) = configure(&sandbox, "client_credentials");

    let error = ClientBuilder::from_profile_with("nope", lookup).unwrap_err();

    assert!(matches!(error, perspio_api::Error::Config(_)), "{error:?}");
    let shown = perspio_api::cause_chain(&error);
    assert!(shown.contains("fix: perspio profile add nope"), "{shown}");
}
