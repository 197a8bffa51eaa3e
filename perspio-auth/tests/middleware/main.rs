//! Wiremock tests of `AuthMiddleware`: one binary, one module per concern, shared helpers.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod concurrency;
mod headers;
mod helpers;
mod hostile;
mod refresh;
mod secrets;
mod security;
mod shared_store;
mod token_endpoint;
mod unauthorized;
mod user_login;
