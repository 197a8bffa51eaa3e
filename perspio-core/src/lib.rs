//! The foundation of the perspio stack, shared by every other crate:
//!
//! - [`clock`]: the one [`Clock`] (wall and monotonic time, sleeps), with [`ManualClock`] for
//!   tests. `perspio-auth` and `perspio-policy` re-export it.
//! - [`body`]: a body someone else sends, read with a size bound ([`body::read_limited`]).
//! - [`redact`]: URLs as they may appear in an error or a log line (no user information, no
//!   query values).
//! - [`text`]: remote text on its way into a message, neutralised (no terminal control
//!   characters) and bounded ([`text::MAX_REMOTE_TEXT`]).
//! - [`retry_after`]: the value of a `Retry-After` header, read the same way by every layer.
//! - [`replay`]: one request copy per call, lent by the retry layer to the authentication
//!   layer's `401` replay.
//! - [`future`]: `map` and `then` that leave a finished future in place (no copy of a call's
//!   whole future when it finishes).
//! - [`layer`]: the layers of a stack called directly ([`layer::Downstream`]), one future
//!   for the whole default stack instead of one boxed future per middleware.
//! - `testing` (feature `testing`): stand-ins for the network that answer without I/O, for
//!   tests and benchmarks that count what the layers cost.
//! - [`tls`]: the rustls crypto provider of every client the perspio crates build (`ring` by
//!   default, `aws-lc-rs` by feature).
//!
//! Most users never name this crate: the client (`perspio-api`) and the middlewares re-export
//! what they need.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod body;
pub mod clock;
pub mod future;
pub mod layer;
pub mod redact;
pub mod replay;
pub mod retry_after;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod tls;

pub use clock::{BoxFuture, Clock, ManualClock, SystemClock};
