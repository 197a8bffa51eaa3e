//! Client-side rate limiting: requests wait for a slot instead of drawing a `429`, in one
//! process ([`local`]) or across a fleet through Redis ([`shared`], feature `redis`).

mod counted;
mod local;
#[cfg(feature = "redis")]
mod shared;

use std::sync::Arc;
use std::time::Duration;

use http::{Extensions, StatusCode};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::error::PolicyError;
use crate::retry::CallDeadline;
use crate::retry_after::parse_retry_after;
use local::LocalBudget;
use perspio_core::{Clock, SystemClock};
#[cfg(feature = "redis")]
pub use shared::{SharedRateLimit, StoreFailure};

/// Whose requests a [`Limit`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitScope {
    /// One application (one Entra client id): PerspioTalk's 20 requests / 90 s.
    Application,
    /// Every application of the tenant together: PerspioTalk's 10,000 requests / hour.
    Tenant,
}

/// One rate-limit window: at most `requests` requests in any period of length `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    requests: u32,
    per: Duration,
    scope: LimitScope,
}

impl Limit {
    /// The documented per-application rate limit: 20 requests per 90 seconds.
    pub const PERSPIO_PER_APPLICATION: Limit = Limit {
        requests: 20,
        per: Duration::from_secs(90),
        scope: LimitScope::Application,
    };

    /// The documented per-tenant quota: 10,000 requests per hour.
    pub const PERSPIO_PER_TENANT: Limit = Limit {
        requests: 10_000,
        per: Duration::from_secs(60 * 60),
        scope: LimitScope::Tenant,
    };

    /// At most `requests` requests of this application in any period of length `per`.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidLimit`] when `requests` or `per` is zero.
    pub fn new(requests: u32, per: Duration) -> Result<Self, PolicyError> {
        if requests == 0 || per.is_zero() {
            return Err(PolicyError::InvalidLimit { requests, per });
        }
        Ok(Self {
            requests,
            per,
            scope: LimitScope::Application,
        })
    }

    /// As [`new`](Self::new), counting the requests of every application of the tenant
    /// (what a shared limiter shares tenant-wide).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn per_tenant(requests: u32, per: Duration) -> Result<Self, PolicyError> {
        Ok(Self {
            scope: LimitScope::Tenant,
            ..Self::new(requests, per)?
        })
    }

    /// Requests allowed per window.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// Length of the window.
    pub fn per(&self) -> Duration {
        self.per
    }

    /// Whose requests it counts.
    pub fn scope(&self) -> LimitScope {
        self.scope
    }

    /// This limit for one of `processes` processes sharing it: `requests / processes` per
    /// `per`; with more processes than requests, one request per `per × processes / requests`,
    /// so that the fleet together never exceeds the limit.
    #[cfg(feature = "redis")]
    pub(crate) fn divided(self, processes: u32) -> Self {
        let processes = processes.max(1);
        if processes <= self.requests {
            return Self {
                requests: self.requests / processes,
                ..self
            };
        }
        let stretched = self
            .per
            .checked_mul(processes)
            .map_or(Duration::MAX, |d| d / self.requests);
        Self {
            requests: 1,
            per: stretched,
            ..self
        }
    }
}

/// A response-bandwidth quota: at most `bytes` of response bodies in any period of length
/// `per`, counted for the tenant. Bytes are charged after each response arrives (its
/// `Content-Length`, or the body as it is read); when the quota is spent, the next requests
/// wait until enough of it has aged out of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth {
    bytes: u64,
    per: Duration,
}

impl Bandwidth {
    /// The documented per-tenant bandwidth: 40 MB (40,000,000 bytes) per hour.
    pub const PERSPIO_PER_TENANT: Bandwidth = Bandwidth {
        bytes: 40_000_000,
        per: Duration::from_secs(60 * 60),
    };

    /// At most `bytes` of responses in any period of length `per`.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidLimit`] when `bytes` or `per` is zero.
    pub fn new(bytes: u64, per: Duration) -> Result<Self, PolicyError> {
        if bytes == 0 || per.is_zero() {
            return Err(PolicyError::InvalidLimit {
                requests: u32::try_from(bytes).unwrap_or(u32::MAX),
                per,
            });
        }
        Ok(Self { bytes, per })
    }

    /// Bytes allowed per window.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Length of the window.
    pub fn per(&self) -> Duration {
        self.per
    }

