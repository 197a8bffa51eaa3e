//! Settings: flags, then `PERSPIO_*` variables, then defaults; and the client built from them.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--client-id` | `PERSPIO_CLIENT_ID` | required |
//! | `--client-secret` | `PERSPIO_CLIENT_SECRET` | required |
//! | `--tenant-id` | `PERSPIO_TENANT_ID` | required |
//! | `--subscription-key` | `PERSPIO_SUBSCRIPTION_KEY` | required |
//! | `--base-url` | `PERSPIO_BASE_URL` | `https://talk.perspio.io` |
//! | `--token-url` | `PERSPIO_TOKEN_URL` | the Perspio Entra token endpoint |
//! | `--scope` | `PERSPIO_SCOPE` | `api://perspiotalk/.default` |
//! | | `PERSPIO_REDIS_URL` | none: a fleet's Redis (shared token and rate budget) |
//! | | `PERSPIO_MEMCACHED_URL` | none: a fleet's Memcached (shared token) |
//! | | `PERSPIO_FLEET_SIZE` | 1: processes sharing the budget |
//!
//! The store URLs have no flags: a password in a flag is visible in the process list.
//!
//! With `--sandbox` the variables are not read at all (a production setup in the shell never
//! reaches the sandbox); the sandbox's demo values take their place, and flags still win, so
//! `--sandbox --client-secret wrong` shows what a refused secret looks like.

use perspio_api::Client;
use perspio_auth::{AuthConfig, AuthError, AuthMiddleware, Credentials};

use perspio_policy::RetryConfig;
use std::time::Duration;
use url::Url;

use crate::exit::{CliError, Exit, auth_error, cause_chain};
use crate::output::OutputFormat;

/// Options every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GlobalArgs {
    /// Run against a PerspioTalk sandbox started in this process on 127.0.0.1, with its demo
    /// credentials: no account, no network, no variables needed.
    #[arg(long, global = true)]
    pub(crate) sandbox: bool,

    /// Output format. JSON is pretty on a terminal and compact when piped; `table` shows a
    /// list as rows and columns.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Json)]
    pub(crate) output: OutputFormat,

    /// Show what the client is doing on stderr: -v token and retry events, -vv details.
    /// Never prints a secret or a token.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    // The help is an attribute: a bare URL in a doc comment fails rustdoc.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        conflicts_with = "sandbox",
        help = "The PerspioTalk host [env: PERSPIO_BASE_URL] [default: https://talk.perspio.io]."
    )]
    pub(crate) base_url: Option<String>,

    /// The Entra token endpoint [env: PERSPIO_TOKEN_URL].
    #[arg(long, global = true, value_name = "URL", conflicts_with = "sandbox")]
    pub(crate) token_url: Option<String>,

    /// The OAuth2 scope [env: PERSPIO_SCOPE] [default: api://perspiotalk/.default].
    #[arg(long, global = true, value_name = "SCOPE")]
    pub(crate) scope: Option<String>,

    /// The Entra application (client) id [env: PERSPIO_CLIENT_ID].
    #[arg(long, global = true, value_name = "ID")]
    pub(crate) client_id: Option<String>,

    /// The client secret [env: PERSPIO_CLIENT_SECRET]. Prefer the variable: a flag is
    /// visible to other users of this machine in the process list.
    #[arg(long, global = true, value_name = "SECRET")]
    pub(crate) client_secret: Option<String>,

    /// The Perspio tenant id, sent as `tid` [env: PERSPIO_TENANT_ID].
    #[arg(long, global = true, value_name = "TID")]
    pub(crate) tenant_id: Option<String>,

    /// The subscription key, sent as `Ocp-Apim-Subscription-Key` [env:
    /// PERSPIO_SUBSCRIPTION_KEY]. Prefer the variable, as for the secret.
    #[arg(long, global = true, value_name = "KEY")]
    pub(crate) subscription_key: Option<String>,

    /// How many times a call is retried after a 429, a 503 with `Retry-After` or a transient
    /// failure of a GET.
    #[arg(long, global = true, value_name = "N", default_value_t = 3)]
    pub(crate) retries: u32,

    /// The longest `Retry-After` (in seconds) the client waits out; a longer one is reported.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 90)]
    pub(crate) max_retry_wait: u64,
}

