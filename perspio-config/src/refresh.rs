//! [`ProfileRefreshToken`]: a profile's refresh token in a [`SecretStore`], for
//! perspio-auth's [`RefreshTokenSource`](perspio_auth::RefreshTokenSource).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use perspio_auth::{AuthError, RefreshToken, RefreshTokenGuard, RefreshTokenStore};
use secrecy::ExposeSecret as _;

use crate::keys::SecretName;
use crate::secrets::{SecretStore, SecretsGuard};

/// The refresh token of one profile, kept in a [`SecretStore`].
///
/// A refresh holds the store's lock (`secrets.lock`, an exclusive file lock) from reading the
/// token to saving the rotated one, and the file is replaced atomically: two processes that
/// refresh at once run one after the other, and the second uses the token the first saved.
#[derive(Clone)]
pub struct ProfileRefreshToken {
    store: Arc<dyn SecretStore>,
    profile: String,
}

impl ProfileRefreshToken {
    /// The refresh token of `profile` in `store`.
    pub fn new(store: Arc<dyn SecretStore>, profile: impl Into<String>) -> Self {
        Self {
            store,
            profile: profile.into(),
        }
    }

    /// Saves `token` as the profile's refresh token (after a login).
    ///
    /// # Errors
    ///
    /// As [`SecretStore::update`].
    pub fn save(&self, token: &RefreshToken) -> Result<(), crate::ConfigError> {
        self.store.update(&mut |secrets| {
            secrets.set(
                &self.profile,
                SecretName::RefreshToken,
                token.expose_secret(),
            );
        })
    }
}

impl fmt::Debug for ProfileRefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileRefreshToken")
            .field("store", &self.store)
            .field("profile", &self.profile)
            .finish()
    }
}

#[async_trait]
impl RefreshTokenStore for ProfileRefreshToken {
    async fn lock(&self) -> Result<Box<dyn RefreshTokenGuard>, AuthError> {
        let store = Arc::clone(&self.store);
        // The file lock blocks: wait for it on a blocking thread, not a runtime worker.
        let guard = tokio::task::spawn_blocking(move || store.lock())
            .await
            .map_err(|e| AuthError::extension("secret store", e))?
            .map_err(|e| AuthError::extension("secret store", e))?;
        Ok(Box::new(ProfileGuard {
            guard,
            profile: self.profile.clone(),
        }))
    }
}

struct ProfileGuard {
    guard: Box<dyn SecretsGuard>,
    profile: String,
}

impl RefreshTokenGuard for ProfileGuard {
    fn current(&self) -> Option<RefreshToken> {
        self.guard
            .secrets()
            .get(&self.profile, SecretName::RefreshToken)
            .map(|token| RefreshToken::new(token.expose_secret()))
    }

    fn replace(&mut self, rotated: RefreshToken) -> Result<(), AuthError> {
        self.guard.secrets_mut().set(
            &self.profile,
            SecretName::RefreshToken,
            rotated.expose_secret(),
        );
        self.guard
            .save()
            .map_err(|e| AuthError::extension("secret store", e))
    }
}
