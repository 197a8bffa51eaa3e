//! The OS keyring behind a small trait, always called with a timeout.
//!
//! Keyrings hang on headless machines (a Secret Service that waits for an unlock prompt
//! nobody sees, a D-Bus socket that accepts and never answers): every call runs on its own
//! thread and is abandoned after [`DEFAULT_KEYRING_TIMEOUT`]. After one timeout the keyring
//! is not asked again in this process, so a hung keyring costs one timeout, not one per call.

use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::error::ConfigError;

/// How long one keyring call may take (as `gh`'s keyring calls): then the keyring is treated
/// as absent. Defaults to 3 s ([`TimedKeyring::new`]).
pub const DEFAULT_KEYRING_TIMEOUT: Duration = Duration::from_secs(3);

/// The keyring service name of every entry this crate writes.
pub const KEYRING_SERVICE: &str = "perspio";

/// An OS keyring: a few short secrets by `(service, user)`. Calls block; wrap an
/// implementation in [`TimedKeyring`] to bound them.
pub trait KeyringBackend: Send + Sync + fmt::Debug + 'static {
    /// Which keyring, for messages ("Secret Service", "macOS Keychain", …).
    fn name(&self) -> String;

    /// The secret of an entry, `None` when there is none.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Keyring`]: the keyring is absent, locked, or refused.
    fn get(&self, service: &str, user: &str) -> Result<Option<String>, ConfigError>;

    /// Creates or replaces an entry.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    fn set(&self, service: &str, user: &str, secret: &str) -> Result<(), ConfigError>;

    /// Removes an entry; no error when there is none.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    fn delete(&self, service: &str, user: &str) -> Result<(), ConfigError>;
}

/// No keyring: every call fails with the reason given (a build without the `keyring` feature,
/// a platform without a supported keyring, or a test).
#[derive(Debug, Clone)]
pub struct NoKeyring {
    reason: String,
}

impl NoKeyring {
    /// A keyring that is absent for `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    fn error(&self) -> ConfigError {
        ConfigError::Keyring {
            backend: "none".into(),
            reason: self.reason.clone(),
        }
    }
}

impl KeyringBackend for NoKeyring {
    fn name(&self) -> String {
        "none".into()
    }
    fn get(&self, _: &str, _: &str) -> Result<Option<String>, ConfigError> {
        Err(self.error())
    }
    fn set(&self, _: &str, _: &str, _: &str) -> Result<(), ConfigError> {
        Err(self.error())
    }
    fn delete(&self, _: &str, _: &str) -> Result<(), ConfigError> {
        Err(self.error())
    }
}

/// Runs each call of `K` on its own thread and gives up after a timeout. Once a call has
/// timed out, later calls fail at once with the same reason (the thread of the hung call is
/// left to finish or to end with the process).
pub struct TimedKeyring<K> {
    inner: Arc<K>,
    timeout: Duration,
    hung: Arc<Mutex<Option<String>>>,
}

impl<K: KeyringBackend> TimedKeyring<K> {
    /// `keyring` with [`DEFAULT_KEYRING_TIMEOUT`].
    pub fn new(keyring: K) -> Self {
        Self {
            inner: Arc::new(keyring),
            timeout: DEFAULT_KEYRING_TIMEOUT,
            hung: Arc::new(Mutex::new(None)),
        }
    }

    /// The longest one call may take. Defaults to [`DEFAULT_KEYRING_TIMEOUT`] (3 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&K) -> Result<T, ConfigError> + Send + 'static,
    ) -> Result<T, ConfigError> {
        let backend = self.inner.name();
        if let Some(reason) = self
            .hung
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Err(ConfigError::Keyring { backend, reason });
        }
        let (send, receive) = mpsc::channel();
        let inner = Arc::clone(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("perspio-keyring".into())
            .spawn(move || {
                let _ = send.send(call(&inner));
            });
        if let Err(e) = spawned {
            return Err(ConfigError::Keyring {
                backend,
                reason: format!("cannot start its thread: {e}"),
            });
        }
        match receive.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(_) => {
                let reason = format!(
                    "it did not answer within {} (a locked or headless keyring?)",
                    perspio_core::retry_after::describe(self.timeout)
                );
                *self.hung.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.clone());
                tracing::warn!(keyring = %backend, "{reason}");
                Err(ConfigError::Keyring { backend, reason })
            }
        }
    }
}

impl<K: KeyringBackend> fmt::Debug for TimedKeyring<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedKeyring")
            .field("inner", &self.inner)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<K: KeyringBackend> KeyringBackend for TimedKeyring<K> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn get(&self, service: &str, user: &str) -> Result<Option<String>, ConfigError> {
        let (service, user) = (service.to_owned(), user.to_owned());
        self.call(move |k| k.get(&service, &user))
    }

    fn set(&self, service: &str, user: &str, secret: &str) -> Result<(), ConfigError> {
        let (service, user, secret) = (service.to_owned(), user.to_owned(), secret.to_owned());
        self.call(move |k| k.set(&service, &user, &secret))
    }

    fn delete(&self, service: &str, user: &str) -> Result<(), ConfigError> {
        let (service, user) = (service.to_owned(), user.to_owned());
        self.call(move |k| k.delete(&service, &user))
    }
}

