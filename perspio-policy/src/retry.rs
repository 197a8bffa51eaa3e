//! Retries: `Retry-After`, transient failures with backoff, and the per-call deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::Either;
use perspio_core::clock::later;
use perspio_core::future::map_in_place;

use http::{Extensions, Method, StatusCode};
use rand::Rng;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::error::{PolicyError, scrubbed};
use crate::retry_after::parse_retry_after;
use perspio_core::layer::{
    DeadlineReached, Downstream, Reply, RequestParts, Signals, copy_request,
};
use perspio_core::replay::{ReplayOffered, ReplayWanted, Replaying};
use perspio_core::{Clock, SystemClock};

/// How random the backoff delay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// "Full jitter": a delay drawn uniformly from zero to the exponential ceiling, so that
    /// many clients failing together do not retry together. The default.
    #[default]
    Full,
    /// Exactly the exponential ceiling; deterministic, for tests.
    None,
}

/// Request extension that lets a non-idempotent request (POST, PATCH) be retried after a
/// transient failure, for calls the caller knows to be safe to repeat.
///
/// Without it, POST and PATCH are never repeated after a transport error or a 5xx (they may
/// have been processed); only a `429`, which the server answers *instead of* processing, is
/// retried for every method.
///
/// Set it per request with [`reqwest_middleware::RequestBuilder::with_extension`], or insert it
/// into the [`Extensions`] given to
/// [`ClientWithMiddleware::execute_with_extensions`](reqwest_middleware::ClientWithMiddleware::execute_with_extensions):
///
/// ```no_run
/// # async fn run(client: reqwest_middleware::ClientWithMiddleware) -> Result<(), reqwest_middleware::Error> {
/// use perspio_policy::RetryNonIdempotent;
///
/// client
///     .post("https://talk.perspio.io/assets/v3/")
///     .with_extension(RetryNonIdempotent)
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryNonIdempotent;

/// Configuration of [`RetryMiddleware`].
///
/// | setting | default |
/// |---|---|
/// | [`with_max_attempts`](Self::with_max_attempts) | 4 requests in all |
/// | [`with_base_delay`](Self::with_base_delay) | 500 ms |
/// | [`with_max_delay`](Self::with_max_delay) | 30 s |
/// | [`with_max_retry_after`](Self::with_max_retry_after) | 90 s |
/// | [`with_deadline`](Self::with_deadline) | 180 s |
/// | [`with_transient_statuses`](Self::with_transient_statuses) | 502, 503, 504 |
/// | [`with_jitter`](Self::with_jitter) | [`Jitter::Full`] |
///
/// ```
/// use std::time::Duration;
/// use perspio_policy::RetryConfig;
///
/// let config = RetryConfig::default()
///     .with_max_attempts(6)
///     .with_max_retry_after(Duration::from_secs(300))
///     .with_deadline(Duration::from_secs(600));
/// assert_eq!(config.max_attempts(), 6);
/// ```
#[derive(Debug, Clone)]
pub struct RetryConfig {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
    deadline: Duration,
    transient_statuses: Vec<StatusCode>,
    jitter: Jitter,
}