/// Every setting, by variable, with its flag.
pub(crate) const SETTINGS: [(&str, &str); 7] = [
    (perspio_auth::ENV_CLIENT_ID, "--client-id"),
    (perspio_auth::ENV_CLIENT_SECRET, "--client-secret"),
    (perspio_auth::ENV_TENANT_ID, "--tenant-id"),
    (perspio_auth::ENV_SUBSCRIPTION_KEY, "--subscription-key"),
    (perspio_api::ENV_BASE_URL, "--base-url"),
    (perspio_auth::ENV_TOKEN_URL, "--token-url"),
    (perspio_auth::ENV_SCOPE, "--scope"),
];

fn flag_of(variable: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|(v, _)| *v == variable)
        .map_or("a flag", |(_, f)| *f)
}

impl GlobalArgs {
    /// The value given by flag for a variable's setting.
    fn flag(&self, variable: &str) -> Option<String> {
        let value = match variable {
            perspio_auth::ENV_CLIENT_ID => &self.client_id,
            perspio_auth::ENV_CLIENT_SECRET => &self.client_secret,
            perspio_auth::ENV_TENANT_ID => &self.tenant_id,
            perspio_auth::ENV_SUBSCRIPTION_KEY => &self.subscription_key,
            perspio_api::ENV_BASE_URL => &self.base_url,
            perspio_auth::ENV_TOKEN_URL => &self.token_url,
            perspio_auth::ENV_SCOPE => &self.scope,
            _ => &None,
        };
        value.clone()
    }

    /// The settings: each flag, else `fallback` (the environment, or the sandbox's values).
    ///
    /// # Errors
    /// [`Exit::Usage`] naming the variable and the flag of a missing or malformed setting.
    pub(crate) fn resolve(
        &self,
        fallback: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, CliError> {
        let lookup = |name: &str| self.flag(name).or_else(|| fallback(name));
        let credentials = Credentials::from_env_with(lookup).map_err(|e| setting_error(&e))?;
        let auth_config = AuthConfig::default()
            .with_env_overrides(lookup)
            .map_err(|e| setting_error(&e))?;
        let base_url = lookup(perspio_api::ENV_BASE_URL)
            .unwrap_or_else(|| perspio_api::DEFAULT_BASE_URL.into());
        let api_url = Url::parse(base_url.trim()).map_err(|e| {
            CliError::new(
                Exit::Usage,
                format!(
                    "invalid setting {} ({}): not an absolute url: {e}",
                    perspio_api::ENV_BASE_URL,
                    flag_of(perspio_api::ENV_BASE_URL)
                ),
            )
        })?;
        let fleet = FLEET_SETTINGS
            .iter()
            .filter_map(|name| lookup(name).map(|value| (*name, value)))
            .collect();
        Ok(Settings {
            credentials,
            auth_config: auth_config.with_api_base_url(api_url),
            base_url,
            fleet,
            retry: RetryConfig::default()
                .with_max_attempts(self.retries.saturating_add(1))
                .with_max_retry_after(Duration::from_secs(self.max_retry_wait)),
        })
    }
}

/// A configuration error as one line naming the variable and its flag. Values are never shown.
fn setting_error(error: &AuthError) -> CliError {
    match error {
        AuthError::MissingEnvVar { name } => CliError::new(
            Exit::Usage,
            format!(
                "missing setting: set {name} or pass {} (or try --sandbox)",
                flag_of(name)
            ),
        ),
        AuthError::InvalidEnvVar { name, reason } => CliError::new(
            Exit::Usage,
            format!("invalid setting {name} ({}): {reason}", flag_of(name)),
        ),
        other => CliError::new(
            Exit::Usage,
            format!("invalid configuration: {}", cause_chain(other)),
        ),
    }
}

/// The fleet's variables (read by perspio-api's `ClientBuilder::with_fleet_env`).
const FLEET_SETTINGS: [&str; 3] = [
    perspio_api::ENV_REDIS_URL,
    perspio_api::ENV_MEMCACHED_URL,
    perspio_api::ENV_FLEET_SIZE,
];

/// Resolved settings; secrets stay inside perspio-auth's secret types.
pub(crate) struct Settings {
    credentials: Credentials,
    auth_config: AuthConfig,
    base_url: String,
    /// The fleet variables that are set, by name (store URLs may hold a password).
    fleet: Vec<(&'static str, String)>,
    retry: RetryConfig,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("credentials", &self.credentials)
            .field("auth_config", &self.auth_config)
            .field("base_url", &self.base_url)
            .field(
                "fleet",
                &self.fleet.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("retry", &self.retry)
            .finish()
    }
}

/// A client and the authentication middleware inside it (they share one token cache).
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) auth: AuthMiddleware,
}

