//! Merging several upstream files (API portals export one file per API group) into one
//! document: paths and components are merged; the first file supplies `info`, `servers`,
//! `security` and the other top-level fields.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::HTTP_METHODS;
use crate::source::Source;

/// Why several sources cannot be merged. `first` and `second` name the two files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// Two files define one component differently (identical duplicates are fine).
    #[error(
        "component `{section}/{name}` is defined differently in {first} and {second}; \
         rename one of them upstream or drop one file"
    )]
    ConflictingComponent {
        /// `schemas`, `responses`, …
        section: String,
        /// The component's name.
        name: String,
        /// The file that defined it first.
        first: String,
        /// The file that defined it again.
        second: String,
    },
    /// Two files define the same operation.
    #[error("operation {method} {path} is defined in both {first} and {second}")]
    DuplicateOperation {
        /// `GET`, `POST`, …
        method: String,
        /// The path.
        path: String,
        /// The file that defined it first.
        first: String,
        /// The file that defined it again.
        second: String,
    },
    /// Two files give one path a different non-operation field (`parameters`, `summary`, …).
    #[error("path `{path}` has a different `{field}` in {first} and {second}")]
    ConflictingPathField {
        /// The path.
        path: String,
        /// The field.
        field: String,
        /// The file that defined it first.
        first: String,
        /// The file that defined it again.
        second: String,
    },
    /// A field that must be an object is not.
    #[error("{location}: `{field}` is not a mapping")]
    NotAMapping {
        /// The file, or `(merged document)`.
        location: String,
        /// The field (`paths`, `paths./a`, …).
        field: String,
    },
}

/// Merges `sources` into one document (a single source is returned unchanged).
///
/// The merged `openapi` version is the highest of the sources (the normaliser takes 3.1
/// constructs back to 3.0 anyway). Identical duplicate components are kept once; tags are
/// united by name.
pub(crate) fn merge(sources: &[Source]) -> Result<Value, MergeError> {
    let Some((first, rest)) = sources.split_first() else {
        return Ok(Value::Object(Map::new()));
    };
    let mut merged = first.doc.clone();
    if rest.is_empty() {
        return Ok(merged);
    }
    // (kind, key) → the source that defined it first.
    let mut origin: BTreeMap<(String, String), String> = BTreeMap::new();
    record_origins(&first.doc, &first.location, &mut origin);

    for source in rest {
        let root = object_mut(&mut merged, "(merged document)", "(root)")?;
        if version_rank(source.version()) > version_rank(root_version(root)) {
            root.insert("openapi".into(), source.version().into());
        }
        merge_paths(root, source, &mut origin)?;
        merge_components(root, source, &mut origin)?;
        merge_tags(root, source);
    }
    Ok(merged)
}

fn root_version(root: &Map<String, Value>) -> &str {
    root.get("openapi").and_then(Value::as_str).unwrap_or("")
}

fn version_rank(v: &str) -> u8 {
    u8::from(v.starts_with("3.1"))
}

fn record_origins(doc: &Value, location: &str, origin: &mut BTreeMap<(String, String), String>) {
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for (key, _) in item.as_object().into_iter().flatten() {
                origin.insert((format!("path {path}"), key.clone()), location.to_owned());
            }
        }
    }
    if let Some(components) = doc.get("components").and_then(Value::as_object) {
        for (section, entries) in components {
            for (name, _) in entries.as_object().into_iter().flatten() {
                origin.insert((section.clone(), name.clone()), location.to_owned());
            }
        }
    }
}

fn object_mut<'a>(
    value: &'a mut Value,
    location: &str,
    field: &str,
) -> Result<&'a mut Map<String, Value>, MergeError> {
    value
        .as_object_mut()
        .ok_or_else(|| MergeError::NotAMapping {
            location: location.to_owned(),
            field: field.to_owned(),
        })
}

fn entry_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
    location: &str,
) -> Result<&'a mut Map<String, Value>, MergeError> {
    let value = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    object_mut(value, location, key)
}

