//! Property tests of the importer on arbitrary input: any text parses to a [`Source`] or a
//! typed [`SourceError`], and any small OpenAPI-shaped document goes through [`derive()`] and
//! [`import()`] to a result or a typed [`ImportError`], never a panic. Small, bounded cases:
//! each `derive` runs the code generator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use perspio_import::{ImportError, Source, SourceError, derive, import};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Names as specs have them, and as they should not: identifiers, keywords, clashes, empty,
/// odd characters.
/// Mostly from a small pool, so that `$ref`s often resolve and names often clash.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop_oneof![Just("Asset"), Just("asset"), Just("Site"), Just("AssetList"), Just("id")]
            .prop_map(str::to_owned),
        2 => "[A-Za-z][A-Za-z0-9_]{0,8}",
        1 => prop_oneof![Just("type"), Just("self"), Just("Client"), Just("")].prop_map(str::to_owned),
        1 => "[a-z]{1,4}[-. /$é{}][a-z0-9]{0,4}",
        1 => "[0-9]{1,3}",
    ]
}

/// A schema: types, formats, refs (some dangling), composition, maps, recursion.
fn schema() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop_oneof![
            Just("string"),
            Just("integer"),
            Just("number"),
            Just("boolean"),
            Just("object"),
            Just("array"),
            Just("null"),
            Just("bogus")
        ]
        .prop_map(|t| json!({ "type": t })),
        (
            prop_oneof![
                Just("date-time"),
                Just("uuid"),
                Just("int64"),
                Just("byte"),
                Just("x")
            ],
            prop_oneof![Just("string"), Just("integer")]
        )
            .prop_map(|(f, t)| json!({ "type": t, "format": f })),
        name().prop_map(|n| json!({ "$ref": format!("#/components/schemas/{n}") })),
        prop::collection::vec(name(), 0..4).prop_map(|v| json!({ "type": "string", "enum": v })),
        Just(json!({})),
        Just(json!({ "type": ["string", "null"] })),
        Just(json!({ "type": "string", "nullable": true, "pattern": "^[A-Z]+(" })),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|items| json!({ "type": "array", "items": items })),
            (
                prop::collection::btree_map(name(), inner.clone(), 0..4),
                prop::collection::vec(name(), 0..3),
                prop_oneof![
                    Just(Value::Null),
                    Just(Value::Bool(true)),
                    Just(Value::Bool(false)),
                    inner.clone()
                ],
            )
                .prop_map(|(props, required, additional)| {
                    let mut schema = json!({
                        "type": "object",
                        "properties": Value::Object(props.into_iter().collect()),
                        "required": required,
                    });
                    if !additional.is_null() {
                        schema["additionalProperties"] = additional;
                    }
                    schema
                }),
            (
                prop_oneof![Just("oneOf"), Just("anyOf"), Just("allOf")],
                prop::collection::vec(inner, 0..3)
            )
                .prop_map(|(kind, parts)| json!({ kind: parts })),
        ]
    })
}

fn parameter() -> impl Strategy<Value = Value> {
    (
        name(),
        prop_oneof![Just("path"), Just("query"), Just("header"), Just("cookie"), Just("body")],
        any::<bool>(),
        schema(),
    )
        .prop_map(|(name, location, required, schema)| {
            json!({ "name": name, "in": location, "required": required, "schema": schema })
        })
}

fn response() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({ "description": "empty" })),
        schema().prop_map(|s| json!({
            "description": "json",
            "content": { "application/json": { "schema": s } }
        })),
        schema().prop_map(|s| json!({
            "description": "other",
            "content": { "text/plain": { "schema": s }, "application/octet-stream": {} }
        })),
        Just(json!({ "$ref": "#/components/responses/Missing" })),
        Just(json!({ "description": "ok" })),
    ]
}

