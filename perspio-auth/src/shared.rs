//! A token store shared by the processes of a fleet: one sealed record per token URL, tenant,
//! client id and scope, in Redis or Memcached.
//!
//! - **Sealed**: the record (token, issue and expiry times) is encrypted and authenticated
//!   with XChaCha20-Poly1305 under a key derived from the client secret (HKDF-SHA256). Every
//!   process of the application has the secret, so no key needs distributing; a reader of the
//!   store without it learns nothing, and a tampered record or one sealed for another key
//!   (another application, another scope) fails to open and is ignored.
//! - **Single flight across processes**: a lease (`SET NX PX` on Redis, `add` on Memcached)
//!   lets one process fetch while the others wait (bounded) and then read the store; a lease
//!   whose holder died expires and another process takes it.
//! - **401**: the shared record is deleted only if it still holds the refused token
//!   (a compare on the record's token fingerprint: a server-side script on Redis, CAS on
//!   Memcached).
//! - The record never holds the client secret or the subscription key.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use perspio_store::StoreError;
use sha2::{Digest, Sha256};

use crate::config::AuthConfig;
use crate::credentials::{AccessToken, Credentials};
use crate::error::AuthError;
use crate::store::{Lease, StoredToken, TokenStore};

/// The version byte that starts every record; a new layout gets a new one.
const RECORD_VERSION: u8 = 1;
/// Bytes of the token fingerprint kept in clear after the version byte.
const FINGERPRINT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
/// The records' header: version and fingerprint, what a compare-and-delete compares.
const HEADER_LEN: usize = 1 + FINGERPRINT_LEN;

/// A key-value store several processes share, holding opaque (already sealed) bytes.
///
/// Implemented for Redis (`RedisTokenBackend`, feature `redis`) and Memcached
/// (`MemcachedTokenBackend`, feature `memcached`); implement it to use another store.
/// Errors are never fatal: the middleware logs them and fetches tokens directly.
#[async_trait]
pub trait SharedBackend: Send + Sync + fmt::Debug + 'static {
    /// What the store is, for logs (a redacted URL).
    fn describe(&self) -> String;

    /// The value at `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets `key` to `value`, expiring after `ttl`.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;

    /// Sets `key` to `value` only if `key` is absent (the lease); `true` when it was set.
    async fn add(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError>;

    /// Deletes `key` only if its value starts with `prefix`, atomically; `true` when deleted.
    async fn delete_if_prefix(&self, key: &str, prefix: Vec<u8>) -> Result<bool, StoreError>;
}

/// A shared backend is a backend (so one `Arc<dyn SharedBackend>` can serve several middlewares).
#[async_trait]
impl<B: SharedBackend + ?Sized> SharedBackend for Arc<B> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        (**self).set(key, value, ttl).await
    }

    async fn add(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        (**self).add(key, value, ttl).await
    }

    async fn delete_if_prefix(&self, key: &str, prefix: Vec<u8>) -> Result<bool, StoreError> {
        (**self).delete_if_prefix(key, prefix).await
    }
}

/// The [`TokenStore`] over a [`SharedBackend`]: see the [module docs](self).
///
/// Made by [`AuthMiddlewareBuilder::with_shared_store`](crate::AuthMiddlewareBuilder::with_shared_store),
/// which knows the credentials and the configuration the record's key and seal come from.
pub(crate) struct SharedTokenStore {
    backend: Arc<dyn SharedBackend>,
    key: String,
    lease_key: String,
    seal: Seal,
}

impl fmt::Debug for SharedTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTokenStore")
            .field("backend", &self.backend)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl SharedTokenStore {
    pub(crate) fn new(
        backend: Arc<dyn SharedBackend>,
        credentials: &Credentials,
        config: &AuthConfig,
    ) -> Self {
        let key = record_key(credentials, config);
        Self {
            lease_key: format!("{key}:lease"),
            seal: Seal::new(credentials.client_secret().expose_secret(), &key),
            backend,
            key,
        }
    }

    fn store_error(error: StoreError) -> AuthError {
        AuthError::extension("shared token store", error)
    }
}

