#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod file;
mod keys;
mod refresh;
mod resolve;
pub mod secrets;

pub use error::ConfigError;
pub use file::{
    CONFIG_FILE, ConfigFile, ENV_CONFIG_DIR, ENV_PROFILE, ENV_SECRET_STORE, config_dir,
    config_dir_with,
};
pub use keys::{Flow, Key, RateLimitPreset, SecretMode, SecretName};
pub use refresh::ProfileRefreshToken;
pub use resolve::{Entry, Origin, ProfileVia, Resolved, Resolver, variables};
pub use secrets::{
    KeyringBackend, MemoryStore, SecretLocation, SecretStore, Secrets, SecretsGuard,
    default_keyring, open_store,
};
