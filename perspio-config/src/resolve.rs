//! The precedence of every setting, in one place: [`Resolver`] → [`Resolved`].
//!
//! | rank | source | example |
//! |---|---|---|
//! | 1 | a flag (the CLI's, given with [`Resolver::with_flag`]) | `--tenant-id in-acme` |
//! | 2 | a `PERSPIO_*` variable | `PERSPIO_TENANT_ID=in-acme` |
//! | 3 | the profile named by `--profile` ([`Resolver::with_profile`]) or else `PERSPIO_PROFILE` | `[profile.acme]` |
//! | 4 | the profile named by `default_profile`, when none is named | `default_profile = "acme"` |
//! | 5 | the built-in default | `https://talk.perspio.io` |
//!
//! One profile is used at most: a named profile replaces the default profile, it does not
//! add to it (tenant A's base URL never mixes with tenant B's key). Secrets follow the same
//! order, with the profile's [`SecretStore`] in place of config.toml. A named profile that
//! does not exist is an error, not a fallback to the default profile.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};

use crate::error::ConfigError;
use crate::file::{ConfigFile, ENV_PROFILE, ENV_SECRET_STORE, config_dir, config_dir_with};
use crate::keys::{Flow, Key, RateLimitPreset, SecretMode, SecretName};
use crate::refresh::ProfileRefreshToken;
use crate::secrets::{KeyringBackend, SecretLocation, SecretStore, default_keyring, open_store};

/// What chose the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileVia {
    /// `--profile` ([`Resolver::with_profile`]).
    Flag,
    /// `PERSPIO_PROFILE`.
    Env,
    /// config.toml's `default_profile`.
    DefaultProfile,
}

impl fmt::Display for ProfileVia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileVia::Flag => "--profile",
            ProfileVia::Env => ENV_PROFILE,
            ProfileVia::DefaultProfile => "default_profile",
        })
    }
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A flag.
    Flag(&'static str),
    /// A `PERSPIO_*` variable.
    Env(&'static str),
    /// A profile of config.toml.
    Profile {
        /// The profile.
        name: String,
        /// What chose it.
        via: ProfileVia,
        /// The file.
        path: PathBuf,
    },
    /// A profile's secret in the secret store.
    SecretStore {
        /// The profile.
        name: String,
        /// Where the store keeps it.
        location: SecretLocation,
    },
    /// The built-in default.
    Default,
    /// Set nowhere, and no default.
    Unset,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => f.write_str(flag),
            Origin::Env(variable) => f.write_str(variable),
            Origin::Profile { name, via, path } => {
                write!(f, "profile {name} ({via}) in {}", path.display())
            }
            Origin::SecretStore { name, location } => {
                write!(f, "secret store of profile {name}: {location}")
            }
            Origin::Default => f.write_str("built-in default"),
            Origin::Unset => f.write_str("not set"),
        }
    }
}

/// Every variable the resolver reads: the settings', the secrets', `PERSPIO_CONFIG_DIR`,
/// `PERSPIO_PROFILE` and `PERSPIO_SECRET_STORE`.
pub fn variables() -> Vec<&'static str> {
    Key::ALL
        .iter()
        .map(|key| key.variable())
        .chain(SecretName::ALL.iter().filter_map(|s| s.variable()))
        .chain([crate::file::ENV_CONFIG_DIR, ENV_PROFILE, ENV_SECRET_STORE])
        .collect()
}