/// The key of the shared token record for these credentials and configuration:
/// `perspio:v1:{<tenant>}:token:<32 hex>`, the hex a digest of every parameter of the token
/// request (token URL, tenant, client id, scope). The lease is the same key with `:lease`.
///
/// For operators who want to find (or delete) the record; the value is sealed and useless
/// without the client secret.
///
/// ```
/// use perspio_auth::{AuthConfig, ClientSecret, Credentials, SubscriptionKey, shared_token_key};
/// let credentials = Credentials::new("app", ClientSecret::new("s"), "in-acme", SubscriptionKey::new("k"))?;
/// let key = shared_token_key(&credentials, &AuthConfig::default());
/// assert!(key.starts_with("perspio:v1:{in-acme}:token:"));
/// # Ok::<(), perspio_auth::AuthError>(())
/// ```
pub fn shared_token_key(credentials: &Credentials, config: &AuthConfig) -> String {
    record_key(credentials, config)
}

fn record_key(credentials: &Credentials, config: &AuthConfig) -> String {
    let mut digest = Sha256::new();
    for part in [
        config.token_url().as_str(),
        credentials.tenant_id(),
        credentials.client_id(),
        config.scope(),
    ] {
        digest.update(part.as_bytes());
        digest.update([0u8]);
    }
    let hex: String = digest.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    perspio_store::tenant_key(credentials.tenant_id(), &format!("token:{hex}"))
}

#[async_trait]
impl TokenStore for SharedTokenStore {
    async fn get(&self) -> Result<Option<StoredToken>, AuthError> {
        let Some(bytes) = self
            .backend
            .get(&self.key)
            .await
            .map_err(Self::store_error)?
        else {
            return Ok(None);
        };
        match self.seal.open(&bytes) {
            Some(token) => Ok(Some(token)),
            None => {
                tracing::warn!(
                    store = %self.backend.describe(),
                    "ignoring a shared token record that does not open with this application's key (tampered, or sealed by another application)"
                );
                Ok(None)
            }
        }
    }

    async fn put(&self, token: StoredToken) -> Result<(), AuthError> {
        let ttl = token
            .expires_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        if ttl.is_zero() {
            return Ok(());
        }
        let sealed = self.seal.seal(&token)?;
        self.backend
            .set(&self.key, sealed, ttl)
            .await
            .map_err(Self::store_error)
    }

    async fn remove(&self, token: &AccessToken) -> Result<(), AuthError> {
        let prefix = self.seal.header(token);
        self.backend
            .delete_if_prefix(&self.key, prefix)
            .await
            .map(drop)
            .map_err(Self::store_error)
    }

    async fn try_lease(&self, ttl: Duration) -> Result<Option<Lease>, AuthError> {
        let holder = Lease::new_holder();
        let taken = self
            .backend
            .add(&self.lease_key, holder.as_bytes().to_vec(), ttl)
            .await
            .map_err(Self::store_error)?;
        Ok(taken.then(|| Lease::held(holder)))
    }

    async fn release(&self, lease: Lease) -> Result<(), AuthError> {
        if let Some(holder) = lease.holder() {
            self.backend
                .delete_if_prefix(&self.lease_key, holder.as_bytes().to_vec())
                .await
                .map_err(Self::store_error)?;
        }
        Ok(())
    }

    fn is_shared(&self) -> bool {
        true
    }
}

/// The record's seal: its AEAD key and fingerprint key, derived from the client secret and
/// bound to the record's key.
struct Seal {
    cipher: XChaCha20Poly1305,
    fingerprint_key: [u8; 32],
    aad: Vec<u8>,
}

