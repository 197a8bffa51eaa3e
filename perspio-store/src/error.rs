//! The one error type of this crate.

use std::time::Duration;

/// What a store operation can fail with. Messages name the store by its redacted URL and
/// never carry a password or a stored value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL cannot be used.
    #[error("invalid {store} url `{url}`: {reason}")]
    InvalidUrl {
        /// `redis` or `memcached`.
        store: &'static str,
        /// The URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The store did not answer in time.
    #[error("{store} at {url}: `{operation}` timed out after {after:?}")]
    Timeout {
        /// `redis` or `memcached`.
        store: &'static str,
        /// The store's URL, redacted.
        url: String,
        /// What was being done.
        operation: &'static str,
        /// The time allowed.
        after: Duration,
    },

    /// The store answered with an error, or could not be reached.
    #[error("{store} at {url}: `{operation}` failed: {message}")]
    Failed {
        /// `redis` or `memcached`.
        store: &'static str,
        /// The store's URL, redacted.
        url: String,
        /// What was being done.
        operation: &'static str,
        /// The client library's description, neutralised and bounded.
        message: String,
    },

    /// The circuit breaker is open after repeated failures: the store is not tried until
    /// `retry_in` has passed.
    #[error(
        "{store} at {url} is unavailable (circuit open after repeated failures; next probe in {retry_in:?})"
    )]
    CircuitOpen {
        /// `redis` or `memcached`.
        store: &'static str,
        /// The store's URL, redacted.
        url: String,
        /// Time until the breaker lets a probe through.
        retry_in: Duration,
    },
}

impl StoreError {
    /// Whether this error says the store is unreachable or failing (as opposed to a bad
    /// configuration): callers fall back instead of failing.
    pub fn is_unavailable(&self) -> bool {
        !matches!(self, Self::InvalidUrl { .. })
    }
}
