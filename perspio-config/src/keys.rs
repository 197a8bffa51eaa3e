//! The settings a profile holds, the secrets it does not, and their names everywhere.

use std::fmt;
use std::str::FromStr;

/// A setting of a profile: its key in config.toml, its `PERSPIO_*` variable, its CLI flag.
///
/// | key | variable | flag | built-in default |
/// |---|---|---|---|
/// | `base_url` | `PERSPIO_BASE_URL` | `--base-url` | `https://talk.perspio.io` |
/// | `token_url` | `PERSPIO_TOKEN_URL` | `--token-url` | Perspio's Entra token endpoint |
/// | `tenant_id` | `PERSPIO_TENANT_ID` | `--tenant-id` | required |
/// | `client_id` | `PERSPIO_CLIENT_ID` | `--client-id` | required |
/// | `scope` | `PERSPIO_SCOPE` | `--scope` | `api://perspiotalk/.default` (client credentials), `api://perspiotalk/access_as_user` (login) |
/// | `flow` | `PERSPIO_FLOW` | | `client_credentials` |
/// | `output` | `PERSPIO_OUTPUT` | `--output` | the CLI's (`json`) |
/// | `rate_limit` | `PERSPIO_RATE_LIMIT` | | none: the program's own choice |
/// | `redis_url` | `PERSPIO_REDIS_URL` | | none |
/// | `memcached_url` | `PERSPIO_MEMCACHED_URL` | | none |
/// | `fleet_size` | `PERSPIO_FLEET_SIZE` | | 1 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Key {
    /// The PerspioTalk host.
    BaseUrl,
    /// The Entra token endpoint (the authorize endpoint sits beside it).
    TokenUrl,
    /// The Perspio tenant id, sent as `tid`.
    TenantId,
    /// The Entra application (client) id.
    ClientId,
    /// The OAuth2 scope.
    Scope,
    /// `client_credentials` or `authorization_code` ([`Flow`]).
    Flow,
    /// The CLI's default output format (`json`, `table`, …; the CLI checks the name).
    Output,
    /// A client-side rate-limit preset ([`RateLimitPreset`]).
    RateLimit,
    /// A fleet's Redis (shared token and rate budget); never with a password in config.toml.
    RedisUrl,
    /// A fleet's Memcached (shared token); never with a password in config.toml.
    MemcachedUrl,
    /// How many processes share the application's budget.
    FleetSize,
}

impl Key {
    /// Every key, in the order `config list` shows them.
    pub const ALL: [Key; 11] = [
        Key::BaseUrl,
        Key::TokenUrl,
        Key::TenantId,
        Key::ClientId,
        Key::Scope,
        Key::Flow,
        Key::Output,
        Key::RateLimit,
        Key::RedisUrl,
        Key::MemcachedUrl,
        Key::FleetSize,
    ];

