//! Where tokens are kept between acquisitions, possibly shared by several processes.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

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
/// The middleware always keeps its own lock-free in-memory snapshot; a store adds sharing,
/// and is consulted only when that snapshot needs a new token. The default,
/// [`InMemoryTokenStore`], only lets several middlewares in one process share a token. A
/// shared store lets many processes of one application use one token: see
/// [`AuthMiddlewareBuilder::with_shared_store`](crate::AuthMiddlewareBuilder::with_shared_store)
/// (Redis, Memcached, or your own [`SharedBackend`](crate::SharedBackend)), which seals the
/// record and adds a cross-process lease. A store must keep only [`StoredToken`] and should
/// expire entries at `expires_at`.
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

    /// Tries to become the one process that fetches a new token, for at most `ttl`:
    /// `Some(lease)` when this caller should fetch (and then [`release`](Self::release)),
    /// `None` when another process holds the lease (wait, then read the store again).
    ///
    /// The default grants every request: a store that only one process uses needs no lease
    /// (the middleware's own single flight covers the process).
    ///
    /// # Errors
    ///
    /// The store could not be reached; the caller then fetches directly.
    async fn try_lease(&self, ttl: Duration) -> Result<Option<Lease>, AuthError> {
        let _ = ttl;
        Ok(Some(Lease::local()))
    }

    /// Gives back a lease taken with [`try_lease`](Self::try_lease) (only if it is still
    /// this caller's). The default does nothing.
    ///
    /// # Errors
    ///
    /// The store could not be reached; the lease then expires by itself.
    async fn release(&self, lease: Lease) -> Result<(), AuthError> {
        let _ = lease;
        Ok(())
    }

    /// Whether other processes read and write this store (then the middleware takes a lease
    /// before fetching). Defaults to `false`.
    fn is_shared(&self) -> bool {
        false
    }
}

/// The right to fetch a token for the whole fleet, from [`TokenStore::try_lease`].
#[derive(Debug)]
pub struct Lease {
    holder: Option<String>,
}

impl Lease {
    /// A lease that needs no giving back (a store used by one process).
    pub fn local() -> Self {
        Self { holder: None }
    }

    /// A lease held in a shared store under the random value `holder`.
    pub fn held(holder: String) -> Self {
        Self {
            holder: Some(holder),
        }
    }

    /// A fresh random holder value for a shared lease.
    pub fn new_holder() -> String {
        format!("{:032x}", rand::random::<u128>())
    }

    /// The value this lease holds in a shared store, if any.
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }
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
