//! Redis (and Valkey), through redis-rs's self-reconnecting `ConnectionManager`.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use perspio_core::redact::redact_str;
use perspio_core::{Clock, SystemClock};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::breaker::Breaker;
use crate::config::StoreConfig;
use crate::error::StoreError;

const STORE: &str = "redis";
const SCHEMES: [&str; 6] = ["redis", "rediss", "redis+unix", "unix", "valkey", "valkeys"];

/// A Redis server shared by the processes of a fleet.
///
/// Opening validates the URL and connects nothing: the connection is made on the first
/// operation (inside the caller's Tokio runtime) and re-made by redis-rs after a failure. Every
/// operation goes through [`run`](Self::run): the breaker, then the operation within
/// `connect_timeout + response_timeout`.
///
/// URLs: `redis://[:password@]host[:port][/db]`, `rediss://…` for TLS (the system's root
/// certificates), `redis+unix:///path/to/socket`. A password in the URL is used, never shown.
///
/// Clones share the connection and the breaker.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    manager: OnceLock<ConnectionManager>,
    config: StoreConfig,
    url: String,
    breaker: Breaker,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.inner.url)
            .field("config", &self.inner.config)
            .field("breaker", &self.inner.breaker.stats())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` on the real clock.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] naming the (redacted) URL and what is wrong with it.
    pub fn open(url: &str, config: StoreConfig) -> Result<Self, StoreError> {
        Self::open_with_clock(url, config, Arc::new(SystemClock))
    }

    /// As [`open`](Self::open), with the clock the breaker times its open phase on.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with_clock(
        url: &str,
        config: StoreConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let shown = redact_str(url);
        let invalid = |reason: String| StoreError::InvalidUrl {
            store: STORE,
            url: shown.clone(),
            reason,
        };
        let parsed = url::Url::parse(url.trim())
            .map_err(|e| invalid(format!("not an absolute url ({e})")))?;
        if !SCHEMES.contains(&parsed.scheme()) {
            return Err(invalid(format!(
                "the scheme must be one of {}",
                SCHEMES.map(|s| format!("{s}://")).join(", ")
            )));
        }
        let unix = matches!(parsed.scheme(), "redis+unix" | "unix");
        if !unix && parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it has no host".into()));
        }
        let client = redis::Client::open(url.trim()).map_err(|e| {
            invalid(format!(
                "the redis client does not accept it ({:?})",
                e.kind()
            ))
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                manager: OnceLock::new(),
                breaker: Breaker::new(
                    format!("{STORE} at {shown}"),
                    "falling back until it answers again",
                    &config,
                    clock,
                ),
                config,
                url: shown,
            }),
        })
    }

    /// The URL, redacted: safe to show.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The breaker in front of the store (its state and counts).
    pub fn breaker(&self) -> &Breaker {
        &self.inner.breaker
    }

    /// Runs `operation` (named `name` in errors and logs) on a connection, through the
    /// breaker and within the store's time budget.
    ///
    /// # Errors
    /// [`StoreError::CircuitOpen`] at once while the breaker is open; [`StoreError::Timeout`]
    /// or [`StoreError::Failed`] (each counted by the breaker) otherwise.
    pub async fn run<T, F, Fut>(&self, name: &'static str, operation: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let inner = &self.inner;
        inner
            .breaker
            .allow()
            .map_err(|retry_in| StoreError::CircuitOpen {
                store: STORE,
                url: inner.url.clone(),
                retry_in,
            })?;
        let outcome = match self.manager() {
            Ok(manager) => {
                let budget = inner.config.operation_budget();
                match tokio::time::timeout(budget, operation(manager)).await {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(error)) => Err(self.failed(name, &error)),
                    Err(_) => Err(StoreError::Timeout {
                        store: STORE,
                        url: inner.url.clone(),
                        operation: name,
                        after: budget,
                    }),
                }
            }
            Err(error) => Err(self.failed(name, &error)),
        };
        match &outcome {
            Ok(_) => inner.breaker.record_success(),
            Err(error) => inner.breaker.record_failure(error),
        }
        outcome
    }

    fn failed(&self, name: &'static str, error: &redis::RedisError) -> StoreError {
        StoreError::Failed {
            store: STORE,
            url: self.inner.url.clone(),
            operation: name,
            message: perspio_core::text::remote(&error.to_string()),
        }
    }

    fn manager(&self) -> redis::RedisResult<ConnectionManager> {
        if let Some(manager) = self.inner.manager.get() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.inner.config.connect_timeout()))
            .set_response_timeout(Some(self.inner.config.response_timeout()))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_lazy_with_config(self.inner.client.clone(), config)?;
        Ok(self.inner.manager.get_or_init(|| manager).clone())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bad_urls_are_refused_when_opened_and_shown_redacted() {
        for (url, reason) in [
            ("127.0.0.1:6379", "not an absolute url"),
            ("http://:pw@127.0.0.1/", "the scheme must be one of"),
            ("redis://", "it has no host"),
        ] {
            let error = RedisStore::open(url, StoreConfig::default()).unwrap_err();
            let shown = error.to_string();
            assert!(shown.contains(reason), "{url}: {shown}");
            assert!(!shown.contains("pw"), "{shown}");
        }
    }

    #[test]
    fn good_urls_open_without_connecting() {
        for url in [
            "redis://127.0.0.1:1/",
            "rediss://:secret@cache.example:6380/2",
            "redis+unix:///tmp/redis.sock",
        ] {
            let store = RedisStore::open(url, StoreConfig::default()).unwrap();
            assert!(!store.url().contains("secret"));
            assert!(!format!("{store:?}").contains("secret"));
        }
    }
}
