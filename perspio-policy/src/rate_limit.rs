//! Client-side rate limiting: requests wait for a slot instead of drawing a `429`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{Extensions, StatusCode};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::error::PolicyError;
use crate::retry::CallDeadline;
use crate::retry_after::parse_retry_after;
use perspio_core::{Clock, SystemClock};

/// One rate-limit window: at most `requests` requests in any period of length `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    requests: u32,
    per: Duration,
}

impl Limit {
    /// The documented per-application rate limit: 20 requests per 90 seconds.
    pub const PERSPIO_PER_APPLICATION: Limit = Limit {
        requests: 20,
        per: Duration::from_secs(90),
    };

    /// The documented per-tenant quota: 10,000 requests per hour.
    pub const PERSPIO_PER_TENANT: Limit = Limit {
        requests: 10_000,
        per: Duration::from_secs(60 * 60),
    };

    /// At most `requests` requests in any period of length `per`.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidLimit`] when `requests` or `per` is zero.
    pub fn new(requests: u32, per: Duration) -> Result<Self, PolicyError> {
        if requests == 0 || per.is_zero() {
            return Err(PolicyError::InvalidLimit { requests, per });
        }
        Ok(Self { requests, per })
    }

    /// Requests allowed per window.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// Length of the window.
    pub fn per(&self) -> Duration {
        self.per
    }
}

/// Configuration of [`RateLimitMiddleware`]: one or more windows that must all have room, and
/// a bound on how long a request may wait for its slot.
///
/// ```
/// use std::time::Duration;
/// use perspio_policy::{Limit, RateLimit};
///
/// // The documented limits (20 / 90 s and 10,000 / hour), waiting at most a minute:
/// let documented = RateLimit::perspio_documented().with_max_wait(Duration::from_secs(60));
///
/// // Custom limits, e.g. after agreeing a higher rate with Perspio:
/// let custom = RateLimit::new([Limit::new(600, Duration::from_secs(600))?]);
/// # Ok::<(), perspio_policy::PolicyError>(())
/// ```
///
/// # Limitations
///
/// - The bandwidth quota (40 MB per hour per tenant) is not enforced: the size of a response is
///   unknown until it has been received, so a client cannot wait for room before asking.
/// - The tenant quota is shared by every application of the tenant; a client only counts its
///   own requests (those of all its clones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    limits: Vec<Limit>,
    max_wait: Duration,
}

impl RateLimit {
    /// Default for [`with_max_wait`](Self::with_max_wait).
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(120);

    /// The limits in PerspioTalk's documentation: [`Limit::PERSPIO_PER_APPLICATION`] and
    /// [`Limit::PERSPIO_PER_TENANT`]. Also the [`Default`].
    pub fn perspio_documented() -> Self {
        Self::new([Limit::PERSPIO_PER_APPLICATION, Limit::PERSPIO_PER_TENANT])
    }

    /// Custom limits; a request goes when every one of them has room.
    pub fn new(limits: impl IntoIterator<Item = Limit>) -> Self {
        Self {
            limits: limits.into_iter().collect(),
            max_wait: Self::DEFAULT_MAX_WAIT,
        }
    }

    /// Adds one more window.
    pub fn with_limit(mut self, limit: Limit) -> Self {
        self.limits.push(limit);
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

    /// See [`with_max_wait`](Self::with_max_wait).
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::perspio_documented()
    }
}