impl RetryConfig {
    /// Default for [`with_max_attempts`](Self::with_max_attempts).
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;
    /// Default for [`with_base_delay`](Self::with_base_delay).
    pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(500);
    /// Default for [`with_max_delay`](Self::with_max_delay).
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);
    /// Default for [`with_max_retry_after`](Self::with_max_retry_after): the documented
    /// per-application window (20 requests per 90 s).
    pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(90);
    /// Default for [`with_deadline`](Self::with_deadline).
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(180);
    /// Default for [`with_transient_statuses`](Self::with_transient_statuses).
    pub const DEFAULT_TRANSIENT_STATUSES: [StatusCode; 3] = [
        StatusCode::BAD_GATEWAY,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::GATEWAY_TIMEOUT,
    ];

    /// The maximum number of requests per call, the first one included (`1` disables retries;
    /// `0` is treated as `1`). Defaults to 4.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// The backoff ceiling before the first retry; it doubles for each further retry, up to
    /// [`with_max_delay`](Self::with_max_delay). Used when the server gives no `Retry-After`.
    /// Defaults to 500 ms.
    pub fn with_base_delay(mut self, base_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self
    }

    /// The largest backoff delay. Defaults to 30 s.
    pub fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// The longest `Retry-After` the middleware will wait out. A response advising a longer
    /// wait (for example the hourly quota) is returned to the caller unchanged, `Retry-After`
    /// header included. Defaults to 90 s.
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// The overall time budget of one call: every attempt, every wait and every rate-limit
    /// slot. When the next wait would cross it, or a request in flight reaches it, the call
    /// ends with [`PolicyError::DeadlineExceeded`]. Defaults to 180 s.
    /// Zero ends every call at once; `perspio_api::ClientBuilder::build` refuses it.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The statuses treated as transient failures, retried (for idempotent or opted-in
    /// requests) with backoff, or after their `Retry-After` when they carry one. `429` is
    /// always retried and need not be listed; `500` is not listed by default because it
    /// usually means a bug, not a passing failure. Defaults to 502, 503 and 504.
    pub fn with_transient_statuses(
        mut self,
        statuses: impl IntoIterator<Item = StatusCode>,
    ) -> Self {
        self.transient_statuses = statuses.into_iter().collect();
        self
    }

    /// How random the backoff is. Defaults to [`Jitter::Full`].
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// See [`with_max_attempts`](Self::with_max_attempts).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// See [`with_base_delay`](Self::with_base_delay).
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// See [`with_max_delay`](Self::with_max_delay).
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// See [`with_max_retry_after`](Self::with_max_retry_after).
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// See [`with_deadline`](Self::with_deadline).
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// See [`with_transient_statuses`](Self::with_transient_statuses).
    pub fn transient_statuses(&self) -> &[StatusCode] {
        &self.transient_statuses
    }

    /// See [`with_jitter`](Self::with_jitter).
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The backoff before retry number `retry` (1 for the first retry): full jitter over
    /// `min(max_delay, base_delay * 2^(retry - 1))`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => {
                let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(rand::rng().random_range(0..=nanos))
            }
        }
    }

    /// The shortest wait before retry number `retry` when the server advised one: none for
    /// the first retry (the advice is followed exactly), then the backoff ceiling of the retry
    /// before, so that a server answering `Retry-After: 0` every time still gets 500 ms, 1 s,
    /// 2 s… (with the defaults) instead of a burst.
    pub(crate) fn retry_after_floor(&self, retry: u32) -> Duration {
        if retry <= 1 {
            Duration::ZERO
        } else {
            self.backoff_ceiling(retry - 1)
        }
    }

    fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            base_delay: Self::DEFAULT_BASE_DELAY,
            max_delay: Self::DEFAULT_MAX_DELAY,
            max_retry_after: Self::DEFAULT_MAX_RETRY_AFTER,
            deadline: Self::DEFAULT_DEADLINE,
            transient_statuses: Self::DEFAULT_TRANSIENT_STATUSES.to_vec(),
            jitter: Jitter::default(),
        }
    }
}

/// The call deadline, passed down the stack so that the rate limiter can refuse a slot the
/// call could not live to use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallDeadline {
    pub(crate) start: Instant,
    pub(crate) at: Instant,
    pub(crate) deadline: Duration,
    pub(crate) attempts_before: u32,
}

impl CallDeadline {
    pub(crate) fn exceeded(
        &self,
        now: Instant,
        next_wait: Option<Duration>,
        attempts: u32,
    ) -> PolicyError {
        PolicyError::DeadlineExceeded {
            deadline: self.deadline,
            elapsed: now.saturating_duration_since(self.start),
            attempts,
            next_wait,
            last_status: None,
            last_error: None,
        }
    }
}

