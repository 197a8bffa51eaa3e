//! Passes: names that would meet in the generated Rust code.
//!
//! - [`schema_names`]: progenitor names a type after its schema in PascalCase (`user_id`,
//!   `UserId` and `user-id` all become `UserId`). When two names meet, the later ones are
//!   renamed (`UserId2`, …) and every `$ref` to them follows.
//! - [`schema_titles`]: typify names an inline schema (and the inner type of a nullable
//!   component) after its `title`. A title that meets a component's name gives two types one
//!   name (E0428); one title on schemas of different shapes makes typify reuse the first type
//!   for all of them (a silent wrong type). Such titles are dropped; typify then names the
//!   schema after where it is (`OrderLinesItem`).
//! - [`property_names`]: typify names a field after its property in snake_case (`jobId` and
//!   `job_id` both become `job_id`, E0124). The later property is dropped from the struct; its
//!   value stays readable in the struct's open map.
//! - [`rename_components`]: after generation, a component whose Rust name the generator also
//!   gave to another type (typify's derived names, `Order` + `links` → `OrderLinks`) is renamed.
//!
//! The wire format does not change; only Rust names do (and, for [`property_names`], where a
//! value is read from).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{Note, for_each_schema, note};

const PREFIX: &str = "#/components/schemas/";

/// `components.schemas`, when the document has it.
fn schemas(root: &Map<String, Value>) -> Option<&Map<String, Value>> {
    root.get("components")?.get("schemas")?.as_object()
}

fn schemas_mut(root: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    root.get_mut("components")?
        .get_mut("schemas")?
        .as_object_mut()
}

/// `base`, or `base2`, `base3`, … : the first whose Rust name is not in `taken` (type keys),
/// which then holds it.
pub(super) fn fresh_name(base: &str, taken: &mut BTreeSet<String>) -> String {
    let name = std::iter::once(base.to_owned())
        .chain((2..).map(|n| format!("{base}{n}")))
        .find(|c| !taken.contains(&type_key(c)))
        .unwrap_or_else(|| format!("{base}_"));
    taken.insert(type_key(&name));
    name
}

