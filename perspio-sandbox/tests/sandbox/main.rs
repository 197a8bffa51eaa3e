//! The sandbox as an SDK user meets it: started in the test, called through `perspio-api`'s
//! client (and raw HTTP where the client would hide what is served), asserted through its
//! counters. Each test starts its own sandbox on a free port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod counters;
mod faults;
mod helpers;
mod login;
mod profiles;
mod readme;
mod starting;
