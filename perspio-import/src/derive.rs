//! [`derive()`]: the normalised spec, the generated client and API.md, from one spec text; and
//! [`import`]: upstream sources merged, checked and written as that spec text.

use std::fmt;
use std::time::{Duration, Instant};

use perspio_codegen::TagFeatures;
use serde_json::{Map, Value};

use crate::normalize::Note;
use crate::report::{Report, compare};
use crate::source::Source;
use crate::workspace::SPEC;
use crate::{ImportError, merge, normalize, refs, surface};

/// The value of the normalised file's top-level `x-generated` key.
pub const X_GENERATED: &str = "by `cargo xtask regen` from openapi/perspio-talk.yaml; do not edit";

/// Everything derived from one spec text (see [`derive()`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Derived {
    /// The normalised spec, as written to `openapi/perspio-talk.normalized.json`.
    pub normalized: String,
    /// The same, as a document.
    pub normalized_doc: Value,
    /// `openapi/API.md`: every operation and the Rust it becomes.
    pub api_md: String,
    /// What the normaliser changed (and what it renamed after generating).
    pub notes: Vec<Note>,
    /// The generated client source (what `perspio-api/build.rs` would write).
    pub code: String,
    /// The cargo features of the spec's tags (the generated block of `perspio-api/Cargo.toml`,
    /// and the gates in [`code`](Self::code)).
    pub features: TagFeatures,
    /// How long each step took (`regen --from` prints them).
    pub timings: Timings,
}

/// How long each step of [`derive()`] took, in the order they first ran; a step that ran in
/// several rounds (renaming clashing type names) counts once, summed.
///
/// Shown as `parse 1.2 s · $ref 0.1 s · …`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timings(Vec<(&'static str, Duration)>);

impl Timings {
    /// The steps and their durations.
    pub fn steps(&self) -> &[(&'static str, Duration)] {
        &self.0
    }

    /// The sum of the steps.
    pub fn total(&self) -> Duration {
        self.0.iter().map(|(_, d)| *d).sum()
    }

    /// Runs `f` as step `step`.
    fn time<T>(&mut self, step: &'static str, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        let took = started.elapsed();
        match self.0.iter_mut().find(|(name, _)| *name == step) {
            Some((_, sum)) => *sum += took,
            None => self.0.push((step, took)),
        }
        out
    }
}

/// Timings made of steps, in the order given (a step given twice counts once, summed): for a
/// caller that combines several runs, such as the fastest of each step.
impl FromIterator<(&'static str, Duration)> for Timings {
    fn from_iter<I: IntoIterator<Item = (&'static str, Duration)>>(steps: I) -> Self {
        let mut timings = Timings::default();
        for (step, took) in steps {
            match timings.0.iter_mut().find(|(name, _)| *name == step) {
                Some((_, sum)) => *sum += took,
                None => timings.0.push((step, took)),
            }
        }
        timings
    }
}

impl fmt::Display for Timings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (step, took)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" · ")?;
            }
            write!(f, "{step} {:.1} s", took.as_secs_f64())?;
        }
        Ok(())
    }
}

impl Derived {
    /// The change report from `previous` (an earlier normalised document, such as the
    /// checked-in `openapi/perspio-talk.normalized.json`) to this one.
    pub fn report_since(&self, previous: &Value) -> Report {
        compare(previous, &self.normalized_doc)
    }
}

/// Normalises `spec_text` (the content of `openapi/perspio-talk.yaml`, YAML or JSON, OpenAPI
/// 3.0 or 3.1), generates the client from it with [`perspio_codegen::generate`] and reads its
/// surface for API.md. Deterministic: the same text gives the same output.
///
/// typify can give a component's Rust name to a type it derives for an inline schema
/// (`Order` and its property `links` → `OrderLinks`), which only the generated code shows: such
/// a component is renamed and the client generated again (at most three rounds), and the
/// renames are notes.
///
/// # Errors
/// An [`ImportError`] naming the spec file and the step: [`Spec`](ImportError::Spec),
/// [`SpecRefs`](ImportError::SpecRefs), [`Normalize`](ImportError::Normalize),
/// [`NotOpenApi30`](ImportError::NotOpenApi30), [`Generate`](ImportError::Generate),
/// [`DuplicateTypeNames`](ImportError::DuplicateTypeNames),
/// [`ApiSurface`](ImportError::ApiSurface), …
pub fn derive(spec_text: &str) -> Result<Derived, ImportError> {
    on_large_stack(|| derive_here(spec_text))
}