    /// The key in config.toml.
    pub fn name(self) -> &'static str {
        match self {
            Key::BaseUrl => "base_url",
            Key::TokenUrl => "token_url",
            Key::TenantId => "tenant_id",
            Key::ClientId => "client_id",
            Key::Scope => "scope",
            Key::Flow => "flow",
            Key::Output => "output",
            Key::RateLimit => "rate_limit",
            Key::RedisUrl => "redis_url",
            Key::MemcachedUrl => "memcached_url",
            Key::FleetSize => "fleet_size",
        }
    }

    /// The `PERSPIO_*` variable that overrides the profile.
    pub fn variable(self) -> &'static str {
        match self {
            Key::BaseUrl => "PERSPIO_BASE_URL",
            Key::TokenUrl => perspio_auth::ENV_TOKEN_URL,
            Key::TenantId => perspio_auth::ENV_TENANT_ID,
            Key::ClientId => perspio_auth::ENV_CLIENT_ID,
            Key::Scope => perspio_auth::ENV_SCOPE,
            Key::Flow => "PERSPIO_FLOW",
            Key::Output => "PERSPIO_OUTPUT",
            Key::RateLimit => "PERSPIO_RATE_LIMIT",
            Key::RedisUrl => "PERSPIO_REDIS_URL",
            Key::MemcachedUrl => "PERSPIO_MEMCACHED_URL",
            Key::FleetSize => "PERSPIO_FLEET_SIZE",
        }
    }

    /// The `perspio` flag that overrides the variable, if there is one. Store URLs have none:
    /// a password in a flag is visible in the process list.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Key::BaseUrl => Some("--base-url"),
            Key::TokenUrl => Some("--token-url"),
            Key::TenantId => Some("--tenant-id"),
            Key::ClientId => Some("--client-id"),
            Key::Scope => Some("--scope"),
            Key::Output => Some("--output"),
            Key::Flow | Key::RateLimit | Key::RedisUrl | Key::MemcachedUrl | Key::FleetSize => None,
        }
    }

    /// What to write in a fix command: `<TID>`, `<URL>`, …
    pub(crate) fn placeholder(self) -> &'static str {
        match self {
            Key::BaseUrl | Key::TokenUrl | Key::RedisUrl | Key::MemcachedUrl => "<URL>",
            Key::TenantId => "<TENANT_ID>",
            Key::ClientId => "<CLIENT_ID>",
            Key::Scope => "<SCOPE>",
            Key::Flow => "<client_credentials|authorization_code>",
            Key::Output => "<FORMAT>",
            Key::RateLimit => "<documented|off>",
            Key::FleetSize => "<N>",
        }
    }

    /// The key named `name` in config.toml.
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.name() == name)
    }

    /// Checks a value for this key; `place` says where it came from, for the error.
    ///
    /// # Errors
    ///
    /// [`crate::ConfigError::InvalidValue`]; [`crate::ConfigError::SecretInConfig`] for a store
    /// URL with a password, when `in_file` (config.toml never holds one).
    pub(crate) fn check(
        self,
        value: &str,
        place: &str,
        in_file: bool,
    ) -> Result<(), crate::ConfigError> {
        let invalid = |reason: &str| crate::ConfigError::InvalidValue {
            key: self.name().to_owned(),
            place: place.to_owned(),
            reason: reason.to_owned(),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(invalid("must not be empty"));
        }
        match self {
            Key::BaseUrl | Key::TokenUrl => {
                let url = url::Url::parse(value).map_err(|_| invalid("not an absolute url"))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(invalid("must be an http(s) url with a host"));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(invalid("must not carry user information"));
                }
            }
            Key::RedisUrl | Key::MemcachedUrl => {
                let url = url::Url::parse(value).map_err(|_| invalid("not an absolute url"))?;
                if in_file && url.password().is_some() {
                    return Err(crate::ConfigError::SecretInConfig {
                        key: self.name().to_owned(),
                        place: place.to_owned(),
                        fix: format!(
                            "keep a store URL with a password in {} (the environment of the \
                             processes that use it), and only the URL without it in the profile",
                            self.variable()
                        ),
                    });
                }
            }
            Key::Flow => {
                value.parse::<Flow>().map_err(|e| invalid(&e))?;
            }
            Key::RateLimit => {
                value.parse::<RateLimitPreset>().map_err(|e| invalid(&e))?;
            }
            Key::FleetSize => {
                if !value.parse::<u32>().is_ok_and(|n| n >= 1) {
                    return Err(invalid("must be a whole number of processes, at least 1"));
                }
            }
            Key::TenantId | Key::ClientId | Key::Scope | Key::Output => {
                if value.chars().any(char::is_control) {
                    return Err(invalid("must not contain control characters"));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A secret of a profile: never in config.toml, always in the [`SecretStore`](crate::SecretStore).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SecretName {
    /// The Entra client secret (`PERSPIO_CLIENT_SECRET`, `--client-secret`).
    ClientSecret,
    /// The subscription key (`PERSPIO_SUBSCRIPTION_KEY`, `--subscription-key`).
    SubscriptionKey,
    /// The refresh token of a user login (`perspio auth login`): only in the store.
    RefreshToken,
}

impl SecretName {
    /// Every secret.
    pub const ALL: [SecretName; 3] = [
        SecretName::ClientSecret,
        SecretName::SubscriptionKey,
        SecretName::RefreshToken,
    ];

    /// Its name in the store and in messages.
    pub fn name(self) -> &'static str {
        match self {
            SecretName::ClientSecret => "client_secret",
            SecretName::SubscriptionKey => "subscription_key",
            SecretName::RefreshToken => "refresh_token",
        }
    }

    /// The variable that can give it, if any.
    pub fn variable(self) -> Option<&'static str> {
        match self {
            SecretName::ClientSecret => Some(perspio_auth::ENV_CLIENT_SECRET),
            SecretName::SubscriptionKey => Some(perspio_auth::ENV_SUBSCRIPTION_KEY),
            SecretName::RefreshToken => None,
        }
    }

    /// The `perspio` flag that can give it, if any (visible in the process list).
    pub fn flag(self) -> Option<&'static str> {
        match self {
            SecretName::ClientSecret => Some("--client-secret"),
            SecretName::SubscriptionKey => Some("--subscription-key"),
            SecretName::RefreshToken => None,
        }
    }

    /// The secret named `name`.
    pub fn from_name(name: &str) -> Option<SecretName> {
        SecretName::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a profile gets its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flow {
    /// The application's own token (read only): client id and secret.
    #[default]
    ClientCredentials,
    /// A user's login (`perspio auth login`), then its refresh token (read/write).
    AuthorizationCode,
}

impl Flow {
    /// `client_credentials` or `authorization_code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::ClientCredentials => "client_credentials",
            Flow::AuthorizationCode => "authorization_code",
        }
    }
}

