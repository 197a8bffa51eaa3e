//! [`SealedFileStore`]: every secret sealed in `secrets.enc` (XChaCha20-Poly1305) under one
//! random 256-bit key, kept in the OS keyring or, as `auto`'s fallback, in `secrets.key`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::ConfigError;
use crate::file::write_atomically;
use crate::keys::SecretMode;
use crate::secrets::keyring::{KEYRING_SERVICE, KeyringBackend};
use crate::secrets::lock::FileLock;
use crate::secrets::{
    KEY_FILE, LOCK_FILE, SEALED_FILE, SecretLocation, SecretStore, Secrets, SecretsGuard,
};

/// The `format` field of `secrets.enc`.
const FORMAT: &str = "perspio-secrets";
const VERSION: u32 = 1;

/// Secrets sealed in `secrets.enc` with XChaCha20-Poly1305 under one random 256-bit key
/// (a fresh random nonce on every write; the header is authenticated too).
///
/// Where the key is, is written in the file's header:
/// - `keyring`: one entry of the OS keyring, service [`KEYRING_SERVICE`], user
///   `secrets-key <id>` where `<id>` is derived from the configuration directory (two
///   directories, such as a test's, never share a key). Mode `keyring`, and `auto` when the
///   keyring answers.
/// - `file`: `secrets.key` (mode `0600`) beside `secrets.enc`, when `auto` finds no usable
///   keyring. This keeps the secrets out of config.toml, out of `grep` and of a pasted file,
///   and detects tampering; it does **not** protect them from anyone who can read your files
///   (they can read the key too). The fallback is reported ([`SecretLocation::notice`]).
///
/// The key's home is chosen when the first secret is written and kept until every secret is
/// removed (the files and the keyring entry are then deleted). One exception: a write in mode
/// `keyring` to secrets sealed under the key file seals them again under a new key in the
/// keyring and deletes the key file; when the keyring refuses, the write fails and nothing
/// changes (`keyring` is the keyring, or an error).
#[derive(Debug, Clone)]
pub struct SealedFileStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: PathBuf,
    key_file: PathBuf,
    lock: PathBuf,
    mode: SecretMode,
    keyring: Arc<dyn KeyringBackend>,
    entry: String,
    /// The key, once read or made, and where it lives.
    key: Mutex<Option<(SealingKey, KeyHome)>>,
}

#[derive(Clone)]
struct SealingKey([u8; 32]);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum KeyHome {
    Keyring,
    File,
}

#[derive(Serialize, Deserialize)]
struct SealedFile {
    format: String,
    version: u32,
    key: KeyHome,
    nonce: String,
    ciphertext: String,
}

impl SealedFileStore {
    /// The store in `dir` (the configuration directory) for mode `auto` or `keyring`, using
    /// `keyring` for the key.
    pub fn new(dir: &Path, mode: SecretMode, keyring: Arc<dyn KeyringBackend>) -> Self {
        let id = Sha256::digest(dir.to_string_lossy().as_bytes());
        let id: String = id[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            inner: Arc::new(Inner {
                file: dir.join(SEALED_FILE),
                key_file: dir.join(KEY_FILE),
                lock: dir.join(LOCK_FILE),
                mode,
                keyring,
                entry: format!("secrets-key {id}"),
                key: Mutex::new(None),
            }),
        }
    }

    /// The keyring entry's user name (`secrets-key <id>`) under [`KEYRING_SERVICE`].
    pub fn keyring_entry(&self) -> &str {
        &self.inner.entry
    }
}

impl Inner {
    fn unreadable(&self, reason: &str) -> ConfigError {
        ConfigError::SecretsUnreadable {
            path: self.file.clone(),
            reason: reason.to_owned(),
            fix: format!(
                "remove {} (and {} if present), then store the secrets again (perspio auth login, perspio profile add … --client-secret-stdin)",
                self.file.display(),
                self.key_file.display()
            ),
        }
    }