/// The stack [`derive()`] and [`import()`] run on: their passes and the code generator
/// (progenitor, typify) recurse with the depth of the spec's schemas, and in a debug build a
/// small spec with nested schemas overflowed the 2 MiB of a test thread and the 8 MiB of a main
/// thread (found by `tests/properties.rs`). A stack overflow aborts the process: no error, no
/// message naming the spec. The memory is reserved, not used: only the pages touched count.
pub const STACK_SIZE: usize = 512 * 1024 * 1024;

/// Runs `f` on a thread of its own with a [`STACK_SIZE`] stack; a panic in `f` goes on in the
/// caller.
fn on_large_stack<T: Send>(
    f: impl FnOnce() -> Result<T, ImportError> + Send,
) -> Result<T, ImportError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("perspio-import".into())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, f)
            .map_err(|source| ImportError::NoThread { source })?;
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn derive_here(spec_text: &str) -> Result<Derived, ImportError> {
    let mut t = Timings::default();
    let source = t
        .time("parse", || Source::parse(SPEC, spec_text))
        .map_err(|source| ImportError::Spec { source })?;
    t.time("$ref", || refs::check(&source.doc, &source.doc, SPEC))
        .map_err(|source| ImportError::SpecRefs { source })?;
    let mut doc = source.doc;
    let mut notes = t
        .time("normalise", || normalize::normalize(&mut doc))
        .map_err(|source| ImportError::Normalize { file: SPEC, source })?;
    let mut doc = announce(doc);
    let (mut normalized, mut code, mut features) = generate(&doc, &mut t)?;
    let read = |code: &str, t: &mut Timings| {
        t.time("read back", || surface::parse(code))
            .map_err(|source| ImportError::GeneratedSourceUnparsable { file: SPEC, source })
    };
    let mut file = read(&code, &mut t)?;
    for round in 0.. {
        let (twice, taken) = t.time("type names", || surface::type_names(&file));
        if twice.is_empty() {
            break;
        }
        let renamed = match doc.as_object_mut() {
            Some(root) if round < 3 => normalize::rename_components(root, &twice, &taken),
            _ => Vec::new(),
        };
        if renamed.is_empty() {
            return Err(ImportError::DuplicateTypeNames {
                file: SPEC,
                names: twice,
            });
        }
        notes.extend(renamed);
        (normalized, code, features) = generate(&doc, &mut t)?;
        file = read(&code, &mut t)?;
    }
    let ops = t
        .time("API.md", || surface::extract(&file))
        .map_err(|source| ImportError::ApiSurface { file: SPEC, source })?;
    let api_md = t.time("API.md", || surface::render(&doc, &ops, &features));
    Ok(Derived {
        normalized,
        normalized_doc: doc,
        api_md,
        notes,
        code,
        features,
        timings: t,
    })
}

/// The normalised text of `doc`, the client generated from it and the features of its tags.
fn generate(doc: &Value, t: &mut Timings) -> Result<(String, String, TagFeatures), ImportError> {
    let normalized = t
        .time("spec text", || serde_json::to_string_pretty(doc))
        .map_err(|source| ImportError::NormalizedJson { file: SPEC, source })?
        + "\n";
    let spec: openapiv3::OpenAPI = t
        .time("spec text", || serde_json::from_str(&normalized))
        .map_err(|source| ImportError::NotOpenApi30 { file: SPEC, source })?;
    let code = t
        .time("generate", || perspio_codegen::generate(&spec))
        .map_err(|source| ImportError::Generate { file: SPEC, source })?;
    let features = t.time("features", || TagFeatures::of(&spec));
    Ok((normalized, code, features))
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

/// An import: the spec text that becomes `openapi/perspio-talk.yaml`, and what is derived
/// from it (see [`import`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Imported {
    /// The merged document as YAML, under a header naming the sources: the spec to review.
    pub spec: String,
    /// What [`derive()`] makes of [`spec`](Self::spec): normalised spec, notes, client, API.md.
    pub derived: Derived,
}

/// Imports upstream sources: merges them (paths and components; the first source gives
/// `info`, `servers` and the rest), checks every `$ref` of every source against the merged
/// document, writes the merged document as YAML (faithful to upstream: the normaliser's
/// changes are not in it) and runs [`derive()`] on that text. `cargo xtask regen --from` and
/// `cargo xtask corpus` run exactly this.
///
/// # Errors
/// [`ImportError::Merge`], [`ImportError::UpstreamRefs`], [`ImportError::WriteYaml`], or
/// [`ImportError::DeriveImported`] wrapping [`derive()`]'s error.
pub fn import(sources: &[Source]) -> Result<Imported, ImportError> {
    on_large_stack(|| import_here(sources))
}

