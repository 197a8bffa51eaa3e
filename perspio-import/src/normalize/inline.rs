//! Pass: `$ref`s that progenitor cannot follow.
//!
//! progenitor looks a reference up by its last segment in the component section it expects,
//! so only `#/components/<section>/<name>` works. A `$ref` into a property path
//! (`#/components/schemas/A/properties/b`), into `paths`, or anywhere else inside the document
//! is replaced by what it points to. A schema inside a schema (`…/properties/b`, `…/items`,
//! `…/schema`) becomes a component of its own (`AB`) and every `$ref` to it follows: such
//! references can be recursive (Azure's network specs), and copying them would never end.
//! Anything else (another operation's parameter or response) is replaced by a copy. Nothing is
//! lost: the component or the copy is the same schema. A dangling `$ref` never gets here:
//! `refs::check` names it before normalising.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::names::{fresh_name, type_key};
use super::{Note, note};

/// How many rounds of inlining (a copy can itself hold such a `$ref`).
const ROUNDS: usize = 8;

pub(super) fn inline_deep_refs(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = hoist_schema_refs(root);
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

/// Makes each schema that a `$ref` reaches inside another schema a component, and points the
/// references at it. The set of such targets is the set of distinct `$ref` strings in the
/// document, so this ends even when the targets refer to themselves.
fn hoist_schema_refs(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut targets = BTreeSet::new();
    for (_, child) in root.iter() {
        collect_schema_refs(child, &mut targets);
    }
    if targets.is_empty() {
        return Vec::new();
    }
    let snapshot = Value::Object(root.clone());
    let mut taken: BTreeSet<String> = snapshot
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, _)| type_key(k))
        .collect();
    // ref → what replaces it: a component ref (new, or the one the target itself is).
    let mut to: BTreeMap<String, String> = BTreeMap::new();
    let mut hoisted: Vec<(String, Value)> = Vec::new();
    let mut notes = Vec::new();
    for r in &targets {
        let pointer = crate::refs::decode_fragment(r.trim_start_matches('#'));
        let Some(target) = snapshot.pointer(&pointer) else {
            continue;
        };
        if let Some(Value::String(inner)) = target.get("$ref")
            && is_component_ref(inner)
            && target.as_object().is_some_and(|m| m.len() == 1)
        {
            to.insert(r.clone(), inner.clone());
            continue;
        }
        let name = fresh_name(&component_name(&pointer), &mut taken);
        notes.push(note(
            &format!("schema {name}"),
            format!("`$ref: {r}` (a schema inside a schema) made the component `{name}`"),
        ));
        to.insert(r.clone(), format!("#/components/schemas/{name}"));
        hoisted.push((name, target.clone()));
    }
    let components = root
        .entry("components")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(components) = components.as_object_mut() {
        let schemas = components
            .entry("schemas")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(schemas) = schemas.as_object_mut() {
            schemas.extend(hoisted);
        }
    }
    for (_, child) in root.iter_mut() {
        retarget(child, &to);
    }
    notes
}

/// Whether a decoded pointer is a schema inside a schema (or inside a media type).
fn is_nested_schema(pointer: &str) -> bool {
    let segments: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["components", "schemas", _, _, ..] => true,
        rest => rest.contains(&"schema"),
    }
}

fn collect_schema_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && r.starts_with("#/")
                && !is_component_ref(r)
                && is_nested_schema(&crate::refs::decode_fragment(&r[1..]))
            {
                out.insert(r.clone());
            }
            map.values().for_each(|c| collect_schema_refs(c, out));
        }
        Value::Array(list) => list.iter().for_each(|c| collect_schema_refs(c, out)),
        _ => {}
    }
}

fn retarget(v: &mut Value, to: &BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(new) = to.get(r.as_str())
            {
                r.clone_from(new);
            }
            map.values_mut().for_each(|c| retarget(c, to));
        }
        Value::Array(list) => list.iter_mut().for_each(|c| retarget(c, to)),
        _ => {}
    }
}