/// How variables are read.
type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Gathers the sources of the settings; [`resolve`](Self::resolve) applies the precedence.
///
/// ```
/// # fn run() -> Result<(), perspio_config::ConfigError> {
/// # let dir = tempfile_dir();
/// use perspio_config::{ConfigFile, Key, Resolver};
///
/// let mut file = ConfigFile::load(&dir)?;
/// file.set(Some("acme"), Key::TenantId, "in-acme")?;
/// file.set(Some("acme"), Key::BaseUrl, "https://dev-talk.perspio.io")?;
/// file.set_default_profile(Some("acme"))?;
/// file.save()?;
///
/// let env = |name: &str| (name == "PERSPIO_BASE_URL").then(|| "https://talk.perspio.io".to_owned());
/// let resolved = Resolver::from_lookup(env).with_config_dir(Some(dir.clone())).resolve()?;
/// assert_eq!(resolved.profile(), Some("acme"));
/// assert_eq!(resolved.get(Key::TenantId), Some("in-acme"));          // the default profile
/// assert_eq!(resolved.get(Key::BaseUrl), Some("https://talk.perspio.io")); // the variable wins
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(()) }
/// # fn tempfile_dir() -> std::path::PathBuf {
/// #     std::env::temp_dir().join(format!("perspio-resolve-doc-{}", std::process::id()))
/// # }
/// # run().unwrap();
/// ```
#[derive(Clone)]
pub struct Resolver {
    lookup: Lookup,
    config_dir: Option<PathBuf>,
    flags: BTreeMap<Key, String>,
    secret_flags: BTreeMap<SecretName, SecretString>,
    profile: Option<String>,
    name_flags: bool,
    keyring: Option<Arc<dyn KeyringBackend>>,
    read_secrets: bool,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("config_dir", &self.config_dir)
            .field("flags", &self.flags)
            .field(
                "secret_flags",
                &self.secret_flags.keys().collect::<Vec<_>>(),
            )
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// The process environment, and config.toml in [`config_dir`] (`PERSPIO_CONFIG_DIR`, else
    /// the platform's configuration directory).
    pub fn from_env() -> Self {
        Self {
            config_dir: config_dir(),
            ..Self::from_lookup(|name| std::env::var(name).ok())
        }
    }