fn import_here(sources: &[Source]) -> Result<Imported, ImportError> {
    let merged = merge::merge(sources).map_err(|source| ImportError::Merge { source })?;
    for s in sources {
        refs::check(&s.doc, &merged, &s.location)
            .map_err(|source| ImportError::UpstreamRefs { source })?;
    }
    let yaml =
        serde_norway::to_string(&merged).map_err(|source| ImportError::WriteYaml { source })?;
    let spec = format!(
        "# Imported by `cargo xtask regen --from` from {} (see openapi/provenance.json).\n\
         # Review it here; after editing, run `cargo xtask regen`.\n{yaml}",
        sources
            .iter()
            .map(|s| s.location.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let derived = derive_here(&spec).map_err(|e| ImportError::DeriveImported {
        source: Box::new(e),
    })?;
    Ok(Imported { spec, derived })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn timings_from_steps_keep_their_order_and_sum_a_repeated_step() {
        let ms = Duration::from_millis;
        let timings: Timings = [("parse", ms(5)), ("generate", ms(20)), ("parse", ms(1))]
            .into_iter()
            .collect();
        assert_eq!(timings.steps(), &[("parse", ms(6)), ("generate", ms(20))]);
        assert_eq!(timings.total(), ms(26));
        assert_eq!(timings.to_string(), "parse 0.0 s · generate 0.0 s");
    }

    /// typify names the inline `links` of `Order` `OrderLinks`, the name of a component too (E0428
    /// in beezup's spec): the component is renamed and the client generated again.
    #[test]
    fn a_component_named_like_a_derived_inline_type_is_renamed_after_generation() {
        let spec = serde_json::json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/orders": {"get": {"operationId": "get_orders", "responses": {"200": {
                "description": "d", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "order": {"$ref": "#/components/schemas/Order"},
                        "links": {"$ref": "#/components/schemas/OrderLinks"},
                    }}}}}}}}},
            "components": {"schemas": {
                "Order": {"type": "object", "properties": {
                    "links": {"type": "object", "properties": {"self": {"type": "string"}}},
                }},
                "OrderLinks": {"type": "object", "properties": {"next": {"type": "integer"}}},
            }},
        });
        let plain: openapiv3::OpenAPI = serde_json::from_value(spec.clone()).unwrap();
        let before = perspio_codegen::generate(&plain).unwrap();
        assert_eq!(
            surface::type_names(&surface::parse(&before).unwrap()).0,
            ["OrderLinks"]
        );

        let derived = derive(&spec.to_string()).unwrap();
        let schemas = &derived.normalized_doc["components"]["schemas"];
        assert!(schemas.get("OrderLinks2").is_some(), "{schemas:#}");
        assert_eq!(
            derived.normalized_doc["paths"]["/orders"]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["properties"]["links"]["$ref"],
            "#/components/schemas/OrderLinks2"
        );
        assert_eq!(
            surface::type_names(&surface::parse(&derived.code).unwrap()).0,
            Vec::<String>::new()
        );
        assert!(
            derived.notes.iter().any(|n| n
                .to_string()
                .starts_with("schema OrderLinks: renamed `OrderLinks2`")),
            "{:#?}",
            derived.notes
        );
        // What build.rs generates from the normalised file is the same client.
        let again: openapiv3::OpenAPI = serde_json::from_str(&derived.normalized).unwrap();
        assert_eq!(perspio_codegen::generate(&again).unwrap(), derived.code);
    }
}

#[cfg(test)]
mod timing_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_step_run_twice_counts_once_summed_in_first_run_order() {
        let mut t = Timings::default();
        t.time("generate", || std::thread::sleep(Duration::from_millis(2)));
        t.time("read back", || ());
        t.time("generate", || std::thread::sleep(Duration::from_millis(2)));
        let steps: Vec<&str> = t.steps().iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, ["generate", "read back"]);
        assert!(t.steps()[0].1 >= Duration::from_millis(4));
        assert_eq!(t.total(), t.steps()[0].1 + t.steps()[1].1);
        let shown = t.to_string();
        assert!(
            shown.starts_with("generate 0.0 s · read back 0.0 s"),
            "{shown}"
        );
    }

    #[test]
    fn deriving_the_checked_in_spec_times_every_step() {
        let spec = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/perspio-talk.yaml"
        ))
        .unwrap();
        let derived = derive(&spec).unwrap();
        let steps: Vec<&str> = derived.timings.steps().iter().map(|(s, _)| *s).collect();
        for step in [
            "parse",
            "$ref",
            "normalise",
            "spec text",
            "generate",
            "read back",
            "API.md",
        ] {
            assert!(steps.contains(&step), "{step} missing from {steps:?}");
        }
    }
}
