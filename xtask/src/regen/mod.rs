//! `cargo xtask regen`: the spec and everything derived from it.
//!
//! - `regen`: re-derives `perspio-talk.normalized.json`, the hashes in `provenance.json` and
//!   `API.md` from the checked-in `perspio-talk.yaml`, then builds `perspio-api`.
//! - `regen --from <file-or-URL>…`: imports (and merges) an upstream spec into
//!   `perspio-talk.yaml`, rewrites everything derived, and reports what changed.
//! - `regen --check [--diff]`: fails when anything checked in is stale; writes nothing.

mod files;
mod merge;
pub(crate) mod normalize;
mod provenance;
mod refs;
mod report;
pub(crate) mod source;
mod surface;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Map, Value};

use normalize::Note;
use provenance::{Provenance, SourceRecord};
use source::Source;

/// The HTTP methods an OpenAPI path item may hold.
pub(crate) const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The spec humans review (relative to the workspace root).
pub(crate) const SPEC: &str = "openapi/perspio-talk.yaml";
/// The normalised OpenAPI 3.0.3 that `perspio-api/build.rs` reads.
pub(crate) const NORMALIZED: &str = "openapi/perspio-talk.normalized.json";
/// Where the spec came from.
pub(crate) const PROVENANCE: &str = "openapi/provenance.json";
/// The reviewable API surface.
pub(crate) const API_MD: &str = "openapi/API.md";

