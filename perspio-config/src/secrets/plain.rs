//! [`PlainFileStore`]: `secrets.json` in plain text, mode `0600` (mode `file`, asked for).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::file::write_atomically;
use crate::keys::SecretMode;
use crate::secrets::lock::FileLock;
use crate::secrets::{LOCK_FILE, PLAIN_FILE, SecretLocation, SecretStore, Secrets, SecretsGuard};

/// Secrets in plain text in `secrets.json` (mode `0600`), only when the user asks for it
/// (`secret_store = "file"`): anyone who can read the file (a backup, a support bundle, the
/// same user's other programs) can read the secrets. `auth status` says so.
#[derive(Debug, Clone)]
pub struct PlainFileStore {
    file: PathBuf,
    lock: PathBuf,
}

/// What the file holds: a note for whoever opens it, and the secrets.
#[derive(Serialize, Deserialize)]
struct PlainFile {
    #[serde(default)]
    note: String,
    #[serde(flatten)]
    secrets: Secrets,
}

const NOTE: &str =
    "perspio secrets in plain text (secret_store = \"file\"); keep this file private";

impl PlainFileStore {
    /// The store in `dir` (the configuration directory).
    pub fn new(dir: &Path) -> Self {
        Self {
            file: dir.join(PLAIN_FILE),
            lock: dir.join(LOCK_FILE),
        }
    }
}

impl SecretStore for PlainFileStore {
    fn location(&self) -> SecretLocation {
        if self.file.exists() {
            SecretLocation::PlainFile {
                file: self.file.clone(),
            }
        } else {
            SecretLocation::Nothing {
                mode: SecretMode::File,
            }
        }
    }

    fn load(&self) -> Result<Secrets, ConfigError> {
        let text = match std::fs::read(&self.file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Secrets::default()),
            Err(e) => return Err(ConfigError::read(&self.file, e)),
        };
        let file: PlainFile =
            serde_json::from_slice(&text).map_err(|_| ConfigError::SecretsUnreadable {
                path: self.file.clone(),
                reason: "it is not the JSON this program writes".into(),
                fix: format!("remove {} and store the secrets again", self.file.display()),
            })?;
        Ok(file.secrets)
    }

    fn lock(&self) -> Result<Box<dyn SecretsGuard>, ConfigError> {
        let lock = FileLock::acquire(&self.lock)?;
        Ok(Box::new(PlainGuard {
            secrets: self.load()?,
            store: self.clone(),
            _lock: lock,
        }))
    }
}

struct PlainGuard {
    store: PlainFileStore,
    secrets: Secrets,
    _lock: FileLock,
}

impl SecretsGuard for PlainGuard {
    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn secrets_mut(&mut self) -> &mut Secrets {
        &mut self.secrets
    }

    fn save(&mut self) -> Result<(), ConfigError> {
        if self.secrets.is_empty() {
            return match std::fs::remove_file(&self.store.file) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(ConfigError::write(&self.store.file, e)),
            };
        }
        let file = PlainFile {
            note: NOTE.into(),
            secrets: self.secrets.clone(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| {
            ConfigError::write(&self.store.file, std::io::Error::other(e.to_string()))
        })?;
        write_atomically(&self.store.file, &text, true)
    }
}