/// Why a request is retried; the `reason` field of the tracing event.
#[derive(Debug, Clone, Copy)]
enum Reason {
    RetryAfter,
    TooManyRequests,
    TransientStatus,
    ConnectError,
    Timeout,
    ConnectionError,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::RetryAfter => "retry-after",
            Self::TooManyRequests => "too-many-requests",
            Self::TransientStatus => "transient-status",
            Self::ConnectError => "connect-error",
            Self::Timeout => "timeout",
            Self::ConnectionError => "connection-error",
        }
    }
}

/// Middleware that retries a call according to a [`RetryConfig`].
///
/// What is retried, at most [`max_attempts`](RetryConfig::with_max_attempts) requests in all and
/// within the [deadline](RetryConfig::with_deadline):
///
/// | outcome | methods | wait |
/// |---|---|---|
/// | `429` | all (the server did not process it) | its `Retry-After`, else backoff |
/// | 502, 503, 504 (configurable) | idempotent, or opted in with [`RetryNonIdempotent`] | its `Retry-After` if any, else backoff |
///
/// An advised wait is followed exactly on the first retry; from the second on it is at least
/// the backoff ceiling of the retry before (500 ms, 1 s, … with the defaults), so that a
/// server that answers `Retry-After: 0` every time is not hit in a burst.
/// | connect error, timeout, connection reset/closed | idempotent, or opted in | backoff |
/// | anything else, including errors of inner middlewares | — | not retried |
///
/// When the last allowed attempt fails without an answer, the call ends with
/// [`PolicyError::AttemptsExhausted`] (attempts made, time spent, the last failure as its
/// source); with one attempt allowed, the transport error itself comes back.
///
/// Idempotent methods are GET, HEAD, PUT, DELETE, OPTIONS and TRACE. A `Retry-After` above
/// [`max_retry_after`](RetryConfig::with_max_retry_after) is not waited out: the response
/// goes back to the caller. A request whose body cannot be cloned (a stream) is sent once,
/// as is, and never retried.
///
/// Every retry emits a `WARN` tracing event (target `perspio_policy`, message
/// `retrying request`) with `reason`, `delay` (and `delay_ms`), `attempt`, `max_attempts`,
/// `method` and `status`; decisions *not* to retry emit `DEBUG` events. Headers are
/// never logged.
///
/// The copy of the request kept for the next attempt is lent to an authentication layer below
/// for its `401` retry ([`perspio_core::replay`]): that replay is part of the attempt, not one
/// of the [`max_attempts`](RetryConfig::with_max_attempts). On the system clock the call
/// deadline bounds each request with a `tokio::time::timeout` inside this middleware's future
/// (no boxed timer per call). Run by `perspio-api`'s default stack over layers that end their
/// own waits by the deadline ([`Downstream::BOUNDS_WAITS`]), it registers no timer at all:
/// reqwest's, which every request has, is set no later than the deadline.
///
/// See the [crate docs](crate) for where it goes in the middleware stack.
#[derive(Debug, Clone)]
pub struct RetryMiddleware {
    config: RetryConfig,
    clock: Arc<dyn Clock>,
    /// `clock` is the real clock ([`Clock::is_system`]): the deadline is a
    /// `tokio::time::timeout`, not a boxed timer, or kept by the layers below.
    system_clock: bool,
    /// Whether the call deadline is put in the request extensions for a rate limiter below.
    publish_deadline: bool,
}

impl RetryMiddleware {
    /// A retry middleware on the real clock.
    pub fn new(config: RetryConfig) -> Self {
        Self {
            config,
            clock: Arc::new(SystemClock),
            system_clock: true,
            publish_deadline: true,
        }
    }