pub(super) fn schema_names(root: &mut Map<String, Value>) -> Vec<Note> {
    let Some(schemas) = schemas(root) else {
        return Vec::new();
    };
    let mut taken: BTreeSet<String> = schemas.keys().map(|k| type_key(k)).collect();
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for name in schemas.keys() {
        let key = type_key(name);
        match seen.get(&key) {
            None => {
                seen.insert(key, name.clone());
            }
            Some(_) => {
                // The bare name is taken (it meets an earlier one): `base2`, `base3`, …
                let new = fresh_name(&rust_name(name), &mut taken);
                renames.insert(name.clone(), new);
            }
        }
    }
    if renames.is_empty() {
        return Vec::new();
    }
    let mut notes = Vec::new();
    if let Some(schemas) = schemas_mut(root) {
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

/// Drops the `title`s that would make typify give one Rust name to two types (see the module
/// documentation).
pub(super) fn schema_titles(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut split = split_nullable_compositions(root);
    let mut notes = titles(root);
    split.append(&mut notes);
    split
}

fn titles(root: &mut Map<String, Value>) -> Vec<Note> {
    let schemas = schemas(root);
    let component_keys: BTreeMap<String, String> = schemas
        .into_iter()
        .flatten()
        .map(|(name, _)| (type_key(name), name.clone()))
        .collect();
    // Component roots by address: a non-nullable root's title is not used (its name is the
    // component's), a nullable root's title names its inner type.
    let roots: BTreeMap<usize, bool> = schemas
        .into_iter()
        .flatten()
        .filter_map(|(_, s)| s.as_object())
        .map(|m| (address(m), m.get("nullable") == Some(&Value::Bool(true))))
        .collect();

    // What each title would name: (address, shape without the title).
    let mut titled: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    let mut drop: BTreeMap<usize, String> = BTreeMap::new();
    for_each_schema(root, &mut |_, map| {
        let Some(title) = map.get("title").and_then(Value::as_str) else {
            return;
        };
        if map.contains_key("$ref") {
            return;
        }
        let key = type_key(title);
        let at = address(map);
        if let Some(component) = component_keys.get(&key) {
            if roots.get(&at) != Some(&false) {
                drop.insert(at, format!("it meets the component name `{component}`"));
            }
            return;
        }
        if roots.contains_key(&at) {
            return;
        }
        let mut shape = map.clone();
        shape.remove("title");
        shape.remove("description");
        shape.remove("example");
        titled
            .entry(key)
            .or_default()
            .push((at, Value::Object(shape).to_string()));
    });
    for list in titled.values() {
        let shapes: BTreeSet<&String> = list.iter().map(|(_, shape)| shape).collect();
        if shapes.len() > 1 {
            for (at, _) in list {
                drop.insert(
                    *at,
                    format!("{} schemas of different shapes carry it", shapes.len()),
                );
            }
        }
    }
    let mut notes = Vec::new();
    if drop.is_empty() {
        return notes;
    }
    for_each_schema(root, &mut |scope, map| {
        if let Some(why) = drop.get(&address(map))
            && let Some(Value::String(title)) = map.remove("title")
        {
            notes.push(note(
                scope,
                format!(
                    "schema title `{title}` dropped: {why}, and typify names types after titles \
                     (Rust type names only)"
                ),
            ));
        }
    });
    notes
}

/// typify gives the inner type of a nullable `oneOf`/`anyOf` component the component's own
/// name (`ScheduleInterval(Option<ScheduleInterval>)`, E0428, airflow). The composition moves
/// to a component `<Name>Value` and the component becomes a nullable `allOf` of it, which
/// typify turns into `ScheduleInterval(Option<ScheduleIntervalValue>)`: the same values.
fn split_nullable_compositions(root: &mut Map<String, Value>) -> Vec<Note> {
    let Some(schemas) = schemas_mut(root) else {
        return Vec::new();
    };
    let mut taken: BTreeSet<String> = schemas.keys().map(|k| type_key(k)).collect();
    let mut split: Vec<(String, String)> = Vec::new();
    for (name, schema) in schemas.iter() {
        let composed = schema.get("oneOf").is_some() || schema.get("anyOf").is_some();
        if !(composed && schema.get("nullable") == Some(&Value::Bool(true))) {
            continue;
        }
        let value = fresh_name(&format!("{}Value", rust_name(name)), &mut taken);
        split.push((name.clone(), value));
    }
    let mut notes = Vec::new();
    for (name, value) in split {
        let Some(Value::Object(mut inner)) = schemas.shift_remove(&name) else {
            continue;
        };
        inner.shift_remove("nullable");
        let mut outer = Map::new();
        if let Some(d) = inner.get("description") {
            outer.insert("description".into(), d.clone());
        }
        outer.insert("nullable".into(), Value::Bool(true));
        outer.insert(
            "allOf".into(),
            json!([{"$ref": format!("{PREFIX}{value}")}]),
        );
        schemas.insert(name.clone(), Value::Object(outer));
        schemas.insert(value.clone(), Value::Object(inner));
        notes.push(note(
            &format!("schema {name}"),
            format!(
                "its `oneOf`/`anyOf` moved to the component `{value}` (typify gives the inner type \
                 of a nullable composed component the component's own name; Rust type names only)"
            ),
        ));
    }
    notes
}

/// The identity of a schema object during one pass (the document is not restructured between
/// taking and using it).
fn address(map: &Map<String, Value>) -> usize {
    std::ptr::from_ref(map) as usize
}

/// Drops the later of two properties whose Rust field names meet (see the module documentation).
pub(super) fn property_names(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = Vec::new();
    for_each_schema(root, &mut |scope, map| {
        let Some(props) = map.get("properties").and_then(Value::as_object) else {
            return;
        };
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let mut dropped: Vec<(String, String, String)> = Vec::new();
        for name in props.keys() {
            let field = field_name(name);
            match fields.get(&field) {
                Some(first) => dropped.push((name.clone(), first.clone(), field)),
                None => {
                    fields.insert(field, name.clone());
                }
            }
        }
        if dropped.is_empty() {
            return;
        }
        if let Some(props) = map.get_mut("properties").and_then(Value::as_object_mut) {
            for (name, _, _) in &dropped {
                props.shift_remove(name);
            }
        }
        if let Some(required) = map.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|r| !dropped.iter().any(|(name, _, _)| r.as_str() == Some(name)));
        }
        // An open map keeps the dropped values readable: typify flattens it into `extra`.
        let open = match map.get("additionalProperties") {
            None | Some(Value::Bool(_)) if !fields.contains_key("extra") => {
                map.insert("additionalProperties".into(), json!({}));
                true
            }
            Some(Value::Bool(false)) => {
                map.remove("additionalProperties");
                false
            }
            Some(Value::Object(_)) => true,
            _ => false,
        };
        for (name, first, field) in dropped {
            notes.push(note(
                scope,
                format!(
                    "property `{name}` dropped from the struct: it and `{first}` both become the \
                     Rust field `{field}`; {}",
                    if open {
                        "its value is in the struct's open map"
                    } else {
                        "its value is not readable"
                    }
                ),
            ));
        }
    });
    notes
}

