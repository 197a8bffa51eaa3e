//! Pass: `allOf` cycles. A component whose `allOf` leads back to itself through `allOf` and
//! `$ref`s alone (`A: allOf [X, $ref A]`, or `A → B → A`) describes no finite type, and typify
//! merges `allOf` members without a cycle check: it recursed until the stack overflowed, which
//! aborts the process (found by `tests/properties.rs`). The member that closes the cycle is
//! dropped and the loss noted; the rest of the `allOf` stays. Recursion through properties,
//! items or `oneOf`/`anyOf` (a tree, a list of itself) is a finite type and is not touched.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{Note, note};

const PREFIX: &str = "#/components/schemas/";

pub(super) fn allof_cycles(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = Vec::new();
    let Some(schemas) = root
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_object_mut)
    else {
        return notes;
    };
    let names: Vec<String> = schemas.keys().cloned().collect();
    // Read once; a component's edges depend on its own schema only, so dropping members of
    // one changes only its entry (reading the whole graph again for every component made
    // this pass quadratic: 23× the time for 4× the operations, bench scenario 8).
    let mut edges = allof_edges(schemas);
    for name in names {
        let Some(schema) = schemas.get_mut(&name) else {
            continue;
        };
        let mut dropped = Vec::new();
        break_cycles_in(schema, &name, &edges, &mut dropped);
        if !dropped.is_empty() {
            edges.insert(name.clone(), allof_targets(schema));
        }
        for member in dropped {
            notes.push(note(
                &format!("schema {name}"),
                format!(
                    "allOf member {member} dropped: it leads back to {name} through allOf \
                     (no finite type; the generator would not end), its constraints are lost"
                ),
            ));
        }
    }
    notes
}

/// In `schema` (a part of component `name`) and the inline `allOf`/`oneOf`/`anyOf` members
/// under it (`A: oneOf [allOf [$ref A, …], …]`), drops the `allOf` members that lead back to
/// `name`. Properties and items are not entered: recursion there is a finite type.
fn break_cycles_in(
    schema: &mut Value,
    name: &str,
    edges: &BTreeMap<String, BTreeSet<String>>,
    dropped: &mut Vec<String>,
) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(all_of) = object.get_mut("allOf").and_then(Value::as_array_mut) {
        all_of.retain(|member| {
            let closes = member_targets(member)
                .iter()
                .any(|target| reaches(edges, target, name));
            if closes {
                dropped.push(member_label(member));
            }
            !closes
        });
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(members) = object.get_mut(key).and_then(Value::as_array_mut) {
            for member in members {
                break_cycles_in(member, name, edges, dropped);
            }
        }
    }
}

/// For every component, the components its `allOf` members name (directly, or through the
/// `allOf` of an inline member).
fn allof_edges(schemas: &Map<String, Value>) -> BTreeMap<String, BTreeSet<String>> {
    schemas
        .iter()
        .map(|(name, schema)| (name.clone(), allof_targets(schema)))
        .collect()
}

/// The components the `allOf` members of `schema` (one component) name.
fn allof_targets(schema: &Value) -> BTreeSet<String> {
    let mut targets = BTreeSet::new();
    if let Some(members) = schema.get("allOf").and_then(Value::as_array) {
        for member in members {
            targets.extend(member_targets(member));
        }
    }
    targets
}

/// The components an `allOf` member merges: its `$ref`, or those of the `allOf`, `oneOf` and
/// `anyOf` members under it.
fn member_targets(member: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![member];
    while let Some(schema) = stack.pop() {
        if let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(PREFIX))
        {
            out.insert(target.to_owned());
        }
        // typify merges into every alternative of an `anyOf`/`oneOf` it meets in a member.
        for key in ["allOf", "oneOf", "anyOf"] {
            if let Some(members) = schema.get(key).and_then(Value::as_array) {
                stack.extend(members);
            }
        }
    }
    out
}

/// Whether `goal` is reachable from `start` along `edges` (`start == goal` counts).
fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, start: &str, goal: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start.to_owned()];
    while let Some(at) = stack.pop() {
        if at == goal {
            return true;
        }
        if seen.insert(at.clone())
            && let Some(next) = edges.get(&at)
        {
            stack.extend(next.iter().cloned());
        }
    }
    false
}

fn member_label(member: &Value) -> String {
    match member.get("$ref").and_then(Value::as_str) {
        Some(r) => format!("`{r}`"),
        None => "(an inline schema)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn run(schemas: Value) -> (Value, Vec<Note>) {
        let mut doc = json!({"components": {"schemas": schemas}});
        let notes = allof_cycles(doc.as_object_mut().unwrap());
        (doc["components"]["schemas"].clone(), notes)
    }

    #[test]
    fn an_allof_member_naming_its_own_component_is_dropped_and_noted() {
        let (schemas, notes) = run(json!({"asset": {"allOf": [
            {"type": "string"}, {"$ref": "#/components/schemas/asset"}
        ]}}));
        assert_eq!(schemas["asset"]["allOf"], json!([{"type": "string"}]));
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0]
                .to_string()
                .starts_with("schema asset: allOf member")
        );
    }

    #[test]
    fn a_cycle_through_two_components_and_an_inline_allof_is_broken_once() {
        let (schemas, notes) = run(json!({
            "A": {"allOf": [{"allOf": [{"$ref": "#/components/schemas/B"}]}, {"type": "object"}]},
            "B": {"allOf": [{"$ref": "#/components/schemas/A"}]},
        }));
        assert_eq!(schemas["A"]["allOf"], json!([{"type": "object"}]));
        assert_eq!(
            schemas["B"]["allOf"],
            json!([{"$ref": "#/components/schemas/A"}])
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn an_allof_inside_a_one_of_variant_naming_its_component_is_dropped() {
        let (schemas, notes) = run(json!({"Site": {"oneOf": [
            {"allOf": [{"$ref": "#/components/schemas/Site"}, {"type": "integer"}]}, {}
        ]}}));
        assert_eq!(
            schemas["Site"]["oneOf"],
            json!([{"allOf": [{"type": "integer"}]}, {}])
        );
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn an_allof_member_whose_any_of_names_its_component_is_dropped() {
        let (schemas, notes) = run(json!({"Site": {"allOf": [
            {"anyOf": [{"type": "integer"}, {"$ref": "#/components/schemas/Site"}]},
            {"type": "array", "items": {"type": "integer"}}
        ]}}));
        assert_eq!(
            schemas["Site"]["allOf"],
            json!([{"type": "array", "items": {"type": "integer"}}])
        );
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].message.contains("(an inline schema)"),
            "{}",
            notes[0]
        );
    }

    #[test]
    fn recursion_through_properties_and_one_of_is_kept() {
        let tree = json!({
            "Node": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object",
                "properties": {"children": {"type": "array",
                    "items": {"$ref": "#/components/schemas/Node"}}}}]},
            "Base": {"oneOf": [{"$ref": "#/components/schemas/Node"}, {"type": "string"}]},
        });
        let (schemas, notes) = run(tree.clone());
        assert_eq!(schemas, tree);
        assert!(notes.is_empty());
    }
}
