//! Where a login's refresh token is kept between refreshes: [`RefreshTokenStore`].
//!
//! Refresh tokens rotate: each refresh returns a new one, and an authorization server may
//! refuse the old one afterwards. Two processes that refresh with the same token at once can
//! therefore lose the login (the second one is refused, or the first one's new token is
//! overwritten by the second one's). A [`RefreshTokenStore`] prevents that: a refresh holds
//! the store's lock from reading the token to saving its successor, so a second process waits,
//! then reads the rotated token.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::credentials::RefreshToken;
use crate::error::AuthError;

/// Keeps a login's refresh token for [`RefreshTokenSource`](crate::RefreshTokenSource).
///
/// Implementations give exclusive access to the stored token for as long as the returned
/// guard lives, across every process sharing the store (a file lock, a lock of the keyring
/// entry, a compare-and-swap loop in a database): a refresh reads the token, asks the token
/// endpoint, saves the rotated token and only then drops the guard.
///
/// `perspio-config` implements it for the CLI's secret stores (a file lock and an atomic
/// rename); [`InMemoryRefreshTokenStore`] is the in-process default.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync + fmt::Debug + 'static {
    /// Waits for exclusive use of the stored token and returns it with the guard.
    ///
    /// # Errors
    ///
    /// The store cannot be locked or read: wrap the cause with [`AuthError::extension`].
    async fn lock(&self) -> Result<Box<dyn RefreshTokenGuard>, AuthError>;
}

/// Exclusive use of a stored refresh token, until dropped; from [`RefreshTokenStore::lock`].
pub trait RefreshTokenGuard: Send {
    /// The stored token, read after the lock was taken; `None` when nobody is logged in.
    fn current(&self) -> Option<RefreshToken>;

    /// Replaces the stored token with `rotated`, atomically: a reader sees the old token or
    /// the new one, never a torn or empty value.
    ///
    /// # Errors
    ///
    /// The token could not be saved; wrap the cause with [`AuthError::extension`].
    fn replace(&mut self, rotated: RefreshToken) -> Result<(), AuthError>;
}

/// A refresh token kept in this process only (clones share it); the default store of
/// [`RefreshTokenSource::new`](crate::RefreshTokenSource::new).
#[derive(Clone, Default)]
pub struct InMemoryRefreshTokenStore {
    token: Arc<tokio::sync::Mutex<Option<RefreshToken>>>,
}

impl InMemoryRefreshTokenStore {
    /// A store holding `token`.
    pub fn new(token: RefreshToken) -> Self {
        Self {
            token: Arc::new(tokio::sync::Mutex::new(Some(token))),
        }
    }

    /// A store holding no token (a fetch is then [`AuthError::NoRefreshToken`]).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The token held now, waiting for a refresh in progress to finish.
    pub async fn get(&self) -> Option<RefreshToken> {
        self.token.lock().await.clone()
    }
}

impl fmt::Debug for InMemoryRefreshTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryRefreshTokenStore")
            .field("token", &"RefreshToken([redacted])")
            .finish()
    }
}

#[async_trait]
impl RefreshTokenStore for InMemoryRefreshTokenStore {
    async fn lock(&self) -> Result<Box<dyn RefreshTokenGuard>, AuthError> {
        Ok(Box::new(InMemoryGuard(
            Arc::clone(&self.token).lock_owned().await,
        )))
    }
}

struct InMemoryGuard(tokio::sync::OwnedMutexGuard<Option<RefreshToken>>);

impl RefreshTokenGuard for InMemoryGuard {
    fn current(&self) -> Option<RefreshToken> {
        self.0.clone()
    }

    fn replace(&mut self, rotated: RefreshToken) -> Result<(), AuthError> {
        *self.0 = Some(rotated);
        Ok(())
    }
}