/// The value of the normalised file's top-level `x-generated` key.
pub(crate) const X_GENERATED: &str =
    "by `cargo xtask regen` from openapi/perspio-talk.yaml; do not edit";

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
    if args.check {
        return run_check(root, args.diff);
    }
    let written = if args.from.is_empty() {
        regen(root)?
    } else {
        import(root, &args.from)?
    };
    if args.no_build {
        println!("skipped `cargo build -p perspio-api` (--no-build)");
    } else if written.is_empty() && !args.from.is_empty() {
        println!("nothing changed; not rebuilding");
    } else {
        build_client(root)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Deriving

/// Everything derived from one spec text.
#[derive(Debug)]
pub(crate) struct Derived {
    /// The normalised spec, as written to [`NORMALIZED`].
    pub(crate) normalized: String,
    pub(crate) normalized_doc: Value,
    pub(crate) api_md: String,
    pub(crate) notes: Vec<Note>,
    /// The generated client source (what `perspio-api/build.rs` would write).
    pub(crate) code: String,
}

/// Normalises `spec_text` (the content of [`SPEC`]), generates the client from it and reads
/// its surface.
pub(crate) fn derive(spec_text: &str) -> anyhow::Result<Derived> {
    let source = Source::parse(SPEC, spec_text)?;
    refs::check(&source.doc, &source.doc, SPEC)?;
    let mut doc = source.doc;
    let mut notes =
        normalize::normalize(&mut doc).with_context(|| format!("normalising {SPEC}"))?;
    let mut doc = announce(doc);
    let (mut normalized, mut code) = generate(&doc)?;
    let read = |code: &str| {
        surface::parse(code).with_context(|| format!("{SPEC}: reading the generated client"))
    };
    let mut file = read(&code)?;
    // typify can give a component's Rust name to a type it derives for an inline schema
    // (`Order` + `links` → `OrderLinks`), which only the generated code shows: rename the
    // component and generate again.
    for round in 0.. {
        let (twice, taken) = surface::type_names(&file);
        if twice.is_empty() {
            break;
        }
        let renamed = match doc.as_object_mut() {
            Some(root) if round < 3 => normalize::rename_components(root, &twice, &taken),
            _ => Vec::new(),
        };
        anyhow::ensure!(
            !renamed.is_empty(),
            "{SPEC}, normalised: the generator defines the Rust type(s) {} more than once, and \
             renaming component schemas does not help (step: type names); give the inline \
             schemas that become these types a distinct `title`",
            twice.join(", ")
        );
        notes.extend(renamed);
        (normalized, code) = generate(&doc)?;
        file = read(&code)?;
    }
    let ops = surface::extract(&file)
        .with_context(|| format!("{SPEC}: reading the generated client (step: API.md)"))?;
    let api_md = surface::render(&doc, &ops);
    Ok(Derived {
        normalized,
        normalized_doc: doc,
        api_md,
        notes,
        code,
    })
}

/// The normalised text of `doc` and the client generated from it.
fn generate(doc: &Value) -> anyhow::Result<(String, String)> {
    let normalized = serde_json::to_string_pretty(doc)? + "\n";
    let spec: openapiv3::OpenAPI = serde_json::from_str(&normalized).with_context(|| {
        format!("{SPEC}, normalised: not an OpenAPI 3.0 document (step: parse)")
    })?;
    let code = perspio_codegen::generate(&spec)
        .with_context(|| format!("{SPEC}, normalised: generating the client (step: generate)"))?;
    Ok((normalized, code))
}

/// Puts `x-generated` first.
fn announce(doc: Value) -> Value {
    let Value::Object(map) = doc else { return doc };
    let mut out = Map::new();
    out.insert("x-generated".into(), X_GENERATED.into());
    for (k, v) in map {
        if k != "x-generated" {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

fn hashes(spec_text: &str, derived: &Derived) -> BTreeMap<String, String> {
    BTreeMap::from([
        (SPEC.to_owned(), source::sha256_hex(spec_text.as_bytes())),
        (
            NORMALIZED.to_owned(),
            source::sha256_hex(derived.normalized.as_bytes()),
        ),
    ])
}

/// The derived files (relative path, expected content).
fn derived_files(
    spec_text: &str,
    derived: &Derived,
    provenance: &Provenance,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    Ok(vec![
        (NORMALIZED, derived.normalized.clone()),
        (
            PROVENANCE,
            provenance
                .with_hashes(hashes(spec_text, derived))
                .to_text()?,
        ),
        (API_MD, derived.api_md.clone()),
    ])
}

fn read(root: &Path, rel: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(root.join(rel))
        .with_context(|| format!("cannot read {}", root.join(rel).display()))
}

fn print_notes(notes: &[Note]) {
    if notes.is_empty() {
        println!("normaliser: nothing to change");
        return;
    }
    println!("normaliser: {} change(s):", notes.len());
    for n in notes {
        println!("  - {n}");
    }
}

/// The operations report versus the checked-in normalised file, if it parses.
fn print_report(root: &Path, new: &Value) {
    let old = std::fs::read_to_string(root.join(NORMALIZED))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    match old {
        Some(old) => print!(
            "operations versus the previous {NORMALIZED}:\n{}",
            report::compare(&old, new)
        ),
        None => println!("no previous {NORMALIZED} to compare with"),
    }
}

// ---------------------------------------------------------------------------------------------
// regen

fn regen(root: &Path) -> anyhow::Result<Vec<&'static str>> {
    let spec_text = read(root, SPEC)?;
    let derived = derive(&spec_text)?;
    let provenance = Provenance::read(&root.join(PROVENANCE))?;
    print_notes(&derived.notes);
    print_report(root, &derived.normalized_doc);
    let files = derived_files(&spec_text, &derived, &provenance)?;
    let written = files::write_atomically(root, &files)?;
    files::print_written(&files, &written);
    Ok(written)
}

// ---------------------------------------------------------------------------------------------
// regen --from

fn import(root: &Path, from: &[String]) -> anyhow::Result<Vec<&'static str>> {
    let sources: Vec<Source> = from
        .iter()
        .map(|location| Source::load(location))
        .collect::<Result<_, _>>()
        .context("regen --from: reading the upstream spec (step: read)")?;
    let (spec_text, derived) = import_sources(&sources)?;
    let provenance = Provenance::imported(
        sources
            .iter()
            .map(|s| SourceRecord {
                location: Some(display_location(root, &s.location)),
                description: None,
                format: Some(s.format.name().into()),
                openapi: Some(s.version().into()),
                sha256: Some(s.sha256.clone()),
            })
            .collect(),
    );
    println!(
        "imported {} source(s): {}",
        sources.len(),
        sources
            .iter()
            .map(|s| format!(
                "{} ({} {}, OpenAPI {})",
                s.location,
                s.format.name(),
                &s.sha256[..12],
                s.version()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    print_notes(&derived.notes);
    print_report(root, &derived.normalized_doc);
    let mut files = vec![(SPEC, spec_text.clone())];
    files.extend(derived_files(&spec_text, &derived, &provenance)?);
    let written = files::write_atomically(root, &files)?;
    files::print_written(&files, &written);
    Ok(written)
}

/// The `regen --from` path after reading: merge, check `$ref`s, write the YAML that becomes
/// [`SPEC`], then [`derive()`] from it. `cargo xtask corpus` runs exactly this on every spec.
pub(crate) fn import_sources(sources: &[Source]) -> anyhow::Result<(String, Derived)> {
    let merged = merge::merge(sources).context("regen --from: merging (step: merge)")?;
    for s in sources {
        refs::check(&s.doc, &merged, &s.location)
            .context("regen --from: resolving references (step: $ref)")?;
    }
    let spec_text = format!(
        "# Imported by `cargo xtask regen --from` from {} (see openapi/provenance.json).\n\
         # Review it here; after editing, run `cargo xtask regen`.\n{}",
        sources
            .iter()
            .map(|s| s.location.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        serde_norway::to_string(&merged).context("regen --from: writing YAML")?
    );
    let derived = derive(&spec_text).context("regen --from: deriving (step: normalise)")?;
    Ok((spec_text, derived))
}

/// A file given on the command line, relative to the workspace root when inside it.
fn display_location(root: &Path, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let path = PathBuf::from(location);
    let absolute = std::fs::canonicalize(&path).unwrap_or(path);
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    absolute.strip_prefix(&root).map_or_else(
        |_| absolute.display().to_string(),
        |p| p.display().to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// regen --check

/// A checked-in file whose content is not what `regen` would write.
#[derive(Debug)]
pub(crate) struct Stale {
    pub(crate) path: &'static str,
    pub(crate) current: Option<String>,
    pub(crate) expected: String,
}

/// The stale derived files of the workspace at `root`. Writes nothing.
pub(crate) fn check(root: &Path) -> anyhow::Result<Vec<Stale>> {
    let spec_text = read(root, SPEC)?;
    let derived = derive(&spec_text)?;
    let provenance = Provenance::read(&root.join(PROVENANCE))?;
    Ok(derived_files(&spec_text, &derived, &provenance)?
        .into_iter()
        .filter_map(|(path, expected)| {
            let current = std::fs::read_to_string(root.join(path)).ok();
            (current.as_deref() != Some(expected.as_str())).then_some(Stale {
                path,
                current,
                expected,
            })
        })
        .collect())
}

fn run_check(root: &Path, diff: bool) -> anyhow::Result<()> {
    let stale = check(root)?;
    if stale.is_empty() {
        println!("{NORMALIZED}, {PROVENANCE} and {API_MD} are up to date with {SPEC}");
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

// ---------------------------------------------------------------------------------------------
// build

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
         fix openapi/perspio-talk.yaml and run `{FIX}`, or restore openapi/ from git"
    );
    println!("perspio-api builds");
    Ok(())
}

#[cfg(test)]
mod tests;
