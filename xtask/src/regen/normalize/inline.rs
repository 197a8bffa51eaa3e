//! Pass: `$ref`s that progenitor cannot follow.
//!
//! progenitor looks a reference up by its last segment in the component section it expects,
//! so only `#/components/<section>/<name>` works. A `$ref` into a property path
//! (`#/components/schemas/A/properties/b`), into `paths`, or anywhere else inside the document
//! is replaced by a copy of what it points to. Nothing is lost: the copy is the same schema.
//! A dangling `$ref` never gets here: `refs::check` names it before normalising.

use serde_json::{Map, Value};

use super::{Note, note};

/// How many rounds of inlining (a copy can itself hold such a `$ref`).
const ROUNDS: usize = 8;

pub(super) fn inline_deep_refs(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = Vec::new();
    for _ in 0..ROUNDS {
        let snapshot = Value::Object(root.clone());
        let mut changed = false;
        for (key, child) in root.iter_mut() {
            let mut at = vec![key.clone()];
            walk(child, &snapshot, &mut at, &mut notes, &mut changed);
        }
        if !changed {
            break;
        }
    }
    notes
}

/// Whether progenitor can follow `r` as it is.
pub(super) fn is_component_ref(r: &str) -> bool {
    let Some(rest) = r.strip_prefix("#/components/") else {
        return false;
    };
    let mut parts = rest.split('/');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(section), Some(name), None) if !section.is_empty() && !name.is_empty()
    )
}

fn walk(
    v: &mut Value,
    doc: &Value,
    at: &mut Vec<String>,
    notes: &mut Vec<Note>,
    changed: &mut bool,
) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && r.contains('%')
                && is_component_ref(r)
            {
                let decoded = super::super::refs::decode_fragment(r);
                if decoded != *r && doc.pointer(decoded.trim_start_matches('#')).is_some() {
                    notes.push(note(
                        &scope_of(at),
                        format!("`$ref: {r}` → `{decoded}` (percent-escapes decoded)"),
                    ));
                    map.insert("$ref".into(), Value::String(decoded));
                    *changed = true;
                }
            }
            if let Some(Value::String(r)) = map.get("$ref")
                && let Some(pointer) = r.strip_prefix('#')
                && !is_component_ref(r)
                && let Some(target) = doc.pointer(&super::super::refs::decode_fragment(pointer))
                && !target.get("$ref").is_some_and(|t| t == r.as_str())
            {
                let r = r.clone();
                *v = target.clone();
                *changed = true;
                notes.push(note(
                    &scope_of(at),
                    format!("`$ref: {r}` (not a component) replaced by a copy of its target"),
                ));
                return;
            }
            for (k, child) in map.iter_mut() {
                at.push(k.clone());
                walk(child, doc, at, notes, changed);
                at.pop();
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter_mut().enumerate() {
                at.push(i.to_string());
                walk(child, doc, at, notes, changed);
                at.pop();
            }
        }
        _ => {}
    }
}

/// `paths › /a › get` → `GET /a`; `components › schemas › A` → `schema A`.
fn scope_of(at: &[String]) -> String {
    match at {
        [p, path, method, ..] if p == "paths" => format!("{} {path}", method.to_uppercase()),
        [c, section, name, ..] if c == "components" => {
            format!("{} {name}", section.trim_end_matches('s'))
        }
        _ => "document".into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::super::tests::{
        assert_generates, assert_noted, assert_progenitor_takes, doc, json_response, run,
    };

    #[test]
    fn a_ref_into_a_property_path_is_replaced_by_a_copy() {
        let mut d = doc(json!({"/a": {"get": {"operationId": "get_a", "responses": {
            "200": json_response(json!({"$ref": "#/components/schemas/A/properties/b"})),
        }}}}));
        d["components"] = json!({"schemas": {"A": {"type": "object", "properties": {
            "b": {"type": "string", "description": "the b"}
        }}}});
        let (d, notes) = run(d);
        assert_eq!(
            d["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"type": "string", "description": "the b"})
        );
        assert_noted(
            &notes,
            "GET /a: `$ref: #/components/schemas/A/properties/b`",
        );
        assert_progenitor_takes(&d);
    }

    #[test]
    fn a_percent_escaped_ref_is_followed() {
        let ok = json!({"200": json_response(json!({"type": "string"}))});
        let d = doc(json!({
            "/a/{id}": {"get": {"operationId": "a", "parameters": [
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}
            ], "responses": ok}},
            "/b/{id}": {"get": {"operationId": "b", "parameters": [
                {"$ref": "#/paths/~1a~1%7Bid%7D/get/parameters/0"}
            ], "responses": {"200": {"$ref": "#/paths/~1a~1%7Bid%7D/get/responses/200"}}}},
        }));
        let (d, _) = run(d);
        assert_eq!(d["paths"]["/b/{id}"]["get"]["parameters"][0]["name"], "id");
        assert_generates(&d);
    }

    #[test]
    fn a_ref_to_another_operations_parameter_is_inlined() {
        let p = json!({"name": "id", "in": "query", "schema": {"type": "string"}});
        let ok = json!({"200": {"description": "ok"}});
        let d = doc(json!({
            "/a": {"get": {"operationId": "a", "parameters": [p], "responses": ok}},
            "/b": {"get": {"operationId": "b", "parameters": [
                {"$ref": "#/paths/~1a/get/parameters/0"}
            ], "responses": ok}},
        }));
        let (d, _) = run(d);
        assert_eq!(d["paths"]["/b"]["get"]["parameters"][0], p);
        assert_progenitor_takes(&d);
    }
}