impl Settings {
    /// The client, with the authentication middleware kept at hand so that the CLI can
    /// acquire the token first and report an authentication failure as a typed error.
    ///
    /// The stack is perspio-api's default one (retry, then authentication, over a
    /// `reqwest::Client` with perspio-api's timeouts and the same-origin redirect policy),
    /// built around this middleware so that it can be shared.
    ///
    /// # Errors
    /// [`Exit::Usage`] for unusable URLs; [`Exit::Other`] if the HTTP client cannot be built.
    pub(crate) fn connect(self) -> Result<Connection, CliError> {
        let fleet = self.fleet;
        let (client, auth) = Client::builder(self.credentials)
            .with_auth_config(self.auth_config)
            .with_base_url(self.base_url.clone())
            .with_retry(self.retry)
            .with_fleet_env(|name| {
                fleet
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            })
            .and_then(perspio_api::ClientBuilder::build_with_auth)
            .map_err(|e| match e {
                perspio_api::Error::InvalidBaseUrl { .. } => CliError::new(
                    Exit::Usage,
                    format!(
                        "invalid setting {} ({}): {}",
                        perspio_api::ENV_BASE_URL,
                        flag_of(perspio_api::ENV_BASE_URL),
                        cause_chain(&e)
                    ),
                ),
                perspio_api::Error::AuthConfig(auth) => match &auth {
                    AuthError::InvalidEnvVar { .. } | AuthError::MissingEnvVar { .. } => {
                        setting_error(&auth)
                    }
                    _ => {
                        let mut error = auth_error(&auth);
                        error.exit = Exit::Usage;
                        error.message = format!("invalid configuration: {}", cause_chain(&auth));
                        error
                    }
                },
                perspio_api::Error::InvalidStore { .. } => CliError::new(
                    Exit::Usage,
                    format!("invalid configuration: {}", cause_chain(&e)),
                ),
                other => CliError::new(
                    Exit::Other,
                    format!("cannot build the client: {}", cause_chain(&other)),
                ),
            })?;
        Ok(Connection { client, auth })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use clap::{Args, FromArgMatches};

    use super::*;

    fn parse(args: &[&str]) -> GlobalArgs {
        let command = GlobalArgs::augment_args(clap::Command::new("perspio"));
        let matches = command
            .try_get_matches_from(std::iter::once("perspio").chain(args.iter().copied()))
            .unwrap();
        GlobalArgs::from_arg_matches(&matches).unwrap()
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "PERSPIO_CLIENT_ID" => Some("env-client".into()),
            "PERSPIO_CLIENT_SECRET" => Some("env-secret".into()),
            "PERSPIO_TENANT_ID" => Some("in-env".into()),
            "PERSPIO_SUBSCRIPTION_KEY" => Some("env-key".into()),
            _ => None,
        }
    }

    #[test]
    fn flags_override_variables_and_the_base_url_defaults_to_production() {
        let settings = parse(&["--client-id", "flag-client"]).resolve(env).unwrap();
        assert_eq!(settings.credentials.client_id(), "flag-client");
        assert_eq!(settings.credentials.tenant_id(), "in-env");
        assert_eq!(settings.base_url, perspio_api::DEFAULT_BASE_URL);
    }

    #[test]
    fn a_missing_setting_names_the_variable_and_the_flag() {
        let error = parse(&[])
            .resolve(|name| env(name).filter(|_| name != "PERSPIO_TENANT_ID"))
            .unwrap_err();
        assert_eq!(error.exit, Exit::Usage);
        assert!(error.message.contains("PERSPIO_TENANT_ID"), "{error}");
        assert!(error.message.contains("--tenant-id"), "{error}");
    }

    #[test]
    fn a_malformed_base_url_is_a_usage_error_naming_it() {
        let error = parse(&["--base-url", "not a url"])
            .resolve(env)
            .unwrap_err();
        assert_eq!(error.exit, Exit::Usage);
        assert!(
            error.message.contains("PERSPIO_BASE_URL (--base-url)"),
            "{error}"
        );
    }
}
