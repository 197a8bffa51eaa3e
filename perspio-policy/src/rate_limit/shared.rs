//! The budget of a fleet, in Redis: one atomic script checks and reserves every window, the
//! pauses and the bandwidth quota at once, on the server's clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use perspio_core::Clock;
use perspio_store::{RedisStore, StoreConfig, StoreError, tenant_key};

use super::local::LocalBudget;
use super::{LimitScope, PauseScope, RateLimit, RateLimitStats, Reservation};
use crate::error::PolicyError;

/// What a shared limiter does while its store is unreachable (down, slow, or its circuit
/// breaker open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreFailure {
    /// Limit locally at `limit / expected_processes` (each window and the bandwidth): looser
    /// than the shared budget, never unlimited. The default.
    #[default]
    Local,
    /// Do not limit at all; the server's `429`s (waited out by the retry layer) are the only
    /// brake.
    FailOpen,
    /// Fail every call with [`PolicyError::SharedBudgetUnavailable`] until the store answers.
    FailClosed,
}

/// A rate budget shared by every process that uses the same Redis, tenant and application:
/// give it to [`RateLimitMiddleware::shared`](crate::RateLimitMiddleware::shared).
///
/// - **One atomic script** ([`redis::Script`], reloaded by redis-rs when a failover empties the
///   script cache) checks and reserves every window at once, all or nothing: an exact sliding
///   log per window (never more than N in any window of length `per`), the tenant's hourly
///   log, the bandwidth quota, and the pauses.
/// - **Pauses**: any process's `429` `Retry-After` pauses the application, a `403` with
///   `Retry-After` (the quota) the whole tenant; a pause only ever moves later, so one
///   worker's `429` pauses the fleet.
/// - **Server time**: `now` is Redis `TIME`; the script answers the *relative* wait, which the
///   caller sleeps on its own monotonic clock, so clock skew between hosts cannot matter.
/// - **Reservations, not polling**: a caller that must wait gets its own slot and the exact
///   wait; waiters do not wake together.
/// - **Keys**: `perspio:v1:{<tenant>}:rl:…`, one hash tag per tenant (the script works on
///   Redis Cluster), the limits in the key names (two processes configured differently do not
///   share a counter), and a TTL on every key.
/// - **Store down or slow**: short timeouts and a circuit breaker ([`perspio_store`]); then
///   the [`StoreFailure`] policy (by default a local limiter at
///   `limit / expected_processes`). The switch and the recovery are logged (`WARN`, `INFO`)
///   and counted ([`RateLimitStats`]); recovery is automatic. Under the default policy a store
///   outage never fails a call by itself.
///
/// ```no_run
/// # fn run() -> Result<(), perspio_policy::PolicyError> {
/// use perspio_policy::{RateLimit, RateLimitMiddleware, SharedRateLimit};
///
/// let shared = SharedRateLimit::open("redis://127.0.0.1:6379/0", "in-acme", "my-client-id")?
///     .with_expected_processes(8);
/// let limiter = RateLimitMiddleware::shared(RateLimit::perspio_documented(), shared);
/// # let _ = limiter;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SharedRateLimit {
    store: RedisStore,
    tenant: String,
    application: String,
    expected_processes: u32,
    on_failure: StoreFailure,
}

impl SharedRateLimit {
    /// Default for [`with_expected_processes`](Self::with_expected_processes).
    pub const DEFAULT_EXPECTED_PROCESSES: u32 = 1;

    /// A shared budget on the Redis at `url`, for `tenant` (the Perspio tenant id, `tid`) and
    /// `application` (the Entra client id: the application limit is counted per key).
    ///
    /// # Errors
    /// [`PolicyError::InvalidStore`] naming what is wrong with the URL (shown redacted).
    pub fn open(url: &str, tenant: &str, application: &str) -> Result<Self, PolicyError> {
        let store = RedisStore::open(url, StoreConfig::default())
            .map_err(|source| PolicyError::InvalidStore { source })?;
        Ok(Self::new(store, tenant, application))
    }

    /// A shared budget on a store you opened (your timeouts, breaker and clock).
    pub fn new(store: RedisStore, tenant: &str, application: &str) -> Self {
        Self {
            store,
            tenant: tenant.to_owned(),
            application: application.to_owned(),
            expected_processes: Self::DEFAULT_EXPECTED_PROCESSES,
            on_failure: StoreFailure::default(),
        }
    }

