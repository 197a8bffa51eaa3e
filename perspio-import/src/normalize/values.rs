//! Pass: schema keywords whose values do not fit the schema, which progenitor (typify)
//! rejects or panics on. Each is dropped, and the loss noted; the type itself is kept.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Note, for_each_schema, note};

/// The integer formats typify maps to a Rust type.
const INTEGER_FORMATS: &[&str] = &[
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "uint",
];
/// The number formats typify maps to a Rust type.
const NUMBER_FORMATS: &[&str] = &["float", "double"];

pub(super) fn schema_values(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = Vec::new();
    for_each_schema(root, &mut |scope, schema| {
        fix_schema(scope, schema, &mut notes);
    });
    notes
}

fn fix_schema(scope: &str, schema: &mut Map<String, Value>, notes: &mut Vec<Note>) {
    if schema.contains_key("$ref") {
        return;
    }
    boolean_schemas(scope, schema, notes);
    let typ = schema
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let nullable = schema.get("nullable").is_some_and(|n| n == true);

    // `format` on something that is not a string, or that typify does not know for numbers.
    if let Some(format) = schema.get("format").cloned() {
        let keep = match (typ.as_deref(), format.as_str()) {
            (Some("string"), Some(_)) => true,
            (Some("integer"), Some(f)) => INTEGER_FORMATS.contains(&f),
            (Some("number"), Some(f)) => NUMBER_FORMATS.contains(&f),
            _ => false,
        };
        if !keep {
            schema.shift_remove("format");
            notes.push(note(
                scope,
                format!(
                    "`format: {format}` on {} dropped (progenitor cannot take it)",
                    typ.as_deref()
                        .map_or_else(|| "an untyped schema".to_owned(), |t| format!("`{t}`"))
                ),
            ));
        }
    }

    // `exclusiveMinimum: true` without `minimum` (and the maximum twin) panics progenitor.
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if schema.contains_key(exclusive) && !schema.get(bound).is_some_and(Value::is_number) {
            schema.shift_remove(exclusive);
            notes.push(note(
                scope,
                format!("`{exclusive}` without `{bound}` dropped"),
            ));
        }
    }
    for key in [
        "minimum",
        "maximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    ] {
        if schema.get(key).is_some_and(|v| !v.is_number()) {
            schema.shift_remove(key);
            notes.push(note(scope, format!("`{key}` that is not a number dropped")));
        }
    }
    // `minLength: 0` says nothing, but typify checks it: `value.chars().count() < 0usize`, an
    // `unused_comparisons` warning (an error under `-D warnings`; amazonaws ce, azure
    // apimanagement-apimproducts).
    if schema
        .get("minLength")
        .is_some_and(|v| v.as_u64() == Some(0) || v.as_f64() == Some(0.0))
    {
        schema.shift_remove("minLength");
        notes.push(note(
            scope,
            "`minLength: 0` dropped (every string has it)".to_owned(),
        ));
    }
    if let Some(pattern) = schema.get("pattern").filter(|p| !p.is_string()).cloned() {
        schema.shift_remove("pattern");
        notes.push(note(
            scope,
            format!(
                "`pattern: {}` that is not a string dropped",
                short(&pattern)
            ),
        ));
    }

    // `enum`: the same value twice is said once.
    if let Some(Value::Array(values)) = schema.get("enum").cloned() {
        let mut unique: Vec<Value> = Vec::with_capacity(values.len());
        for v in &values {
            if !unique.contains(v) {
                unique.push(v.clone());
            }
        }
        if unique.len() != values.len() {
            notes.push(note(
                scope,
                format!(
                    "`enum` {}: {} repeated value(s) said once",
                    short(&Value::Array(values.clone())),
                    values.len() - unique.len()
                ),
            ));
            schema.insert("enum".into(), Value::Array(unique));
        }
    }

    // `enum` values that do not fit the type.
    if let Some(Value::Array(values)) = schema.get("enum").cloned() {
        let fitting: Vec<Value> = values
            .iter()
            .filter(|v| fits(typ.as_deref(), v) || (v.is_null() && nullable))
            .cloned()
            .collect();
        let kinds: std::collections::BTreeSet<&str> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(json_kind)
            .collect();
        if values.is_empty() || fitting.len() != values.len() || (typ.is_none() && kinds.len() > 1)
        {
            schema.shift_remove("enum");
            notes.push(note(
                scope,
                format!(
                    "`enum` {} dropped: {} (any {} is accepted)",
                    short(&Value::Array(values.clone())),
                    if values.is_empty() {
                        "it is empty".to_owned()
                    } else {
                        format!(
                            "values that are not {}",
                            typ.as_deref().map_or("of one type", |t| t)
                        )
                    },
                    typ.as_deref().unwrap_or("value")
                ),
            ));
        } else if let Some(clash) = variant_clash(&values) {
            schema.shift_remove("enum");
            notes.push(note(
                scope,
                format!(
                    "`enum` {} dropped: {clash} become the same Rust variant (any {} is accepted)",
                    short(&Value::Array(values.clone())),
                    typ.as_deref().unwrap_or("value")
                ),
            ));
        }
    }

    // `enum` and `default` on a composed, object or array schema: typify checks them against
    // the type it builds (a struct, an untagged enum, a vector of a `$ref`) and refuses values
    // that do not fit that type with "value does not conform to the given schema".
    let composed = ["allOf", "oneOf", "anyOf"]
        .iter()
        .any(|k| schema.contains_key(*k));
    if composed && let Some(values) = schema.shift_remove("enum") {
        notes.push(note(
            scope,
            format!(
                "`enum` {} on a composed schema (`allOf`/`oneOf`/`anyOf`) dropped (any value of \
                 the composed type is accepted)",
                short(&values)
            ),
        ));
    }
    let structured = composed
        || schema.contains_key("properties")
        || schema.contains_key("items")
        || matches!(typ.as_deref(), Some("object" | "array"));
    if structured && let Some(default) = schema.get("default").cloned() {
        let has_required = schema
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        let trivial = default.as_array().is_some_and(Vec::is_empty)
            || (default.as_object().is_some_and(Map::is_empty) && !has_required);
        if !trivial {
            schema.shift_remove("default");
            notes.push(note(
                scope,
                format!(
                    "`default: {}` on a composed, object or array schema dropped (the value is \
                     optional instead of defaulted)",
                    short(&default)
                ),
            ));
        }
    }

    // `default` that does not fit the type or the enum.
    if let Some(default) = schema.get("default").cloned() {
        let in_enum = schema
            .get("enum")
            .and_then(Value::as_array)
            .is_none_or(|e| e.contains(&default));
        let ok = (fits(typ.as_deref(), &default) || (default.is_null() && nullable)) && in_enum;
        if !ok {
            schema.shift_remove("default");
            notes.push(note(
                scope,
                format!(
                    "`default: {}` dropped: {}",
                    short(&default),
                    if in_enum {
                        format!("not a {}", typ.as_deref().unwrap_or("value"))
                    } else {
                        "not one of the `enum` values".to_owned()
                    }
                ),
            ));
        }
    }
}

