//! One request copy per call: how an outer layer that keeps a copy of the request (the retry
//! layer's template) lends it to an inner one (the authentication layer's `401` replay).
//!
//! All three are zero-sized request extensions (inserting one into `http::Extensions`
//! allocates nothing once the map exists):
//!
//! 1. The outer layer inserts [`ReplayOffered`] before an attempt when it holds a copy it can
//!    send again. The inner layer then keeps no copy of its own.
//! 2. When the inner layer wants the request sent again (a `401` answered with a new token), it
//!    returns the response and inserts [`ReplayWanted`].
//! 3. The outer layer drops that response and sends its copy once more, with [`Replaying`] set
//!    and [`ReplayOffered`] removed; the inner layer answers a [`Replaying`] request as it is
//!    (a second `401` goes to the caller: never a loop). The replay is not one of the outer
//!    layer's attempts.
//!
//! Without an offer the inner layer keeps its own copy, as it must when it is used alone.

/// The outer layer holds a copy of this request and sends it again on [`ReplayWanted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayOffered;

/// Set by the inner layer on the way back: send the request once more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayWanted;

/// This request is the replay asked for with [`ReplayWanted`]: answer it as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replaying;