/// Middleware that spaces requests so that they stay within a [`RateLimit`].
///
/// A request waits (on the injected clock) until every window has room, then goes; past
/// [`max_wait`](RateLimit::with_max_wait), or past the call deadline set by an outer
/// [`RetryMiddleware`](crate::RetryMiddleware), it fails without being sent. A `429` with
/// `Retry-After` seen through it pauses the whole budget for that long.
///
/// The budget lives behind an `Arc`: all clones of the middleware, and so all clones of a
/// client built with it, share one budget. A second `RateLimitMiddleware::new` has its own.
///
/// It is a sliding log: it remembers when each of the last `requests` requests of every window
/// went, and the next one goes `per` after the oldest of them. This never exceeds the limit in
/// any window of length `per` (so neither a fixed nor a sliding window on the server
/// complains), at the cost of one timestamp per allowed request (160 KB for 10,000 per hour).
/// A token bucket / GCRA (as in `governor`) lets a full burst through and then refills
/// continuously, which *can* exceed "20 per 90 s" over a sliding window, and `governor` waits
/// on its own timer rather than an injected clock; hence this small implementation.
///
/// Every wait emits an `INFO` tracing event (target `perspio_policy`) with
/// `reason = "rate-limit"`, `delay` and `method`.
///
/// # Limitations
///
/// - A request counts when it is let go, not when the server receives it; network latency can
///   make two requests arrive slightly closer together than they left, so a limit set exactly
///   at the server's figure can rarely still draw a `429` (which the retry middleware handles).
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
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Per window, the send times of its last `requests` requests, oldest first.
    logs: Vec<VecDeque<Instant>>,
    /// No request goes before this (set by a `429` with `Retry-After`).
    paused_until: Option<Instant>,
}

impl RateLimitMiddleware {
    /// A rate limiter on the real clock, with a fresh budget.
    pub fn new(config: RateLimit) -> Self {
        Self::build(config, Arc::new(SystemClock))
    }

    /// Uses `clock` for the windows and waits (tests pass a
    /// [`ManualClock`](crate::ManualClock)). Defaults to [`SystemClock`].
    ///
    /// Starts a fresh budget: call it before cloning the middleware.
    pub fn with_clock(self, clock: impl Clock) -> Self {
        Self::build(self.shared.config.clone(), Arc::new(clock))
    }

    fn build(config: RateLimit, clock: Arc<dyn Clock>) -> Self {
        let state = State {
            logs: vec![VecDeque::new(); config.limits.len()],
            paused_until: None,
        };
        Self {
            shared: Arc::new(Shared {
                config,
                clock,
                state: Mutex::new(state),
            }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &RateLimit {
        &self.shared.config
    }

    /// Reserves the earliest slot and returns how long to wait for it.
    fn reserve(&self, deadline: Option<CallDeadline>) -> Result<Duration, PolicyError> {
        let shared = &self.shared;
        let now = shared.clock.instant();
        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut slot = state.paused_until.map_or(now, |until| until.max(now));
        for (limit, log) in shared.config.limits.iter().zip(&state.logs) {
            if log.len() >= limit.requests as usize
                && let Some(oldest) = log.front()
            {
                slot = slot.max(*oldest + limit.per);
            }
        }
        let wait = slot.saturating_duration_since(now);
        if wait > shared.config.max_wait {
            return Err(PolicyError::RateLimitWaitExceeded {
                wait,
                max_wait: shared.config.max_wait,
            });
        }
        if let Some(call) = deadline
            && slot > call.at
        {
            return Err(call.exceeded(now, Some(wait), call.attempts_before));
        }
        for (limit, log) in shared.config.limits.iter().zip(state.logs.iter_mut()) {
            log.push_back(slot);
            while log.len() > limit.requests as usize {
                log.pop_front();
            }
        }
        Ok(wait)
    }

    fn pause_for(&self, advised: Duration) {
        let until = self.shared.clock.instant() + advised;
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.paused_until = Some(state.paused_until.map_or(until, |old| old.max(until)));
    }
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
        let wait = self.reserve(extensions.get::<CallDeadline>().copied())?;
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
        let outcome = next.run(req, extensions).await;
        if let Ok(response) = &outcome
            && response.status() == StatusCode::TOO_MANY_REQUESTS
            && let Some(advised) = parse_retry_after(response.headers(), self.shared.clock.now())
        {
            tracing::info!(
                target: "perspio_policy",
                %method,
                reason = "retry-after",
                delay = ?advised,
                "server answered 429: pausing the shared rate limiter"
            );
            self.pause_for(advised);
        }
        outcome
    }
}