    /// How many processes share the budget: while the store is unreachable each limits
    /// itself to `limit / processes`. Set it to the size of your fleet. Defaults to 1.
    pub fn with_expected_processes(mut self, processes: u32) -> Self {
        self.expected_processes = processes.max(1);
        self
    }

    /// What to do while the store is unreachable. Defaults to [`StoreFailure::Local`].
    pub fn with_store_failure(mut self, on_failure: StoreFailure) -> Self {
        self.on_failure = on_failure;
        self
    }

    /// The store.
    pub fn store(&self) -> &RedisStore {
        &self.store
    }

    pub(crate) fn into_budget(self, config: &RateLimit, clock: Arc<dyn Clock>) -> SharedBudget {
        SharedBudget::new(self, config, clock)
    }
}

/// The keys of one budget.
#[derive(Debug, Clone)]
struct Keys {
    application_pause: String,
    tenant_pause: String,
    windows: Vec<String>,
    bandwidth: Option<String>,
}

impl Keys {
    fn new(settings: &SharedRateLimit, config: &RateLimit) -> Self {
        let tenant = settings.tenant.as_str();
        let application: String = settings
            .application
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let windows = config
            .limits
            .iter()
            .map(|limit| {
                let shape = format!("{}/{}ms", limit.requests, limit.per.as_millis());
                match limit.scope {
                    LimitScope::Application => {
                        tenant_key(tenant, &format!("rl:app:{application}:{shape}"))
                    }
                    LimitScope::Tenant => tenant_key(tenant, &format!("rl:tenant:{shape}")),
                }
            })
            .collect();
        Self {
            application_pause: tenant_key(tenant, &format!("rl:app:{application}:pause")),
            tenant_pause: tenant_key(tenant, "rl:tenant:pause"),
            windows,
            bandwidth: config
                .bandwidth
                .map(|b| tenant_key(tenant, &format!("bw:{}/{}ms", b.bytes, b.per.as_millis()))),
        }
    }
}

/// Buckets per bandwidth window: charges are kept per bucket, and a bucket counts while any
/// part of it is inside the window (so the quota is never exceeded, at the cost of up to one
/// bucket of slack).
const BANDWIDTH_BUCKETS: u128 = 60;

/// Reserves a slot in every window at once, or none. KEYS: application pause, tenant pause,
/// the windows, then the bandwidth hash (if any). ARGV: window count, bandwidth (0/1), bound
/// (ms), member, client time (ms, used only where `TIME` is refused), then per window its
/// requests and period (ms, guard included), then bytes, period and bucket (ms).
/// Returns {0 reserved | 1 refused, wait ms, what decided}.
const RESERVE: &str = r"
local n = tonumber(ARGV[1])
local has_bw = tonumber(ARGV[2]) == 1
local bound = tonumber(ARGV[3])
local member = ARGV[4]
local now
local ok, t = pcall(redis.call, 'TIME')
if ok then now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) else now = tonumber(ARGV[5]) end
local slot = now
local why = 'free'
for k = 1, 2 do
  local paused = tonumber(redis.call('GET', KEYS[k]) or '0')
  if paused > slot then slot = paused; why = 'pause' end