/// `/components/schemas/A/properties/b/items` → `ABItem`; a schema under `paths` → `Inline…`.
fn component_name(pointer: &str) -> String {
    const STRUCTURE: [&str; 9] = [
        "properties",
        "allOf",
        "anyOf",
        "oneOf",
        "additionalProperties",
        "schema",
        "content",
        "not",
        "components",
    ];
    let segments: Vec<String> = pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut name = String::new();
    let start = if segments.first().is_some_and(|s| s == "components") {
        2
    } else {
        name.push_str("Inline");
        0
    };
    for s in segments.iter().skip(start) {
        if STRUCTURE.contains(&s.as_str()) || s.parse::<usize>().is_ok() {
            continue;
        }
        let word = if s == "items" { "Item" } else { s.as_str() };
        let mut chars = word.chars().filter(|c| c.is_alphanumeric() || *c == '_');
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.extend(chars);
        }
    }
    if name.is_empty() {
        "Schema".into()
    } else {
        name
    }
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
                let decoded = crate::refs::decode_fragment(r);
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
                && let Some(target) = doc.pointer(&crate::refs::decode_fragment(pointer))
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
    fn a_ref_into_a_property_path_becomes_a_component() {
        let mut d = doc(json!({"/a": {"get": {"operationId": "get_a", "responses": {
            "200": json_response(json!({"$ref": "#/components/schemas/A/properties/b"})),
        }}}}));
        d["components"] = json!({"schemas": {"A": {"type": "object", "properties": {
            "b": {"type": "string", "description": "the b"},
            "c": {"$ref": "#/components/schemas/A/properties/c/allOf/0"},
        }}}});
        d["components"]["schemas"]["A"]["properties"]["c"] =
            json!({"allOf": [{"$ref": "#/components/schemas/B"}]});
        d["components"]["schemas"]["B"] = json!({"type": "integer"});
        d["components"]["schemas"]["C"] =
            json!({"$ref": "#/components/schemas/A/properties/c/allOf/0"});
        let (d, notes) = run(d);
        assert_eq!(
            d["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/AB"})
        );
        assert_eq!(
            d["components"]["schemas"]["AB"],
            json!({"type": "string", "description": "the b"})
        );
        // A target that is itself a component reference is followed, not copied.
        assert_eq!(
            d["components"]["schemas"]["C"],
            json!({"$ref": "#/components/schemas/B"})
        );
        assert_noted(
            &notes,
            "schema AB: `$ref: #/components/schemas/A/properties/b` (a schema inside a schema) \
             made the component `AB`",
        );
        assert_generates(&d);
    }

    /// Azure's network specs refer into their own property paths recursively; copying the
    /// targets never ended (the importer ran out of memory).
    #[test]
    fn recursive_refs_into_property_paths_end() {
        let mut d = doc(json!({"/a": {"get": {"operationId": "get_a", "responses": {
            "200": json_response(json!({"$ref": "#/components/schemas/Server"})),
        }}}}));
        d["components"] = json!({"schemas": {"Server": {"type": "object", "properties": {
            "ip": {"type": "object", "properties": {
                "subnet": {"type": "object", "properties": {
                    "ips": {"type": "array", "items": {
                        "$ref": "#/components/schemas/Server/properties/ip"
                    }},
                }},
                "state": {"type": "string"},
            }},
            "other": {"$ref": "#/components/schemas/Server/properties/ip/properties/subnet"},
        }}}});
        let (d, _) = run(d);
        let schemas = d["components"]["schemas"].as_object().unwrap();
        assert_eq!(
            schemas.keys().collect::<Vec<_>>(),
            ["Server", "ServerIp", "ServerIpSubnet"]
        );
        assert_eq!(
            d["components"]["schemas"]["ServerIp"]["properties"]["subnet"]["properties"]["ips"]["items"],
            json!({"$ref": "#/components/schemas/ServerIp"})
        );
        assert_generates(&d);
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