/// typify's field name for a property (`typify_impl::util::sanitize` with snake case).
pub(crate) fn field_name(property: &str) -> String {
    use heck::ToSnakeCase as _;
    let out = match property {
        "+1" => "plus1".to_owned(),
        "-1" => "minus1".to_owned(),
        _ => property
            .replace('\'', "")
            .replace(|c| !unicode_ident::is_xid_continue(c), "-")
            .to_snake_case(),
    };
    let out = match out.chars().next() {
        None => "x".to_owned(),
        Some(c) if unicode_ident::is_xid_start(c) => out,
        Some(_) => format!("x{out}"),
    };
    if out == "gen" || out == "_" || syn::parse_str::<syn::Ident>(&out).is_err() {
        format!("{out}_")
    } else {
        out
    }
}

/// Renames the components whose Rust type name the generated code defines more than once
/// (`clashes`), avoiding every name in `taken` (the generated code's type names). Returns one
/// note per rename; no note means no component was involved.
pub(crate) fn rename_components(
    root: &mut Map<String, Value>,
    clashes: &[String],
    taken: &BTreeSet<String>,
) -> Vec<Note> {
    let Some(schemas) = schemas_mut(root) else {
        return Vec::new();
    };
    let clash_keys: BTreeSet<String> = clashes.iter().map(|c| type_key(c)).collect();
    let mut used: BTreeSet<String> = taken.iter().map(|t| type_key(t)).collect();
    used.extend(schemas.keys().map(|k| type_key(k)));
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    for name in schemas.keys() {
        if !clash_keys.contains(&type_key(name)) {
            continue;
        }
        let base = rust_name(name);
        // The bare name is taken (it clashes), so this is `base2`, `base3`, …
        let new = fresh_name(&base, &mut used);
        renames.insert(name.clone(), new);
    }
    if renames.is_empty() {
        return Vec::new();
    }
    let old = std::mem::take(schemas);
    for (name, schema) in old {
        let name = renames.get(&name).cloned().unwrap_or(name);
        schemas.insert(name, schema);
    }
    for (_, v) in root.iter_mut() {
        rewrite_refs(v, &renames);
    }
    renames
        .iter()
        .map(|(old, new)| {
            note(
                &format!("schema {old}"),
                format!(
                    "renamed `{new}`: the generator also gives its Rust name to another type \
                     (derived from where an inline schema is)"
                ),
            )
        })
        .collect()
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
pub(super) fn type_key(name: &str) -> String {
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

    fn generated(d: &serde_json::Value) -> String {
        let spec: openapiv3::OpenAPI = serde_json::from_value(d.clone()).unwrap();
        perspio_codegen::pretty(&perspio_codegen::generate(&spec).unwrap()).unwrap()
    }

    /// The Rust type names the generated client defines twice.
    fn duplicate_types(d: &serde_json::Value) -> Vec<String> {
        let spec: openapiv3::OpenAPI = serde_json::from_value(d.clone()).unwrap();
        let code = perspio_codegen::generate(&spec).unwrap();
        crate::surface::type_names(&crate::surface::parse(&code).unwrap()).0
    }

    #[test]
    fn titles_that_meet_a_component_name_or_name_different_shapes_are_dropped() {
        let fields = |required: &str| {
            json!({"type": "object", "title": "Fields", "required": [required], "properties": {
                required: {"type": "string"},
            }})
        };
        let mut d = doc(json!({"/a": {"get": {"operationId": "get_a", "responses": {
            "200": json_response(json!({"$ref": "#/components/schemas/Order"})),
        }}}}));
        d["components"] = json!({"schemas": {
            // A component and two inline schemas of other shapes titled like it (vtex).
            "Fields": {"type": "object", "title": "Fields", "properties": {"x": {"type": "integer"}}},
            "Order": {"type": "object", "properties": {
                "fields": fields("a"),
                "more": {"type": "object", "properties": {"fields": fields("b")}},
                // One title on two different shapes, no component of that name.
                "left": {"type": "object", "title": "Side", "properties": {"l": {"type": "string"}}},
                "right": {"type": "object", "title": "Side", "properties": {"r": {"type": "string"}}},
                // One title on two identical schemas: typify shares the type, which is right.
                "home": {"type": "object", "title": "Place", "properties": {"p": {"type": "string"}}},
                "work": {"type": "object", "title": "Place", "properties": {"p": {"type": "string"}}},
                "ref": {"$ref": "#/components/schemas/Fields"},
            }},
            // A nullable component: typify names its inner type after the title (GitHub).
            "nullable-order": {"type": "object", "nullable": true, "title": "Order",
                "properties": {"id": {"type": "string"}}},
        }});
        // What typify does with the titles: every `Fields` property, `right` and the
        // nullable component's inner value get another schema's type (a silent wrong type).
        let before = generated(&d);
        for wrong in [
            "pub fields: ::std::option::Option<Fields>",
            "pub right: ::std::option::Option<Side>",
            "pub struct NullableOrder(pub ::std::option::Option<Order>)",
        ] {
            assert!(
                before.contains(wrong),
                "the fixture no longer shows {wrong:?}"
            );
        }
        let (d, notes) = run(d);
        let schemas = &d["components"]["schemas"];
        let order = &schemas["Order"]["properties"];
        assert!(order["fields"].get("title").is_none());
        assert!(order["more"]["properties"]["fields"].get("title").is_none());
        assert!(order["left"].get("title").is_none() && order["right"].get("title").is_none());
        assert_eq!(order["home"]["title"], "Place");
        assert_eq!(order["work"]["title"], "Place");
        assert_eq!(
            schemas["Fields"]["title"], "Fields",
            "a component's own title stays"
        );
        assert!(schemas["nullable-order"].get("title").is_none());
        assert_noted(
            &notes,
            "schema Order: schema title `Fields` dropped: it meets the component name `Fields`",
        );
        assert_noted(
            &notes,
            "schema Order: schema title `Side` dropped: 2 schemas of different shapes carry it",
        );
        let after = generated(&d);
        for right in [
            "pub fields: ::std::option::Option<OrderFields>",
            "pub fields: ::std::option::Option<OrderMoreFields>",
            "pub left: ::std::option::Option<OrderLeft>",
            "pub right: ::std::option::Option<OrderRight>",
            "pub home: ::std::option::Option<Place>",
            "pub ref_: ::std::option::Option<Fields>",
            "pub struct NullableOrder(pub ::std::option::Option<NullableOrderInner>)",
        ] {
            assert!(after.contains(right), "no {right:?} in:\n{after}");
        }
        assert_eq!(duplicate_types(&d), Vec::<String>::new());
        assert_generates(&d);
    }

    #[test]
    fn properties_that_meet_in_snake_case_keep_the_first_and_an_open_map() {
        let mut d = doc(json!({"/a": {"get": {"operationId": "get_a", "responses": {
            "200": json_response(json!({"$ref": "#/components/schemas/Job"})),
        }}}}));
        d["components"] = json!({"schemas": {
            "Job": {"type": "object", "required": ["jobId"], "properties": {
                "jobID": {"type": "integer"},
                "jobId": {"type": "string"},
                "_id": {"type": "string"},
                "id": {"type": "string"},
                "type": {"type": "string"},
                "type_": {"type": "string"},
            }},
            "Closed": {"type": "object", "additionalProperties": false, "properties": {
                "a-b": {"type": "string"},
                "a_b": {"type": "string"},
            }},
        }});
        let (d, notes) = run(d);
        let job = &d["components"]["schemas"]["Job"];
        assert_eq!(
            job["properties"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["jobID", "_id", "type"]
        );
        assert_eq!(job["required"], json!([]));
        assert_eq!(job["additionalProperties"], json!({}));
        let closed = &d["components"]["schemas"]["Closed"];
        assert_eq!(
            closed["additionalProperties"],
            json!({}),
            "a closed object must accept the dropped property"
        );
        assert_noted(
            &notes,
            "schema Job: property `jobId` dropped from the struct: it and `jobID` both become the \
             Rust field `job_id`; its value is in the struct's open map",
        );
        assert_noted(&notes, "property `type_` dropped");
        assert_noted(&notes, "property `a_b` dropped");
        assert_generates(&d);
        let code = generated(&d);
        assert!(code.contains("pub extra:"), "no open map in:\n{code}");
    }

    #[test]
    fn field_names_follow_typify() {
        use super::field_name;
        for (property, field) in [
            ("jobId", "job_id"),
            ("job_id", "job_id"),
            ("_id", "id"),
            ("type", "type_"),
            ("gen", "gen_"),
            ("+1", "plus1"),
            ("1st", "x1st"),
            ("", "x"),
            ("a.b", "a_b"),
            ("don't", "dont"),
        ] {
            assert_eq!(field_name(property), field, "{property}");
        }
    }

    #[test]
    fn a_nullable_composed_component_names_its_inner_type() {
        let mut d = doc(json!({"/a": {"get": {"operationId": "get_a", "responses": {
            "200": json_response(json!({"$ref": "#/components/schemas/ScheduleInterval"})),
        }}}}));
        d["components"] = json!({"schemas": {
            "ScheduleInterval": {"nullable": true, "anyOf": [
                {"$ref": "#/components/schemas/TimeDelta"},
                {"$ref": "#/components/schemas/Cron"},
            ]},
            "TimeDelta": {"type": "object", "properties": {"days": {"type": "integer"}}},
            "Cron": {"type": "object", "properties": {"value": {"type": "string"}}},
        }});
        assert_eq!(
            duplicate_types(&d),
            ["ScheduleInterval"],
            "the fixture no longer clashes"
        );
        let (d, notes) = run(d);
        let schemas = &d["components"]["schemas"];
        assert_eq!(
            schemas["ScheduleInterval"],
            json!({"nullable": true, "allOf": [
                {"$ref": "#/components/schemas/ScheduleIntervalValue"}
            ]})
        );
        assert!(schemas["ScheduleIntervalValue"]["anyOf"].is_array());
        assert_noted(
            &notes,
            "schema ScheduleInterval: its `oneOf`/`anyOf` moved to the component \
             `ScheduleIntervalValue`",
        );
        assert!(generated(&d).contains(
            "pub struct ScheduleInterval(pub ::std::option::Option<ScheduleIntervalValue>)"
        ));
        assert_eq!(duplicate_types(&d), Vec::<String>::new());
        assert_generates(&d);
    }
}
