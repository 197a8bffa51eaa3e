//! The budget of one process: a sliding log per window, a pause, and the bandwidth log.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use perspio_core::Clock;
use perspio_core::clock::later;

use super::{RateLimit, Reservation};

#[derive(Debug)]
pub(crate) struct LocalBudget {
    config: RateLimit,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    reservations: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// Per window, the send times of its last `requests` requests, oldest first.
    logs: Vec<VecDeque<Instant>>,
    /// No request goes before this (set by a throttling answer's `Retry-After`).
    paused_until: Option<Instant>,
    /// Response bytes charged, with when, oldest first, and their sum.
    bytes: VecDeque<(Instant, u64)>,
    bytes_total: u64,
}

impl LocalBudget {
    pub(crate) fn new(config: &RateLimit, clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State {
                logs: vec![VecDeque::new(); config.limits.len()],
                ..State::default()
            }),
            config: config.clone(),
            clock,
            reservations: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn reservations(&self) -> u64 {
        self.reservations.load(Ordering::Relaxed)
    }

    /// The earliest slot every window, the pause and the bandwidth allow; reserved when it is
    /// at most `bound` away.
    pub(crate) fn reserve(&self, bound: Duration) -> Reservation {
        let now = self.clock.instant();
        let guard = self.config.guard;
        let mut state = self.lock();
        let mut slot = state.paused_until.map_or(now, |until| until.max(now));
        for (limit, log) in self.config.limits.iter().zip(&state.logs) {
            if log.len() >= limit.requests as usize
                && let Some(oldest) = log.front()
            {
                slot = slot.max(later(*oldest, limit.per.saturating_add(guard)));
            }
        }
        if let Some(bandwidth) = self.config.bandwidth {
            let window_start = now.checked_sub(bandwidth.per);
            let State {
                bytes, bytes_total, ..
            } = &mut *state;
            while let Some(&(at, n)) = bytes.front()
                && window_start.is_some_and(|start| at <= start)
            {
                bytes.pop_front();
                *bytes_total -= n;
            }
            // Spent: wait until enough of it has left the window.
            let mut total = *bytes_total;
            for &(at, n) in bytes.iter() {
                if total < bandwidth.bytes {
                    break;
                }
                total -= n;
                slot = slot.max(later(at, bandwidth.per.saturating_add(guard)));
            }
        }
        let wait = slot.saturating_duration_since(now);
        if wait > bound {
            return Reservation::Refused(wait);
        }
        for (limit, log) in self.config.limits.iter().zip(state.logs.iter_mut()) {
            log.push_back(slot);
            while log.len() > limit.requests as usize {
                log.pop_front();
            }
        }
        self.reservations.fetch_add(1, Ordering::Relaxed);
        Reservation::Granted(wait)
    }

    /// Records a request that goes in `wait` from now, reserved elsewhere (the shared budget),
    /// so that this budget, if it takes over, knows what this process already sent.
    #[cfg(feature = "redis")]
    pub(crate) fn note(&self, wait: Duration) {
        let slot = later(self.clock.instant(), wait);
        let mut state = self.lock();
        for (limit, log) in self.config.limits.iter().zip(state.logs.iter_mut()) {
            if log.back().is_none_or(|last| *last <= slot) {
                log.push_back(slot);
            }
            while log.len() > limit.requests as usize {
                log.pop_front();
            }
        }
    }

    /// No request goes for `advised` from now (a pause only ever moves later).
    pub(crate) fn pause_for(&self, advised: Duration) {
        let until = later(self.clock.instant(), advised);
        let mut state = self.lock();
        state.paused_until = Some(state.paused_until.map_or(until, |old| old.max(until)));
    }

    /// `bytes` of a response arrived now.
    pub(crate) fn charge(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let now = self.clock.instant();
        let mut state = self.lock();
        state.bytes.push_back((now, bytes));
        state.bytes_total = state.bytes_total.saturating_add(bytes);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use perspio_core::ManualClock;

    use super::*;
    use crate::rate_limit::{Bandwidth, Limit};

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_spent_bandwidth_quota_makes_the_next_request_wait_until_enough_bytes_age_out() {
        let clock = ManualClock::new();
        let config = RateLimit::new([Limit::new(1000, 10 * S).unwrap()])
            .with_bandwidth(Bandwidth::new(100, 10 * S).unwrap())
            .with_guard(Duration::ZERO);
        let budget = LocalBudget::new(&config, Arc::new(clock.clone()));
        assert_eq!(budget.reserve(S * 60), Reservation::Granted(Duration::ZERO));
        budget.charge(60);
        clock.advance(2 * S);
        budget.charge(50);
        // 110 of 100 bytes: the first 60 must leave the window (at t = 10 s).
        clock.advance(S);
        assert_eq!(budget.reserve(S * 60), Reservation::Granted(7 * S));
        assert_eq!(budget.reserve(S), Reservation::Refused(7 * S));
        clock.advance(7 * S);
        assert_eq!(budget.reserve(S), Reservation::Granted(Duration::ZERO));
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_fallback_that_noted_the_shared_slots_does_not_burst_into_a_full_window() {
        let clock = ManualClock::new();
        let config = RateLimit::new([Limit::new(2, 10 * S).unwrap()]).with_guard(Duration::ZERO);
        let budget = LocalBudget::new(&config, Arc::new(clock.clone()));
        budget.note(Duration::ZERO);
        budget.note(S);
        assert_eq!(budget.reserve(S * 60), Reservation::Granted(10 * S));
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_fleet_larger_than_the_limit_stretches_the_window_instead_of_exceeding_it() {
        let limit = Limit::new(20, 90 * S).unwrap();
        assert_eq!(limit.divided(4).requests(), 5);
        assert_eq!(limit.divided(4).per(), 90 * S);
        let stretched = limit.divided(40);
        assert_eq!((stretched.requests(), stretched.per()), (1, 180 * S));
        assert_eq!(limit.divided(0).requests(), 20);
    }

    #[test]
    fn the_guard_margin_spaces_windows_by_per_plus_guard() {
        let clock = ManualClock::new();
        let config = RateLimit::new([Limit::new(1, 10 * S).unwrap()]);
        let budget = LocalBudget::new(&config, Arc::new(clock.clone()));
        assert_eq!(budget.reserve(S * 60), Reservation::Granted(Duration::ZERO));
        assert_eq!(budget.reserve(S * 60), Reservation::Granted(11 * S));
    }
}