/// JSON Schema's boolean schemas (`true`: anything, `false`: nothing), which OpenAPI 3.0 does
/// not have, as subschemas (codat, vercel: `properties: {additionalProperties: false}`).
fn boolean_schemas(scope: &str, schema: &mut Map<String, Value>, notes: &mut Vec<Note>) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        let never: Vec<String> = props
            .iter()
            .filter(|(_, v)| **v == Value::Bool(false))
            .map(|(k, _)| k.clone())
            .collect();
        for name in never {
            props.shift_remove(&name);
            notes.push(note(
                scope,
                format!("property `{name}` with the schema `false` (never present) dropped"),
            ));
        }
        for (name, v) in props.iter_mut() {
            if *v == Value::Bool(true) {
                *v = Value::Object(Map::new());
                notes.push(note(
                    scope,
                    format!("property `{name}` with the schema `true` is now `{{}}` (any value)"),
                ));
            }
        }
    }
    if schema.get("items") == Some(&Value::Bool(true)) {
        schema.insert("items".into(), Value::Object(Map::new()));
        notes.push(note(scope, "`items: true` is now `items: {}` (any value)"));
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = schema.get_mut(key).and_then(Value::as_array_mut)
            && list.iter().any(Value::is_boolean)
        {
            for v in list.iter_mut().filter(|v| **v == Value::Bool(true)) {
                *v = Value::Object(Map::new());
            }
            list.retain(|v| *v != Value::Bool(false));
            notes.push(note(
                scope,
                format!("boolean schemas in `{key}`: `true` is now `{{}}`, `false` dropped"),
            ));
        }
    }
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 40 {
        format!("{}…", &text[..text.floor_char_boundary(40)])
    } else {
        text
    }
}