/// The platform's keyring through `keyring-core`: the Secret Service (GNOME Keyring, KWallet,
/// KeePassXC; through `zbus`, no C library) on Linux and FreeBSD, the login Keychain on
/// macOS, the Credential Manager on Windows. Elsewhere every call fails. Connects on first
/// use. Wrap it in [`TimedKeyring`] ([`default_keyring`] does).
#[cfg(feature = "keyring")]
#[derive(Default)]
pub struct PlatformKeyring {
    store: Mutex<Option<Arc<keyring_core::CredentialStore>>>,
}

#[cfg(feature = "keyring")]
impl fmt::Debug for PlatformKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformKeyring")
            .field("name", &self.name())
            .finish()
    }
}

#[cfg(feature = "keyring")]
impl PlatformKeyring {
    fn error(&self, error: &keyring_core::Error) -> ConfigError {
        ConfigError::Keyring {
            backend: self.name(),
            reason: perspio_core::text::remote(&error.to_string()),
        }
    }

    fn store(&self) -> Result<Arc<keyring_core::CredentialStore>, ConfigError> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = store.as_ref() {
            return Ok(Arc::clone(store));
        }
        let opened = platform_store().map_err(|e| self.error(&e))?;
        *store = Some(Arc::clone(&opened));
        Ok(opened)
    }

    fn entry(&self, service: &str, user: &str) -> Result<keyring_core::Entry, ConfigError> {
        keyring_core::Entry::new_in_store(&self.store()?, service, user).map_err(|e| self.error(&e))
    }
}

#[cfg(all(feature = "keyring", any(target_os = "linux", target_os = "freebsd")))]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    let store: Arc<keyring_core::CredentialStore> =
        zbus_secret_service_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(all(feature = "keyring", target_os = "macos"))]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    let store: Arc<keyring_core::CredentialStore> =
        apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(all(feature = "keyring", windows))]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    let store: Arc<keyring_core::CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(all(
    feature = "keyring",
    not(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "macos",
        windows
    ))
))]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Err(keyring_core::Error::NotSupportedByStore(
        "perspio-config knows no keyring on this platform".into(),
    ))
}

#[cfg(feature = "keyring")]
impl KeyringBackend for PlatformKeyring {
    fn name(&self) -> String {
        if cfg!(target_os = "macos") {
            "macOS Keychain".into()
        } else if cfg!(windows) {
            "Windows Credential Manager".into()
        } else {
            "Secret Service".into()
        }
    }

    fn get(&self, service: &str, user: &str) -> Result<Option<String>, ConfigError> {
        match self.entry(service, user)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.error(&e)),
        }
    }

    fn set(&self, service: &str, user: &str, secret: &str) -> Result<(), ConfigError> {
        self.entry(service, user)?
            .set_password(secret)
            .map_err(|e| self.error(&e))
    }

    fn delete(&self, service: &str, user: &str) -> Result<(), ConfigError> {
        match self.entry(service, user)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.error(&e)),
        }
    }
}

/// The keyring this build uses: the [`PlatformKeyring`] behind a [`TimedKeyring`] with
/// [`DEFAULT_KEYRING_TIMEOUT`], or [`NoKeyring`] without the `keyring` feature. One instance
/// per process, so that a keyring that hung once is not waited for again.
pub fn default_keyring() -> Arc<dyn KeyringBackend> {
    static KEYRING: std::sync::OnceLock<Arc<dyn KeyringBackend>> = std::sync::OnceLock::new();
    Arc::clone(KEYRING.get_or_init(|| {
        #[cfg(feature = "keyring")]
        {
            Arc::new(TimedKeyring::new(PlatformKeyring::default()))
        }
        #[cfg(not(feature = "keyring"))]
        {
            Arc::new(NoKeyring::new(
                "this program was built without keyring support (the `keyring` feature of \
                 perspio-config, perspio-api or the perspio CLI)",
            ))
        }
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A keyring that never answers.
    #[derive(Debug)]
    struct Silent;

    impl KeyringBackend for Silent {
        fn name(&self) -> String {
            "silent".into()
        }
        fn get(&self, _: &str, _: &str) -> Result<Option<String>, ConfigError> {
            std::thread::park();
            Ok(None)
        }
        fn set(&self, _: &str, _: &str, _: &str) -> Result<(), ConfigError> {
            std::thread::park();
            Ok(())
        }
        fn delete(&self, _: &str, _: &str) -> Result<(), ConfigError> {
            std::thread::park();
            Ok(())
        }
    }

    #[test]
    fn a_keyring_that_hangs_costs_one_timeout_then_fails_at_once() {
        let keyring = TimedKeyring::new(Silent).with_timeout(Duration::from_millis(50));

        let started = std::time::Instant::now();
        let first = keyring.get("perspio", "x").unwrap_err();
        let second = keyring.set("perspio", "x", "v").unwrap_err();

        assert!(
            first.to_string().contains("did not answer within 50 ms"),
            "{first}"
        );
        assert_eq!(first.to_string(), second.to_string());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