end
local a = 6
for i = 1, n do
  local key = KEYS[2 + i]
  local limit = tonumber(ARGV[a]); local per = tonumber(ARGV[a + 1]); a = a + 2
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
  local count = redis.call('ZCARD', key)
  if count > 0 then
    local last = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
    if last > slot then slot = last; why = 'window ' .. i end
  end
  if count >= limit then
    local oldest = tonumber(redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')[2])
    if oldest + per > slot then slot = oldest + per; why = 'window ' .. i end
  end
end
if has_bw then
  local key = KEYS[3 + n]
  local limit = tonumber(ARGV[a]); local per = tonumber(ARGV[a + 1]); local width = tonumber(ARGV[a + 2])
  local fields = redis.call('HGETALL', key)
  local buckets = {}
  local total = 0
  for j = 1, #fields, 2 do
    local b = tonumber(fields[j]); local bytes = tonumber(fields[j + 1])
    if (b + 1) * width <= now - per then
      redis.call('HDEL', key, fields[j])
    else
      table.insert(buckets, {b, bytes}); total = total + bytes
    end
  end
  if total >= limit then
    table.sort(buckets, function(x, y) return x[1] < y[1] end)
    for _, e in ipairs(buckets) do
      total = total - e[2]
      local free = (e[1] + 1) * width + per
      if free > slot then slot = free; why = 'bandwidth' end
      if total < limit then break end
    end
  end
end
local wait = slot - now
if wait > bound then return {1, wait, why} end
a = 6
for i = 1, n do
  local key = KEYS[2 + i]
  local per = tonumber(ARGV[a + 1]); a = a + 2
  redis.call('ZADD', key, slot, member)
  redis.call('PEXPIRE', key, wait + per + 1000)
end
return {0, wait, why}
";

/// Moves a pause later (never earlier). KEYS: the pause. ARGV: advised wait (ms), client time
/// (ms, where `TIME` is refused). Returns the pause left (ms).
const PAUSE: &str = r"
local now
local ok, t = pcall(redis.call, 'TIME')
if ok then now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) else now = tonumber(ARGV[2]) end
local pause_until = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if pause_until > current then
  redis.call('SET', KEYS[1], pause_until, 'PX', pause_until - now + 1000)
  return pause_until - now
end
return current - now
";

/// Adds response bytes to the current bucket. KEYS: the bandwidth hash. ARGV: bytes, bucket
/// width (ms), period (ms), client time (ms, where `TIME` is refused).
const CHARGE: &str = r"
local now
local ok, t = pcall(redis.call, 'TIME')
if ok then now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) else now = tonumber(ARGV[4]) end
local width = tonumber(ARGV[2])
redis.call('HINCRBY', KEYS[1], math.floor(now / width), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 2 * width + 1000)
return 1
";

static RESERVE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RESERVE));
static PAUSE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(PAUSE));
static CHARGE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(CHARGE));

#[derive(Debug)]
pub(crate) struct SharedBudget {
    settings: SharedRateLimit,
    keys: Keys,
    /// Per window: requests and period with the guard, in ms.
    windows: Vec<(u32, u64)>,
    /// Bytes, period with the guard and bucket width, in ms.
    bandwidth: Option<(u64, u64, u64)>,
    fallback: LocalBudget,
    in_fallback: AtomicBool,
    shared_reservations: AtomicU64,
    store_failures: AtomicU64,
    fallbacks: AtomicU64,
    recoveries: AtomicU64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

impl SharedBudget {
    fn new(settings: SharedRateLimit, config: &RateLimit, clock: Arc<dyn Clock>) -> Self {
        let guard = config.guard;
        Self {
            keys: Keys::new(&settings, config),
            windows: config
                .limits
                .iter()
                .map(|l| (l.requests, millis(l.per.saturating_add(guard))))
                .collect(),
            bandwidth: config.bandwidth.map(|b| {
                let per = b.per.saturating_add(guard);
                let width = (b.per.as_millis() / BANDWIDTH_BUCKETS).max(1);
                (b.bytes, millis(per), u64::try_from(width).unwrap_or(1))
            }),
            fallback: LocalBudget::new(&config.divided(settings.expected_processes), clock),
            settings,
            in_fallback: AtomicBool::new(false),
            shared_reservations: AtomicU64::new(0),
            store_failures: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            recoveries: AtomicU64::new(0),
        }
    }

    /// What the budget was made from.
    pub(crate) fn settings(&self) -> &SharedRateLimit {
        &self.settings
    }

    pub(crate) fn stats(&self) -> RateLimitStats {
        RateLimitStats {
            shared_reservations: self.shared_reservations.load(Ordering::Relaxed),
            local_reservations: self.fallback.reservations(),
            store_failures: self.store_failures.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            recoveries: self.recoveries.load(Ordering::Relaxed),
        }
    }

