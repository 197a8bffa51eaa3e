//! Settings: flags, then `PERSPIO_*` variables, then the profile (`--profile`,
//! `PERSPIO_PROFILE`, else `default_profile`), then defaults; and the client built from
//! them. The precedence is perspio-config's `Resolver`, the same as the SDK's.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--profile` | `PERSPIO_PROFILE` | config.toml's `default_profile` |
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
//! | `--output` | `PERSPIO_OUTPUT` | `json` |
//! | | `PERSPIO_FLOW` | `client_credentials` (`authorization_code`: a user login) |
//! | `--no-rate-limit` | `PERSPIO_RATE_LIMIT` | `documented` (also `on`): the documented limits (20 / 90 s, 10,000 / h, 40 MB / h), shared through Redis when `PERSPIO_REDIS_URL` is set; `off` |
//!
//! Every row but `--profile` is also a key of a profile (`base_url`, `tenant_id`, …), used
//! when neither the flag nor the variable is given.
//!
//! The store URLs have no flags: a password in a flag is visible in the process list.
//!
//! Every configuration error names the variable and the flag, whatever layer found it (the
//! library's field names, such as `api_base_url`, are mapped through [`SETTINGS_BY_FIELD`]).
//!
//! Timeouts (see the README's "Bounds"): connect 5 s; an attempt that receives nothing for
//! `--attempt-timeout` (10 s) is abandoned and retried, each retry announced on stderr; one
//! call takes at most `--timeout` (60 s), all attempts and waits included; the token is
//! obtained first, within the token endpoint's own 30 s (3 attempts).
//!
//! Secrets (client secret, subscription key, a login's refresh token) come from the flags,
//! the variables, or the profile's secret store; config.toml never holds one.
//!
//! With `--sandbox` the variables and profiles are not read at all (a production setup in the shell never
//! reaches the sandbox); the sandbox's demo values take their place, and flags still win, so
//! `--sandbox --client-secret wrong` shows what a refused secret looks like.

use std::io::Write as _;
use std::time::Duration;

use perspio_api::Client;
use perspio_auth::{AuthConfig, AuthError, AuthMiddleware, Credentials};

use std::sync::Arc;

use perspio_config::{Resolved, Resolver};
use perspio_policy::RetryConfig;
use secrecy::SecretString;
use url::Url;

use crate::exit::{CliError, Exit, cause_chain};
use crate::output::OutputFormat;

/// Options every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GlobalArgs {
    /// Run against a PerspioTalk sandbox started in this process on 127.0.0.1, with its demo
    /// credentials: no account, no network, no variables needed.
    #[arg(long, global = true)]
    pub(crate) sandbox: bool,

    /// Output format [env: PERSPIO_OUTPUT, or the profile's `output`] [default: json]. JSON
    /// is pretty on a terminal and compact when piped; ndjson, csv and tsv print one record
    /// per item of a list; table shows rows and columns on a terminal and is tsv when piped.
    #[arg(long, short = 'o', global = true, value_enum, value_name = "FORMAT")]
    pub(crate) output: Option<OutputFormat>,

    /// A jq filter applied to the answer before it is printed (embedded jq: no jq needed).
    /// Checked before anything is sent.
    #[arg(long, global = true, value_name = "FILTER")]
    pub(crate) jq: Option<String>,

    /// Do not wait for the documented rate limits (20 requests / 90 s, 10,000 / hour,
    /// 40 MB / hour) before sending [env: PERSPIO_RATE_LIMIT=off, or the profile's
    /// `rate_limit = "off"`]; the server's 429s are still waited out.
    #[arg(long, global = true)]
    pub(crate) no_rate_limit: bool,

    /// The profile of config.toml to use [env: PERSPIO_PROFILE] [default: its
    /// `default_profile`]. Flags and PERSPIO_* variables still win over its values.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "sandbox")]
    pub(crate) profile: Option<String>,

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

    /// The longest one call may take, in seconds, every attempt and wait included (the token
    /// is obtained first, within its own 30 s).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60.0, value_parser = seconds)]
    pub(crate) timeout: f64,

    /// An attempt that receives nothing for this many seconds is abandoned and, while
    /// retries and time are left, tried again (said on stderr).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 10.0, value_parser = seconds)]
    pub(crate) attempt_timeout: f64,

    /// The largest answer read: a number of bytes, or with a unit (KiB, MiB, GiB).
    #[arg(long, global = true, value_name = "SIZE", default_value = "64MiB", value_parser = byte_size)]
    pub(crate) max_body_size: u64,

    /// Send credentials over plain http to hosts that are not loopback addresses (a test
    /// gateway on another machine). Anyone on the network path can read and reuse them; a
    /// warning says so on every run.
    #[arg(long, global = true)]
    pub(crate) allow_insecure_http: bool,
}

