//! perspio-config: the precedence table (one test per row), config.toml never holding a
//! secret, and every secret store. Every test works in its own temporary directory; none
//! touches the user's configuration or keyring (the keyring is a fake behind the trait).

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod helpers;
mod precedence;
mod stores;