    pub(crate) async fn reserve(&self, bound: Duration) -> Result<Reservation, PolicyError> {
        let keys = self.keys.clone();
        let windows = self.windows.clone();
        let bandwidth = self.bandwidth;
        let member = format!("{:016x}{:016x}", unix_ms(), rand::random::<u64>());
        let bound_ms = millis(bound);
        let answer: Result<(u8, u64, String), StoreError> = self
            .settings
            .store
            .run("reserve a rate-limit slot", |mut conn| async move {
                let mut call = RESERVE_SCRIPT.prepare_invoke();
                call.key(&keys.application_pause).key(&keys.tenant_pause);
                for key in &keys.windows {
                    call.key(key);
                }
                if let Some(key) = &keys.bandwidth {
                    call.key(key);
                }
                call.arg(windows.len())
                    .arg(u8::from(bandwidth.is_some()))
                    .arg(bound_ms)
                    .arg(member)
                    .arg(unix_ms());
                for (requests, per) in &windows {
                    call.arg(*requests).arg(*per);
                }
                if let Some((bytes, per, width)) = bandwidth {
                    call.arg(bytes).arg(per).arg(width);
                }
                call.invoke_async(&mut conn).await
            })
            .await;
        match answer {
            Ok((refused, wait_ms, _why)) => {
                self.back_to_shared();
                let wait = Duration::from_millis(wait_ms);
                if refused == 0 {
                    self.shared_reservations.fetch_add(1, Ordering::Relaxed);
                    // Should the store fail later, the fallback knows what this process sent.
                    self.fallback.note(wait);
                    Ok(Reservation::Granted(wait))
                } else {
                    Ok(Reservation::Refused(wait))
                }
            }
            Err(error) => {
                self.falling_back(&error);
                match self.settings.on_failure {
                    StoreFailure::Local => Ok(self.fallback.reserve(bound)),
                    StoreFailure::FailOpen => Ok(Reservation::Granted(Duration::ZERO)),
                    StoreFailure::FailClosed => {
                        Err(PolicyError::SharedBudgetUnavailable { source: error })
                    }
                }
            }
        }
    }

    pub(crate) async fn pause_for(&self, advised: Duration, scope: PauseScope) {
        self.fallback.pause_for(advised);
        let key = match scope {
            PauseScope::Application => self.keys.application_pause.clone(),
            PauseScope::Tenant => self.keys.tenant_pause.clone(),
        };
        let advised_ms = millis(advised);
        let answer: Result<i64, StoreError> = self
            .settings
            .store
            .run("pause the shared budget", |mut conn| async move {
                PAUSE_SCRIPT
                    .key(key)
                    .arg(advised_ms)
                    .arg(unix_ms())
                    .invoke_async(&mut conn)
                    .await
            })
            .await;
        match answer {
            Ok(_) => self.back_to_shared(),
            Err(error) => self.falling_back(&error),
        }
    }

    /// Charges `bytes` (from a body's drop, so not async): locally at once, in Redis on a task.
    pub(crate) fn charge(&self, bytes: u64) {
        self.fallback.charge(bytes);
        let (Some(key), Some((_, per, width))) = (self.keys.bandwidth.clone(), self.bandwidth)
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.settings.store.clone();
        runtime.spawn(async move {
            let charged: Result<i64, StoreError> = store
                .run("charge response bytes", |mut conn| async move {
                    CHARGE_SCRIPT
                        .key(key)
                        .arg(bytes)
                        .arg(width)
                        .arg(per)
                        .arg(unix_ms())
                        .invoke_async(&mut conn)
                        .await
                })
                .await;
            if let Err(error) = charged {
                tracing::debug!(target: "perspio_policy", %error, bytes, "could not charge response bytes to the shared bandwidth quota");
            }
        });
    }

    fn falling_back(&self, error: &StoreError) {
        self.store_failures.fetch_add(1, Ordering::Relaxed);
        if !self.in_fallback.swap(true, Ordering::Relaxed) {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            let what = match self.settings.on_failure {
                StoreFailure::Local => format!(
                    "limiting locally at 1/{} of every limit",
                    self.settings.expected_processes
                ),
                StoreFailure::FailOpen => "not limiting (fail open)".to_owned(),
                StoreFailure::FailClosed => "failing calls (fail closed)".to_owned(),
            };
            tracing::warn!(
                target: "perspio_policy",
                %error,
                "shared rate budget unavailable: {what} until the store answers again"
            );
        }
    }

    fn back_to_shared(&self) {
        if self.in_fallback.swap(false, Ordering::Relaxed) {
            self.recoveries.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                target: "perspio_policy",
                store = self.settings.store.url(),
                "shared rate budget reachable again: back to the fleet's budget"
            );
        }
    }
}