impl FromStr for Flow {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "client_credentials" => Ok(Flow::ClientCredentials),
            "authorization_code" => Ok(Flow::AuthorizationCode),
            _ => Err("must be client_credentials or authorization_code".into()),
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client-side rate limit a profile can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitPreset {
    /// PerspioTalk's documented limits (`RateLimit::perspio_documented`).
    Documented,
    /// No client-side limit: the server's `429`s are waited out.
    Off,
}

impl RateLimitPreset {
    /// `documented` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitPreset::Documented => "documented",
            RateLimitPreset::Off => "off",
        }
    }
}

impl FromStr for RateLimitPreset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "documented" => Ok(RateLimitPreset::Documented),
            "off" => Ok(RateLimitPreset::Off),
            _ => Err("must be documented or off".into()),
        }
    }
}

/// Where secrets are kept: config.toml's `secret_store`, `PERSPIO_SECRET_STORE`.
///
/// | mode | where |
/// |---|---|
/// | `auto` (default) | the OS keyring holds a key; the secrets are sealed with it in `secrets.enc`. No keyring (or one that does not answer within the timeout): the key goes to `secrets.key` beside it, and the user is told |
/// | `keyring` | as `auto`, but an unusable keyring is an error |
/// | `file` | a plain `secrets.json`, mode `0600`: only when asked for |
/// | `memory` | this process only: nothing is written |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretMode {
    /// The keyring, else the encrypted file (visible fallback).
    #[default]
    Auto,
    /// The keyring, or an error.
    Keyring,
    /// A plain `0600` file.
    File,
    /// Nothing persisted.
    Memory,
}

impl SecretMode {
    /// `auto`, `keyring`, `file` or `memory`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretMode::Auto => "auto",
            SecretMode::Keyring => "keyring",
            SecretMode::File => "file",
            SecretMode::Memory => "memory",
        }
    }
}

impl FromStr for SecretMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(SecretMode::Auto),
            "keyring" => Ok(SecretMode::Keyring),
            "file" => Ok(SecretMode::File),
            "memory" => Ok(SecretMode::Memory),
            _ => Err("must be auto, keyring, file or memory".into()),
        }
    }
}

impl fmt::Display for SecretMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