/// Seconds, above zero and at most a day.
fn seconds(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err("a number of seconds above 0 and at most 86400".into()),
    }
}

/// `1048576`, `512KiB`, `64MiB`, `1GiB` (also `K`/`M`/`G`, `KB`/`MB`/`GB` as binary units).
pub(crate) fn byte_size(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err("a size such as 1048576, 512KiB, 64MiB or 1GiB".into()),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .filter(|n| *n > 0)
        .ok_or_else(|| "a size such as 1048576, 512KiB, 64MiB or 1GiB".into())
}

/// The connect timeout of the CLI: a host that does not accept within it is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The library's configuration field names ([`AuthError::InvalidConfig`],
/// [`AuthError::InsecureTransport`]), by variable.
pub(crate) const SETTINGS_BY_FIELD: [(&str, &str); 7] = [
    ("client_id", perspio_auth::ENV_CLIENT_ID),
    ("client_secret", perspio_auth::ENV_CLIENT_SECRET),
    ("tenant_id", perspio_auth::ENV_TENANT_ID),
    ("subscription_key", perspio_auth::ENV_SUBSCRIPTION_KEY),
    ("api_base_url", perspio_api::ENV_BASE_URL),
    ("token_url", perspio_auth::ENV_TOKEN_URL),
    ("scope", perspio_auth::ENV_SCOPE),
];

/// `PERSPIO_X (--x)` for a library field name; the field itself if it is not a setting.
fn setting_of_field(field: &str) -> String {
    match SETTINGS_BY_FIELD.iter().find(|(f, _)| *f == field) {
        Some((_, variable)) => format!("{variable} ({})", flag_of(variable)),
        None => field.to_owned(),
    }
}

pub(crate) fn flag_of(variable: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|(v, _)| *v == variable)
        .map_or("a flag", |(_, f)| *f)
}

impl GlobalArgs {
    /// The precedence of the settings over `fallback` (the environment, or the sandbox's
    /// values) and the configuration in `config_dir` (none for the sandbox).
    pub(crate) fn resolver(
        &self,
        fallback: impl Fn(&str) -> Option<String>,
        config_dir: Option<std::path::PathBuf>,
    ) -> Resolver {
        use perspio_config::{Key, SecretName};
        Resolver::from_lookup_copied(fallback)
            .with_config_dir(config_dir)
            .naming_flags(true)
            .with_profile(self.profile.clone())
            .with_flag(Key::BaseUrl, self.base_url.clone())
            .with_flag(Key::TokenUrl, self.token_url.clone())
            .with_flag(Key::Scope, self.scope.clone())
            .with_flag(Key::ClientId, self.client_id.clone())
            .with_flag(Key::TenantId, self.tenant_id.clone())
            .with_flag(
                Key::Output,
                self.output
                    .and_then(|o| clap::ValueEnum::to_possible_value(&o))
                    .map(|v| v.get_name().to_owned()),
            )
            .with_secret_flag(
                SecretName::ClientSecret,
                self.client_secret.clone().map(SecretString::from),
            )
            .with_secret_flag(
                SecretName::SubscriptionKey,
                self.subscription_key.clone().map(SecretString::from),
            )
    }

    /// The settings for the user's configuration: the process environment and
    /// config.toml in `PERSPIO_CONFIG_DIR` or the platform's directory.
    pub(crate) fn resolve_env(&self) -> Result<Settings, CliError> {
        self.resolve(
            |name| std::env::var(name).ok(),
            perspio_config::config_dir(),
        )
    }

