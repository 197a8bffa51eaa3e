//! Clients and assertions shared by the tests.

use perspio_api::Client;
use perspio_api::auth::{ClientSecret, Credentials, SubscriptionKey};
use perspio_policy::RetryConfig;
use perspio_sandbox::{CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION_KEY, Sandbox, TENANT_ID};

/// A client for `sandbox` that makes one attempt per call (no retry layer at work), so that
/// what the sandbox serves reaches the test.
pub(crate) fn client_without_retries(sandbox: &Sandbox) -> Client {
    sandbox
        .client_builder()
        .with_retry(RetryConfig::default().with_max_attempts(1))
        .build()
        .unwrap()
}

/// A client for `sandbox` with these demo credentials changed.
pub(crate) fn client_with(
    sandbox: &Sandbox,
    client_secret: &str,
    subscription_key: &str,
) -> Client {
    let credentials = Credentials::new(
        CLIENT_ID,
        ClientSecret::new(client_secret),
        TENANT_ID,
        SubscriptionKey::new(subscription_key),
    )
    .unwrap();
    Client::builder(credentials)
        .with_base_url(sandbox.base_url())
        .with_auth_config(sandbox.auth_config())
        .with_retry(RetryConfig::default().with_max_attempts(1))
        .build()
        .unwrap()
}

/// The demo secret and key, for [`client_with`].
pub(crate) const SECRET: &str = CLIENT_SECRET;
pub(crate) const KEY: &str = SUBSCRIPTION_KEY;

/// The HTTP status of a failed call.
#[track_caller]
pub(crate) fn status_of<T: std::fmt::Debug>(result: Result<T, perspio_api::Error>) -> u16 {
    result
        .expect_err("the call should fail")
        .status()
        .map(|s| s.as_u16())
        .unwrap_or_else(|| panic!("the failure has no status"))
}