    #[cfg(feature = "redis")]
    pub(crate) fn divided(self, processes: u32) -> Self {
        Self {
            bytes: (self.bytes / u64::from(processes.max(1))).max(1),
            ..self
        }
    }
}

/// Configuration of [`RateLimitMiddleware`]: one or more windows that must all have room, an
/// optional bandwidth quota, a guard margin, and a bound on how long a request may wait for
/// its slot.
///
/// ```
/// use std::time::Duration;
/// use perspio_policy::{Limit, RateLimit};
///
/// // The documented limits (20 / 90 s, 10,000 / hour, 40 MB / hour), waiting at most a minute:
/// let documented = RateLimit::perspio_documented().with_max_wait(Duration::from_secs(60));
///
/// // Custom limits, e.g. after agreeing a higher rate with Perspio:
/// let custom = RateLimit::new([Limit::new(600, Duration::from_secs(600))?]);
/// # Ok::<(), perspio_policy::PolicyError>(())
/// ```
///
/// # Limitations
///
/// - The tenant quota is shared by every application of the tenant; a local limiter only
///   counts its own requests (those of all its clones), a shared one those of every process
///   using the same store. The server's `429` (which pauses the limiter) covers the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    limits: Vec<Limit>,
    bandwidth: Option<Bandwidth>,
    guard: Duration,
    max_wait: Duration,
}

impl RateLimit {
    /// Default for [`with_max_wait`](Self::with_max_wait).
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(120);
    /// Default for [`with_guard`](Self::with_guard).
    pub const DEFAULT_GUARD: Duration = Duration::from_secs(1);
    /// The longest pause one answer's `Retry-After` puts on the budget: an hour, the longest
    /// window of PerspioTalk's documented limits (10,000 requests and 40 MB per hour). A longer
    /// advice (a quota of a day or a month, or a server's mistake: `Retry-After` can be any
    /// number of seconds) pauses for this long; the next request then asks the server again,
    /// so one wrong answer cannot stop a process, or a fleet through Redis, for longer.
    pub const MAX_PAUSE: Duration = Duration::from_secs(3600);

    /// The limits in PerspioTalk's documentation: [`Limit::PERSPIO_PER_APPLICATION`],
    /// [`Limit::PERSPIO_PER_TENANT`] and [`Bandwidth::PERSPIO_PER_TENANT`]. Also the
    /// [`Default`].
    pub fn perspio_documented() -> Self {
        Self::new([Limit::PERSPIO_PER_APPLICATION, Limit::PERSPIO_PER_TENANT])
            .with_bandwidth(Bandwidth::PERSPIO_PER_TENANT)
    }

    /// Custom limits; a request goes when every one of them has room. No bandwidth quota.
    pub fn new(limits: impl IntoIterator<Item = Limit>) -> Self {
        Self {
            limits: limits.into_iter().collect(),
            bandwidth: None,
            guard: Self::DEFAULT_GUARD,
            max_wait: Self::DEFAULT_MAX_WAIT,
        }
    }

    /// Adds one more window.
    pub fn with_limit(mut self, limit: Limit) -> Self {
        self.limits.push(limit);
        self
    }

    /// A response-bandwidth quota. Defaults to none for [`new`](Self::new) and to
    /// [`Bandwidth::PERSPIO_PER_TENANT`] for [`perspio_documented`](Self::perspio_documented).
    pub fn with_bandwidth(mut self, bandwidth: Bandwidth) -> Self {
        self.bandwidth = Some(bandwidth);
        self
    }

    /// No bandwidth quota.
    pub fn without_bandwidth(mut self) -> Self {
        self.bandwidth = None;
        self
    }

    /// A margin added to every window: requests leave `per + guard` apart, so that network
    /// jitter, which can bring requests closer together on their way to the gateway than
    /// they left, does not draw a `429`. Defaults to 1 s.
    pub fn with_guard(mut self, guard: Duration) -> Self {
        self.guard = guard;
        self
    }

    /// The longest a request may wait for a slot; past it the request is not sent and fails
    /// with [`PolicyError::RateLimitWaitExceeded`]. Defaults to 120 s.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The windows in force.
    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }

    /// See [`with_bandwidth`](Self::with_bandwidth).
    pub fn bandwidth(&self) -> Option<Bandwidth> {
        self.bandwidth
    }

    /// See [`with_guard`](Self::with_guard).
    pub fn guard(&self) -> Duration {
        self.guard
    }

    /// See [`with_max_wait`](Self::with_max_wait).
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// This configuration for one of `processes` processes sharing it.
    #[cfg(feature = "redis")]
    pub(crate) fn divided(&self, processes: u32) -> Self {
        Self {
            limits: self.limits.iter().map(|l| l.divided(processes)).collect(),
            bandwidth: self.bandwidth.map(|b| b.divided(processes)),
            ..self.clone()
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::perspio_documented()
    }
}

