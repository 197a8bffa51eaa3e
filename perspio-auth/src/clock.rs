//! Time comes from [`perspio_core`], the one clock of the stack; this module keeps the
//! crate's own arithmetic on it.

use std::time::{Duration, SystemTime};

/// `later - earlier`, or zero when `later` is not later.
pub(crate) fn elapsed_between(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or(Duration::ZERO)
}
