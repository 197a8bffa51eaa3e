//! The two things compared: the generated client with the default middleware stack, and the
//! physical baseline, a raw `reqwest::Client` with static headers.
//!
//! Both decode the answer into the same generated type (`perspio_api::types::AssetList`) and
//! both use the same `reqwest` settings as the default stack (user agent, 30 s timeout, 10 s
//! connect timeout, same-origin redirect policy), so the difference is the SDK layer: the
//! generated builder, the hooks, the middleware stack and the token cache.

use std::time::Duration;

use anyhow::Context;
use perspio_api::types::AssetList;
use perspio_auth::{AuthConfig, AuthMiddleware, ClientSecret, Clock, Credentials, SubscriptionKey};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};

use crate::server::{Server, TENANT};

const SUBSCRIPTION_KEY: &str = "bench-subscription-key";

pub(crate) fn credentials() -> anyhow::Result<Credentials> {
    Ok(Credentials::new(
        "bench-client",
        ClientSecret::new("bench-secret"),
        TENANT,
        SubscriptionKey::new(SUBSCRIPTION_KEY),
    )?)
}

pub(crate) fn auth_config(server: &Server) -> anyhow::Result<AuthConfig> {
    Ok(AuthConfig::default()
        .with_token_url(server.token_url().parse()?)
        .with_api_base_url(server.base_url().parse()?))
}

/// The generated client with the default stack, its own (empty) token cache.
pub(crate) fn perspio(server: &Server) -> anyhow::Result<perspio_api::Client> {
    let auth = AuthMiddleware::builder(credentials()?)
        .with_config(auth_config(server)?)
        .build()?;
    from_auth(server, auth)
}

/// As [`perspio`], with an injected clock and no jitter (for the expiry scenario).
pub(crate) fn perspio_with_clock(
    server: &Server,
    clock: impl Clock,
) -> anyhow::Result<perspio_api::Client> {
    let auth = AuthMiddleware::builder(credentials()?)
        .with_config(auth_config(server)?.with_jitter(false))
        .with_clock(clock)
        .build()?;
    from_auth(server, auth)
}

fn from_auth(server: &Server, auth: AuthMiddleware) -> anyhow::Result<perspio_api::Client> {
    Ok(perspio_api::Client::builder_with_auth(auth)
        .with_base_url(server.base_url())
        .build()?)
}

/// One `list_assets` call through the generated client.
pub(crate) async fn perspio_call(client: &perspio_api::Client) -> anyhow::Result<AssetList> {
    Ok(client.list_assets().call().await?.into_inner())
}

/// The raw baseline: static headers set once on the client.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    http: reqwest::Client,
    url: reqwest::Url,
}

/// The `reqwest` settings of the default stack: user agent, timeouts, redirect policy.
fn http_builder() -> reqwest::ClientBuilder {
    perspio_core::tls::install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("perspio-rs/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .redirect(perspio_auth::same_origin_redirect_policy())
}

/// The generated client over a caller-built stack, for attributing the overhead to layers:
/// `with_auth` false gives no middleware at all (the static headers of [`Raw`] are set on
/// the executing client instead); true gives the authentication middleware alone.
pub(crate) fn generated_with_stack(
    server: &Server,
    with_auth: bool,
) -> anyhow::Result<perspio_api::Client> {
    let stack = if with_auth {
        let auth = AuthMiddleware::builder(credentials()?)
            .with_config(auth_config(server)?)
            .build()?;
        reqwest_middleware::ClientBuilder::new(http_builder().build()?)
            .with(auth)
            .build()
    } else {
        reqwest_middleware::ClientBuilder::new(
            http_builder().default_headers(static_headers()).build()?,
        )
        .build()
    };
    Ok(perspio_api::Client::from_middleware(
        &server.base_url(),
        stack,
    )?)
}

/// Authorization, tid, Ocp-Apim-Subscription-Key and Accept, as the middleware sets them.
fn static_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut bearer = HeaderValue::from_static("Bearer bench-token-000001");
    bearer.set_sensitive(true);
    headers.insert(AUTHORIZATION, bearer);
    headers.insert("tid", HeaderValue::from_static(TENANT));
    let mut key = HeaderValue::from_static(SUBSCRIPTION_KEY);
    key.set_sensitive(true);
    headers.insert("ocp-apim-subscription-key", key);
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers
}

impl Raw {
    pub(crate) fn new(server: &Server) -> anyhow::Result<Self> {
        let http = http_builder().default_headers(static_headers()).build()?;
        let url = format!("{}/assets/v3/", server.base_url()).parse()?;
        Ok(Self { http, url })
    }

    /// One `GET /assets/v3/`, status checked, decoded into the generated type.
    pub(crate) async fn call(&self) -> anyhow::Result<AssetList> {
        let response = self
            .http
            .get(self.url.clone())
            .send()
            .await?
            .error_for_status()?;
        response
            .json::<AssetList>()
            .await
            .context("decoding assets")
    }
}
