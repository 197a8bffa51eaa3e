//! Time, injected so that tests never sleep: the one clock of the whole stack.
//!
//! Every part of the stack that reads time or waits takes an `Arc<dyn Clock>`:
//! `perspio-auth` (token lifetimes, refresh backoff, token-endpoint retries) and
//! `perspio-policy` (retry backoff, `Retry-After`, the call deadline, the rate limiter). Both
//! re-export these types, so `perspio_auth::ManualClock` and `perspio_policy::ManualClock` are
//! this module's [`ManualClock`]: give **one** clock to every layer and a test drives token age,
//! backoff and rate-limit windows together.
//!
//! ```
//! use std::time::Duration;
//! use perspio_core::clock::{Clock, ManualClock};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = ManualClock::new();
//! let (wall, mono) = (clock.now(), clock.instant());
//! clock.sleep(Duration::from_secs(90)).await; // returns at once, moves the clock
//! clock.advance(Duration::from_secs(10)); // not a sleep: not recorded
//! assert_eq!(clock.instant() - mono, Duration::from_secs(100));
//! assert_eq!(clock.now().duration_since(wall).unwrap(), Duration::from_secs(100));
//! assert_eq!(clock.sleeps(), vec![Duration::from_secs(90)]);
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// A boxed, sendable future, as returned by [`Clock::sleep`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The source of time and of waits.
///
/// Two readings: a monotonic [`Instant`] for intervals (deadlines, rate-limit windows, which
/// must not jump when the wall clock is adjusted) and the wall-clock [`SystemTime`] for what
/// is compared with other machines (token expiry shared through a store, `Retry-After` given
/// as an HTTP date).
///
/// Use [`SystemClock`] (the default everywhere) in production and [`ManualClock`] in tests.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;

    /// The current monotonic time.
    fn instant(&self) -> Instant;

    /// Waits for `duration`. Every wait the stack decides on (`Retry-After`, backoff, a
    /// rate-limit slot, token-endpoint retries) goes through here.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    /// A timer that completes after `duration`, raced against a request in flight to enforce
    /// a deadline. Defaults to [`sleep`](Clock::sleep).
    fn deadline_timer(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleep(duration)
    }

    /// Whether this clock is the real one ([`SystemClock`], or an `Arc` of it): a layer may
    /// then bound a request with `tokio::time::timeout` in its own future instead of racing a
    /// boxed [`deadline_timer`](Clock::deadline_timer). Defaults to `false`.
    fn is_system(&self) -> bool {
        false
    }
}

/// A shared clock is a clock: lets one `Arc<dyn Clock>` be handed to every layer.
impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }

    fn instant(&self) -> Instant {
        (**self).instant()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        (**self).sleep(duration)
    }

    fn deadline_timer(&self, duration: Duration) -> BoxFuture<'static, ()> {
        (**self).deadline_timer(duration)
    }

    fn is_system(&self) -> bool {
        (**self).is_system()
    }
}

/// How far ahead [`later`] reaches when `instant + wait` is past what an [`Instant`] can hold:
/// about a hundred years, which is "never" for a deadline, a pause or a backoff.
pub const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `instant + wait`, saturating: at most [`FAR_FUTURE`] ahead when the sum is past what an
/// [`Instant`] can hold, where `Instant + Duration` panics.
///
/// Use it wherever the wait is not a constant of the code: a server's `Retry-After` (a
/// `u64` of seconds parses, and `Instant::now() + Duration::from_secs(u64::MAX)` panics), a
/// store's answer, or a setting a user chose (`Duration::MAX` as "no deadline").
///
/// ```
/// use std::time::{Duration, Instant};
/// use perspio_core::clock::{FAR_FUTURE, later};
///
/// let now = Instant::now();
/// assert_eq!(later(now, Duration::from_secs(5)), now + Duration::from_secs(5));
/// assert_eq!(later(now, Duration::MAX), now + FAR_FUTURE);
/// ```
pub fn later(instant: Instant, wait: Duration) -> Instant {
    instant
        .checked_add(wait)
        .or_else(|| instant.checked_add(FAR_FUTURE))
        .unwrap_or(instant)
}

/// The real clock: [`SystemTime::now`], [`Instant::now`] and [`tokio::time::sleep`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }

    fn is_system(&self) -> bool {
        true
    }
}

/// A virtual clock for tests: time moves only when someone sleeps on it or calls
/// [`advance`](ManualClock::advance).
///
/// [`sleep`](Clock::sleep) does not wait: it moves the clock by the requested duration,
/// returns at once and records the duration, so a test can assert exactly how long the code
/// *would* have waited ([`sleeps`](ManualClock::sleeps)). Clones share one time and one record,
/// so a test keeps one clone and hands others to every layer of the stack.
///
/// # Limitations
///
/// - A request in flight takes no virtual time, so [`Clock::deadline_timer`] never fires: on
///   this clock a deadline can only cut a call short at a wait.
/// - Meant for sequential calls: concurrent sleepers each move the shared clock as soon as
///   they are polled, which does not model real concurrency.
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

    /// Virtual time elapsed since the clock was created (advances and sleeps).
    pub fn elapsed(&self) -> Duration {
        self.lock().offset
    }

    /// Every duration passed to [`Clock::sleep`], in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> MutexGuard<'_, ManualState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let state = self.lock();
        state
            .start_wall
            .checked_add(state.offset)
            .unwrap_or(state.start_wall)
    }

    fn instant(&self) -> Instant {
        let state = self.lock();
        state
            .start_instant
            .checked_add(state.offset)
            .unwrap_or(state.start_instant)
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
        let (mono, wall) = (clock.instant(), clock.now());
        other.advance(Duration::from_secs(5));
        assert_eq!(clock.instant() - mono, Duration::from_secs(5));
        assert_eq!(
            clock.now().duration_since(wall).unwrap(),
            Duration::from_secs(5)
        );
        assert!(clock.sleeps().is_empty(), "advance is not a sleep");
    }

    #[tokio::test]
    async fn sleeping_on_a_manual_clock_advances_it_and_records_the_wait_without_waiting() {
        let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH);
        let wall = Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            clock.now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(3600)
        );
        assert_eq!(clock.elapsed(), Duration::from_secs(3600));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(3600)]);
        assert!(wall.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn the_deadline_timer_of_a_manual_clock_never_fires() {
        let clock = ManualClock::new();
        let timer = clock.deadline_timer(Duration::ZERO);
        let raced = tokio::time::timeout(Duration::from_millis(20), timer).await;
        assert!(raced.is_err());
    }
}
