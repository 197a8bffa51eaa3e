//! [`derive()`]: the normalised spec, the generated client and API.md, from one spec text; and
//! [`import`]: upstream sources merged, checked and written as that spec text.

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
    let source = Source::parse(SPEC, spec_text).map_err(|source| ImportError::Spec { source })?;
    refs::check(&source.doc, &source.doc, SPEC)
        .map_err(|source| ImportError::SpecRefs { source })?;
    let mut doc = source.doc;
    let mut notes = normalize::normalize(&mut doc)
        .map_err(|source| ImportError::Normalize { file: SPEC, source })?;
    let mut doc = announce(doc);
    let (mut normalized, mut code, mut features) = generate(&doc)?;
    let read = |code: &str| {
        surface::parse(code)
            .map_err(|source| ImportError::GeneratedSourceUnparsable { file: SPEC, source })
    };
    let mut file = read(&code)?;
    for round in 0.. {
        let (twice, taken) = surface::type_names(&file);
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
        (normalized, code, features) = generate(&doc)?;
        file = read(&code)?;
    }
    let ops =
        surface::extract(&file).map_err(|source| ImportError::ApiSurface { file: SPEC, source })?;
    let api_md = surface::render(&doc, &ops, &features);
    Ok(Derived {
        normalized,
        normalized_doc: doc,
        api_md,
        notes,
        code,
        features,
    })
}

/// The normalised text of `doc`, the client generated from it and the features of its tags.
fn generate(doc: &Value) -> Result<(String, String, TagFeatures), ImportError> {
    let normalized = serde_json::to_string_pretty(doc)
        .map_err(|source| ImportError::NormalizedJson { file: SPEC, source })?
        + "\n";
    let spec: openapiv3::OpenAPI = serde_json::from_str(&normalized)
        .map_err(|source| ImportError::NotOpenApi30 { file: SPEC, source })?;
    let code = perspio_codegen::generate(&spec)
        .map_err(|source| ImportError::Generate { file: SPEC, source })?;
    Ok((normalized, code, TagFeatures::of(&spec)))
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
