//! `cargo xtask regen`: the spec and everything derived from it (the work is
//! `perspio_import::Workspace`'s; this module parses the flags and prints).
//!
//! - `regen`: re-derives `perspio-talk.normalized.json` (and its copy in
//!   `perspio-api/spec/`), the hashes in `provenance.json`, `API.md` and the generated block
//!   of tag features in `perspio-api/Cargo.toml` from the checked-in `perspio-talk.yaml`, then
//!   builds `perspio-api`.
//! - `regen --from <file-or-URL>…`: imports (and merges) an upstream spec into
//!   `perspio-talk.yaml`, rewrites everything derived, and reports what changed.
//! - `regen --check [--diff]`: fails when anything checked in is stale; writes nothing.

use std::path::Path;

use anyhow::Context as _;
use perspio_import::{
    API_MANIFEST, API_MD, API_SPEC, NORMALIZED, PROVENANCE, Plan, SPEC, Workspace,
};

const FIX: &str = "cargo xtask regen";

/// `cargo xtask regen`
#[derive(Debug, clap::Args)]
pub(crate) struct RegenArgs {
    /// Import a new upstream spec: a file or an http(s) URL, YAML or JSON, OpenAPI 3.0 or 3.1.
    /// Repeat to merge several files (one per API group).
    #[arg(long, value_name = "FILE-OR-URL", conflicts_with = "check")]
    from: Vec<String>,
    /// Write nothing; exit non-zero when a checked-in derived file is stale.
    #[arg(long)]
    check: bool,
    /// With `--check`: print a unified diff of each stale file.
    #[arg(long, requires = "check")]
    diff: bool,
    /// Do not run `cargo build -p perspio-api` afterwards.
    #[arg(long)]
    no_build: bool,
}

/// Runs `regen` with `args` in the workspace at `root`.
pub(crate) fn run(root: &Path, args: &RegenArgs) -> anyhow::Result<()> {
    let workspace = Workspace::new(root);
    if args.check {
        return run_check(&workspace, args.diff);
    }
    let plan = if args.from.is_empty() {
        workspace.plan_regen()?
    } else {
        let sources = perspio_import::load(&args.from)?;
        let plan = workspace.plan_import(&sources)?;
        let described: Vec<String> = sources
            .iter()
            .map(|s| {
                let (format, sha, version) = (s.format.name(), &s.sha256[..12], s.version());
                format!("{} ({format} {sha}, OpenAPI {version})", s.location)
            })
            .collect();
        println!(
            "imported {} source(s): {}",
            sources.len(),
            described.join(", ")
        );
        let timings = &plan.derived.timings;
        println!(
            "steps: {timings} (in all {:.1} s; {:.1} MB of Rust generated)",
            timings.total().as_secs_f64(),
            plan.derived.code.len() as f64 / 1e6
        );
        plan
    };
    let written = write(&plan)?;
    if args.no_build {
        println!("skipped `cargo build -p perspio-api` (--no-build)");
    } else if written.is_empty() && !args.from.is_empty() {
        println!("nothing changed; not rebuilding");
    } else {
        build_client(root)?;
    }
    Ok(())
}

/// Prints what the normaliser changed and the change report, writes the files and says which
/// changed.
fn write(plan: &Plan) -> anyhow::Result<Vec<&'static str>> {
    let notes = &plan.derived.notes;
    if notes.is_empty() {
        println!("normaliser: nothing to change");
    } else {
        println!("normaliser: {} change(s):", notes.len());
        for n in notes {
            println!("  - {n}");
        }
    }
    match &plan.report {
        Some(report) => print!("operations versus the previous {NORMALIZED}:\n{report}"),
        None => println!("no previous {NORMALIZED} to compare with"),
    }
    let written = plan.write()?;
    for file in &plan.files {
        let state = if written.contains(&file.path) {
            "updated  "
        } else {
            "unchanged"
        };
        println!("{state} {}", file.path);
    }
    Ok(written)
}

fn run_check(workspace: &Workspace, diff: bool) -> anyhow::Result<()> {
    let stale = workspace.stale()?;
    if stale.is_empty() {
        println!(
            "{NORMALIZED}, {API_SPEC}, {PROVENANCE}, {API_MD} and the tag features in \
             {API_MANIFEST} are up to date with {SPEC}"
        );
        return Ok(());
    }
    for s in &stale {
        let what = if s.current.is_none() {
            "missing"
        } else {
            "stale"
        };
        println!("{what}: {}", s.path);
        if diff {
            let current = s.current.clone().unwrap_or_default();
            print!(
                "{}",
                similar::TextDiff::from_lines(&current, &s.expected)
                    .unified_diff()
                    .header(
                        &format!("{} (checked in)", s.path),
                        &format!("{} (expected)", s.path)
                    )
            );
        }
    }
    anyhow::bail!(
        "{} file(s) out of date with {SPEC}: {}; run `{FIX}`{}",
        stale.len(),
        stale.iter().map(|s| s.path).collect::<Vec<_>>().join(", "),
        if diff {
            ""
        } else {
            " (`--check --diff` shows the changes)"
        }
    )
}

fn build_client(root: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("running `cargo build -p perspio-api` (skip with --no-build)");
    let status = std::process::Command::new(cargo)
        .args(["build", "-p", "perspio-api"])
        .current_dir(root)
        .status()
        .context("cannot run `cargo build -p perspio-api`")?;
    anyhow::ensure!(
        status.success(),
        "`cargo build -p perspio-api` failed ({status}) with the regenerated files in place; \
         fix openapi/perspio-talk.yaml and run `{FIX}`, or restore openapi/, perspio-api/spec/ \
         and perspio-api/Cargo.toml from git"
    );
    println!("perspio-api builds");
    Ok(())
}
