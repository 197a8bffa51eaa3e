//! Where tokens are kept between acquisitions, possibly shared by several processes.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::credentials::AccessToken;
use crate::error::AuthError;

/// What a [`TokenStore`] keeps: the token and its validity window. Never a client secret or
/// subscription key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The access token.
    pub access_token: AccessToken,
    /// When the token request was sent.
    pub issued_at: SystemTime,
    /// When the token expires.
    pub expires_at: SystemTime,
}

/// A place to keep the current token, consulted before asking the token source.
///
/// The middleware always keeps its own lock-free in-memory snapshot; a store adds sharing.
/// The default, [`InMemoryTokenStore`], only lets several middlewares in one process share a
/// token. A shared store (e.g. Memcached or Redis, keyed by application) lets many processes
/// of one application use one token; it must store only [`StoredToken`] and should expire
/// entries at `expires_at`.
///
/// Store errors never fail a request: they are logged and the token source is used.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// The stored token, if any.
    ///
    /// # Errors
    ///
    /// The store could not be read.
    async fn get(&self) -> Result<Option<StoredToken>, AuthError>;

    /// Replaces the stored token.
    ///
    /// # Errors
    ///
    /// The store could not be written.
    async fn put(&self, token: StoredToken) -> Result<(), AuthError>;

    /// Removes `token` if it is still the stored one (it was refused with `401`).
    ///
    /// # Errors
    ///
    /// The store could not be written.
    async fn remove(&self, token: &AccessToken) -> Result<(), AuthError>;
}

/// The default [`TokenStore`]: one token in memory. Share one instance (`Arc`) between
/// middlewares to share the token.
#[derive(Default)]
pub struct InMemoryTokenStore {
    token: Mutex<Option<StoredToken>>,
}

impl InMemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for InMemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self
            .token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        f.debug_struct("InMemoryTokenStore")
            .field("holds_token", &held)
            .finish()
    }
}

#[async_trait]
impl TokenStore for InMemoryTokenStore {
    async fn get(&self) -> Result<Option<StoredToken>, AuthError> {
        Ok(self
            .token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    async fn put(&self, token: StoredToken) -> Result<(), AuthError> {
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) = Some(token);
        Ok(())
    }

    async fn remove(&self, token: &AccessToken) -> Result<(), AuthError> {
        let mut held = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        if held.as_ref().is_some_and(|t| &t.access_token == token) {
            *held = None;
        }
        Ok(())
    }
}
