//! Type-checking the sample on the user's path: in a copy of the workspace
//! (`perspio_import::corpus::scratch::mirror`, `<dir>/workspace`), for each client,
//! `cargo xtask regen --from <spec> --no-build` (this binary, acting on the copy) and then
//! `cargo check -p perspio-api` with `RUSTFLAGS=-D warnings`. The copy and its target
//! directory (`<dir>/workspace-target`) are reused from spec to spec and from run to run, so
//! each check rebuilds only perspio-api (its build script generates the client from the spec
//! `regen --from` wrote).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::Context as _;
use perspio_import::corpus::scratch::{self, CHECK_RUSTFLAGS, CHECKED_PACKAGE, Diagnostics};
use perspio_import::corpus::{CheckResult, Checked, Sample, generalise};

/// The address space one `cargo check` (and the compiler under it) may use, KiB: 16 GiB.
const CHECK_MEMORY_KIB: u64 = 16 * 1024 * 1024;

/// Type-checks the clients of `sample` (the sample, every generated APIM client and every
/// generated large one), each imported from its spec under `api`.
pub(crate) fn check_sample(
    dir: &Path,
    root: &Path,
    api: &Path,
    sample: &Sample<'_>,
    seed: u64,
) -> anyhow::Result<Checked> {
    let to_check = sample.to_check();
    let workspace = dir.join("workspace");
    let target = dir.join("workspace-target");
    let refreshed = scratch::mirror(root, &workspace)
        .with_context(|| format!("cannot copy the workspace to {}", workspace.display()))?;
    println!(
        "corpus: type-checking {} client(s) ({} sampled with seed {seed}, plus the APIM and \
         large ones) as `regen --from` writes them, in a copy of the workspace ({}, {refreshed} \
         file(s) refreshed; target {})",
        to_check.len(),
        sample.sampled.len(),
        workspace.display(),
        target.display()
    );
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let mut record = std::fs::File::create(dir.join("compile.tsv"))
        .with_context(|| format!("cannot write {}", dir.join("compile.tsv").display()))?;
    let mut results = Vec::new();
    for (i, o) in to_check.iter().enumerate() {
        eprintln!(
            "  [{}/{}] {} ({} operations)",
            i + 1,
            to_check.len(),
            o.name,
            o.operations
        );
        let result = check_one(&exe, &workspace, &target, &api.join(&o.name), &o.name)?;
        if let Some(failure) = &result.failure {
            eprintln!("    fails: {failure}");
        }
        writeln!(record, "{}", Checked::tsv_row(&result))?;
        record.flush()?;
        results.push(result);
    }
    // Leave the copy as the workspace is.
    scratch::mirror(root, &workspace)?;
    Ok(Checked::new(sample, results))
}

/// `regen --from spec` in the copy, then `cargo check -p perspio-api` there.
fn check_one(
    exe: &Path,
    workspace: &Path,
    target: &Path,
    spec: &Path,
    name: &str,
) -> anyhow::Result<CheckResult> {
    let started = Instant::now();
    let regen = Command::new(exe)
        .args(["regen", "--no-build", "--from"])
        .arg(spec)
        .env("CARGO_MANIFEST_DIR", workspace.join("xtask"))
        .output()
        .context("cannot run `cargo xtask regen --from` on the copy")?;
    let regen_seconds = started.elapsed().as_secs_f64();
    let mut result = CheckResult {
        name: name.to_owned(),
        failure: None,
        errors: 0,
        regen_seconds,
        check_seconds: 0.0,
    };
    if !regen.status.success() {
        result.failure = Some(format!(
            "regen --from failed: {}",
            generalise(last_line(&regen))
        ));
        return Ok(result);
    }

    let started = Instant::now();
    let out = cargo_check(workspace, target)?;
    result.check_seconds = started.elapsed().as_secs_f64();
    let diagnostics = Diagnostics::from_cargo_json(&String::from_utf8_lossy(&out.stdout));
    result.errors = diagnostics.errors.len();
    result.failure = match (out.status.success(), diagnostics.first_error()) {
        (_, Some(error)) => Some(error.to_owned()),
        (true, None) => diagnostics
            .warnings
            .first()
            .map(|w| format!("warning: {w}")),
        (false, None) => Some(format!(
            "cargo check failed before the compiler: {}",
            generalise(first_error_line(&out))
        )),
    };
    Ok(result)
}

/// `cargo check -p perspio-api` in the copy, warnings denied, under [`CHECK_MEMORY_KIB`].
fn cargo_check(workspace: &Path, target: &Path) -> anyhow::Result<Output> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let jobs = std::env::var("CARGO_BUILD_JOBS").unwrap_or_else(|_| "1".into());
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {CHECK_MEMORY_KIB}; exec nice -n 19 \"$0\" \"$@\""
        ))
        .arg(cargo)
        .args(["check", "--quiet", "--locked", "--message-format=json"])
        .args(["--package", CHECKED_PACKAGE, "--jobs", &jobs])
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target)
        .env("RUSTFLAGS", CHECK_RUSTFLAGS)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .context("cannot run `cargo check -p perspio-api` in the copy of the workspace")
}

fn last_line(out: &Output) -> &str {
    std::str::from_utf8(&out.stderr)
        .unwrap_or("")
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("(no message)")
}

/// The first `error…` line cargo printed (a build script's `cargo::error=` lines among them).
fn first_error_line(out: &Output) -> &str {
    let stderr = std::str::from_utf8(&out.stderr).unwrap_or("");
    stderr
        .lines()
        .find(|l| l.trim_start().starts_with("error"))
        .or_else(|| stderr.lines().rfind(|l| !l.trim().is_empty()))
        .unwrap_or("(no message)")
}
