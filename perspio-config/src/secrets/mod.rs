//! Where secrets live: the [`SecretStore`] trait and its four modes ([`SecretMode`]).
//!
//! | mode | what is written | where the key is |
//! |---|---|---|
//! | `auto`, keyring usable | `secrets.enc`: every secret of every profile, sealed (XChaCha20-Poly1305) | a random 256-bit key in the OS keyring: one entry (`perspio` / `secrets-key <id>`, 44 characters) |
//! | `auto`, no usable keyring | `secrets.enc`, sealed the same way | `secrets.key` (mode `0600`) beside it: the user is told |
//! | `keyring` | as `auto` with a keyring | the keyring, or an error |
//! | `file` | `secrets.json`, plain text, mode `0600` | none |
//! | `memory` | nothing | none |
//!
//! The keyring holds a key, never a secret bundle: Windows keeps at most 2,560 bytes per
//! credential (about 1,280 characters in keyring's UTF-16) and an Entra refresh token alone can
//! be longer; one entry also means one keyring prompt, and a rotation is a file rename, not a
//! keyring write. Every write takes `secrets.lock` (an exclusive file lock) and replaces the
//! file atomically, so two processes cannot lose each other's changes.

mod keyring;
mod lock;
mod memory;
mod plain;
mod sealed;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[cfg(feature = "keyring")]
pub use keyring::PlatformKeyring;
pub use keyring::{
    DEFAULT_KEYRING_TIMEOUT, KEYRING_SERVICE, KeyringBackend, NoKeyring, TimedKeyring,
    default_keyring,
};
pub use memory::MemoryStore;
pub use plain::PlainFileStore;
pub use sealed::SealedFileStore;

use crate::error::ConfigError;
use crate::keys::{SecretMode, SecretName};

/// The sealed secrets file (modes `auto` and `keyring`).
pub const SEALED_FILE: &str = "secrets.enc";
/// The key of the sealed file when no keyring was usable (mode `auto`).
pub const KEY_FILE: &str = "secrets.key";
/// The plain secrets file (mode `file`).
pub const PLAIN_FILE: &str = "secrets.json";
/// The lock every write of the secrets takes.
pub const LOCK_FILE: &str = "secrets.lock";

/// The secrets of every profile: `profile → name → value`. `Debug` shows names only.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    #[serde(default)]
    profiles: BTreeMap<String, BTreeMap<String, String>>,
}

impl Secrets {
    /// A profile's secret.
    pub fn get(&self, profile: &str, name: SecretName) -> Option<SecretString> {
        self.profiles
            .get(profile)?
            .get(name.name())
            .map(|v| SecretString::from(v.clone()))
    }

    /// Sets a profile's secret.
    pub fn set(&mut self, profile: &str, name: SecretName, value: &str) {
        self.profiles
            .entry(profile.to_owned())
            .or_default()
            .insert(name.name().to_owned(), value.to_owned());
    }

    /// Removes a profile's secret; whether it was there.
    pub fn remove(&mut self, profile: &str, name: SecretName) -> bool {
        let Some(secrets) = self.profiles.get_mut(profile) else {
            return false;
        };
        let removed = secrets.remove(name.name()).is_some();
        if secrets.is_empty() {
            self.profiles.remove(profile);
        }
        removed
    }

    /// Removes every secret of a profile; the names removed.
    pub fn remove_profile(&mut self, profile: &str) -> Vec<SecretName> {
        self.profiles
            .remove(profile)
            .map(|secrets| {
                secrets
                    .keys()
                    .filter_map(|k| SecretName::from_name(k))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The names of a profile's secrets.
    pub fn names(&self, profile: &str) -> Vec<SecretName> {
        self.profiles
            .get(profile)
            .map(|s| s.keys().filter_map(|k| SecretName::from_name(k)).collect())
            .unwrap_or_default()
    }

    /// The profiles that have secrets.
    pub fn profiles(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }

    /// Whether there is no secret at all.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// Every value, for tests that check a file holds none of them.
    pub fn values(&self) -> Vec<SecretString> {
        self.profiles
            .values()
            .flat_map(|s| s.values())
            .map(|v| SecretString::from(v.clone()))
            .collect()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: BTreeMap<&String, Vec<&String>> = self
            .profiles
            .iter()
            .map(|(p, s)| (p, s.keys().collect()))
            .collect();
        f.debug_struct("Secrets").field("names", &names).finish()
    }
}

/// Where a store keeps secrets, for `auth status` and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretLocation {
    /// Sealed in `file` with a key in the OS keyring.
    Keyring {
        /// The keyring (e.g. the Secret Service).
        backend: String,
        /// The sealed file.
        file: PathBuf,
    },
    /// Sealed in `file` with the key in `key_file`: the fallback of `auto`.
    EncryptedFile {
        /// The sealed file.
        file: PathBuf,
        /// Its key.
        key_file: PathBuf,
    },
    /// In plain text in `file` (mode `0600`): mode `file`.
    PlainFile {
        /// The file.
        file: PathBuf,
    },
    /// In this process only.
    Memory,
    /// Nothing is stored yet; the first secret goes where `mode` says.
    Nothing {
        /// The store's mode.
        mode: SecretMode,
    },
}

impl SecretLocation {
    /// `keyring`, `encrypted file`, `plain file`, `memory` or `nothing stored`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Keyring { .. } => "keyring",
            Self::EncryptedFile { .. } => "encrypted file",
            Self::PlainFile { .. } => "plain file",
            Self::Memory => "memory",
            Self::Nothing { .. } => "nothing stored",
        }
    }

