//! Time, injected so that tests never sleep.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// A boxed, sendable future, as returned by [`Clock::sleep`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The source of time for token lifetimes, backoff and retry delays.
///
/// Wall-clock [`SystemTime`] is used (not `Instant`) so that token expiry can be stored and
/// shared with other processes through a [`TokenStore`](crate::TokenStore).
///
/// Use [`SystemClock`] (the default) in production and [`ManualClock`] in tests.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Waits for `duration`. Used for token-endpoint retry backoff.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The real clock: [`SystemTime::now`] and [`tokio::time::sleep`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that only moves when told to, for tests.
///
/// Clones share the same time, so a test can keep one clone and give another to
/// [`AuthMiddlewareBuilder::with_clock`](crate::AuthMiddlewareBuilder::with_clock).
///
/// [`sleep`](Clock::sleep) does not wait: it advances the clock by the requested duration and
/// returns at once, so retry backoff costs no wall time and a test can assert how long the code
/// *would* have waited.
///
/// ```
/// use std::time::Duration;
/// use perspio_auth::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(55 * 60));
/// assert_eq!(clock.now().duration_since(start).unwrap(), Duration::from_secs(55 * 60));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock that starts at the current wall-clock time (so HTTP dates such as
    /// `Retry-After` compare sensibly) and then stands still.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A clock that starts at `start`.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward by `by`; every clone sees the new time.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.checked_add(by).unwrap_or(*now);
    }

    /// Sets the clock to `to` (which may be in the past).
    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

/// `later - earlier`, or zero when `later` is not later.
pub(crate) fn elapsed_between(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn clones_of_a_manual_clock_share_one_time() {
        let clock = ManualClock::new();
        let other = clock.clone();
        let start = clock.now();
        other.advance(Duration::from_secs(5));
        assert_eq!(elapsed_between(start, clock.now()), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn sleeping_on_a_manual_clock_advances_it_without_waiting() {
        let clock = ManualClock::new();
        let start = clock.now();
        let wall = std::time::Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            elapsed_between(start, clock.now()),
            Duration::from_secs(3600)
        );
        assert!(wall.elapsed() < Duration::from_secs(1));
    }
}