    /// The keyring that holds the file's key did not answer (stopped, locked, gone): the file
    /// is fine and must be kept, so the fix is the keyring, not removing the file.
    fn key_unreachable(&self, error: ConfigError) -> ConfigError {
        match error {
            ConfigError::Keyring { backend, reason } => ConfigError::SecretsUnreadable {
                path: self.file.clone(),
                reason: format!(
                    "its key is in the OS keyring ({backend}), which is not usable: {reason}"
                ),
                fix: "start or unlock the OS keyring, then run the command again (the secrets \
                      are kept as they are)"
                    .to_owned(),
            },
            other => other,
        }
    }

    fn read_header(&self) -> Result<Option<SealedFile>, ConfigError> {
        let bytes = match std::fs::read(&self.file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ConfigError::read(&self.file, e)),
        };
        let sealed: SealedFile = serde_json::from_slice(&bytes)
            .map_err(|_| self.unreadable("it is not a file this program wrote"))?;
        if sealed.format != FORMAT || sealed.version != VERSION {
            return Err(self.unreadable("it is not a file this program wrote"));
        }
        Ok(Some(sealed))
    }

    /// The key of a file sealed with its key at `home`.
    fn key_at(&self, home: KeyHome) -> Result<SealingKey, ConfigError> {
        if let Some((key, cached)) = self
            .key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            && cached == home
        {
            return Ok(key);
        }
        let encoded = match home {
            KeyHome::Keyring => self
                .keyring
                .get(KEYRING_SERVICE, &self.entry)
                .map_err(|e| self.key_unreachable(e))?
                .ok_or_else(|| self.unreadable("its key is no longer in the OS keyring"))?,
            KeyHome::File => match std::fs::read_to_string(&self.key_file) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(self.unreadable(&format!(
                        "its key file {} is missing",
                        self.key_file.display()
                    )));
                }
                Err(e) => return Err(ConfigError::read(&self.key_file, e)),
            },
        };
        let key = decode_key(&encoded).ok_or_else(|| self.unreadable("its key is malformed"))?;
        *self.key.lock().unwrap_or_else(PoisonError::into_inner) = Some((key.clone(), home));
        Ok(key)
    }

    fn load(&self) -> Result<Secrets, ConfigError> {
        let Some(sealed) = self.read_header()? else {
            return Ok(Secrets::default());
        };
        let key = self.key_at(sealed.key)?;
        let nonce = STANDARD
            .decode(&sealed.nonce)
            .ok()
            .filter(|n| n.len() == 24)
            .ok_or_else(|| self.unreadable("its nonce is malformed"))?;
        let ciphertext = STANDARD
            .decode(&sealed.ciphertext)
            .map_err(|_| self.unreadable("its ciphertext is malformed"))?;
        let plaintext = XChaCha20Poly1305::new((&key.0).into())
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: aad(sealed.key).as_bytes(),
                },
            )
            .map_err(|_| {
                self.unreadable(
                    "it does not open with its key (changed, or sealed with another key)",
                )
            })?;
        serde_json::from_slice(&plaintext).map_err(|_| self.unreadable("its content is malformed"))
    }

    /// The key for a write: the current file's, else a new one in the keyring or (`auto`)
    /// in the key file.
    fn key_for_write(&self) -> Result<(SealingKey, KeyHome), ConfigError> {
        if let Some(sealed) = self.read_header()? {
            // Mode `keyring` is the keyring or an error: secrets sealed under the key file
            // (written in `auto` without a keyring) are sealed again under a new key in the
            // keyring by this write, or the write fails and nothing changes.
            if !(self.mode == SecretMode::Keyring && sealed.key == KeyHome::File) {
                return Ok((self.key_at(sealed.key)?, sealed.key));
            }
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let key = SealingKey(bytes);
        let encoded = STANDARD.encode(key.0);
        let home = match self.keyring.set(KEYRING_SERVICE, &self.entry, &encoded) {
            Ok(()) => KeyHome::Keyring,
            Err(error) if self.mode == SecretMode::Auto => {
                tracing::warn!(%error, key_file = %self.key_file.display(), "no usable OS keyring; the secrets' key goes to a file");
                write_atomically(&self.key_file, encoded.as_bytes(), true)?;
                KeyHome::File
            }
            Err(error) => return Err(error),
        };
        *self.key.lock().unwrap_or_else(PoisonError::into_inner) = Some((key.clone(), home));
        Ok((key, home))
    }

    fn save(&self, secrets: &Secrets) -> Result<(), ConfigError> {
        if secrets.is_empty() {
            return self.remove_everything();
        }
        let (key, home) = self.key_for_write()?;
        let plaintext = serde_json::to_vec(secrets)
            .map_err(|e| ConfigError::write(&self.file, std::io::Error::other(e.to_string())))?;
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = XChaCha20Poly1305::new((&key.0).into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: aad(home).as_bytes(),
                },
            )
            .map_err(|_| ConfigError::write(&self.file, std::io::Error::other("sealing failed")))?;
        let sealed = SealedFile {
            format: FORMAT.into(),
            version: VERSION,
            key: home,
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(ciphertext),
        };
        let text = serde_json::to_vec_pretty(&sealed)
            .map_err(|e| ConfigError::write(&self.file, std::io::Error::other(e.to_string())))?;
        write_atomically(&self.file, &text, true)?;
        if home == KeyHome::Keyring {
            // Secrets that were sealed under the key file are now under the keyring's key
            // (mode `keyring`): the old key goes, once the file it opened is replaced.
            match std::fs::remove_file(&self.key_file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ConfigError::write(&self.key_file, e)),
            }
        }
        Ok(())
    }

    /// No secret left: the sealed file, the key file and the keyring entry go.
    fn remove_everything(&self) -> Result<(), ConfigError> {
        let home = self.read_header().ok().flatten().map(|s| s.key);
        for path in [&self.file, &self.key_file] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ConfigError::write(path, e)),
            }
        }
        if home == Some(KeyHome::Keyring) {
            self.keyring.delete(KEYRING_SERVICE, &self.entry)?;
        }
        *self.key.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }
}