fn operation() -> impl Strategy<Value = Value> {
    (
        prop::option::of(name()),
        prop::collection::vec(parameter(), 0..3),
        prop::collection::btree_map(
            prop_oneof![
                Just("200"),
                Just("201"),
                Just("204"),
                Just("404"),
                Just("4XX"),
                Just("5XX"),
                Just("default"),
                Just("abc")
            ],
            response(),
            0..4,
        ),
        prop::option::of(schema()),
    )
        .prop_map(|(id, parameters, responses, body)| {
            let mut op = json!({
                "parameters": parameters,
                "responses": Value::Object(
                    responses.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                ),
            });
            if let Some(id) = id {
                op["operationId"] = id.into();
            }
            if let Some(body) = body {
                op["requestBody"] =
                    json!({ "content": { "application/json": { "schema": body } } });
            }
            op
        })
}

/// A small document shaped like OpenAPI, valid or not in every way the strategies allow.
fn document() -> impl Strategy<Value = Value> {
    let path = prop_oneof![
        "/[a-z]{1,6}/?",
        "/[a-z]{1,4}/\\{[a-z]{1,3}\\}",
        "/[a-z]{1,4}/\\{[a-z]{1,3}\\}/[a-z]{1,3}",
        Just("".to_owned()),
        Just("no-slash".to_owned()),
        Just("/é/{}".to_owned()),
    ];
    let item = prop::collection::btree_map(
        prop_oneof![
            Just("get"),
            Just("post"),
            Just("put"),
            Just("patch"),
            Just("delete"),
            Just("trace")
        ],
        operation(),
        1..3,
    );
    (
        prop_oneof![
            6 => Just("3.0.3"),
            2 => Just("3.1.0"),
            1 => Just("3.0.0"),
            1 => prop_oneof![Just("2.0"), Just("x")],
        ],
        prop::bool::weighted(0.95),
        prop::collection::btree_map(path, item, 0..3),
        prop::collection::btree_map(name(), schema(), 0..4),
    )
        .prop_map(|(version, with_info, paths, schemas)| {
            let mut doc = Map::new();
            doc.insert("openapi".into(), version.into());
            if with_info {
                doc.insert("info".into(), json!({ "title": "Prop", "version": "1" }));
            }
            doc.insert(
                "paths".into(),
                Value::Object(
                    paths
                        .into_iter()
                        .map(|(p, item)| {
                            let item: Map<String, Value> =
                                item.into_iter().map(|(m, op)| (m.to_owned(), op)).collect();
                            (p, Value::Object(item))
                        })
                        .collect(),
                ),
            );
            doc.insert(
                "components".into(),
                json!({ "schemas": Value::Object(schemas.into_iter().collect()) }),
            );
            Value::Object(doc)
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_text_is_a_source_or_a_typed_error(
        text in prop_oneof![
            any::<String>(),
            "\u{feff}?[{\\[]?[ a-z:\"{}\\[\\],0-9\n-]{0,64}",
            "openapi: [\"']?3\\.[01]\\.[0-9][\"']?\n[a-z]{0,5}:[ a-z{}\\[\\]\n]{0,40}",
        ]
    ) {
        match Source::parse("prop.yaml", &text) {
            Ok(source) => prop_assert!(source.version().starts_with('3'), "{}", source.version()),
            Err(error) => {
                prop_assert!(matches!(
                    error,
                    SourceError::Unparsable { .. } | SourceError::NotOpenApi { .. }
                ), "{error:?}");
                prop_assert!(error.to_string().contains("prop.yaml"), "{error}");
            }
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn any_small_openapi_document_derives_or_fails_with_a_typed_error(doc in document(), as_yaml in any::<bool>()) {
        let text = if as_yaml {
            serde_norway::to_string(&doc).unwrap()
        } else {
            serde_json::to_string_pretty(&doc).unwrap()
        };
        match derive(&text) {
            Ok(derived) => prop_assert!(derived.normalized.starts_with('{'), "not JSON"),
            Err(error) => {
                // Typed, and it says where: the spec file.
                prop_assert!(!error.to_string().is_empty());
                let _: &ImportError = &error;
            }
        }
    }

    #[test]
    fn any_two_small_documents_import_or_fail_with_a_typed_error(first in document(), second in document()) {
        let sources: Vec<Source> = [("a.json", first), ("b.json", second)]
            .into_iter()
            .filter_map(|(location, doc)| Source::parse(location, &doc.to_string()).ok())
            .collect();
        if !sources.is_empty() {
            match import(&sources) {
                Ok(imported) => prop_assert!(!imported.spec.is_empty()),
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }
    }
}