/// What a [`RateLimitMiddleware`] has done, for logs, metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitStats {
    /// Slots reserved in the shared budget (Redis).
    pub shared_reservations: u64,
    /// Slots reserved locally: every slot of a local limiter; a shared limiter's slots while
    /// its store was unreachable.
    pub local_reservations: u64,
    /// Store operations that failed (each one fell back, or failed the call under
    /// `StoreFailure::FailClosed`).
    pub store_failures: u64,
    /// Times a shared limiter switched to its fallback.
    pub fallbacks: u64,
    /// Times it came back to the shared budget.
    pub recoveries: u64,
}

/// Middleware that spaces requests so that they stay within a [`RateLimit`].
///
/// A request waits (on the injected clock) until every window has room, then goes; past
/// [`max_wait`](RateLimit::with_max_wait), or past the call deadline set by an outer
/// [`RetryMiddleware`](crate::RetryMiddleware), it fails without being sent. A `429`, or a
/// `403` with `Retry-After` (Azure API Management's quota answer), pauses the whole budget for
/// the advised wait, at most [`RateLimit::MAX_PAUSE`]; the pause only ever moves later.
///
/// **One process** ([`new`](Self::new)): the budget lives behind an `Arc`, so all clones of the
/// middleware, and so all clones of a client built with it, share one budget.
///
/// **A fleet** (`RateLimitMiddleware::shared`, feature `redis`): every process using the same
/// Redis, tenant and application shares one budget; see `SharedRateLimit`.
///
/// It is a sliding log: it remembers when each of the last `requests` requests of every window
/// went, and the next one goes `per + guard` after the oldest of them. This never exceeds the
/// limit in any window of length `per` (so neither a fixed nor a sliding window on the server
/// complains). A token bucket / GCRA with a burst of N lets about 2N − 1 requests through in one
/// window, so it is not used.
///
/// Every wait emits an `INFO` tracing event (target `perspio_policy`) with
/// `reason = "rate-limit"`, `delay` and `method`.
///
/// # Limitations
///
/// - A request counts when it is let go, not when the server receives it; the guard margin
///   ([`RateLimit::with_guard`]) absorbs network jitter up to its size.
/// - A slot reserved by a call that is then cancelled (dropped, or cut by the deadline) stays
///   used.
#[derive(Debug, Clone)]
pub struct RateLimitMiddleware {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: RateLimit,
    clock: Arc<dyn Clock>,
    budget: Budget,
}

#[derive(Debug)]
enum Budget {
    Local(LocalBudget),
    #[cfg(feature = "redis")]
    Shared(Box<shared::SharedBudget>),
}

/// Why a `Retry-After` pauses the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PauseScope {
    /// A `429`: this application's rate limit.
    Application,
    /// A `403` with `Retry-After`: the tenant's quota.
    Tenant,
}

impl RateLimitMiddleware {
    /// A rate limiter on the real clock, with a fresh budget for this process.
    pub fn new(config: RateLimit) -> Self {
        Self::local(config, Arc::new(SystemClock))
    }