fn merge_paths(
    root: &mut Map<String, Value>,
    source: &Source,
    origin: &mut BTreeMap<(String, String), String>,
) -> Result<(), MergeError> {
    let Some(paths) = source.doc.get("paths") else {
        return Ok(());
    };
    let paths = paths.as_object().ok_or_else(|| MergeError::NotAMapping {
        location: source.location.clone(),
        field: "paths".into(),
    })?;
    let merged_paths = entry_object(root, "paths", "(merged document)")?;
    for (path, item) in paths {
        let item = item.as_object().ok_or_else(|| MergeError::NotAMapping {
            location: source.location.clone(),
            field: format!("paths.{path}"),
        })?;
        let merged_item = entry_object(merged_paths, path, "(merged document)")?;
        for (key, value) in item {
            let origin_key = (format!("path {path}"), key.clone());
            match merged_item.get(key) {
                None => {
                    merged_item.insert(key.clone(), value.clone());
                    origin.insert(origin_key, source.location.clone());
                }
                Some(existing) => {
                    let first = origin.get(&origin_key).cloned().unwrap_or_default();
                    if HTTP_METHODS.contains(&key.as_str()) {
                        return Err(MergeError::DuplicateOperation {
                            method: key.to_uppercase(),
                            path: path.clone(),
                            first,
                            second: source.location.clone(),
                        });
                    }
                    if existing != value {
                        return Err(MergeError::ConflictingPathField {
                            path: path.clone(),
                            field: key.clone(),
                            first,
                            second: source.location.clone(),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

fn merge_components(
    root: &mut Map<String, Value>,
    source: &Source,
    origin: &mut BTreeMap<(String, String), String>,
) -> Result<(), MergeError> {
    let Some(components) = source.doc.get("components").and_then(Value::as_object) else {
        return Ok(());
    };
    let merged_components = entry_object(root, "components", "(merged document)")?;
    for (section, entries) in components {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        let merged_section = entry_object(merged_components, section, "(merged document)")?;
        for (name, value) in entries {
            let key = (section.clone(), name.clone());
            match merged_section.get(name) {
                None => {
                    merged_section.insert(name.clone(), value.clone());
                    origin.insert(key, source.location.clone());
                }
                Some(existing) if existing == value => {}
                Some(_) => {
                    return Err(MergeError::ConflictingComponent {
                        section: section.clone(),
                        name: name.clone(),
                        first: origin.get(&key).cloned().unwrap_or_default(),
                        second: source.location.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

fn merge_tags(root: &mut Map<String, Value>, source: &Source) {
    let Some(tags) = source.doc.get("tags").and_then(Value::as_array) else {
        return;
    };
    let merged = root
        .entry("tags")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(merged) = merged.as_array_mut() else {
        return;
    };
    for tag in tags {
        let name = tag.get("name");
        if !merged.iter().any(|t| t.get("name") == name) {
            merged.push(tag.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn source(location: &str, doc: Value) -> Source {
        Source {
            location: location.into(),
            format: crate::source::Format::Json,
            sha256: String::new(),
            doc,
        }
    }

    fn doc(paths: Value, schemas: Value) -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": paths,
            "components": {"schemas": schemas},
        })
    }

    fn ok() -> Value {
        json!({"200": {"description": "ok"}})
    }

    #[test]
    fn two_files_merge_paths_components_and_identical_duplicates() {
        let a = source(
            "assets.yaml",
            doc(
                json!({"/assets": {"get": {"operationId": "list_assets", "responses": ok()}}}),
                json!({"Asset": {"type": "object"}, "Error": {"type": "object"}}),
            ),
        );
        let b = source(
            "sites.yaml",
            doc(
                json!({
                    "/sites": {"get": {"operationId": "list_sites", "responses": ok()}},
                    "/assets": {"post": {"operationId": "create_asset", "responses": ok()}},
                }),
                json!({"Site": {"type": "object"}, "Error": {"type": "object"}}),
            ),
        );
        let merged = merge(&[a, b]).unwrap();
        assert!(merged["paths"]["/assets"]["get"].is_object());
        assert!(merged["paths"]["/assets"]["post"].is_object());
        assert!(merged["paths"]["/sites"]["get"].is_object());
        let schemas: Vec<&String> = merged["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(schemas, ["Asset", "Error", "Site"]);
    }

    #[test]
    fn conflicting_component_names_are_an_error_naming_both_sources() {
        let a = source(
            "assets.yaml",
            doc(json!({}), json!({"Error": {"type": "object"}})),
        );
        let b = source(
            "sites.yaml",
            doc(json!({}), json!({"Error": {"type": "string"}})),
        );
        let err = merge(&[a, b]).unwrap_err().to_string();
        assert!(err.contains("schemas/Error"), "{err}");
        assert!(
            err.contains("assets.yaml") && err.contains("sites.yaml"),
            "{err}"
        );
    }

    #[test]
    fn the_same_operation_in_two_sources_is_an_error_naming_both() {
        let paths = json!({"/a": {"get": {"responses": ok()}}});
        let a = source("one.yaml", doc(paths.clone(), json!({})));
        let b = source("two.yaml", doc(paths, json!({})));
        let err = merge(&[a, b]).unwrap_err().to_string();
        assert!(err.contains("GET /a"), "{err}");
        assert!(
            err.contains("one.yaml") && err.contains("two.yaml"),
            "{err}"
        );
    }
}
