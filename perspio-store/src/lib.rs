//! Shared state for a fleet of perspio clients: connections to Redis and Memcached with
//! short timeouts and a circuit breaker, and real test servers.
//!
//! PerspioTalk's limits belong to the application and the tenant, not to a process. Workers
//! that share one Entra application share one token (`perspio-auth`'s shared token store)
//! and one rate budget (`perspio-policy`'s shared limiter) through an existing store; this
//! crate is how they reach it:
//!
//! - `RedisStore` (feature `redis`): `redis://`, `rediss://` (TLS), `redis+unix://`, with a
//!   password in the URL when needed; one lazily connected, self-reconnecting
//!   `ConnectionManager`.
//! - `MemcachedStore` (feature `memcached`): `memcache://host:port` (meta protocol), for the
//!   token cache only: Memcached has no scripts and no server clock.
//! - [`Breaker`]: every operation goes through one. After
//!   [`failures_to_open`](StoreConfig::with_failures_to_open) consecutive failures it opens
//!   for [`open_for`](StoreConfig::with_open_for): callers get [`StoreError::CircuitOpen`] at
//!   once and use their fallback, so a dead store adds no latency; then one probe is let
//!   through, and its success closes the breaker again. Transitions are logged (`WARN` when
//!   it opens, `INFO` when it recovers) and counted ([`BreakerStats`]).
//! - `testing` (feature `testing`): `testing::RedisServer` and
//!   `testing::MemcachedServer`, real servers on free loopback ports for a test's lifetime,
//!   and `testing::SecretService`, a real OS keyring (GNOME Keyring on a private D-Bus bus).
//!
//! Store URLs are validated when a store is opened (a typed [`StoreError::InvalidUrl`]), and
//! shown only redacted ([`perspio_core::redact`]): a password in a URL never reaches an error
//! or a log line.
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn run() -> Result<(), perspio_store::StoreError> {
//! use perspio_store::{RedisStore, StoreConfig};
//!
//! let store = RedisStore::open("redis://127.0.0.1:6379/0", StoreConfig::default())?;
//! let pong: String = store
//!     .run("ping", |mut conn| async move { redis::cmd("PING").query_async(&mut conn).await })
//!     .await?;
//! assert_eq!(pong, "PONG");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod breaker;
mod config;
mod error;
#[cfg(feature = "memcached")]
mod memcached;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "testing")]
pub mod testing;

pub use breaker::{Breaker, BreakerStats};
pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_FAILURES_TO_OPEN, DEFAULT_OPEN_FOR, DEFAULT_RESPONSE_TIMEOUT,
    StoreConfig,
};
pub use error::StoreError;
#[cfg(feature = "memcached")]
pub use memcache;
#[cfg(feature = "memcached")]
pub use memcached::MemcachedStore;
#[cfg(feature = "redis")]
pub use redis;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;

/// The prefix of every key this workspace writes: `perspio:v1:`. The version changes when a
/// record's layout does, so that old and new clients never read each other's records.
pub const KEY_PREFIX: &str = "perspio:v1:";

/// The key of `name` for `tenant`: `perspio:v1:{<tenant>}:<name>`.
///
/// The braces are a Redis Cluster hash tag: every key of one tenant lands in one slot, so a
/// script may touch them all, on a single server and on a cluster alike. Characters that a
/// key must not hold (braces, whitespace, control characters) are replaced by `_` in the
/// tenant.
///
/// ```
/// assert_eq!(perspio_store::tenant_key("in-acme", "token"), "perspio:v1:{in-acme}:token");
/// ```
pub fn tenant_key(tenant: &str, name: &str) -> String {
    let tenant: String = tenant
        .chars()
        .map(|c| {
            if c == '{' || c == '}' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{KEY_PREFIX}{{{tenant}}}:{name}")
}
