//! The subcommands generated from the spec (progenitor's clap CLI). Nobody edits them: change
//! the spec and run `cargo xtask regen`; `build.rs` regenerates this file.
//!
//! Two adapters sit in front of the include:
//! - the generated source starts with `use perspio_api::*;`, which brings `perspio_api::Error`
//!   into scope; the CLI wants progenitor's `Error<T>`, so it is imported explicitly here (an
//!   explicit import shadows a glob import);
//! - the generated `CliConfig` bounds every value by `schemars::JsonSchema`, which the
//!   client's types do not derive (the shared generation settings do not ask for it, and the
//!   CLI prints values, it never needs their schema). The local [`schemars`] module below,
//!   which shadows the crate of that name here, satisfies the bound for every type.

#![allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unused_imports,
    unused_mut,
    unused_variables,
    unused_qualifications,
    dead_code,
    elided_lifetimes_in_paths,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[allow(unused_imports)]
use perspio_api::progenitor_client::Error;

/// Stands in for the `schemars` crate inside the generated code (see the module docs).
pub(crate) mod schemars {
    /// Implemented by every type: the generated bound carries no requirement.
    pub(crate) trait JsonSchema {}
    impl<T: ?Sized> JsonSchema for T {}
}

include!(concat!(env!("OUT_DIR"), "/perspio_cli.rs"));