    /// The settings: each flag, else `fallback` (the environment, or the sandbox's values),
    /// else the profile of `config_dir`'s config.toml.
    ///
    /// # Errors
    /// [`Exit::Usage`] naming where a missing or malformed setting was looked for.
    pub(crate) fn resolve(
        &self,
        fallback: impl Fn(&str) -> Option<String>,
        config_dir: Option<std::path::PathBuf>,
    ) -> Result<Settings, CliError> {
        let resolved = self
            .resolver(fallback, config_dir)
            .resolve()
            .map_err(|e| config_error(&e))?;
        resolved.check_complete().map_err(|e| {
            let mut error = config_error(&e);
            if resolved.profile().is_none() {
                error.message.push_str(" (or try --sandbox)");
            }
            error
        })?;
        let from_store = perspio_config::SecretName::ALL.into_iter().any(|name| {
            matches!(
                resolved.secret_origin(name),
                perspio_config::Origin::SecretStore { .. }
            )
        });
        if from_store || resolved.flow() == perspio_config::Flow::AuthorizationCode {
            crate::login::announce_store(&resolved);
        }
        let lookup = |name: &str| resolved.lookup(name);
        let describe = |e: &AuthError| setting_error_in(e, Some(&resolved));
        let credentials = Credentials::from_env_with(lookup).map_err(|e| describe(&e))?;
        let attempt_timeout = Duration::from_secs_f64(self.attempt_timeout);
        let auth_config = AuthConfig::default()
            .with_env_overrides(lookup)
            .map_err(|e| describe(&e))?
            .with_allow_insecure_http(self.allow_insecure_http)
            .with_token_attempt_timeout(attempt_timeout);
        let base_url = lookup(perspio_api::ENV_BASE_URL)
            .unwrap_or_else(|| perspio_api::DEFAULT_BASE_URL.into());
        let api_url = Url::parse(base_url.trim()).map_err(|e| {
            CliError::new(
                Exit::Usage,
                format!(
                    "invalid setting {}: not an absolute url: {e}",
                    resolved.describe(perspio_api::ENV_BASE_URL)
                ),
            )
        })?;
        let fleet = FLEET_SETTINGS
            .iter()
            .filter_map(|name| lookup(name).map(|value| (*name, value)))
            .collect();
        let rate_limit = !self.no_rate_limit && rate_limit_on(&resolved)?;
        Ok(Settings {
            credentials,
            auth_config: auth_config.with_api_base_url(api_url),
            base_url,
            fleet,
            retry: RetryConfig::default()
                .with_max_attempts(self.retries.saturating_add(1))
                .with_max_retry_after(Duration::from_secs(self.max_retry_wait))
                .with_deadline(Duration::from_secs_f64(self.timeout)),
            attempt_timeout,
            max_body_size: self.max_body_size,
            allow_insecure_http: self.allow_insecure_http,
            rate_limit,
            resolved,
        })
    }
}

/// Whether the rate limiter is on: `PERSPIO_RATE_LIMIT` or the profile's `rate_limit`
/// (`documented` or `on`: on; `off`: off), on when neither says.
fn rate_limit_on(resolved: &Resolved) -> Result<bool, CliError> {
    match resolved.get(perspio_config::Key::RateLimit).map(str::trim) {
        None => Ok(true),
        Some("on") => Ok(true),
        Some(value) => match value.parse::<perspio_config::RateLimitPreset>() {
            Ok(preset) => Ok(preset == perspio_config::RateLimitPreset::Documented),
            Err(_) => Err(CliError::new(
                Exit::Usage,
                format!(
                    "invalid setting {}: `documented` (or `on`) or `off`; or pass --no-rate-limit",
                    resolved.describe(perspio_config::Key::RateLimit.variable())
                ),
            )),
        },
    }
}