    /// Uses `clock` for waits and the deadline (tests pass a
    /// [`ManualClock`](crate::ManualClock)). Defaults to [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.system_clock = clock.is_system();
        self.clock = Arc::new(clock);
        self
    }

    /// Whether the call deadline goes down the stack as a request extension, for a
    /// [`RateLimitMiddleware`](crate::RateLimitMiddleware) below to refuse a slot the call could
    /// not live to use. [`policy_stack`](crate::policy_stack) turns it off when the stack has
    /// no rate limiter (it costs an allocation per attempt). Defaults to on.
    pub fn with_deadline_extension(mut self, on: bool) -> Self {
        self.publish_deadline = on;
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// Whether the outcome of attempt `attempt` should be retried, and after how long.
    fn decide<R: Reply>(
        &self,
        outcome: &reqwest_middleware::Result<R>,
        method: &Method,
        may_repeat: bool,
        attempt: u32,
    ) -> Option<(Duration, Reason)> {
        match outcome {
            Ok(response) => {
                let status = response.status();
                let too_many = status == StatusCode::TOO_MANY_REQUESTS;
                if !too_many && !self.config.transient_statuses.contains(&status) {
                    return None;
                }
                if !too_many && !may_repeat {
                    tracing::debug!(
                        target: "perspio_policy",
                        %method,
                        status = status.as_u16(),
                        attempt,
                        "transient status not retried: method is not idempotent"
                    );
                    return None;
                }
                match parse_retry_after(response.headers(), self.clock.now()) {
                    Some(advised) if advised > self.config.max_retry_after => {
                        tracing::debug!(
                            target: "perspio_policy",
                            %method,
                            status = status.as_u16(),
                            attempt,
                            advised = ?advised,
                            max_retry_after = ?self.config.max_retry_after,
                            "not retried: Retry-After is above the cap; response returned"
                        );
                        None
                    }
                    Some(advised) => Some((
                        advised.max(self.config.retry_after_floor(attempt)),
                        Reason::RetryAfter,
                    )),
                    None if too_many => {
                        Some((self.config.backoff(attempt), Reason::TooManyRequests))
                    }
                    None => Some((self.config.backoff(attempt), Reason::TransientStatus)),
                }
            }
            Err(reqwest_middleware::Error::Reqwest(err)) => {
                let reason = if err.is_connect() {
                    Reason::ConnectError
                } else if err.is_timeout() {
                    Reason::Timeout
                } else if err.is_request() {
                    Reason::ConnectionError
                } else {
                    return None;
                };
                if !may_repeat {
                    tracing::debug!(
                        target: "perspio_policy",
                        %method,
                        attempt,
                        reason = reason.as_str(),
                        "transport failure not retried: method is not idempotent"
                    );
                    return None;
                }
                Some((self.config.backoff(attempt), reason))
            }
            Err(reqwest_middleware::Error::Middleware(_)) => None,
        }
    }
}

impl Default for RetryMiddleware {
    fn default() -> Self {
        Self::new(RetryConfig::default())
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

#[async_trait::async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let opted_in = extensions.get::<RetryNonIdempotent>().is_some();
        let below = NextBelow {
            next,
            extensions: &mut *extensions,
            publish_deadline: self.publish_deadline,
        };
        let outcome = self.run(req, opted_in, below).await;
        // The deadline and the replay signals belong to this call only; do not leak them to a
        // reused `Extensions`.
        if self.publish_deadline {
            extensions.remove::<CallDeadline>();
        }
        extensions.remove::<ReplayOffered>();
        extensions.remove::<Replaying>();
        outcome
    }
}

