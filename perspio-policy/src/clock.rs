//! Time, injected so that tests never sleep.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// A boxed, sendable future, as returned by [`Clock::sleep`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The source of time for retry waits, the call deadline and the rate limiter.
///
/// Two readings are needed: a monotonic [`Instant`] for intervals (deadline, rate-limit
/// windows, which must not jump when the wall clock is adjusted) and the wall-clock
/// [`SystemTime`] for `Retry-After` given as an HTTP date.
///
/// Use [`SystemClock`] (the default) in production and [`ManualClock`] in tests.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current monotonic time.
    fn instant(&self) -> Instant;

    /// The current wall-clock time (only used to read `Retry-After` HTTP dates).
    fn now(&self) -> SystemTime;

    /// Waits for `duration`: every wait the policy decides on (`Retry-After`, backoff, a
    /// rate-limit slot) goes through here.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    /// A timer that completes after `duration`, raced against a request in flight to enforce
    /// the call deadline. Defaults to [`sleep`](Clock::sleep).
    fn deadline_timer(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleep(duration)
    }
}

/// The real clock: [`Instant::now`], [`SystemTime::now`] and [`tokio::time::sleep`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A virtual clock for tests: time moves only when someone sleeps on it or calls
/// [`advance`](ManualClock::advance).
///
/// [`sleep`](Clock::sleep) does not wait: it moves the clock to the wake-up time and returns at
/// once, and records the requested duration, so a test can assert exactly how long the policy
/// *would* have waited ([`sleeps`](ManualClock::sleeps)). Clones share the same time and record.
///
/// # Limitations
///
/// - A request in flight takes no virtual time, so on this clock the deadline can only cut a
///   call short at a wait, never during a request ([`Clock::deadline_timer`] never fires).
/// - Meant for sequential calls: concurrent sleepers each jump the shared clock to their own
///   wake-up time as soon as they are polled, which does not model real concurrency.
///
/// ```
/// use std::time::Duration;
/// use perspio_policy::{Clock, ManualClock};
///
/// # tokio_test_block_on(async {
/// let clock = ManualClock::new();
/// let start = clock.instant();
/// clock.sleep(Duration::from_secs(90)).await;
/// assert_eq!(clock.instant() - start, Duration::from_secs(90));
/// assert_eq!(clock.sleeps(), vec![Duration::from_secs(90)]);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    start_instant: Instant,
    start_wall: SystemTime,
    offset: Duration,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    /// A clock that starts at the current wall-clock time (so HTTP dates such as
    /// `Retry-After` compare sensibly) and then stands still.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A clock whose wall-clock reading starts at `start`.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ManualState {
                start_instant: Instant::now(),
                start_wall: start,
                offset: Duration::ZERO,
                sleeps: Vec::new(),
            })),
        }
    }

    /// Moves the clock forward by `by`; every clone sees the new time. Not recorded as a sleep.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.offset = state.offset.saturating_add(by);
    }

    /// Virtual time elapsed since the clock was created.
    pub fn elapsed(&self) -> Duration {
        self.lock().offset
    }

    /// Every duration passed to [`Clock::sleep`], in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn instant(&self) -> Instant {
        let state = self.lock();
        state.start_instant + state.offset
    }

    fn now(&self) -> SystemTime {
        let state = self.lock();
        state.start_wall + state.offset
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let mut state = self.lock();
        state.sleeps.push(duration);
        state.offset = state.offset.saturating_add(duration);
        Box::pin(std::future::ready(()))
    }

    fn deadline_timer(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(std::future::pending())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn clones_of_a_manual_clock_share_one_time() {
        let clock = ManualClock::new();
        let other = clock.clone();
        let start = clock.instant();
        other.advance(Duration::from_secs(5));
        assert_eq!(clock.instant() - start, Duration::from_secs(5));
        assert!(clock.sleeps().is_empty(), "advance is not a sleep");
    }

    #[tokio::test]
    async fn sleeping_on_a_manual_clock_advances_it_and_records_the_wait_without_waiting() {
        let clock = ManualClock::new();
        let wall_start = clock.now();
        let wall = Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            clock.now().duration_since(wall_start).unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(3600)]);
        assert!(wall.elapsed() < Duration::from_secs(1));
    }
}
