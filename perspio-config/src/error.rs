//! The one error type of this crate.

use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong reading or writing the configuration and the secrets.
///
/// No variant ever holds a secret value. Messages name the file, the key and, where there is
/// one, the command that fixes it ([`ConfigError::fix`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file exists but cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// The configuration file is not valid TOML.
    #[error("{} is not valid TOML: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (line and column), bounded.
        message: String,
    },

    /// A file could not be written (the configuration, the secrets, a lock).
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// A key that config.toml does not know.
    #[error("unknown key `{key}` in {place}; known keys: {known}")]
    UnknownKey {
        /// The key as written.
        key: String,
        /// `[profile.acme] of /path/config.toml`, or the top level.
        place: String,
        /// The keys that are allowed there.
        known: String,
    },

    /// A value that cannot be used; the value itself is shown only when it is not secret.
    #[error("invalid {key} in {place}: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// Where the value came from: a flag, a variable, a profile in a file.
        place: String,
        /// Why it was refused.
        reason: String,
    },

    /// config.toml holds (or was asked to hold) a secret. Secrets go to the secret store.
    #[error("{key} is a secret and config.toml never holds one ({place}); {fix}")]
    SecretInConfig {
        /// The key, e.g. `client_secret`, or `redis_url` for a URL with a password.
        key: String,
        /// Where.
        place: String,
        /// What to do instead.
        fix: String,
    },

    /// A profile was asked for that config.toml does not have.
    #[error(
        "no profile `{name}` (named by {via}) in {}{}; fix: perspio profile add {name}",
        path.as_ref().map_or_else(|| "the configuration (no configuration directory)".to_owned(), |p| p.display().to_string()),
        if known.is_empty() { String::from("; it has no profile yet") } else { format!("; it has: {}", known.join(", ")) }
    )]
    ProfileNotFound {
        /// The profile asked for.
        name: String,
        /// What named it: `--profile`, `PERSPIO_PROFILE` or `default_profile`.
        via: String,
        /// The configuration file looked in.
        path: Option<PathBuf>,
        /// The profiles it has.
        known: Vec<String>,
    },

    /// A setting that is required and set nowhere.
    #[error("missing setting {setting}: looked at {looked}; fix: {fix}")]
    MissingSetting {
        /// The setting, e.g. `tenant_id`.
        setting: &'static str,
        /// Every place looked at, in order of precedence.
        looked: String,
        /// The one command that fixes it.
        fix: String,
    },

    /// The OS keyring could not be used (absent, locked, refusing, or silent past its timeout).
    #[error("the OS keyring ({backend}) is not usable: {reason}")]
    Keyring {
        /// Which keyring.
        backend: String,
        /// Why, as the keyring said (never a secret).
        reason: String,
    },

    /// The secrets file is unreadable: not ours, tampered with, or sealed with another key.
    #[error("the secrets file {} cannot be opened: {reason}; fix: {fix}", path.display())]
    SecretsUnreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// What to do.
        fix: String,
    },
}

impl ConfigError {
    /// The command that fixes this error, when the message names one.
    pub fn fix(&self) -> Option<&str> {
        match self {
            Self::MissingSetting { fix, .. }
            | Self::SecretInConfig { fix, .. }
            | Self::SecretsUnreadable { fix, .. } => Some(fix),
            _ => None,
        }
    }

    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Read {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Write {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