impl RetryMiddleware {
    /// The retry policy around `downstream`, the layers below called directly (see
    /// [`perspio_core::layer`]): what the middleware does around the rest of a
    /// `reqwest_middleware` stack, as one future without a box, a `Next` or an `Extensions`
    /// map. The request copy kept for the next attempt is offered to `downstream` for an
    /// authentication layer's `401` replay ([`Signals::replay_offered`]).
    ///
    /// `retry_non_idempotent` is what the [`RetryNonIdempotent`] extension says for a
    /// middleware. The call deadline is not published: nothing below reads it (a rate limiter
    /// below needs the middleware form).
    ///
    /// # Errors
    /// As the middleware: [`PolicyError`] (deadline, attempts exhausted) inside
    /// `reqwest_middleware::Error::Middleware`, or the last attempt's own error.
    pub fn run_around<'s, D: Downstream + 's>(
        &'s self,
        request: Request,
        retry_non_idempotent: bool,
        downstream: D,
    ) -> impl Future<Output = reqwest_middleware::Result<D::Reply>> + Send + 's {
        // Not an `async fn`: the future is the retry loop's own, not one more that holds it.
        self.run(request, retry_non_idempotent, Direct(downstream))
    }

    #[allow(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps each by-value argument twice in its future (the argument and the local it is moved to); the `async move` block keeps the request once, 264 bytes less per call future"
    )]
    fn run<B: Below>(
        &self,
        req: Request,
        opted_in: bool,
        mut below: B,
    ) -> impl Future<Output = reqwest_middleware::Result<B::Reply>> {
        async move {
            let below = &mut below;
            let start = self.clock.instant();
            let method = req.method().clone();
            let may_repeat = is_idempotent(&method) || opted_in;
            let mut call = CallDeadline {
                start,
                at: later(start, self.config.deadline),
                deadline: self.config.deadline,
                attempts_before: 0,
            };
            let mut template = Some(Template::Unsent(req));
            let mut attempt: u32 = 0;
            loop {
                attempt += 1;
                let Some(current) = template.take() else {
                    // Unreachable: the loop only continues while a template is kept.
                    return Err(call
                        .exceeded(self.clock.instant(), None, attempt - 1)
                        .into());
                };
                let last_attempt = attempt >= self.config.max_attempts;
                let to_send = next_send(below, current, &mut template, last_attempt, &method);

                // The first attempt starts as the call does: one clock read less per call.
                let now = if attempt == 1 {
                    start
                } else {
                    self.clock.instant()
                };
                let remaining = call.at.saturating_duration_since(now);
                if remaining.is_zero() {
                    return Err(call.exceeded(now, None, attempt - 1).into());
                }
                call.attempts_before = attempt - 1;
                // The send, and at most one replay of it (the authentication layer's 401 replay of
                // the template it was lent), at one await: one future slot in this state machine.
                let (mut to_send, mut remaining, mut replaying) = (to_send, remaining, false);
                let outcome = loop {
                    let mut signals = Signals {
                        // The template is lent to the authentication layer's 401 replay (one copy
                        // per call).
                        replay_offered: !replaying && template.is_some(),
                        replaying,
                        replay_wanted: false,
                        deadline: None,
                    };
                    let outcome = self
                        .attempt(
                            to_send,
                            below,
                            &mut signals,
                            remaining,
                            &call,
                            attempt,
                            &method,
                        )
                        .await?;
                    if replaying || !signals.replay_wanted {
                        break outcome;
                    }
                    let Some(current) = template.take() else {
                        break outcome;
                    };
                    // The authentication layer has a new token for a 401: the template is sent once
                    // more, as part of this attempt; whatever comes back is this attempt's outcome.
                    to_send = next_send(below, current, &mut template, last_attempt, &method);
                    drop(outcome);
                    let now = self.clock.instant();
                    remaining = call.at.saturating_duration_since(now);
                    if remaining.is_zero() {
                        return Err(call.exceeded(now, None, attempt).into());
                    }
                    replaying = true;
                };

                if template.is_none() {
                    return match outcome {
                        // Say how long the call tried and how often, not only how the last try ended.
                        Err(reqwest_middleware::Error::Reqwest(e)) if attempt > 1 => {
                            Err(PolicyError::AttemptsExhausted {
                                attempts: attempt,
                                elapsed: self.clock.instant().saturating_duration_since(call.start),
                                last_error: scrubbed(reqwest_middleware::Error::Reqwest(e)),
                            }
                            .into())
                        }
                        other => other,
                    };
                }
                let Some((wait, reason)) = self.decide(&outcome, &method, may_repeat, attempt)
                else {
                    return outcome;
                };
                let status = outcome.as_ref().ok().map(|response| response.status());

                let now = self.clock.instant();
                if later(now, wait) > call.at {
                    tracing::debug!(
                        target: "perspio_policy",
                        %method,
                        attempt,
                        reason = reason.as_str(),
                        delay = ?wait,
                        "not retried: the wait would cross the call deadline"
                    );
                    return Err(PolicyError::DeadlineExceeded {
                        deadline: call.deadline,
                        elapsed: now.saturating_duration_since(call.start),
                        attempts: attempt,
                        next_wait: Some(wait),
                        last_status: status,
                        last_error: outcome.err().map(scrubbed),
                    }
                    .into());
                }

                tracing::warn!(
                    target: "perspio_policy",
                    %method,
                    attempt,
                    max_attempts = self.config.max_attempts,
                    status = status.map(|s| s.as_u16()),
                    reason = reason.as_str(),
                    delay = ?wait,
                    delay_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "retrying request"
                );
                drop(outcome);
                self.clock.sleep(wait).await;
            }
        }
    }

    /// Sends one request down the stack, bounded by the `remaining` time of the call: `Err` is
    /// the call's end ([`PolicyError::DeadlineExceeded`]), `Ok` the attempt's outcome.
    ///
    /// On the system clock the bound is the layers' own when they [bound their
    /// waits](Downstream::BOUNDS_WAITS) (the default stack's): no timer here at all, and no
    /// future of this function's either, only `below`'s with its outcome mapped, so that the
    /// call's future holds no second copy of the request and no state of its own for the
    /// attempt. Otherwise a `tokio::time::timeout`, or an injected clock's
    /// [`Clock::deadline_timer`] raced, in a boxed future: a middleware stack (one box more
    /// among its boxed middlewares, under a rate limiter) or a test's clock, so that this
    /// state does not make the default stack's call future larger.
    #[allow(clippy::too_many_arguments)]
    fn attempt<'a, B: Below>(
        &'a self,
        to_send: Request,
        below: &'a mut B,
        signals: &'a mut Signals,
        remaining: Duration,
        call: &'a CallDeadline,
        attempt: u32,
        method: &'a Method,
    ) -> impl Future<Output = Result<reqwest_middleware::Result<B::Reply>, reqwest_middleware::Error>> + 'a
    {
        if self.system_clock && B::BOUNDS_WAITS {
            // The layers below end each wait by the deadline (the default stack's: reqwest's
            // own timer set no later than it, auth's slow paths raced against it), so no timer
            // of this loop's is registered per call, only the one reqwest has anyway.
            signals.deadline = Some(call.at);
            Either::Left(map_in_place(
                below.send(to_send, signals, call),
                move |outcome| match outcome {
                    Err(e) if reached(&e, call.at) => {
                        Err(self.deadline_reached(call, attempt, method))
                    }
                    outcome => Ok(outcome),
                },
            ))
        } else {
            Either::Right(Box::pin(async move {
                let outcome = if self.system_clock {
                    tokio::time::timeout(remaining, below.send(to_send, signals, call))
                        .await
                        .ok()
                } else {
                    tokio::select! {
                        biased;
                        outcome = below.send(to_send, signals, call) => Some(outcome),
                        () = self.clock.deadline_timer(remaining) => None,
                    }
                };
                outcome.ok_or_else(|| self.deadline_reached(call, attempt, method))
            }))
        }
    }

    /// The call's end when its deadline came during attempt `attempt`.
    fn deadline_reached(
        &self,
        call: &CallDeadline,
        attempt: u32,
        method: &Method,
    ) -> reqwest_middleware::Error {
        tracing::debug!(
            target: "perspio_policy",
            %method,
            attempt,
            "call deadline reached during a request"
        );
        call.exceeded(self.clock.instant(), None, attempt).into()
    }
}

