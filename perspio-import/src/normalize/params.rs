//! Pass: parameters progenitor 0.15 cannot take.
//!
//! progenitor takes `path` (style `simple`, required), `query` (style `form`) and `header`
//! parameters with a `schema`, and one parameter per name. Path-item parameters are pushed down
//! into the operations of that item only when one of them needs a change.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{Note, note, op_label, resolve, snake_case};
use crate::HTTP_METHODS;

/// Why an operation cannot be normalised faithfully.
pub(super) fn parameters(
    root: &mut Map<String, Value>,
) -> Result<Vec<Note>, super::NormalizeError> {
    let components = json!({"components": root.get("components").cloned().unwrap_or(json!({}))});
    let mut notes = Vec::new();
    let mut problems = Vec::new();
    let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) else {
        return Ok(notes);
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        let shared: Vec<Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let methods: Vec<String> = item
            .keys()
            .filter(|k| HTTP_METHODS.contains(&k.as_str()))
            .cloned()
            .collect();
        // The effective parameters of each operation, resolved.
        let mut fixed_ops: Vec<(String, Vec<Value>, Vec<Note>)> = Vec::new();
        let mut any_change = false;
        for method in &methods {
            let Some(op) = item.get(method).and_then(Value::as_object) else {
                continue;
            };
            let label = op_label(path, method, op);
            let own: Vec<Value> = op
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let effective = effective(&components, &shared, &own);
            let (fixed, op_notes, op_problems) = fix_params(&components, path, &label, &effective);
            problems.extend(op_problems);
            if fixed != effective {
                any_change = true;
            }
            fixed_ops.push((method.clone(), fixed, op_notes));
        }
        if !any_change {
            continue;
        }
        item.shift_remove("parameters");
        for (method, fixed, op_notes) in fixed_ops {
            if let Some(op) = item.get_mut(&method).and_then(Value::as_object_mut) {
                if fixed.is_empty() {
                    op.shift_remove("parameters");
                } else {
                    op.insert("parameters".into(), Value::Array(fixed));
                }
            }
            notes.extend(op_notes);
        }
    }
    if problems.is_empty() {
        Ok(notes)
    } else {
        Err(super::NormalizeError::Unfaithful { problems })
    }
}

/// Path-item parameters overridden by the operation's (same `name` and `in`), then the
/// operation's. References are kept as they are unless resolving is needed to read them.
fn effective(components: &Value, shared: &[Value], own: &[Value]) -> Vec<Value> {
    let key = |p: &Value| {
        let r = resolve(components, p);
        let location = r.get("in").and_then(Value::as_str).unwrap_or("").to_owned();
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        // Header names are case-insensitive.
        let name = if location == "header" {
            name.to_ascii_lowercase()
        } else {
            name.to_owned()
        };
        (name, location)
    };
    let own_keys: Vec<(String, String)> = own.iter().map(key).collect();
    let mut out: Vec<Value> = shared
        .iter()
        .filter(|p| !own_keys.contains(&key(p)))
        .cloned()
        .collect();
    out.extend(own.iter().cloned());
    // Keep references unresolved unless they need a change (decided in `fix_params`), but
    // resolve here so that `fix_params` sees the content.
    out.into_iter()
        .map(|p| {
            if p.get("$ref").is_some() {
                json!({"$ref": p["$ref"], "x-resolved": resolve(components, &p).clone()})
            } else {
                p
            }
        })
        .collect()
}

/// The template variables of `path`: `/a/{id}/b/{name}` → `["id", "name"]`.
pub(super) fn template_names(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push(rest[start + 1..start + len].to_owned());
        rest = &rest[start + len + 1..];
    }
    out
}

type Fixed = (Vec<Value>, Vec<Note>, Vec<String>);

/// Whether progenitor makes a struct (with a builder) of `schema`: an object with properties,
/// or an `allOf`. progenitor panics on such a type as an optional query or header parameter.
fn is_struct(components: &Value, schema: &Value) -> bool {
    let s = resolve(components, schema);
    s.get("properties")
        .is_some_and(|p| p.as_object().is_some_and(|p| !p.is_empty()))
        || s.get("allOf").is_some()
        || (s.get("type").is_some_and(|t| t == "object") && s.get("additionalProperties").is_none())
}

