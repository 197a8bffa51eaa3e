//! The subcommands generated from the spec (progenitor's clap CLI). Nobody edits them: change
//! the spec and run `cargo xtask regen`; `build.rs` regenerates this file.
//!
//! The generated source starts with `use perspio_api::*;`, which brings `perspio_api::Error`
//! into scope; the CLI wants progenitor's `Error<T>`, so it is imported explicitly here (an
//! explicit import shadows a glob import). The client's types derive `schemars::JsonSchema`
//! (the shared generation settings ask for it), which the generated `CliConfig` bounds and
//! `CliCommand::response_schema` use.

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

include!(concat!(env!("OUT_DIR"), "/perspio_cli.rs"));
