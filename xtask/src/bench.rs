//! `cargo xtask bench [ARGS]`: runs the benchmarks, a release build of `perspio-bench`, and
//! prints their table. Arguments are passed on (`cargo xtask bench -- --help` lists them;
//! `--build-cost` adds the build-cost scenario). See `BENCHMARKS.md`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, ensure};

/// Arguments for `perspio-bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Passed to `perspio-bench` (for example `--build-cost`, `--quick`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub(crate) fn run(root: &Path, args: &BenchArgs) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["run", "--release", "--quiet", "-p", "perspio-bench", "--"])
        .args(&args.args)
        .status()
        .context("running cargo run -p perspio-bench")?;
    ensure!(status.success(), "perspio-bench failed ({status})");
    Ok(())
}
