//! The circuit breaker in front of every store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use perspio_core::Clock;
use perspio_core::clock::later;

use crate::config::StoreConfig;

/// Counts of what a [`Breaker`] has seen, for logs, metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreakerStats {
    /// Operations that succeeded.
    pub successes: u64,
    /// Operations that failed or timed out.
    pub failures: u64,
    /// Operations refused at once because the breaker was open.
    pub rejected: u64,
    /// Times the breaker opened.
    pub opened: u64,
    /// Times it closed again after a successful probe.
    pub recovered: u64,
}

/// A circuit breaker: closed (operations go), open (operations are refused at once, for
/// [`StoreConfig::with_open_for`]), then half open (one probe goes; its success closes the
/// breaker, its failure opens it again).
///
/// Opening is logged at `WARN` and recovery at `INFO` (target `perspio_store`), naming the
/// store and what its users do meanwhile.
#[derive(Debug)]
pub struct Breaker {
    name: String,
    fallback: &'static str,
    failures_to_open: u32,
    open_for: Duration,
    clock: Arc<dyn Clock>,
    phase: Mutex<Phase>,
    successes: AtomicU64,
    failures: AtomicU64,
    rejected: AtomicU64,
    opened: AtomicU64,
    recovered: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; no other operation goes until it reports.
    HalfOpen {
        since: Instant,
    },
}

impl Breaker {
    /// A closed breaker for the store `name` (shown in logs, e.g. `redis at redis://host/`),
    /// whose users do `fallback` while it is open (e.g. `fetching tokens directly`).
    pub fn new(
        name: impl Into<String>,
        fallback: &'static str,
        config: &StoreConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            name: name.into(),
            fallback,
            failures_to_open: config.failures_to_open(),
            open_for: config.open_for(),
            clock,
            phase: Mutex::new(Phase::Closed { failures: 0 }),
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            opened: AtomicU64::new(0),
            recovered: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an operation may go now; `Err(retry_in)` when the breaker is open.
    pub fn allow(&self) -> Result<(), Duration> {
        let now = self.clock.instant();
        let mut phase = self.lock();
        match *phase {
            Phase::Closed { .. } => Ok(()),
            Phase::Open { until } if now >= until => {
                *phase = Phase::HalfOpen { since: now };
                Ok(())
            }
            // A probe that never reported (its caller was cancelled) frees the way after
            // another `open_for`.
            Phase::HalfOpen { since } if now >= later(since, self.open_for) => {
                *phase = Phase::HalfOpen { since: now };
                Ok(())
            }
            Phase::Open { until } => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                Err(until.saturating_duration_since(now))
            }
            Phase::HalfOpen { since } => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                Err(later(since, self.open_for).saturating_duration_since(now))
            }
        }
    }

    /// The operation let through by [`allow`](Self::allow) succeeded.
    pub fn record_success(&self) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        let mut phase = self.lock();
        if matches!(*phase, Phase::HalfOpen { .. } | Phase::Open { .. }) {
            self.recovered.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                target: "perspio_store",
                store = %self.name,
                "store reachable again: circuit closed, shared state in use again"
            );
        }
        *phase = Phase::Closed { failures: 0 };
    }

    /// The operation let through by [`allow`](Self::allow) failed with `error`.
    pub fn record_failure(&self, error: &dyn std::fmt::Display) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.instant();
        let mut phase = self.lock();
        let open = match *phase {
            Phase::Closed { failures } if failures + 1 < self.failures_to_open => {
                *phase = Phase::Closed {
                    failures: failures + 1,
                };
                tracing::debug!(target: "perspio_store", store = %self.name, %error, "store operation failed");
                false
            }
            _ => true,
        };
        if open {
            let reopened = matches!(*phase, Phase::HalfOpen { .. });
            *phase = Phase::Open {
                until: later(now, self.open_for),
            };
            self.opened.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target: "perspio_store",
                store = %self.name,
                %error,
                open_for = ?self.open_for,
                probe_failed = reopened,
                "store unavailable: circuit open; {}",
                self.fallback
            );
        }
    }

    /// Whether the breaker is closed (the store is in use).
    pub fn is_closed(&self) -> bool {
        matches!(*self.lock(), Phase::Closed { .. })
    }

    /// What the breaker has seen so far.
    pub fn stats(&self) -> BreakerStats {
        BreakerStats {
            successes: self.successes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            opened: self.opened.load(Ordering::Relaxed),
            recovered: self.recovered.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use perspio_core::ManualClock;

    use super::*;

    fn breaker(clock: &ManualClock) -> Breaker {
        let config = StoreConfig::default()
            .with_failures_to_open(2)
            .with_open_for(Duration::from_secs(5));
        Breaker::new(
            "test store",
            "doing without",
            &config,
            Arc::new(clock.clone()),
        )
    }

    #[test]
    fn it_opens_after_consecutive_failures_refuses_then_lets_one_probe_through() {
        let clock = ManualClock::new();
        let b = breaker(&clock);
        b.allow().unwrap();
        b.record_failure(&"boom");
        assert!(b.is_closed(), "one failure is not enough");
        b.allow().unwrap();
        b.record_failure(&"boom");
        assert!(!b.is_closed());
        assert_eq!(b.allow(), Err(Duration::from_secs(5)));
        clock.advance(Duration::from_secs(5));
        b.allow().unwrap(); // the probe
        assert!(b.allow().is_err(), "only one probe at a time");
        b.record_success();
        assert!(b.is_closed());
        b.allow().unwrap();
        assert_eq!(
            b.stats(),
            BreakerStats {
                successes: 1,
                failures: 2,
                rejected: 2,
                opened: 1,
                recovered: 1
            }
        );
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_a_success_resets_the_count() {
        let clock = ManualClock::new();
        let b = breaker(&clock);
        b.record_failure(&"boom");
        b.record_success();
        b.record_failure(&"boom");
        assert!(b.is_closed(), "failures must be consecutive");
        b.record_failure(&"boom");
        clock.advance(Duration::from_secs(5));
        b.allow().unwrap();
        b.record_failure(&"still down");
        assert_eq!(b.allow(), Err(Duration::from_secs(5)));
        assert_eq!(b.stats().opened, 2);
    }

    #[test]
    fn a_probe_that_never_reports_frees_the_way_after_another_interval() {
        let clock = ManualClock::new();
        let b = breaker(&clock);
        b.record_failure(&"x");
        b.record_failure(&"x");
        clock.advance(Duration::from_secs(5));
        b.allow().unwrap();
        assert!(b.allow().is_err());
        clock.advance(Duration::from_secs(5));
        b.allow().unwrap();
    }
}
