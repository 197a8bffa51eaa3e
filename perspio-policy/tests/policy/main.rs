//! Specification of the request policy, against wiremock (and one raw TCP server), on a
//! virtual clock: every wait is asserted, none is slept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod deadline;
mod helpers;
mod rate_limit;
mod retry_after;
mod shared;
mod stack;
mod tracing_events;
mod transient;
