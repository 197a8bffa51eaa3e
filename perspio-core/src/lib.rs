//! The foundation of the perspio stack, shared by every other crate:
//!
//! - [`clock`]: the one [`Clock`] (wall and monotonic time, sleeps), with [`ManualClock`] for
//!   tests. `perspio-auth` and `perspio-policy` re-export it.
//!
//! Most users never name this crate: the client (`perspio-api`) and the middlewares re-export
//! what they need.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;

pub use clock::{BoxFuture, Clock, ManualClock, SystemClock};