    /// Whether this is `auto`'s fallback (no keyring): the user must be told.
    pub fn is_fallback(&self) -> bool {
        matches!(self, Self::EncryptedFile { .. })
    }

    /// What the user is told about a fallback or a plain file, if anything.
    pub fn notice(&self) -> Option<String> {
        match self {
            Self::EncryptedFile { file, key_file } => Some(format!(
                "no usable OS keyring: secrets are sealed in {} with a key kept in {} (mode 0600); \
                 this keeps them out of config.toml and of casual reading, not from someone who \
                 can read your files; once a keyring works, `perspio auth logout --all` and log \
                 in again to move them",
                file.display(),
                key_file.display()
            )),
            Self::PlainFile { file } => Some(format!(
                "secrets are kept in plain text in {} (mode 0600), as secret_store = \"file\" asks",
                file.display()
            )),
            _ => None,
        }
    }
}

impl fmt::Display for SecretLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keyring { backend, file } => write!(
                f,
                "the OS keyring ({backend}) holds the key; secrets sealed in {}",
                file.display()
            ),
            Self::EncryptedFile { file, key_file } => write!(
                f,
                "encrypted file {} (key in {}; no OS keyring)",
                file.display(),
                key_file.display()
            ),
            Self::PlainFile { file } => write!(f, "plain file {} (0600)", file.display()),
            Self::Memory => f.write_str("memory (this process only)"),
            Self::Nothing { mode } => write!(f, "nothing stored (secret_store = {mode})"),
        }
    }
}

/// Where the secrets of every profile are kept; see the [module docs](self) for the modes.
///
/// Readers use [`load`](Self::load) (files are replaced atomically, so a read needs no lock);
/// writers take [`lock`](Self::lock), an exclusive lock across processes, change the secrets
/// and [`save`](SecretsGuard::save) them. [`crate::ProfileRefreshToken`] holds the lock across
/// a token refresh, so a rotated refresh token is never lost.
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// Where the secrets are (reads no secret).
    fn location(&self) -> SecretLocation;

    /// Every secret, as stored now.
    ///
    /// # Errors
    ///
    /// The file is unreadable, or its key cannot be had ([`ConfigError::Keyring`],
    /// [`ConfigError::SecretsUnreadable`]).
    fn load(&self) -> Result<Secrets, ConfigError>;

    /// Exclusive use of the secrets until the guard is dropped, across processes.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), and [`ConfigError::Write`] when the lock cannot be taken.
    fn lock(&self) -> Result<Box<dyn SecretsGuard>, ConfigError>;

    /// A profile's secret.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load).
    fn get(&self, profile: &str, name: SecretName) -> Result<Option<SecretString>, ConfigError> {
        Ok(self.load()?.get(profile, name))
    }

    /// Changes the secrets under the lock and saves them.
    ///
    /// # Errors
    ///
    /// As [`lock`](Self::lock) and [`SecretsGuard::save`].
    fn update(&self, change: &mut dyn FnMut(&mut Secrets)) -> Result<(), ConfigError> {
        let mut guard = self.lock()?;
        change(guard.secrets_mut());
        guard.save()
    }
}

/// Exclusive use of a store's secrets; from [`SecretStore::lock`]. Dropping it releases the
/// lock; changes are kept only by [`save`](Self::save).
pub trait SecretsGuard: Send {
    /// The secrets, read after the lock was taken.
    fn secrets(&self) -> &Secrets;
    /// The secrets, to change.
    fn secrets_mut(&mut self) -> &mut Secrets;
    /// Writes the secrets atomically; with no secret left, removes the files (and the
    /// keyring entry) altogether.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Write`], [`ConfigError::Keyring`] (mode `keyring`).
    fn save(&mut self) -> Result<(), ConfigError>;
}

/// Opens the store of `mode` in `dir` (the configuration directory). Nothing is read or
/// created yet, and the keyring is not touched until a secret is read from or written to a
/// store that uses it. Without a directory, every mode but `memory` has nowhere to write:
/// a [`MemoryStore`] is returned.
pub fn open_store(
    dir: Option<&Path>,
    mode: SecretMode,
    keyring: Arc<dyn KeyringBackend>,
) -> Arc<dyn SecretStore> {
    match (dir, mode) {
        (None, _) | (_, SecretMode::Memory) => Arc::new(MemoryStore::new()),
        (Some(dir), SecretMode::File) => Arc::new(PlainFileStore::new(dir)),
        (Some(dir), SecretMode::Auto | SecretMode::Keyring) => {
            Arc::new(SealedFileStore::new(dir, mode, keyring))
        }
    }
}
