//! The `perspio` binary, run as a user runs it: against its own sandbox (`--sandbox`, and
//! `perspio sandbox` standalone), against a sandbox the test started and counts (`api`,
//! `output`), and against a wiremock stand-in configured through the `PERSPIO_*` variables.
//!
//! Every run starts from an empty environment (plus `PATH`), so a developer's own
//! `PERSPIO_*` variables never leak into a test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod features;
mod helpers;
mod hostile;
mod login;
mod output;
mod profiles;
mod sandbox;
mod schema;
mod settings;
mod wiremock_api;