/// An exploded `form` query parameter whose schema is an object with properties is, on the
/// wire, one query parameter per property: the same thing, in a form progenitor takes.
fn expand_object(components: &Value, p: &Value) -> Option<(Vec<Value>, String)> {
    if p.get("in").and_then(Value::as_str) != Some("query")
        || p.get("style").is_some_and(|s| s != "form")
        || p.get("explode").is_some_and(|e| e == false)
    {
        return None;
    }
    let schema = resolve(components, p.get("schema")?);
    let properties = schema.get("properties")?.as_object()?;
    if properties.is_empty() || schema.get("allOf").is_some() {
        return None;
    }
    let required_param = p.get("required").is_some_and(|r| r == true);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let expanded = properties
        .iter()
        .map(|(name, prop)| {
            let mut q = json!({"name": name, "in": "query", "schema": prop});
            if required_param && required.contains(&name.as_str()) {
                q["required"] = true.into();
            }
            if let Some(d) = prop.get("description") {
                q["description"] = d.clone();
            }
            q
        })
        .collect();
    let names = properties
        .keys()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some((expanded, names))
}

fn fix_params(components: &Value, path: &str, label: &str, params: &[Value]) -> Fixed {
    let mut notes = Vec::new();
    let mut problems = Vec::new();
    let names = template_names(path);
    let mut out: Vec<Value> = Vec::new();
    let mut rust_names: BTreeSet<String> = BTreeSet::new();
    let mut wire_names: BTreeSet<String> = BTreeSet::new();
    let mut declared_path: BTreeSet<String> = BTreeSet::new();
    // Path parameters first, so that a query parameter with a path parameter's name is the one
    // that goes.
    let mut ordered: Vec<Value> = params
        .iter()
        .filter(|p| content(p).get("in").and_then(Value::as_str) == Some("path"))
        .cloned()
        .collect();
    for p in params
        .iter()
        .filter(|p| content(p).get("in").and_then(Value::as_str) != Some("path"))
    {
        match expand_object(components, content(p)) {
            Some((expanded, names)) => {
                notes.push(note(
                    label,
                    format!(
                        "query parameter `{}` (an object, style `form`, exploded) is sent as its \
                         properties: {}",
                        content(p).get("name").and_then(Value::as_str).unwrap_or(""),
                        names
                    ),
                ));
                ordered.extend(expanded);
            }
            None => ordered.push(p.clone()),
        }
    }
    for original in &ordered {
        let p = content(original);
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let location = p.get("in").and_then(Value::as_str).unwrap_or("").to_owned();
        let required = p.get("required").is_some_and(|r| r == true);
        let what = format!("{location} parameter `{name}`");
        let mut changed: Map<String, Value> = p.as_object().cloned().unwrap_or_default();
        let mut messages: Vec<String> = Vec::new();

        match location.as_str() {
            "cookie" => {
                if required {
                    problems.push(format!(
                        "{label}: required {what}: progenitor sends no cookies; make it optional \
                         upstream (it is then dropped) or send the cookie from a middleware"
                    ));
                } else {
                    notes.push(note(
                        label,
                        format!("optional {what} dropped: progenitor sends no cookies"),
                    ));
                }
                continue;
            }
            "path" => {
                if !names.contains(&name) {
                    notes.push(note(
                        label,
                        format!("{what} dropped: the path `{path}` has no `{{{name}}}`"),
                    ));
                    continue;
                }
                if !required {
                    changed.insert("required".into(), true.into());
                    messages.push(format!("{what} made required (path parameters always are)"));
                }
                match p.get("style").and_then(Value::as_str) {
                    None | Some("simple") => {}
                    Some(style) => problems.push(format!(
                        "{label}: {what} has style `{style}`; progenitor sends path parameters \
                         in style `simple` only: write the `{style}` prefix into the path upstream"
                    )),
                }
            }
            "query" => match p.get("style").and_then(Value::as_str) {
                None | Some("form") => {}
                Some(style @ ("spaceDelimited" | "pipeDelimited")) => {
                    let sep = if style == "spaceDelimited" {
                        "' '"
                    } else {
                        "'|'"
                    };
                    changed.shift_remove("style");
                    changed.shift_remove("explode");
                    let is_array = p
                        .get("schema")
                        .and_then(|s| s.get("type"))
                        .is_some_and(|t| t == "array");
                    if is_array {
                        changed.insert("schema".into(), json!({"type": "string"}));
                        messages.push(format!(
                            "{what} (style `{style}`) is now a string: pass the values joined \
                             by {sep}"
                        ));
                    } else {
                        messages.push(format!(
                            "{what}: style `{style}` → `form` (same for one value)"
                        ));
                    }
                }
                Some(style) => {
                    if required {
                        problems.push(format!(
                            "{label}: required {what} has style `{style}`, which progenitor cannot \
                             send; make it optional upstream (it is then dropped) or call this \
                             operation by hand"
                        ));
                    } else {
                        notes.push(note(
                            label,
                            format!(
                                "optional {what} (style `{style}`) dropped: progenitor cannot send \
                                 that style"
                            ),
                        ));
                    }
                    continue;
                }
            },
            "header" => {
                if ["accept", "content-type", "authorization"]
                    .contains(&name.to_ascii_lowercase().as_str())
                {
                    notes.push(note(
                        label,
                        format!(
                            "{what} dropped: OpenAPI ignores header parameters named `Accept`, \
                             `Content-Type` and `Authorization` (the client sets them)"
                        ),
                    ));
                    continue;
                }
                if p.get("style").is_some_and(|s| s != "simple") {
                    changed.shift_remove("style");
                    messages.push(format!("{what}: style → `simple`"));
                }
            }
            _ => {
                notes.push(note(
                    label,
                    format!(
                        "parameter `{name}` dropped: `in: {location}` is not a parameter location"
                    ),
                ));
                continue;
            }
        }

        if let Some(Value::Object(c)) = changed.get("content").cloned() {
            changed.shift_remove("content");
            let media = c.keys().next().cloned().unwrap_or_default();
            changed.insert("schema".into(), json!({"type": "string"}));
            messages.push(format!(
                "{what} is declared by `content` (`{media}`): it is now a string; pass the \
                 serialised value"
            ));
        } else if !changed.contains_key("schema") {
            changed.insert("schema".into(), json!({"type": "string"}));
            messages.push(format!("{what} has no schema: it is now a string"));
        }

        // A nullable path or header value becomes an `Option`, which has no `to_string()`
        // (gettyimages, parliament.uk); a path segment or header is never null.
        if matches!(location.as_str(), "path" | "header")
            && let Some(schema) = changed.get_mut("schema").and_then(Value::as_object_mut)
            && schema.shift_remove("nullable").is_some()
        {
            messages.push(format!(
                "{what}: `nullable` dropped (a {location} value is never null)"
            ));
        }

        // progenitor writes path and header values with `to_string()`, which arrays lack;
        // in style `simple` an array is its values joined by commas.
        if matches!(location.as_str(), "path" | "header")
            && changed.get("schema").is_some_and(|s| {
                resolve(components, s)
                    .get("type")
                    .is_some_and(|t| t == "array")
            })
        {
            changed.insert("schema".into(), json!({"type": "string"}));
            messages.push(format!(
                "{what} is an array: it is now a string; pass the values joined by ','"
            ));
        }

        if matches!(location.as_str(), "query" | "header")
            && changed
                .get("schema")
                .is_some_and(|s| is_struct(components, s))
        {
            if required {
                problems.push(format!(
                    "{label}: required {what} has an object schema, which progenitor cannot send \
                     as a {location} parameter; declare its properties as separate parameters \
                     upstream"
                ));
                continue;
            }
            notes.push(note(
                label,
                format!(
                    "optional {what} dropped: its schema is an object, which progenitor cannot \
                     send as an optional {location} parameter"
                ),
            ));
            continue;
        }

        // One parameter per Rust name and per wire name.
        let rust = snake_case(&name);
        if !wire_names.insert(name.to_ascii_lowercase()) || !rust_names.insert(rust.clone()) {
            if location == "path" || required {
                problems.push(format!(
                    "{label}: {what} has the same name (`{rust}` in Rust) as another parameter of \
                     this operation; progenitor takes one parameter per name: rename one upstream"
                ));
            } else {
                notes.push(note(
                    label,
                    format!(
                        "optional {what} dropped: another parameter of this operation has the \
                         same name (`{rust}` in Rust)"
                    ),
                ));
            }
            continue;
        }

        if location == "path" {
            declared_path.insert(name.clone());
        }
        let same = Value::Object(changed.clone()) == *p;
        if same {
            out.push(original_without_resolved(original));
        } else {
            out.push(Value::Object(changed));
            notes.extend(messages.into_iter().map(|m| note(label, m)));
        }
    }
    // Template variables without a parameter.
    for name in &names {
        if !declared_path.contains(name) {
            out.push(
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
            notes.push(note(
                label,
                format!(
                    "path variable `{{{name}}}` has no parameter: a required string parameter added"
                ),
            ));
        }
    }
    let original: Vec<Value> = params.iter().map(original_without_resolved).collect();
    if out.len() == original.len() && out.iter().all(|p| original.contains(p)) {
        // Nothing changed but the order: keep the document's order.
        return (original, notes, problems);
    }
    (out, notes, problems)
}

/// The parameter's content: a reference's resolved target.
fn content(p: &Value) -> &Value {
    p.get("x-resolved").unwrap_or(p)
}

fn original_without_resolved(p: &Value) -> Value {
    match p.get("x-resolved") {
        Some(_) => json!({"$ref": p["$ref"]}),
        None => p.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::super::tests::{assert_generates, assert_noted, doc, run};

    fn op(path: &str, params: serde_json::Value) -> serde_json::Value {
        doc(
            json!({path: {"get": {"operationId": "get_a", "parameters": params,
            "responses": {"200": {"description": "ok"}}}}}),
        )
    }

    #[test]
    fn a_path_variable_without_a_parameter_gets_a_required_string_one() {
        let (d, notes) = run(op("/a/{id}", json!([])));
        assert_eq!(
            d["paths"]["/a/{id}"]["get"]["parameters"],
            json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}])
        );
        assert_noted(&notes, "get_a: path variable `{id}` has no parameter");
        assert_generates(&d);
    }

    #[test]
    fn an_optional_path_parameter_is_made_required_and_an_unused_one_dropped() {
        let (d, notes) = run(op(
            "/a/{id}",
            json!([
                {"name": "id", "in": "path", "schema": {"type": "string"}},
                {"name": "gone", "in": "path", "required": true, "schema": {"type": "string"}},
            ]),
        ));
        assert_eq!(
            d["paths"]["/a/{id}"]["get"]["parameters"],
            json!([{"name": "id", "in": "path", "schema": {"type": "string"}, "required": true}])
        );
        assert_noted(&notes, "path parameter `id` made required");
        assert_noted(
            &notes,
            "path parameter `gone` dropped: the path `/a/{id}` has no `{gone}`",
        );
        assert_generates(&d);
    }

    #[test]
    fn deep_object_and_delimited_query_styles() {
        let (d, notes) = run(op(
            "/a",
            json!([
                {"name": "filter", "in": "query", "style": "deepObject", "schema": {"type": "object"}},
                {"name": "ids", "in": "query", "style": "spaceDelimited", "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                {"name": "where", "in": "query", "explode": false, "schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
            ]),
        ));
        assert_eq!(
            d["paths"]["/a"]["get"]["parameters"],
            json!([{"name": "ids", "in": "query", "schema": {"type": "string"}}])
        );
        assert_noted(
            &notes,
            "optional query parameter `filter` (style `deepObject`) dropped",
        );
        assert_noted(&notes, "pass the values joined by ' '");
        assert_noted(&notes, "optional cookie parameter `session` dropped");
        assert_noted(
            &notes,
            "optional query parameter `where` dropped: its schema is an object",
        );
        assert_generates(&d);

        let mut d = op(
            "/a",
            json!([
                {"name": "filter", "in": "query", "required": true, "style": "deepObject", "schema": {"type": "object"}},
            ]),
        );
        let err = super::super::normalize(&mut d).unwrap_err().to_string();
        assert!(
            err.contains("get_a: required query parameter `filter` has style `deepObject`"),
            "{err}"
        );
    }

    #[test]
    fn parameters_of_the_path_item_are_pushed_down_only_when_one_changes() {
        let mut d = doc(json!({"/a/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "get": {"operationId": "get_a", "responses": {"200": {"description": "ok"}}},
        }}));
        let (same, notes) = run(d.clone());
        assert_eq!(same, d);
        assert!(notes.is_empty(), "{notes:?}");
        d["paths"]["/a/{id}"]["get"]["parameters"] = json!([{"name": "q", "in": "query", "content": {"application/json": {"schema": {"type": "object"}}}}]);
        let (d, notes) = run(d);
        assert!(d["paths"]["/a/{id}"].get("parameters").is_none());
        assert_eq!(
            d["paths"]["/a/{id}"]["get"]["parameters"],
            json!([
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "q", "in": "query", "schema": {"type": "string"}},
            ])
        );
        assert_noted(&notes, "query parameter `q` is declared by `content`");
        assert_generates(&d);
    }
}