/// What the retry loop holds to make its next send.
enum Template {
    /// The request itself, not sent yet.
    Unsent(Request),
    /// The parts of a request without a body (the first send was the request itself): each
    /// later send is a request made of them.
    Parts(RequestParts),
    /// The request, kept while copies of it are sent (a body, a request of someone else's).
    Kept(Request),
}

/// The request to send now, from the template `current`, keeping in `template` what the next
/// send needs, unless this is the last attempt (nothing is kept) or the body cannot be copied
/// (a stream: sent once, never again). The first send of a request without a body is the
/// request itself, and its parts are kept ([`RequestParts`]: one allocation, not a copy's
/// three); otherwise a copy (`below`'s) is sent and the request kept.
fn next_send<B: Below>(
    below: &B,
    current: Template,
    template: &mut Option<Template>,
    last_attempt: bool,
    method: &Method,
) -> Request {
    match current {
        Template::Unsent(request) | Template::Kept(request) if last_attempt => request,
        Template::Parts(parts) if last_attempt => parts.request(),
        Template::Parts(parts) => {
            let request = parts.request();
            *template = Some(Template::Parts(parts));
            request
        }
        Template::Unsent(request) => match below.parts(&request) {
            Some(parts) => {
                *template = Some(Template::Parts(parts));
                request
            }
            None => keep_and_copy(below, request, template, method),
        },
        Template::Kept(request) => keep_and_copy(below, request, template, method),
    }
}