/// The output format: `--output`, else `PERSPIO_OUTPUT` or the profile's `output` (through
/// output.rs's hook), else JSON. A configuration that cannot be read leaves JSON: the
/// command that needs it reports the error.
pub(crate) fn output_format(globals: &GlobalArgs) -> Result<OutputFormat, CliError> {
    if let Some(format) = globals.output {
        return Ok(format);
    }
    if globals.sandbox {
        return Ok(crate::output::DEFAULT_OUTPUT);
    }
    let resolver = globals
        .resolver(
            |name| std::env::var(name).ok(),
            perspio_config::config_dir(),
        )
        .reading_secrets(false);
    let Ok(resolved) = resolver.resolve() else {
        return Ok(crate::output::DEFAULT_OUTPUT);
    };
    match resolved.get(perspio_config::Key::Output) {
        None => Ok(crate::output::DEFAULT_OUTPUT),
        Some(name) => OutputFormat::from_profile(name).ok_or_else(|| {
            CliError::new(
                Exit::Usage,
                format!(
                    "invalid setting {}: unknown output format `{}`; known: json, ndjson, yaml, csv, tsv, table",
                    resolved.describe("PERSPIO_OUTPUT"),
                    perspio_core::text::remote(name)
                ),
            )
        }),
    }
}

/// A configuration error of perspio-config (it names the places and the fix): exit 2, or 1
/// for a file or keyring that cannot be read or written.
pub(crate) fn config_error(error: &perspio_config::ConfigError) -> CliError {
    use perspio_config::ConfigError as E;
    let exit = match error {
        E::Read { .. } | E::Write { .. } | E::Keyring { .. } | E::SecretsUnreadable { .. } => {
            Exit::Other
        }
        _ => Exit::Usage,
    };
    CliError::new(exit, cause_chain(error))
}

/// A configuration error as one line naming the variable and its flag, or the profile's key
/// when the value came from a profile. Values are never shown.
pub(crate) fn setting_error_in(error: &AuthError, resolved: Option<&Resolved>) -> CliError {
    let describe = |variable: &str| match resolved {
        Some(resolved) => resolved.describe(variable),
        None => format!("{variable} ({})", flag_of(variable)),
    };
    let of_field = |field: &str| match (
        SETTINGS_BY_FIELD.iter().find(|(f, _)| *f == field),
        resolved,
    ) {
        (Some((_, variable)), Some(_)) => describe(variable),
        _ => setting_of_field(field),
    };
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
            format!("invalid setting {}: {reason}", describe(name)),
        ),
        AuthError::InvalidConfig { field, reason } => CliError::new(
            Exit::Usage,
            format!("invalid setting {}: {reason}", of_field(field)),
        ),
        AuthError::InsecureTransport { field, origin } => CliError::new(
            Exit::Usage,
            format!(
                "invalid setting {}: refusing to send credentials over plain http to {origin}; \
                 use https or a loopback address, or pass --allow-insecure-http if the \
                 network path is trusted",
                of_field(field)
            ),
        ),
        AuthError::CredentialsWouldLeak { origin, allowed } => CliError::new(
            Exit::Usage,
            format!(
                "invalid setting {}: requests go to {origin}, credentials belong to {allowed}",
                of_field("api_base_url")
            ),
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
    attempt_timeout: Duration,
    max_body_size: u64,
    allow_insecure_http: bool,
    /// Whether calls wait for the documented rate limits.
    rate_limit: bool,
    /// Where every setting came from, the profile, its secret store.
    pub(crate) resolved: Resolved,
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
            .field("rate_limit", &self.rate_limit)
            .field("resolved", &self.resolved)
            .finish()
    }
}