    /// Variables read through `lookup`; config.toml only in the directory `lookup` names with
    /// `PERSPIO_CONFIG_DIR` (a lookup is a sealed environment: no platform directory).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        let config_dir = config_dir_with(&lookup, false);
        Self {
            lookup: Arc::new(lookup),
            config_dir,
            flags: BTreeMap::new(),
            secret_flags: BTreeMap::new(),
            profile: None,
            name_flags: false,
            keyring: None,
            read_secrets: true,
        }
    }

    /// As [`from_lookup`](Self::from_lookup) for a lookup that borrows (a sandbox's settings):
    /// every variable this crate reads is copied out of it first.
    pub fn from_lookup_copied(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let values: std::collections::HashMap<&'static str, String> = variables()
            .into_iter()
            .filter_map(|name| lookup(name).map(|value| (name, value)))
            .collect();
        Self::from_lookup(move |name| values.get(name).cloned())
    }

    /// The configuration directory (config.toml, the secret files); `None` for no
    /// configuration at all (the `--sandbox` runs of the CLI).
    pub fn with_config_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.config_dir = dir;
        self
    }

    /// The profile named by `--profile` (it beats `PERSPIO_PROFILE` and `default_profile`).
    pub fn with_profile(mut self, name: Option<impl Into<String>>) -> Self {
        self.profile = name.map(Into::into);
        self
    }

    /// A flag's value: it beats every other source.
    pub fn with_flag(mut self, key: Key, value: Option<impl Into<String>>) -> Self {
        if let Some(value) = value {
            self.flags.insert(key, value.into());
        }
        self
    }

    /// A secret given by flag or on stdin: it beats the variable and the store.
    pub fn with_secret_flag(mut self, name: SecretName, value: Option<SecretString>) -> Self {
        if let Some(value) = value {
            self.secret_flags.insert(name, value);
        }
        self
    }

    /// Whether messages name the `perspio` CLI's flags among the places looked at. Defaults
    /// to `false` (an SDK program has no such flags).
    pub fn naming_flags(mut self, name_flags: bool) -> Self {
        self.name_flags = name_flags;
        self
    }

    /// Whether [`resolve`](Self::resolve) reads the profile's secrets from the store; turn
    /// it off to resolve settings only (no keyring, no decryption). Defaults to `true`.
    pub fn reading_secrets(mut self, read: bool) -> Self {
        self.read_secrets = read;
        self
    }

    /// The keyring of the `auto` and `keyring` secret stores. Defaults to
    /// [`default_keyring`].
    pub fn with_keyring(mut self, keyring: Arc<dyn KeyringBackend>) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// The configuration directory, if any.
    pub fn config_dir(&self) -> Option<&Path> {
        self.config_dir.as_deref()
    }

    /// A variable, as this resolver reads it (an empty value is a value, refused where it
    /// is checked; only the variables that choose a profile or a store treat it as unset).
    pub fn variable(&self, name: &str) -> Option<String> {
        let value = (self.lookup)(name);
        if [ENV_PROFILE, ENV_SECRET_STORE].contains(&name) {
            value.filter(|v| !v.trim().is_empty())
        } else {
            value
        }
    }

    /// config.toml (empty when there is none), or `None` without a configuration directory.
    ///
    /// # Errors
    ///
    /// As [`ConfigFile::load`].
    pub fn load_file(&self) -> Result<Option<ConfigFile>, ConfigError> {
        self.config_dir.as_deref().map(ConfigFile::load).transpose()
    }

    /// The secret mode: `PERSPIO_SECRET_STORE`, else config.toml's `secret_store`, else `auto`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`] for a variable that names no mode.
    pub fn secret_mode(&self, file: Option<&ConfigFile>) -> Result<SecretMode, ConfigError> {
        if let Some(raw) = self.variable(ENV_SECRET_STORE) {
            return raw.parse().map_err(|reason| ConfigError::InvalidValue {
                key: "secret_store".into(),
                place: ENV_SECRET_STORE.into(),
                reason,
            });
        }
        Ok(file.and_then(ConfigFile::secret_store).unwrap_or_default())
    }

    /// The secret store of this configuration (nothing is read yet).
    ///
    /// # Errors
    ///
    /// As [`load_file`](Self::load_file) and [`secret_mode`](Self::secret_mode).
    pub fn open_store(&self) -> Result<Arc<dyn SecretStore>, ConfigError> {
        let file = self.load_file()?;
        let mode = self.secret_mode(file.as_ref())?;
        Ok(self.store_for(mode))
    }

    fn store_for(&self, mode: SecretMode) -> Arc<dyn SecretStore> {
        let keyring = self.keyring.clone().unwrap_or_else(default_keyring);
        open_store(self.config_dir.as_deref(), mode, keyring)
    }

    /// The profile to use and what chose it; `None` when nothing names one.
    fn select(
        &self,
        file: Option<&ConfigFile>,
    ) -> Result<Option<(String, ProfileVia)>, ConfigError> {
        let named = match (&self.profile, self.variable(ENV_PROFILE)) {
            (Some(name), _) => Some((name.clone(), ProfileVia::Flag)),
            (None, Some(name)) => Some((name.trim().to_owned(), ProfileVia::Env)),
            (None, None) => file
                .and_then(ConfigFile::default_profile)
                .map(|name| (name, ProfileVia::DefaultProfile)),
        };
        let Some((name, via)) = named else {
            return Ok(None);
        };
        match file {
            Some(file) if file.has_profile(&name) => Ok(Some((name, via))),
            _ => Err(ConfigError::ProfileNotFound {
                known: file.map(ConfigFile::profiles).unwrap_or_default(),
                path: file.map(|f| f.path().to_owned()),
                name,
                via: via.to_string(),
            }),
        }
    }

    /// Applies the precedence to every setting and secret.
    ///
    /// Secrets are read from the store only for a profile and only when no flag or variable
    /// gives them; the keyring is therefore touched only when it holds the key of a
    /// profile's secrets that are needed.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ProfileNotFound`]; config.toml errors ([`ConfigFile::load`]); a
    /// malformed variable of the new settings (`PERSPIO_FLOW`, `PERSPIO_RATE_LIMIT`,
    /// `PERSPIO_SECRET_STORE`); a store that cannot be read.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let file = self.load_file()?;
        let profile = self.select(file.as_ref())?;
        let mode = self.secret_mode(file.as_ref())?;
        let store = self.store_for(mode);
        let mut values = BTreeMap::new();
        for key in Key::ALL {
            let found = if let Some(value) = self.flags.get(&key) {
                let flag = key.flag().unwrap_or("a flag");
                Some((value.clone(), Origin::Flag(flag)))
            } else if let Some(value) = self.variable(key.variable()) {
                Some((value, Origin::Env(key.variable())))
            } else {
                match (&profile, &file) {
                    (Some((name, via)), Some(file)) => file.get(name, key).map(|value| {
                        (
                            value,
                            Origin::Profile {
                                name: name.clone(),
                                via: *via,
                                path: file.path().to_owned(),
                            },
                        )
                    }),
                    _ => None,
                }
            };
            if let Some((value, origin)) = found {
                if matches!(key, Key::Flow | Key::RateLimit | Key::FleetSize) {
                    key.check(&value, &origin.to_string(), false)?;
                }
                values.insert(key, (value.trim().to_owned(), origin));
            }
        }
        let mut resolved = Resolved {
            file,
            profile,
            values,
            secrets: BTreeMap::new(),
            mode,
            store,
            name_flags: self.name_flags,
        };
        let mut stored = None;
        for name in SecretName::ALL {
            if let Some(value) = self.secret_flags.get(&name) {
                let origin = Origin::Flag(name.flag().unwrap_or("stdin"));
                resolved.secrets.insert(name, (value.clone(), origin));
            } else if let Some(value) = name.variable().and_then(|v| self.variable(v)) {
                let origin = Origin::Env(name.variable().unwrap_or_default());
                resolved
                    .secrets
                    .insert(name, (SecretString::from(value), origin));
            } else if let (Some((profile, _)), true) = (&resolved.profile, self.read_secrets) {
                if stored.is_none() {
                    stored = Some(resolved.store.load()?);
                }
                if let Some(value) = stored.as_ref().and_then(|s| s.get(profile, name)) {
                    let origin = Origin::SecretStore {
                        name: profile.clone(),
                        location: resolved.store.location(),
                    };
                    resolved.secrets.insert(name, (value, origin));
                }
            }
        }
        Ok(resolved)
    }
}

