//! [`MemoryStore`]: secrets in this process only (mode `memory`).

use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::error::ConfigError;
use crate::secrets::{SecretLocation, SecretStore, Secrets, SecretsGuard};

/// Secrets kept in this process only: nothing is written anywhere. Clones share them.
///
/// For tests and for one-off runs (`PERSPIO_SECRET_STORE=memory` with the secrets in
/// variables). A login kept here ends with the process.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    secrets: Mutex<Secrets>,
    locked: Mutex<bool>,
    released: Condvar,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SecretStore for MemoryStore {
    fn location(&self) -> SecretLocation {
        SecretLocation::Memory
    }

    fn load(&self) -> Result<Secrets, ConfigError> {
        Ok(self
            .inner
            .secrets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    fn lock(&self) -> Result<Box<dyn SecretsGuard>, ConfigError> {
        let mut locked = self
            .inner
            .locked
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while *locked {
            locked = self
                .inner
                .released
                .wait(locked)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *locked = true;
        drop(locked);
        Ok(Box::new(MemoryGuard {
            secrets: self.load()?,
            inner: Arc::clone(&self.inner),
        }))
    }
}

struct MemoryGuard {
    inner: Arc<Inner>,
    secrets: Secrets,
}

impl SecretsGuard for MemoryGuard {
    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn secrets_mut(&mut self) -> &mut Secrets {
        &mut self.secrets
    }

    fn save(&mut self) -> Result<(), ConfigError> {
        *self
            .inner
            .secrets
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = self.secrets.clone();
        Ok(())
    }
}

impl Drop for MemoryGuard {
    fn drop(&mut self) {
        *self
            .inner
            .locked
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = false;
        self.inner.released.notify_one();
    }
}