    /// A rate limiter whose budget every process using `shared` (the same Redis, tenant and
    /// application) shares. See [`SharedRateLimit`].
    #[cfg(feature = "redis")]
    pub fn shared(config: RateLimit, shared: SharedRateLimit) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Self::with_budget(config, clock, |config, clock| {
            Budget::Shared(Box::new(shared.into_budget(config, clock)))
        })
    }

    /// Uses `clock` for the windows and waits (tests pass a
    /// [`ManualClock`](crate::ManualClock)). Defaults to [`SystemClock`].
    ///
    /// Starts a fresh local budget (a shared budget stays shared): call it before cloning the
    /// middleware.
    pub fn with_clock(self, clock: impl Clock) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        let config = self.shared.config.clone();
        match &self.shared.budget {
            Budget::Local(_) => Self::local(config, clock),
            #[cfg(feature = "redis")]
            Budget::Shared(shared) => {
                let settings = shared.settings().clone();
                Self::with_budget(config, clock, |config, clock| {
                    Budget::Shared(Box::new(settings.into_budget(config, clock)))
                })
            }
        }
    }

    fn local(config: RateLimit, clock: Arc<dyn Clock>) -> Self {
        Self::with_budget(config, clock, |config, clock| {
            Budget::Local(LocalBudget::new(config, clock))
        })
    }

    fn with_budget(
        config: RateLimit,
        clock: Arc<dyn Clock>,
        budget: impl FnOnce(&RateLimit, Arc<dyn Clock>) -> Budget,
    ) -> Self {
        let budget = budget(&config, Arc::clone(&clock));
        Self {
            shared: Arc::new(Shared {
                config,
                clock,
                budget,
            }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &RateLimit {
        &self.shared.config
    }

    /// What the limiter has done so far.
    pub fn stats(&self) -> RateLimitStats {
        match &self.shared.budget {
            Budget::Local(local) => RateLimitStats {
                local_reservations: local.reservations(),
                ..RateLimitStats::default()
            },
            #[cfg(feature = "redis")]
            Budget::Shared(shared) => shared.stats(),
        }
    }

    /// Reserves the earliest slot and returns how long to wait for it.
    async fn reserve(&self, deadline: Option<CallDeadline>) -> Result<Duration, PolicyError> {
        let config = &self.shared.config;
        let now = self.shared.clock.instant();
        let bound = match deadline {
            Some(call) => config.max_wait.min(call.at.saturating_duration_since(now)),
            None => config.max_wait,
        };
        let outcome = match &self.shared.budget {
            Budget::Local(local) => local.reserve(bound),
            #[cfg(feature = "redis")]
            Budget::Shared(shared) => shared.reserve(bound).await?,
        };
        match outcome {
            Reservation::Granted(wait) => Ok(wait),
            Reservation::Refused(wait) if wait > config.max_wait => {
                Err(PolicyError::RateLimitWaitExceeded {
                    wait,
                    max_wait: config.max_wait,
                })
            }
            Reservation::Refused(wait) => match deadline {
                Some(call) => Err(call.exceeded(now, Some(wait), call.attempts_before)),
                None => Err(PolicyError::RateLimitWaitExceeded {
                    wait,
                    max_wait: config.max_wait,
                }),
            },
        }
    }

    async fn pause_for(&self, advised: Duration, scope: PauseScope) {
        match &self.shared.budget {
            Budget::Local(local) => local.pause_for(advised),
            #[cfg(feature = "redis")]
            Budget::Shared(shared) => shared.pause_for(advised, scope).await,
        }
        let _ = scope;
    }

    /// The sink response bytes are charged to, when a bandwidth quota is set.
    fn bandwidth_sink(&self) -> Option<counted::Sink> {
        self.shared.config.bandwidth?;
        let shared = Arc::clone(&self.shared);
        Some(Arc::new(move |bytes| match &shared.budget {
            Budget::Local(local) => local.charge(bytes),
            #[cfg(feature = "redis")]
            Budget::Shared(budget) => budget.charge(bytes),
        }))
    }
}

/// A budget's answer to a request for a slot within a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// Reserved: wait this long, then go.
    Granted(Duration),
    /// Not reserved: the earliest slot is this far away, beyond the bound.
    Refused(Duration),
}

impl Default for RateLimitMiddleware {
    fn default() -> Self {
        Self::new(RateLimit::default())
    }
}

#[async_trait::async_trait]
impl Middleware for RateLimitMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let method = req.method().clone();
        let wait = self
            .reserve(extensions.get::<CallDeadline>().copied())
            .await?;
        if !wait.is_zero() {
            tracing::info!(
                target: "perspio_policy",
                %method,
                reason = "rate-limit",
                delay = ?wait,
                "waiting for a rate-limit slot"
            );
            self.shared.clock.sleep(wait).await;
        }
        let response = next.run(req, extensions).await?;
        let scope = match response.status() {
            StatusCode::TOO_MANY_REQUESTS => Some(PauseScope::Application),
            StatusCode::FORBIDDEN => Some(PauseScope::Tenant),
            _ => None,
        };
        if let Some(scope) = scope
            && let Some(advised) = parse_retry_after(response.headers(), self.shared.clock.now())
        {
            tracing::info!(
                target: "perspio_policy",
                %method,
                status = response.status().as_u16(),
                reason = "retry-after",
                delay = ?advised,
                "server throttled: pausing the rate limiter"
            );
            self.pause_for(advised.min(RateLimit::MAX_PAUSE), scope)
                .await;
        }
        Ok(match self.bandwidth_sink() {
            Some(sink) => counted::charge(response, sink),
            None => response,
        })
    }
}
