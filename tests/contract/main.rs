//! Contract tests: the generated client and the whole middleware stack against wiremock.
//!
//! One test binary; each test starts its own `MockServer`s through `helpers::Perspio`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub,
    reason = "tests panic on failure by design"
)]

mod auth_flows;
mod coverage;
mod extremes;
mod faults;
mod fleet;
mod helpers;
mod hostile;
mod one_clock;
mod operations;
mod policy;
mod raw_request;
mod redirects;
mod secrets;