/// Sends a copy of `request` (`below`'s) and keeps `request`; sends `request` itself when its
/// body cannot be copied.
fn keep_and_copy<B: Below>(
    below: &B,
    request: Request,
    template: &mut Option<Template>,
    method: &Method,
) -> Request {
    match below.copy(&request) {
        Some(copy) => {
            *template = Some(Template::Kept(request));
            copy
        }
        None => {
            tracing::debug!(
                target: "perspio_policy",
                %method,
                "request body cannot be cloned: sent once, not retried"
            );
            request
        }
    }
}

/// Whether `error`, from layers that [bound their waits](Downstream::BOUNDS_WAITS) by the call
/// deadline `at`, is that deadline's: a layer stopped waiting at it ([`DeadlineReached`]), or
/// reqwest's timer, which the layers set no later than `at`, fired at or after it (a timeout
/// before `at` is the attempt's own, retried as any other). On the system clock only, as the
/// branch that calls it.
fn reached(error: &reqwest_middleware::Error, at: Instant) -> bool {
    match error {
        reqwest_middleware::Error::Reqwest(e) => e.is_timeout() && Instant::now() >= at,
        other => DeadlineReached::is(other),
    }
}

/// The layers below the retry loop, with the call deadline of each attempt.
trait Below: Send {
    /// What the layers below answer with.
    type Reply: Reply;

    /// As [`Downstream::BOUNDS_WAITS`]: the attempt needs no timer of its own.
    const BOUNDS_WAITS: bool = false;

    /// A copy of `request` for the template: `try_clone`, which keeps every extension of a
    /// request someone else built.
    fn copy(&self, request: &Request) -> Option<Request> {
        request.try_clone()
    }

    /// The parts of `request` to make later sends of, instead of a copy: only where nothing
    /// below reads what the parts do not keep (a request's extensions).
    fn parts(&self, _request: &Request) -> Option<RequestParts> {
        None
    }

    fn send<'a>(
        &'a mut self,
        request: Request,
        signals: &'a mut Signals,
        call: &'a CallDeadline,
    ) -> impl Future<Output = reqwest_middleware::Result<Self::Reply>> + Send + 'a;
}

/// The rest of a `reqwest_middleware` stack: the signals become the [`perspio_core::replay`]
/// extensions, and the deadline one too when a rate limiter below reads it.
struct NextBelow<'n, 'e> {
    next: Next<'n>,
    extensions: &'e mut Extensions,
    publish_deadline: bool,
}