/// One line of `perspio config list`: a setting, its value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key (`base_url`, …, `client_secret`).
    pub key: &'static str,
    /// The value; for a secret only whether it is set (`<set>`), never the value.
    pub value: Option<String>,
    /// Where it came from.
    pub origin: Origin,
}

/// Every setting and secret with its origin, after [`Resolver::resolve`].
pub struct Resolved {
    file: Option<ConfigFile>,
    profile: Option<(String, ProfileVia)>,
    values: BTreeMap<Key, (String, Origin)>,
    secrets: BTreeMap<SecretName, (SecretString, Origin)>,
    mode: SecretMode,
    store: Arc<dyn SecretStore>,
    name_flags: bool,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("profile", &self.profile)
            .field("values", &self.values)
            .field(
                "secrets",
                &self
                    .secrets
                    .iter()
                    .map(|(name, (_, origin))| (name, origin))
                    .collect::<Vec<_>>(),
            )
            .field("mode", &self.mode)
            .field("store", &self.store)
            .finish()
    }
}

impl Resolved {
    /// The profile used, if any.
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_ref().map(|(name, _)| name.as_str())
    }

    /// What chose the profile.
    pub fn profile_via(&self) -> Option<ProfileVia> {
        self.profile.as_ref().map(|(_, via)| *via)
    }

    /// config.toml, when there is a configuration directory.
    pub fn file(&self) -> Option<&ConfigFile> {
        self.file.as_ref()
    }

    /// A setting's value, if set anywhere (built-in defaults excluded: see
    /// [`value`](Self::value)).
    pub fn get(&self, key: Key) -> Option<&str> {
        self.values.get(&key).map(|(value, _)| value.as_str())
    }

    /// A setting's value, or its built-in default.
    pub fn value(&self, key: Key) -> Option<String> {
        self.get(key)
            .map(str::to_owned)
            .or_else(|| self.default(key))
    }

    /// The built-in default of a setting.
    fn default(&self, key: Key) -> Option<String> {
        match key {
            Key::BaseUrl => Some(perspio_auth::DEFAULT_API_BASE_URL.into()),
            Key::TokenUrl => Some(perspio_auth::DEFAULT_TOKEN_URL.into()),
            Key::Scope => Some(
                match self.flow() {
                    Flow::ClientCredentials => perspio_auth::DEFAULT_SCOPE,
                    Flow::AuthorizationCode => perspio_auth::DEFAULT_USER_SCOPE,
                }
                .into(),
            ),
            Key::Flow => Some(Flow::default().as_str().into()),
            Key::FleetSize => Some("1".into()),
            _ => None,
        }
    }

    /// Where a setting came from.
    pub fn origin(&self, key: Key) -> Origin {
        match self.values.get(&key) {
            Some((_, origin)) => origin.clone(),
            None if self.default(key).is_some() => Origin::Default,
            None => Origin::Unset,
        }
    }

    /// The flow: `flow`, else client credentials.
    pub fn flow(&self) -> Flow {
        self.get(Key::Flow)
            .and_then(|f| f.parse().ok())
            .unwrap_or_default()
    }

    /// The rate-limit preset, if one is set.
    pub fn rate_limit(&self) -> Option<RateLimitPreset> {
        self.get(Key::RateLimit).and_then(|r| r.parse().ok())
    }

    /// A secret, if a flag, a variable or the profile's store gives it.
    pub fn secret(&self, name: SecretName) -> Option<&SecretString> {
        self.secrets.get(&name).map(|(value, _)| value)
    }

    /// Where a secret came from.
    pub fn secret_origin(&self, name: SecretName) -> Origin {
        self.secrets
            .get(&name)
            .map_or(Origin::Unset, |(_, origin)| origin.clone())
    }

    /// The secret store of this configuration.
    pub fn store(&self) -> &Arc<dyn SecretStore> {
        &self.store
    }

    /// Its mode.
    pub fn secret_mode(&self) -> SecretMode {
        self.mode
    }

    /// The refresh token of the profile, in the store (for an
    /// [`AuthorizationCodeSource`](perspio_auth::AuthorizationCodeSource)).
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingSetting`] when no profile is used: a login belongs to one.
    pub fn refresh_token_store(&self) -> Result<ProfileRefreshToken, ConfigError> {
        match self.profile() {
            Some(profile) => Ok(ProfileRefreshToken::new(Arc::clone(&self.store), profile)),
            None => Err(ConfigError::MissingSetting {
                setting: "profile",
                looked: self.no_profile_places(),
                fix: "perspio profile add <NAME> --flow authorization_code --default, then perspio auth login".into(),
            }),
        }
    }

    /// The winning value for a `PERSPIO_*` variable name (settings and secrets), for code that
    /// reads settings through a lookup (`ClientBuilder::from_env_with`,
    /// `Credentials::from_env_with`). Built-in defaults are not included.
    pub fn lookup(&self, variable: &str) -> Option<String> {
        if let Some(key) = Key::ALL.into_iter().find(|k| k.variable() == variable) {
            return self.get(key).map(str::to_owned);
        }
        SecretName::ALL
            .into_iter()
            .find(|s| s.variable() == Some(variable))
            .and_then(|s| self.secret(s))
            .map(|v| v.expose_secret().to_owned())
    }

    /// How to name the source of a variable's value in a message: `PERSPIO_BASE_URL
    /// (--base-url)` for a flag or a variable, `base_url of profile acme (/…/config.toml)`
    /// for a profile's value.
    pub fn describe(&self, variable: &str) -> String {
        let key = Key::ALL.into_iter().find(|k| k.variable() == variable);
        let secret = SecretName::ALL
            .into_iter()
            .find(|s| s.variable() == Some(variable));
        let (origin, flag, name) = match (key, secret) {
            (Some(key), _) => (self.origin(key), key.flag(), key.name()),
            (None, Some(secret)) => (self.secret_origin(secret), secret.flag(), secret.name()),
            (None, None) => return variable.to_owned(),
        };
        match origin {
            Origin::Profile {
                name: profile,
                path,
                ..
            } => {
                format!("{name} of profile {profile} ({})", path.display())
            }
            Origin::SecretStore { name: profile, .. } => {
                format!("{name} of profile {profile} (secret store)")
            }
            _ => match flag.filter(|_| self.name_flags) {
                Some(flag) => format!("{variable} ({flag})"),
                None => variable.to_owned(),
            },
        }
    }

    /// Checks that the client id, the tenant id, the client secret and the subscription key
    /// are set somewhere.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingSetting`] for the first missing one, naming every place looked
    /// at and the one command that fixes it.
    pub fn check_complete(&self) -> Result<(), ConfigError> {
        for key in [Key::ClientId, Key::TenantId] {
            if self.get(key).is_none() {
                return Err(self.missing(key));
            }
        }
        for name in [SecretName::ClientSecret, SecretName::SubscriptionKey] {
            if self.secret(name).is_none() {
                return Err(self.missing_secret(name));
            }
        }
        Ok(())
    }

    fn no_profile_places(&self) -> String {
        let by = if self.name_flags {
            format!("--profile, {ENV_PROFILE} or default_profile")
        } else {
            format!("{ENV_PROFILE} or default_profile")
        };
        match &self.file {
            Some(file) => format!(
                "no profile (none named by {by} in {})",
                file.path().display()
            ),
            None => format!("no profile (none named by {by}; no configuration directory)"),
        }
    }

    fn profile_place(&self) -> String {
        match (&self.profile, &self.file) {
            (Some((name, via)), Some(file)) => {
                format!(
                    "profile {name} (named by {via}) in {}",
                    file.path().display()
                )
            }
            _ => self.no_profile_places(),
        }
    }

    /// The error for a setting that is set nowhere.
    pub fn missing(&self, key: Key) -> ConfigError {
        let mut looked = Vec::new();
        if let Some(flag) = key.flag().filter(|_| self.name_flags) {
            looked.push(flag.to_owned());
        }
        looked.push(key.variable().to_owned());
        looked.push(self.profile_place());
        let fix = match self.profile() {
            Some(name) => format!(
                "perspio config set {} {} --profile {name}",
                key.name(),
                key.placeholder()
            ),
            None => format!(
                "perspio profile add <NAME> --{} {} --default",
                key.name().replace('_', "-"),
                key.placeholder()
            ),
        };
        ConfigError::MissingSetting {
            setting: key.name(),
            looked: looked.join(", "),
            fix,
        }
    }

    /// The error for a secret that is set nowhere.
    pub fn missing_secret(&self, name: SecretName) -> ConfigError {
        let mut looked = Vec::new();
        if let Some(flag) = name.flag().filter(|_| self.name_flags) {
            looked.push(flag.to_owned());
        }
        if let Some(variable) = name.variable() {
            looked.push(variable.to_owned());
        }
        match self.profile() {
            Some(profile) => looked.push(format!(
                "the secret store of profile {profile} ({})",
                self.store.location()
            )),
            None => looked.push(self.no_profile_places()),
        }
        let stdin_flag = format!("--{}-stdin", name.name().replace('_', "-"));
        let fix = match (name, self.profile()) {
            (SecretName::RefreshToken, Some(profile)) => {
                format!("perspio auth login --profile {profile}")
            }
            (_, Some(profile)) => format!("perspio profile add {profile} {stdin_flag}"),
            (_, None) => format!("perspio profile add <NAME> {stdin_flag} --default"),
        };
        ConfigError::MissingSetting {
            setting: name.name(),
            looked: looked.join(", "),
            fix,
        }
    }

    /// Every setting and secret, with its value (secrets: `<set>`) and origin, for
    /// `perspio config list`.
    pub fn entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Key::ALL
            .into_iter()
            .map(|key| Entry {
                key: key.name(),
                value: self.value(key),
                origin: self.origin(key),
            })
            .collect();
        entries.extend(SecretName::ALL.into_iter().map(|name| Entry {
            key: name.name(),
            value: self.secret(name).map(|_| "<set>".to_owned()),
            origin: self.secret_origin(name),
        }));
        entries
    }
}