/// A client and the authentication middleware inside it (they share one token cache).
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) auth: AuthMiddleware,
    /// The profile used, if any (named in the hint of an expired login).
    pub(crate) profile: Option<String>,
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
        let source = self.token_source()?;
        self.connect_with(source)
    }

    /// The token source of the profile's flow: `None` for client credentials (the
    /// middleware's default), the login's refresh token in the secret store for
    /// `authorization_code`.
    fn token_source(&self) -> Result<Option<Arc<dyn perspio_auth::TokenSource>>, CliError> {
        if self.resolved.flow() != perspio_config::Flow::AuthorizationCode {
            return Ok(None);
        }
        let store = self
            .resolved
            .refresh_token_store()
            .map_err(|e| config_error(&e))?;
        let source = perspio_auth::AuthorizationCodeSource::new(
            &self.credentials,
            Arc::new(store),
            &self.auth_config,
        )
        .map_err(|e| setting_error_in(&e, Some(&self.resolved)))?;
        Ok(Some(Arc::new(source)))
    }

    /// The credentials (for a login).
    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The authentication settings (for a login).
    pub(crate) fn auth_config(&self) -> &AuthConfig {
        &self.auth_config
    }

    /// As [`connect`](Self::connect), with tokens from `source` when given.
    pub(crate) fn connect_with(
        self,
        source: Option<Arc<dyn perspio_auth::TokenSource>>,
    ) -> Result<Connection, CliError> {
        let profile = self.resolved.profile().map(str::to_owned);
        let resolved = &self.resolved;
        if self.allow_insecure_http {
            let _ = writeln!(
                std::io::stderr().lock(),
                "perspio: warning: --allow-insecure-http: credentials may travel unencrypted \
                 to a host that is not loopback; anyone on the network path can read and reuse them"
            );
        }
        let fleet = self.fleet;
        let mut builder = Client::builder(self.credentials);
        if let Some(source) = source {
            builder = builder.with_token_source(source);
        }
        let rate_limit = self.rate_limit;
        let (client, auth) = builder
            .with_auth_config(self.auth_config)
            .with_base_url(self.base_url.clone())
            .with_retry(self.retry)
            .with_connect_timeout(CONNECT_TIMEOUT.min(self.attempt_timeout))
            .with_read_timeout(self.attempt_timeout)
            .with_max_body_size(self.max_body_size)
            .with_fleet_env(|name| {
                fleet
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            })
            .map(|builder| {
                if rate_limit {
                    builder.with_rate_limit(perspio_policy::RateLimit::perspio_documented())
                } else {
                    builder.without_rate_limit()
                }
            })
            .and_then(perspio_api::ClientBuilder::build_with_auth)
            .map_err(|e| match e {
                perspio_api::Error::InvalidBaseUrl { .. } => CliError::new(
                    Exit::Usage,
                    format!(
                        "invalid setting {}: {}",
                        resolved.describe(perspio_api::ENV_BASE_URL),
                        cause_chain(&e)
                    ),
                ),
                perspio_api::Error::AuthConfig(auth) => setting_error_in(&auth, Some(resolved)),
                perspio_api::Error::InvalidStore { .. } => CliError::new(
                    Exit::Usage,
                    format!("invalid configuration: {}", cause_chain(&e)),
                ),
                other => CliError::new(
                    Exit::Other,
                    format!("cannot build the client: {}", cause_chain(&other)),
                ),
            })?;
        Ok(Connection {
            client,
            auth,
            profile,
        })
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
        let settings = parse(&["--client-id", "flag-client"])
            .resolve(env, None)
            .unwrap();
        assert_eq!(settings.credentials.client_id(), "flag-client");
        assert_eq!(settings.credentials.tenant_id(), "in-env");
        assert_eq!(settings.base_url, perspio_api::DEFAULT_BASE_URL);
    }

    #[test]
    fn a_missing_setting_names_the_variable_and_the_flag() {
        let error = parse(&[])
            .resolve(
                |name| env(name).filter(|_| name != "PERSPIO_TENANT_ID"),
                None,
            )
            .unwrap_err();
        assert_eq!(error.exit, Exit::Usage);
        assert!(error.message.contains("PERSPIO_TENANT_ID"), "{error}");
        assert!(error.message.contains("--tenant-id"), "{error}");
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(byte_size("1048576"), Ok(1 << 20));
        assert_eq!(byte_size("512KiB"), Ok(512 << 10));
        assert_eq!(byte_size("64MiB"), Ok(64 << 20));
        assert_eq!(byte_size("1 GiB"), Ok(1 << 30));
        for bad in ["", "0", "lots", "-1", "99999999999GiB", "1.5MiB"] {
            assert!(byte_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_library_field_name_maps_to_a_variable_and_its_flag() {
        for (field, variable) in SETTINGS_BY_FIELD {
            let shown = setting_of_field(field);
            assert!(
                shown.starts_with(variable) && shown.contains("(--"),
                "{field}: {shown}"
            );
        }
    }

    #[test]
    fn a_malformed_base_url_is_a_usage_error_naming_it() {
        let error = parse(&["--base-url", "not a url"])
            .resolve(env, None)
            .unwrap_err();
        assert_eq!(error.exit, Exit::Usage);
        assert!(
            error.message.contains("PERSPIO_BASE_URL (--base-url)"),
            "{error}"
        );
    }
}