impl Seal {
    fn new(client_secret: &str, record_key: &str) -> Self {
        let hkdf = Hkdf::<Sha256>::new(
            Some(b"perspio-shared-token-record-v1"),
            client_secret.as_bytes(),
        );
        let mut seal_key = [0u8; 32];
        let mut fingerprint_key = [0u8; 32];
        // Infallible: 32 bytes is far below HKDF-SHA256's 8160-byte limit.
        let _ = hkdf.expand(format!("seal\0{record_key}").as_bytes(), &mut seal_key);
        let _ = hkdf.expand(
            format!("fingerprint\0{record_key}").as_bytes(),
            &mut fingerprint_key,
        );
        Self {
            cipher: XChaCha20Poly1305::new(&seal_key.into()),
            fingerprint_key,
            aad: record_key.as_bytes().to_vec(),
        }
    }

    /// Version byte and token fingerprint: what a compare-and-delete compares.
    fn header(&self, token: &AccessToken) -> Vec<u8> {
        // HKDF-SHA256 keyed with the fingerprint key: an HMAC of the token, not reversible.
        let mut fingerprint = [0u8; FINGERPRINT_LEN];
        let _ = Hkdf::<Sha256>::new(
            Some(&self.fingerprint_key),
            token.expose_secret().as_bytes(),
        )
        .expand(b"token fingerprint", &mut fingerprint);
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.push(RECORD_VERSION);
        header.extend_from_slice(&fingerprint);
        header
    }

    fn seal(&self, token: &StoredToken) -> Result<Vec<u8>, AuthError> {
        let plain = serde_json::json!({
            "access_token": token.access_token.expose_secret(),
            "issued_at_ms": unix_ms(token.issued_at),
            "expires_at_ms": unix_ms(token.expires_at),
        })
        .to_string();
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: &self.aad,
                },
            )
            .map_err(|_| AuthError::InvalidConfig {
                field: "shared token store",
                reason: "the token record could not be sealed".into(),
            })?;
        let mut record = self.header(&token.access_token);
        record.extend_from_slice(&nonce);
        record.extend_from_slice(&sealed);
        Ok(record)
    }

    /// The token in `record`, or `None` when it does not open (tampered, foreign, another
    /// version) or its content is not a token record.
    fn open(&self, record: &[u8]) -> Option<StoredToken> {
        if record.len() < HEADER_LEN + NONCE_LEN || record[0] != RECORD_VERSION {
            return None;
        }
        let (header, rest) = record.split_at(HEADER_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &self.aad,
                },
            )
            .ok()?;
        let value: serde_json::Value = serde_json::from_slice(&plain).ok()?;
        let access_token = AccessToken::new(value.get("access_token")?.as_str()?);
        let at = |field: &str| {
            value
                .get(field)?
                .as_u64()
                .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
        };
        let token = StoredToken {
            issued_at: at("issued_at_ms")?,
            expires_at: at("expires_at_ms")?,
            access_token,
        };
        // The clear header must belong to the sealed token, or compare-and-delete could be
        // aimed at another record.
        (self.header(&token.access_token) == header).then_some(token)
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The shared token store on Redis (feature `redis`): `SET … PX`, the lease with
/// `SET NX PX`, and compare-and-delete in a server-side script.
#[cfg(feature = "redis")]
#[derive(Debug, Clone)]
pub struct RedisTokenBackend {
    store: perspio_store::RedisStore,
}

#[cfg(feature = "redis")]
impl RedisTokenBackend {
    /// A backend on the Redis at `url` (`redis://`, `rediss://`, `redis+unix://`), with the
    /// default timeouts and breaker ([`perspio_store::StoreConfig`]).
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] (field `redis url`) naming what is wrong with the URL,
    /// which is shown redacted.
    pub fn open(url: &str) -> Result<Self, AuthError> {
        perspio_store::RedisStore::open(url, perspio_store::StoreConfig::default())
            .map(Self::new)
            .map_err(|e| AuthError::InvalidConfig {
                field: "redis url",
                reason: e.to_string(),
            })
    }

    /// A backend on a store you opened (your timeouts, breaker and clock).
    pub fn new(store: perspio_store::RedisStore) -> Self {
        Self { store }
    }

    /// The store, for its breaker's counts.
    pub fn store(&self) -> &perspio_store::RedisStore {
        &self.store
    }
}

