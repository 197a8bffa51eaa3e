//! Pass: component schema names that become the same Rust type name.
//!
//! progenitor names a type after its schema in PascalCase (`user_id`, `UserId` and `user-id`
//! all become `UserId`). When two names meet, the later ones are renamed (`UserId2`, …) and
//! every `$ref` to them follows. The wire format does not change; only Rust names do.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Note, note};

const PREFIX: &str = "#/components/schemas/";

pub(super) fn schema_names(root: &mut Map<String, Value>) -> Vec<Note> {
    let Some(schemas) = root
        .get("components")
        .and_then(|c| c.get("schemas"))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    for name in schemas.keys() {
        taken.entry(type_key(name)).or_insert_with(|| name.clone());
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for name in schemas.keys() {
        let key = type_key(name);
        match seen.get(&key) {
            None => {
                seen.insert(key, name.clone());
            }
            Some(_) => {
                let base: String = rust_name(name);
                let new = (2..)
                    .map(|n| format!("{base}{n}"))
                    .find(|c| !taken.contains_key(&type_key(c)) && !schemas.contains_key(c))
                    .unwrap_or_else(|| format!("{base}_"));
                taken.insert(type_key(&new), new.clone());
                renames.insert(name.clone(), new);
            }
        }
    }
    if renames.is_empty() {
        return Vec::new();
    }
    let mut notes = Vec::new();
    if let Some(schemas) = root
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_object_mut)
    {
        let old = std::mem::take(schemas);
        for (name, schema) in old {
            match renames.get(&name) {
                Some(new) => {
                    let first = seen.get(&type_key(&name)).cloned().unwrap_or_default();
                    notes.push(note(
                        &format!("schema {name}"),
                        format!(
                            "renamed `{new}`: `{name}` and `{first}` become the same Rust type name"
                        ),
                    ));
                    schemas.insert(new.clone(), schema);
                }
                None => {
                    schemas.insert(name, schema);
                }
            }
        }
    }
    for (_, v) in root.iter_mut() {
        rewrite_refs(v, &renames);
    }
    notes
}

fn rewrite_refs(v: &mut Value, renames: &BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix(PREFIX)
                && let Some(new) = renames.get(name)
            {
                *r = format!("{PREFIX}{new}");
            }
            for (_, child) in map.iter_mut() {
                rewrite_refs(child, renames);
            }
        }
        Value::Array(list) => {
            for child in list {
                rewrite_refs(child, renames);
            }
        }
        _ => {}
    }
}

/// What two names must share to become the same Rust name: their letters and digits,
/// case-folded (a superset of heck's PascalCase collisions).
fn type_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A name made of the original's letters and digits, so the renamed schema reads alike.
fn rust_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if kept.is_empty() {
        "Schema".into()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::super::tests::{assert_generates, assert_noted, doc, json_response, run};

    #[test]
    fn schema_names_that_meet_in_pascal_case_are_renamed_with_their_refs() {
        let mut d = doc(json!({"/a": {"get": {"operationId": "get_a", "responses": {
            "200": json_response(json!({"type": "object", "properties": {
                "a": {"$ref": "#/components/schemas/user_id"},
                "b": {"$ref": "#/components/schemas/UserId"},
                "c": {"$ref": "#/components/schemas/user-id"},
            }})),
        }}}}));
        d["components"] = json!({"schemas": {
            "user_id": {"type": "string"},
            "UserId": {"type": "integer"},
            "user-id": {"type": "boolean"},
        }});
        let (d, notes) = run(d);
        let schemas = d["components"]["schemas"].as_object().unwrap();
        assert_eq!(
            schemas.keys().collect::<Vec<_>>(),
            ["user_id", "UserId2", "userid3"]
        );
        let props = &d["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["properties"];
        assert_eq!(props["b"]["$ref"], "#/components/schemas/UserId2");
        assert_eq!(props["c"]["$ref"], "#/components/schemas/userid3");
        assert_noted(
            &notes,
            "schema UserId: renamed `UserId2`: `UserId` and `user_id` become the same Rust type name",
        );
        assert_generates(&d);
    }
}