#[cfg(test)]
mod more_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::super::tests::{assert_generates, assert_noted, doc, json_response, run};

    #[test]
    fn an_exploded_object_query_parameter_becomes_one_parameter_per_property() {
        let (d, notes) = run(doc(json!({"/a": {"get": {"operationId": "get_a",
            "parameters": [{"name": "scheme", "in": "query", "required": true, "schema": {
                "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string"}, "lang": {"type": "string"}}}}],
            "responses": {"200": {"description": "ok"}}}}})));
        assert_eq!(
            d["paths"]["/a"]["get"]["parameters"],
            json!([
                {"name": "name", "in": "query", "schema": {"type": "string"}, "required": true},
                {"name": "lang", "in": "query", "schema": {"type": "string"}},
            ])
        );
        assert_noted(
            &notes,
            "query parameter `scheme` (an object, style `form`, exploded) is sent as its properties: `name`, `lang`",
        );
        assert_generates(&d);
    }

    #[test]
    fn a_header_declared_on_the_path_and_the_operation_in_another_case_is_one_header() {
        let (d, _) = run(doc(json!({"/a": {
            "parameters": [{"name": "X-Sha", "in": "header", "schema": {"type": "string"}}],
            "get": {"operationId": "get_a",
                "parameters": [
                    {"name": "x-sha", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "Content-Type", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "{bad}", "in": "path", "required": true, "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "ok"}}}}})));
        let params = d["paths"]["/a"]["get"]["parameters"].as_array().unwrap();
        assert_eq!(params.len(), 1, "{params:?}");
        assert_eq!(params[0]["name"], "x-sha");
        assert_generates(&d);
    }

    #[test]
    fn array_header_and_path_parameters_become_comma_joined_strings() {
        let d = doc(json!({"/a/{ids}": {"get": {"operationId": "get_a",
            "parameters": [
                {"name": "ids", "in": "path", "required": true,
                    "schema": {"type": "array", "items": {"type": "integer"}}},
                {"name": "Accept-Language", "in": "header",
                    "schema": {"$ref": "#/components/schemas/Languages"}},
            ],
            "responses": {"200": json_response(json!({"type": "string"}))}}}}));
        let mut d = d;
        d["components"] = json!({"schemas": {
            "Languages": {"type": "array", "items": {"type": "string"}},
        }});
        let (d, notes) = run(d);
        let params = &d["paths"]["/a/{ids}"]["get"]["parameters"];
        assert_eq!(params[0]["schema"], json!({"type": "string"}));
        assert_eq!(params[1]["schema"], json!({"type": "string"}));
        assert_noted(
            &notes,
            "get_a: header parameter `Accept-Language` is an array: it is now a string; pass the \
             values joined by ','",
        );
        assert_noted(&notes, "path parameter `ids` is an array");
        assert_generates(&d);
    }

    #[test]
    fn nullable_path_and_header_parameters_are_not_options() {
        let original = doc(json!({"/a/{id}": {"get": {"operationId": "get_a",
            "parameters": [
                {"name": "id", "in": "path", "required": true,
                    "schema": {"type": "string", "nullable": true}},
                {"name": "X-Trace", "in": "header", "required": true,
                    "schema": {"type": "string", "nullable": true}},
                {"name": "q", "in": "query", "schema": {"type": "string", "nullable": true}},
            ],
            "responses": {"200": json_response(json!({"type": "string"}))}}}}));
        let (d, notes) = run(original.clone());
        let params = &d["paths"]["/a/{id}"]["get"]["parameters"];
        assert_eq!(params[0]["schema"], json!({"type": "string"}));
        assert_eq!(params[1]["schema"], json!({"type": "string"}));
        assert_eq!(
            params[2]["schema"]["nullable"], true,
            "a query parameter may be absent"
        );
        assert_noted(&notes, "get_a: path parameter `id`: `nullable` dropped");
        assert_generates(&d);
        // The builder's setters: `Option<String>` for `id` and `X-Trace` before, `String` after.
        let setters = |d: serde_json::Value| {
            let spec: openapiv3::OpenAPI = serde_json::from_value(d).unwrap();
            perspio_codegen::pretty(&perspio_codegen::generate(&spec).unwrap())
                .unwrap()
                .matches("TryInto<::std::option::Option<::std::string::String>>")
                .count()
        };
        assert_eq!((setters(original), setters(d)), (2, 0));
    }
}