/// The authenticated header: a file cannot be relabelled to another key's home.
fn aad(home: KeyHome) -> String {
    let home = match home {
        KeyHome::Keyring => "keyring",
        KeyHome::File => "file",
    };
    format!("{FORMAT}/{VERSION}/{home}")
}

fn decode_key(encoded: &str) -> Option<SealingKey> {
    let bytes = STANDARD.decode(encoded.trim()).ok()?;
    Some(SealingKey(bytes.try_into().ok()?))
}

impl SecretStore for SealedFileStore {
    fn location(&self) -> SecretLocation {
        match self.inner.read_header() {
            Ok(Some(sealed)) => match sealed.key {
                KeyHome::Keyring => SecretLocation::Keyring {
                    backend: self.inner.keyring.name(),
                    file: self.inner.file.clone(),
                },
                KeyHome::File => SecretLocation::EncryptedFile {
                    file: self.inner.file.clone(),
                    key_file: self.inner.key_file.clone(),
                },
            },
            _ => SecretLocation::Nothing {
                mode: self.inner.mode,
            },
        }
    }

    fn load(&self) -> Result<Secrets, ConfigError> {
        self.inner.load()
    }

    fn lock(&self) -> Result<Box<dyn SecretsGuard>, ConfigError> {
        let lock = FileLock::acquire(&self.inner.lock)?;
        Ok(Box::new(SealedGuard {
            secrets: self.inner.load()?,
            inner: Arc::clone(&self.inner),
            _lock: lock,
        }))
    }
}

struct SealedGuard {
    inner: Arc<Inner>,
    secrets: Secrets,
    _lock: FileLock,
}

impl SecretsGuard for SealedGuard {
    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn secrets_mut(&mut self) -> &mut Secrets {
        &mut self.secrets
    }

    fn save(&mut self) -> Result<(), ConfigError> {
        self.inner.save(&self.secrets)
    }
}
