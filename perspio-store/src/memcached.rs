//! Memcached, through rust-memcache's meta-protocol client (`memcache::exp`).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use memcache::exp::AsyncMetaClient;
use perspio_core::redact::redact_str;
use perspio_core::{Clock, SystemClock};
use tokio::sync::OnceCell;

use crate::breaker::Breaker;
use crate::config::StoreConfig;
use crate::error::StoreError;

const STORE: &str = "memcached";

/// A Memcached server shared by the processes of a fleet (the token cache only: Memcached
/// has no scripts and no server clock, so it cannot hold a rate budget).
///
/// URL: `memcache://host:port` (or `memcached://`). Opening validates it and connects
/// nothing; the first operation resolves the host and dials. Clones share the client and the
/// breaker.
#[derive(Clone)]
pub struct MemcachedStore {
    inner: Arc<Inner>,
}

struct Inner {
    address: String,
    client: OnceCell<AsyncMetaClient>,
    config: StoreConfig,
    url: String,
    breaker: Breaker,
}

impl fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedStore")
            .field("url", &self.inner.url)
            .field("config", &self.inner.config)
            .field("breaker", &self.inner.breaker.stats())
            .finish_non_exhaustive()
    }
}

impl MemcachedStore {
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
        let invalid = |reason: &str| StoreError::InvalidUrl {
            store: STORE,
            url: shown.clone(),
            reason: reason.to_owned(),
        };
        let parsed = url::Url::parse(url.trim())
            .map_err(|_| invalid("not an absolute url; use memcache://host:port"))?;
        if !matches!(parsed.scheme(), "memcache" | "memcached") {
            return Err(invalid("the scheme must be memcache:// or memcached://"));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("it has no host"))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid(
                "memcached has no passwords here; remove the user information",
            ));
        }
        if parsed.path().len() > 1 || parsed.query().is_some() {
            return Err(invalid("it must be memcache://host:port, nothing after"));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let address = match host.contains(':') {
            true => format!("[{host}]:{}", parsed.port().unwrap_or(11211)),
            false => format!("{host}:{}", parsed.port().unwrap_or(11211)),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                address,
                client: OnceCell::new(),
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

    /// Runs `operation` (named `name` in errors and logs) with the client, through the
    /// breaker and within the store's time budget.
    ///
    /// # Errors
    /// [`StoreError::CircuitOpen`] at once while the breaker is open; [`StoreError::Timeout`]
    /// or [`StoreError::Failed`] (each counted by the breaker) otherwise.
    pub async fn run<T, F, Fut>(&self, name: &'static str, operation: F) -> Result<T, StoreError>
    where
        F: FnOnce(AsyncMetaClient) -> Fut,
        Fut: Future<Output = memcache::exp::Result<T>>,
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
        let budget = inner.config.operation_budget();
        let attempt = async {
            let client = inner
                .client
                .get_or_try_init(|| {
                    AsyncMetaClient::builder()
                        .connect_timeout(Some(inner.config.connect_timeout()))
                        .io_timeout(Some(inner.config.response_timeout()))
                        .connect_async(inner.address.clone())
                })
                .await?
                .clone();
            operation(client).await
        };
        let outcome = match tokio::time::timeout(budget, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StoreError::Failed {
                store: STORE,
                url: inner.url.clone(),
                operation: name,
                message: perspio_core::text::remote(&error.to_string()),
            }),
            Err(_) => Err(StoreError::Timeout {
                store: STORE,
                url: inner.url.clone(),
                operation: name,
                after: budget,
            }),
        };
        match &outcome {
            Ok(_) => inner.breaker.record_success(),
            Err(error) => inner.breaker.record_failure(error),
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_are_checked_when_opened() {
        assert!(MemcachedStore::open("memcache://127.0.0.1:11211", StoreConfig::default()).is_ok());
        assert!(MemcachedStore::open("memcached://[::1]:11211", StoreConfig::default()).is_ok());
        for url in [
            "127.0.0.1:11211",
            "redis://127.0.0.1/",
            "memcache://u:pw@host:1",
            "memcache://host:1/x",
        ] {
            let error = MemcachedStore::open(url, StoreConfig::default()).unwrap_err();
            assert!(!error.to_string().contains("pw"), "{error}");
        }
    }
}
