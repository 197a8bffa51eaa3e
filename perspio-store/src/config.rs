//! Timeouts and breaker settings of a store connection.

use std::time::Duration;

/// Default for [`StoreConfig::with_connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default for [`StoreConfig::with_response_timeout`].
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// Default for [`StoreConfig::with_failures_to_open`].
pub const DEFAULT_FAILURES_TO_OPEN: u32 = 2;
/// Default for [`StoreConfig::with_open_for`].
pub const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(5);

/// How long a store may take, and when the circuit breaker gives up on it.
///
/// ```
/// use std::time::Duration;
/// let config = perspio_store::StoreConfig::default()
///     .with_response_timeout(Duration::from_millis(200))
///     .with_open_for(Duration::from_secs(10));
/// assert_eq!(config.failures_to_open(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    connect_timeout: Duration,
    response_timeout: Duration,
    failures_to_open: u32,
    open_for: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            failures_to_open: DEFAULT_FAILURES_TO_OPEN,
            open_for: DEFAULT_OPEN_FOR,
        }
    }
}

impl StoreConfig {
    /// How long connecting may take. Defaults to 1 s.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one operation may take once connected. Defaults to 500 ms.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Consecutive failures (errors or timeouts) after which the breaker opens (`0` is
    /// treated as `1`). Defaults to 2.
    pub fn with_failures_to_open(mut self, failures: u32) -> Self {
        self.failures_to_open = failures.max(1);
        self
    }

    /// How long an open breaker refuses operations before it lets one probe through.
    /// Defaults to 5 s.
    pub fn with_open_for(mut self, open_for: Duration) -> Self {
        self.open_for = open_for;
        self
    }

    /// See [`with_connect_timeout`](Self::with_connect_timeout).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// See [`with_response_timeout`](Self::with_response_timeout).
    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// See [`with_failures_to_open`](Self::with_failures_to_open).
    pub fn failures_to_open(&self) -> u32 {
        self.failures_to_open
    }

    /// See [`with_open_for`](Self::with_open_for).
    pub fn open_for(&self) -> Duration {
        self.open_for
    }

    /// The longest one operation can take, connecting included.
    #[cfg(any(feature = "redis", feature = "memcached"))]
    pub(crate) fn operation_budget(&self) -> Duration {
        self.connect_timeout.saturating_add(self.response_timeout)
    }
}