impl Below for NextBelow<'_, '_> {
    type Reply = Response;

    fn send<'a>(
        &'a mut self,
        request: Request,
        signals: &'a mut Signals,
        call: &'a CallDeadline,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'a {
        if self.publish_deadline {
            self.extensions.insert(*call);
        }
        set_flag(self.extensions, ReplayOffered, signals.replay_offered);
        set_flag(self.extensions, Replaying, signals.replaying);
        async move {
            let outcome = self.next.clone().run(request, self.extensions).await;
            signals.replay_wanted = self.extensions.remove::<ReplayWanted>().is_some();
            outcome
        }
    }
}

/// Layers called directly: the deadline is enforced by a timer of the loop's, or, when the
/// layers [bound their waits](Downstream::BOUNDS_WAITS), handed to them in [`Signals`] and
/// not published as an extension.
struct Direct<D>(D);

impl<D: Downstream> Below for Direct<D> {
    type Reply = D::Reply;
    const BOUNDS_WAITS: bool = D::BOUNDS_WAITS;

    /// The requests of a stack called directly are the generated operations', built by
    /// reqwest's `RequestBuilder`: copied without `try_clone`'s extension map.
    fn copy(&self, request: &Request) -> Option<Request> {
        copy_request(request)
    }

    /// The same requests: their parts are all there is to them.
    fn parts(&self, request: &Request) -> Option<RequestParts> {
        RequestParts::of(request)
    }

    fn send<'a>(
        &'a mut self,
        request: Request,
        signals: &'a mut Signals,
        _call: &'a CallDeadline,
    ) -> impl Future<Output = reqwest_middleware::Result<D::Reply>> + Send + 'a {
        self.0.send(request, signals)
    }
}

/// Inserts `flag` when `on`, else removes it: present exactly while it holds.
fn set_flag<T: Clone + Send + Sync + 'static>(extensions: &mut Extensions, flag: T, on: bool) {
    if on {
        extensions.insert(flag);
    } else {
        extensions.remove::<T>();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn backoff_ceiling_doubles_from_the_base_and_stops_at_the_maximum() {
        let config = RetryConfig::default()
            .with_base_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(500))
            .with_jitter(Jitter::None);
        let delays: Vec<_> = (1..=5).map(|retry| config.backoff(retry)).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 500, 500]
                .map(Duration::from_millis)
                .to_vec()
        );
        assert_eq!(
            config.backoff(200),
            Duration::from_millis(500),
            "no overflow"
        );
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_ceiling() {
        let config = RetryConfig::default()
            .with_base_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(1));
        for retry in 1..=6 {
            let ceiling = config.backoff_ceiling(retry);
            for _ in 0..200 {
                assert!(config.backoff(retry) <= ceiling);
            }
        }
        let draws: std::collections::HashSet<_> = (0..50).map(|_| config.backoff(3)).collect();
        assert!(draws.len() > 1, "full jitter must vary the delay");
    }

    #[test]
    fn only_idempotent_methods_are_retried_by_default() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert!(is_idempotent(&method), "{method}");
        }
        for method in [Method::POST, Method::PATCH] {
            assert!(!is_idempotent(&method), "{method}");
        }
    }

    #[test]
    fn an_advised_wait_is_followed_exactly_once_then_never_below_the_previous_backoff() {
        let config = RetryConfig::default().with_jitter(Jitter::None);
        let floors: Vec<_> = (1..=4)
            .map(|retry| config.retry_after_floor(retry))
            .collect();
        assert_eq!(
            floors,
            [0, 500, 1000, 2000].map(Duration::from_millis).to_vec()
        );
    }

    #[test]
    fn zero_max_attempts_means_one_request() {
        assert_eq!(
            RetryConfig::default().with_max_attempts(0).max_attempts(),
            1
        );
    }
}