#[cfg(feature = "redis")]
#[async_trait]
impl SharedBackend for RedisTokenBackend {
    fn describe(&self) -> String {
        format!("redis at {}", self.store.url())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_owned();
        self.store
            .run("get token", |mut conn| async move {
                redis::cmd("GET").arg(key).query_async(&mut conn).await
            })
            .await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let key = key.to_owned();
        let ttl_ms = millis(ttl);
        self.store
            .run("set token", |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut conn)
                    .await
            })
            .await
    }

    async fn add(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let key = key.to_owned();
        let ttl_ms = millis(ttl);
        let answer: Option<String> = self
            .store
            .run("take token lease", |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(answer.is_some())
    }

    async fn delete_if_prefix(&self, key: &str, prefix: Vec<u8>) -> Result<bool, StoreError> {
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                "local v = redis.call('GET', KEYS[1]) \
                 if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then \
                   return redis.call('DEL', KEYS[1]) \
                 end \
                 return 0",
            )
        });
        let key = key.to_owned();
        let deleted: i64 = self
            .store
            .run("compare and delete", |mut conn| async move {
                SCRIPT.key(key).arg(prefix).invoke_async(&mut conn).await
            })
            .await?;
        Ok(deleted > 0)
    }
}

#[cfg(feature = "redis")]
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The shared token store on Memcached (feature `memcached`): `set`, the lease with `add`,
/// and compare-and-delete with CAS.
#[cfg(feature = "memcached")]
#[derive(Debug, Clone)]
pub struct MemcachedTokenBackend {
    store: perspio_store::MemcachedStore,
}

#[cfg(feature = "memcached")]
impl MemcachedTokenBackend {
    /// A backend on the Memcached at `url` (`memcache://host:port`), with the default
    /// timeouts and breaker.
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] (field `memcached url`) naming what is wrong with the URL.
    pub fn open(url: &str) -> Result<Self, AuthError> {
        perspio_store::MemcachedStore::open(url, perspio_store::StoreConfig::default())
            .map(Self::new)
            .map_err(|e| AuthError::InvalidConfig {
                field: "memcached url",
                reason: e.to_string(),
            })
    }

    /// A backend on a store you opened (your timeouts, breaker and clock).
    pub fn new(store: perspio_store::MemcachedStore) -> Self {
        Self { store }
    }

    /// The store, for its breaker's counts.
    pub fn store(&self) -> &perspio_store::MemcachedStore {
        &self.store
    }
}

#[cfg(feature = "memcached")]
#[async_trait]
impl SharedBackend for MemcachedTokenBackend {
    fn describe(&self) -> String {
        format!("memcached at {}", self.store.url())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        use perspio_store::memcache::exp::Get;
        let key = key.to_owned();
        let found = self
            .store
            .run("get token", |client| async move {
                client.run(Get::new(key)).await
            })
            .await?;
        Ok(found.value)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        use perspio_store::memcache::exp::Set;
        let key = key.to_owned();
        let ttl = seconds(ttl);
        self.store
            .run("set token", |client| async move {
                client.run(Set::new(key, value).ttl_raw(ttl)).await
            })
            .await
            .map(drop)
    }

    async fn add(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        use perspio_store::memcache::exp::Set;
        let key = key.to_owned();
        let ttl = seconds(ttl);
        let result = self
            .store
            .run("take token lease", |client| async move {
                client.run(Set::new(key, value).add().ttl_raw(ttl)).await
            })
            .await?;
        Ok(result.applied())
    }

