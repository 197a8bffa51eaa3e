//! Type-checking the sample: writes the scratch crate (`perspio_import::corpus::typecheck`)
//! under `<dir>/compile` and runs `cargo check` over batches of its modules. Failing modules
//! are dropped and the rest checked again until they pass; an error that names no module
//! splits the batch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use perspio_import::corpus::typecheck::{self, Diagnostics};
use perspio_import::corpus::{Checked, Sample};

/// Type-checks the clients of `sample` (the sample plus every generated APIM client).
pub(crate) fn check_sample(
    dir: &Path,
    root: &Path,
    sample: &Sample<'_>,
    seed: u64,
    batch: usize,
) -> anyhow::Result<Checked> {
    let to_check = sample.to_check();
    let crate_dir = dir.join("compile");
    let src = crate_dir.join("src");
    if src.is_dir() {
        std::fs::remove_dir_all(&src).with_context(|| format!("cannot clear {}", src.display()))?;
    }
    std::fs::create_dir_all(&src).with_context(|| format!("cannot create {}", src.display()))?;
    std::fs::write(crate_dir.join("Cargo.toml"), typecheck::MANIFEST)?;
    let lock = crate_dir.join("Cargo.lock");
    if !lock.exists() {
        std::fs::copy(root.join("Cargo.lock"), &lock).context("cannot copy Cargo.lock")?;
    }
    for (i, o) in to_check.iter().enumerate() {
        let code = match &o.code {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            None => String::new(),
        };
        std::fs::write(src.join(format!("s{i}.rs")), typecheck::module_rs(&code))?;
    }
    println!(
        "corpus: type-checking {} client(s) ({} sampled with seed {seed}, plus {} APIM) in {}",
        to_check.len(),
        sample.sampled.len(),
        to_check.len() - sample.sampled.len(),
        crate_dir.display()
    );

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| dir.join("compile-target"), PathBuf::from);
    let ids: Vec<usize> = (0..to_check.len()).collect();
    let mut failed: BTreeMap<usize, String> = BTreeMap::new();
    let mut ok: BTreeSet<usize> = BTreeSet::new();
    for (n, chunk) in ids.chunks(batch.max(1)).enumerate() {
        eprintln!("  batch {} of {}", n + 1, ids.len().div_ceil(batch.max(1)));
        check_until_clean(&crate_dir, &target, chunk, &mut ok, &mut failed)?;
    }
    let mut record = String::new();
    for (i, o) in to_check.iter().enumerate() {
        let result = failed.get(&i).map_or("compiled", String::as_str);
        record += &format!("{}\t{result}\n", o.name);
    }
    std::fs::write(dir.join("compile.tsv"), record)?;
    Ok(Checked::new(sample, &ok, &failed))
}

/// Checks `modules`, dropping failing ones, until the rest pass.
fn check_until_clean(
    crate_dir: &Path,
    target: &Path,
    modules: &[usize],
    ok: &mut BTreeSet<usize>,
    failed: &mut BTreeMap<usize, String>,
) -> anyhow::Result<()> {
    let mut pending: Vec<usize> = modules.to_vec();
    while !pending.is_empty() {
        match check(crate_dir, target, &pending)? {
            None => {
                ok.extend(pending);
                return Ok(());
            }
            Some(d) if !d.by_module.is_empty() => {
                pending.retain(|m| !d.by_module.contains_key(m));
                failed.extend(d.by_module);
            }
            Some(_) if pending.len() > 1 => {
                let (a, b) = pending.split_at(pending.len() / 2);
                check_until_clean(crate_dir, target, a, ok, failed)?;
                check_until_clean(crate_dir, target, b, ok, failed)?;
                return Ok(());
            }
            Some(d) => {
                let message = d.unattributed.join("; ");
                failed.extend(pending.iter().map(|m| (*m, message.clone())));
                return Ok(());
            }
        }
    }
    Ok(())
}

/// `cargo check` of the scratch crate with `modules`: `None` when it passes.
fn check(
    crate_dir: &Path,
    target: &Path,
    modules: &[usize],
) -> anyhow::Result<Option<Diagnostics>> {
    std::fs::write(crate_dir.join("src/lib.rs"), typecheck::lib_rs(modules))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new("nice");
    cmd.arg("-n")
        .arg("19")
        .arg(cargo)
        .args(["check", "--quiet", "--message-format=json"]);
    if std::env::var_os("CARGO_BUILD_JOBS").is_none() {
        cmd.args(["--jobs", "1"]);
    }
    let out = cmd
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .context("cannot run `cargo check` on the scratch crate")?;
    if out.status.success() {
        return Ok(None);
    }
    let diagnostics = Diagnostics::from_cargo_json(&String::from_utf8_lossy(&out.stdout));
    anyhow::ensure!(
        !diagnostics.is_empty(),
        "`cargo check` of {} failed without a compiler error:\n{}",
        crate_dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(Some(diagnostics))
}
