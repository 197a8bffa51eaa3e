//! The one error type of this crate.

use std::time::Duration;

use http::StatusCode;

/// What the request policy can fail with.
///
/// At run time the middlewares return it inside
/// [`reqwest_middleware::Error::Middleware`]; get it back with
/// [`PolicyError::from_middleware_error`]. A `429` whose advised wait is above
/// [`RetryConfig::with_max_retry_after`](crate::RetryConfig::with_max_retry_after) is *not* an
/// error of this crate: that response goes back to the caller unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The call's overall deadline (covering every attempt and every wait) ran out, or the next
    /// wait would have run past it.
    #[error(
        "call deadline of {deadline:?} exceeded after {elapsed:?} and {attempts} attempt(s){}",
        match next_wait {
            Some(wait) => format!("; the next wait of {wait:?} would have crossed it"),
            None => String::new(),
        }
    )]
    DeadlineExceeded {
        /// The configured deadline.
        deadline: Duration,
        /// Time spent on the call when it was abandoned.
        elapsed: Duration,
        /// Requests sent (or started) so far.
        attempts: u32,
        /// The wait that would have crossed the deadline (an advised `Retry-After`, a backoff
        /// delay or a rate-limit slot), or `None` when a request in flight was cut short.
        next_wait: Option<Duration>,
        /// Status of the last response, if the last attempt got one.
        last_status: Option<StatusCode>,
        /// The last transport error, if the last attempt failed with one.
        #[source]
        last_error: Option<reqwest_middleware::Error>,
    },

    /// The client-side rate limiter would have made the request wait longer than allowed.
    #[error(
        "rate limit: the next free slot is {wait:?} away, more than the maximum wait of {max_wait:?}"
    )]
    RateLimitWaitExceeded {
        /// How long the request would have had to wait for a slot.
        wait: Duration,
        /// The configured bound ([`RateLimit::with_max_wait`](crate::RateLimit::with_max_wait)).
        max_wait: Duration,
    },

    /// The store of a shared rate budget cannot be used (its URL is invalid); the cause says
    /// why, with the URL redacted.
    #[error("the shared rate budget's store cannot be used")]
    InvalidStore {
        /// What is wrong.
        #[source]
        source: perspio_store::StoreError,
    },

    /// The shared rate budget's store is unreachable and the limiter was configured to fail
    /// closed (`StoreFailure::FailClosed`, feature `redis`); the request was not sent.
    #[error("the shared rate budget is unavailable and the limiter fails closed")]
    SharedBudgetUnavailable {
        /// Why the store could not be used.
        #[source]
        source: perspio_store::StoreError,
    },

    /// A rate-limit window was configured with zero requests or a zero period.
    #[error("invalid rate limit: {requests} request(s) per {per:?} (both must be non-zero)")]
    InvalidLimit {
        /// The requested number of requests per window.
        requests: u32,
        /// The requested window.
        per: Duration,
    },
}

impl PolicyError {
    /// Whether trying the same call again later may succeed: true for the deadline and the
    /// rate-limit wait (both are about time), false for configuration errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::DeadlineExceeded { .. }
            | Self::RateLimitWaitExceeded { .. }
            | Self::SharedBudgetUnavailable { .. } => true,
            Self::InvalidLimit { .. } | Self::InvalidStore { .. } => false,
        }
    }

    /// How long to wait before trying again, when known: the wait that did not fit.
    pub fn suggested_wait(&self) -> Option<Duration> {
        match self {
            Self::DeadlineExceeded { next_wait, .. } => *next_wait,
            Self::RateLimitWaitExceeded { wait, .. } => Some(*wait),
            Self::InvalidLimit { .. }
            | Self::InvalidStore { .. }
            | Self::SharedBudgetUnavailable { .. } => None,
        }
    }

    /// The policy error inside a middleware-stack error, if that is what it is.
    ///
    /// ```
    /// use perspio_policy::PolicyError;
    /// # fn check(err: reqwest_middleware::Error) {
    /// if let Some(PolicyError::RateLimitWaitExceeded { wait, .. }) =
    ///     PolicyError::from_middleware_error(&err)
    /// {
    ///     eprintln!("try again in {wait:?}");
    /// }
    /// # }
    /// ```
    pub fn from_middleware_error(err: &reqwest_middleware::Error) -> Option<&Self> {
        match err {
            reqwest_middleware::Error::Middleware(inner) => inner.downcast_ref::<Self>(),
            reqwest_middleware::Error::Reqwest(_) => None,
        }
    }
}

impl From<PolicyError> for reqwest_middleware::Error {
    fn from(err: PolicyError) -> Self {
        reqwest_middleware::Error::Middleware(anyhow::Error::new(err))
    }
}