    async fn delete_if_prefix(&self, key: &str, prefix: Vec<u8>) -> Result<bool, StoreError> {
        use perspio_store::memcache::exp::{Delete, Get, Meta};
        let key = key.to_owned();
        self.store
            .run("compare and delete", |client| async move {
                let found = client
                    .run(Get::new(&key).meta(Meta::default().cas()))
                    .await?;
                let (Some(value), Some(cas)) = (found.value, found.item.cas) else {
                    return Ok(false);
                };
                if !value.starts_with(&prefix) {
                    return Ok(false);
                }
                let deleted = client.run(Delete::new(&key).compare_cas(cas)).await?;
                Ok(deleted.applied())
            })
            .await
    }
}

/// The longest TTL Memcached reads as seconds from now: above it, the number is a Unix time,
/// so 31 days would be a moment in 1970 and the entry gone at once.
#[cfg(feature = "memcached")]
const MEMCACHED_MAX_RELATIVE_TTL: u64 = 30 * 86_400;

/// Memcached counts whole seconds: round up, at least one, at most thirty days
/// ([`MEMCACHED_MAX_RELATIVE_TTL`]; a token lives an hour, a lease seconds).
#[cfg(feature = "memcached")]
fn seconds(ttl: Duration) -> u32 {
    let secs = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0));
    u32::try_from(secs.clamp(1, MEMCACHED_MAX_RELATIVE_TTL)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[cfg(feature = "memcached")]
    #[test]
    fn memcached_ttls_are_whole_seconds_from_now_never_a_unix_time() {
        assert_eq!(seconds(Duration::ZERO), 1);
        assert_eq!(seconds(Duration::from_millis(1500)), 2);
        assert_eq!(seconds(Duration::from_secs(3600)), 3600);
        for long in [
            Duration::from_secs(31 * 86_400),
            Duration::from_secs(u64::from(u32::MAX) + 1),
            Duration::MAX,
        ] {
            assert_eq!(seconds(long), 30 * 86_400, "{long:?}");
        }
    }

    fn token(value: &str) -> StoredToken {
        StoredToken {
            access_token: AccessToken::new(value),
            issued_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            expires_at: UNIX_EPOCH + Duration::from_secs(1_700_003_600),
        }
    }

    #[test]
    fn a_sealed_record_opens_with_the_same_secret_and_key_only() {
        let seal = Seal::new("secret-A", "perspio:v1:{in-t}:token:1");
        let record = seal.seal(&token("tok")).unwrap();
        assert_eq!(seal.open(&record), Some(token("tok")));
        assert!(
            !record.windows(3).any(|w| w == b"tok") && !record.windows(8).any(|w| w == b"secret-A")
        );
        let other_secret = Seal::new("secret-B", "perspio:v1:{in-t}:token:1");
        assert_eq!(
            other_secret.open(&record),
            None,
            "another application's key"
        );
        let other_key = Seal::new("secret-A", "perspio:v1:{in-t}:token:2");
        assert_eq!(other_key.open(&record), None, "moved to another key");
    }

    #[test]
    fn a_tampered_record_does_not_open() {
        let seal = Seal::new("secret", "k");
        let record = seal.seal(&token("tok")).unwrap();
        for i in 0..record.len() {
            let mut bad = record.clone();
            bad[i] ^= 0x01;
            assert_eq!(seal.open(&bad), None, "byte {i}");
        }
        assert_eq!(seal.open(&record[..10]), None);
        assert_eq!(seal.open(b""), None);
    }

    #[test]
    fn the_header_identifies_the_token_without_revealing_it() {
        let seal = Seal::new("secret", "k");
        let a = seal.header(&AccessToken::new("a"));
        assert_eq!(a, seal.header(&AccessToken::new("a")));
        assert_ne!(a, seal.header(&AccessToken::new("b")));
        assert!(seal.seal(&token("a")).unwrap().starts_with(&a));
    }
}