/// Whether `v` is a value of JSON type `typ` (any value fits an untyped schema).
fn fits(typ: Option<&str>, v: &Value) -> bool {
    match typ {
        None => !v.is_null(),
        Some("string") => v.is_string(),
        Some("integer") => v.as_i64().is_some() || v.as_u64().is_some(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        Some("array") => v.is_array(),
        Some("object") => v.is_object(),
        Some(_) => false,
    }
}

/// Two string values that typify turns into the same variant name (`ASC`/`asc`, `a-b`/`a_b`).
fn variant_clash(values: &[Value]) -> Option<String> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for v in values.iter().filter(|v| !v.is_null()) {
        let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        let key = variant_key(&text);
        if let Some(first) = seen.insert(key, text.clone())
            && first != text
        {
            return Some(format!("`{first}` and `{text}`"));
        }
    }
    None
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What survives typify's PascalCase of a value: its alphanumeric words, case-folded.
fn variant_key(v: &str) -> String {
    match v {
        "+1" => "plus1".into(),
        "-1" => "minus1".into(),
        _ => {
            let key: String = v
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect();
            // typify prefixes `X` to a name that cannot start an identifier.
            if key.starts_with(|c: char| c.is_alphabetic()) {
                key
            } else {
                format!("x{key}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::super::tests::{assert_generates, assert_noted, doc, json_response, run};

    fn with_schema(schema: serde_json::Value) -> serde_json::Value {
        let mut d = doc(json!({"/a": {"get": {"operationId": "get_a", "responses": {
            "200": json_response(json!({"$ref": "#/components/schemas/A"})),
        }}}}));
        d["components"] = json!({"schemas": {"A": schema}});
        d
    }

    #[test]
    fn format_on_a_non_string_or_untyped_schema_is_dropped() {
        let (d, notes) = run(with_schema(json!({"type": "object", "properties": {
            "n": {"type": "integer", "format": "date-time"},
            "b": {"type": "boolean", "format": "flag"},
            "u": {"format": "uuid"},
            "s": {"type": "string", "format": "uuid"},
        }})));
        let props = &d["components"]["schemas"]["A"]["properties"];
        assert_eq!(props["n"], json!({"type": "integer"}));
        assert_eq!(props["b"], json!({"type": "boolean"}));
        assert_eq!(props["u"], json!({}));
        assert_eq!(props["s"]["format"], "uuid");
        assert_noted(
            &notes,
            "schema A: `format: \"date-time\"` on `integer` dropped",
        );
        assert_noted(&notes, "on an untyped schema dropped");
        assert_generates(&d);
    }

    #[test]
    fn default_and_enum_values_that_do_not_fit_are_dropped() {
        let (d, notes) = run(with_schema(json!({"type": "object", "properties": {
            "count": {"type": "integer", "default": "10"},
            "kind": {"type": "string", "enum": ["a", 1]},
            "level": {"type": "string", "enum": ["low", "high"], "default": "mid"},
            "ok": {"type": "string", "enum": ["x"], "default": "x"},
        }})));
        let props = &d["components"]["schemas"]["A"]["properties"];
        assert_eq!(props["count"], json!({"type": "integer"}));
        assert_eq!(props["kind"], json!({"type": "string"}));
        assert_eq!(
            props["level"],
            json!({"type": "string", "enum": ["low", "high"]})
        );
        assert_eq!(
            props["ok"],
            json!({"type": "string", "enum": ["x"], "default": "x"})
        );
        assert_noted(&notes, "schema A: `default: \"10\"` dropped: not a integer");
        assert_noted(&notes, "values that are not string");
        assert_noted(&notes, "not one of the `enum` values");
        assert_generates(&d);
    }

    #[test]
    fn enum_values_that_collide_after_case_conversion_drop_the_enum() {
        let (d, notes) = run(with_schema(
            json!({"type": "string", "enum": ["asc", "ASC", "desc"]}),
        ));
        assert_eq!(d["components"]["schemas"]["A"], json!({"type": "string"}));
        assert_noted(&notes, "`asc` and `ASC` become the same Rust variant");
        assert_generates(&d);
    }

    #[test]
    fn repeated_enum_values_are_said_once_and_mixed_untyped_enums_dropped() {
        let (d, notes) = run(with_schema(json!({"type": "object", "properties": {
            "fmt": {"type": "string", "enum": ["kml", "kml", "csv"]},
            "flag": {"enum": [true, "true", 1]},
            "empty": {"type": "string", "enum": ["", "X"]},
        }})));
        let props = &d["components"]["schemas"]["A"]["properties"];
        assert_eq!(
            props["fmt"],
            json!({"type": "string", "enum": ["kml", "csv"]})
        );
        assert_eq!(props["flag"], json!({}));
        assert_eq!(props["empty"], json!({"type": "string"}));
        assert_noted(&notes, "1 repeated value(s) said once");
        assert_noted(&notes, "become the same Rust variant");
        assert_generates(&d);
    }

    #[test]
    fn exclusive_bounds_without_a_bound_are_dropped() {
        let (d, notes) = run(with_schema(
            json!({"type": "number", "exclusiveMinimum": true}),
        ));
        assert_eq!(d["components"]["schemas"]["A"], json!({"type": "number"}));
        assert_noted(&notes, "`exclusiveMinimum` without `minimum` dropped");
        assert_generates(&d);
    }

    #[test]
    fn a_min_length_of_zero_is_dropped_and_others_are_kept() {
        let (d, notes) = run(with_schema(json!({"type": "object", "properties": {
            "a": {"type": "string", "minLength": 0},
            "b": {"type": "string", "minLength": 1},
        }})));
        let props = &d["components"]["schemas"]["A"]["properties"];
        assert_eq!(props["a"], json!({"type": "string"}));
        assert_eq!(props["b"], json!({"type": "string", "minLength": 1}));
        assert_noted(&notes, "`minLength: 0` dropped (every string has it)");
        assert_generates(&d);
    }

    /// openapiv3 refused the document ("invalid type: integer `0`, expected a string"; api.video).
    #[test]
    fn a_pattern_that_is_not_a_string_is_dropped() {
        let (d, notes) = run(with_schema(json!({"type": "string", "pattern": 0})));
        assert_eq!(d["components"]["schemas"]["A"], json!({"type": "string"}));
        assert_noted(
            &notes,
            "schema A: `pattern: 0` that is not a string dropped",
        );
        assert_generates(&d);
    }

    /// typify: "value does not conform to the given schema" (doqs.dev, linqr.app, openaq,
    /// netbox, nytimes, …).
    #[test]
    fn enums_and_defaults_on_composed_object_and_array_schemas_are_dropped() {
        let mut d = doc(json!({"/a": {"get": {"operationId": "get_a",
            "parameters": [{"name": "order", "in": "query",
                "schema": {"allOf": [{"$ref": "#/components/schemas/Order"}], "default": "asc"}}],
            "responses": {"200": json_response(json!({"$ref": "#/components/schemas/Page"}))}}}}));
        d["components"] = json!({"schemas": {
            "Order": {"type": "string", "enum": ["ASC", "DESC"]},
            "Margin": {"type": "object", "required": ["top"], "properties": {
                "top": {"type": "integer"}, "left": {"type": "integer"}}},
            "Page": {"type": "object", "properties": {
                "margin": {"allOf": [{"$ref": "#/components/schemas/Margin"}],
                    "default": {"left": 0}},
                "choice": {"type": "object", "default": {"id": 1, "value": "x"},
                    "properties": {"id": {"type": "integer"}}},
                "facet": {"nullable": true, "enum": [""],
                    "oneOf": [{"type": "array", "items": {}}, {"type": "string"}]},
                "tags": {"type": "array", "items": {"type": "string"}, "default": []},
                "open": {"type": "object", "default": {}},
                "orders": {"type": "array", "items": {"$ref": "#/components/schemas/Order"},
                    "default": ["asc"]},
            }},
        }});
        let before: openapiv3::OpenAPI = serde_json::from_value(d.clone()).unwrap();
        let refused = perspio_codegen::generate(&before).unwrap_err().to_string();
        assert!(refused.contains("does not conform"), "{refused}");

        let (d, notes) = run(d);
        let page = &d["components"]["schemas"]["Page"]["properties"];
        for dropped in ["margin", "choice", "orders"] {
            assert!(page[dropped].get("default").is_none(), "{dropped}");
        }
        assert!(page["facet"].get("enum").is_none());
        assert_eq!(page["tags"]["default"], json!([]), "an empty default stays");
        assert_eq!(page["open"]["default"], json!({}), "an empty default stays");
        assert!(
            d["paths"]["/a"]["get"]["parameters"][0]["schema"]
                .get("default")
                .is_none()
        );
        assert_noted(
            &notes,
            "schema Page: `default: {\"left\":0}` on a composed, object or array schema dropped",
        );
        assert_noted(&notes, "schema Page: `enum` [\"\"] on a composed schema");
        assert_generates(&d);
    }

    /// openapiv3 refused the whole document ("invalid type: boolean `false`, expected struct
    /// Schema"): codat, vercel.
    #[test]
    fn boolean_subschemas_become_schemas_or_go() {
        let (d, notes) = run(with_schema(json!({"type": "object", "properties": {
            "additionalProperties": false,
            "anything": true,
            "list": {"type": "array", "items": true},
            "either": {"oneOf": [true, false, {"type": "string"}]},
        }})));
        let props = &d["components"]["schemas"]["A"]["properties"];
        assert!(props.get("additionalProperties").is_none());
        assert_eq!(props["anything"], json!({}));
        assert_eq!(props["list"]["items"], json!({}));
        assert_eq!(props["either"]["oneOf"], json!([{}, {"type": "string"}]));
        assert_noted(
            &notes,
            "schema A: property `additionalProperties` with the schema `false` (never present) \
             dropped",
        );
        assert_generates(&d);
    }
}
