//! The change report of `regen --from`: operations added, removed and changed between the
//! previous normalised spec and the new one, with breaking changes marked.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::HTTP_METHODS;
use crate::normalize::describe_schema;

/// One change to one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Whether code calling the old client can stop compiling or working.
    pub breaking: bool,
    /// What changed (`new required query parameter `tenant`: string`).
    pub text: String,
}

/// What changed between two normalised specs. Operations are named `operationId (METHOD
/// /path)`; `Display` is the report `cargo xtask regen` prints, breaking changes marked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Operations only in the new spec.
    pub added: Vec<String>,
    /// Operations only in the old spec (each one breaking).
    pub removed: Vec<String>,
    /// Operations in both that changed, with their changes.
    pub changed: Vec<(String, Vec<Change>)>,
}

impl Report {
    /// No operation was added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// How many breaking changes: removed operations plus breaking changes.
    pub fn breaking(&self) -> usize {
        self.removed.len()
            + self
                .changed
                .iter()
                .flat_map(|(_, c)| c)
                .filter(|c| c.breaking)
                .count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "no operation changed");
        }
        for op in &self.added {
            writeln!(f, "  + added     {op}")?;
        }
        for op in &self.removed {
            writeln!(f, "  - removed   {op}  BREAKING")?;
        }
        for (op, changes) in &self.changed {
            writeln!(f, "  ~ changed   {op}")?;
            for c in changes {
                let mark = if c.breaking { "  BREAKING" } else { "" };
                writeln!(f, "      {}{mark}", c.text)?;
            }
        }
        writeln!(
            f,
            "{} added, {} removed, {} changed; {} breaking change(s)",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.breaking()
        )
    }
}

/// Compares two normalised (OpenAPI 3.0) documents: operations (matched by method and path),
/// their parameters, request body, success type and response fields, and error statuses.
pub fn compare(old: &Value, new: &Value) -> Report {
    let old_ops = operations(old);
    let new_ops = operations(new);
    let mut report = Report::default();
    for (key, op) in &new_ops {
        match old_ops.iter().find(|(k, _)| k == key) {
            None => report.added.push(label(key, op)),
            Some((_, old_op)) => {
                let changes = compare_operation(old, old_op, new, op);
                if !changes.is_empty() {
                    report.changed.push((label(key, op), changes));
                }
            }
        }
    }
    for (key, op) in &old_ops {
        if !new_ops.iter().any(|(k, _)| k == key) {
            report.removed.push(label(key, op));
        }
    }
    report
}

fn label(key: &str, op: &Value) -> String {
    match op.get("operationId").and_then(Value::as_str) {
        Some(id) => format!("{id} ({key})"),
        None => key.to_owned(),
    }
}

fn operations(doc: &Value) -> Vec<(String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (method, op) in item.as_object().into_iter().flatten() {
            if HTTP_METHODS.contains(&method.as_str()) {
                ops.push((format!("{} {path}", method.to_uppercase()), op));
            }
        }
    }
    ops
}

fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..8 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with("#/") => match doc.pointer(&r[1..]) {
                Some(target) => v = target,
                None => return v,
            },
            _ => return v,
        }
    }
    v
}

/// A schema's type as a short string: `Asset`, `string/date-time?`, `[Asset]`, `any`.
fn type_of(schema: &Value) -> String {
    if schema.get("$ref").is_some() {
        return describe_schema(schema);
    }
    let nullable = if schema["nullable"].as_bool().unwrap_or(false) {
        "?"
    } else {
        ""
    };
    let base = match schema.get("type").and_then(Value::as_str) {
        Some("array") => format!("[{}]", schema.get("items").map_or("any".into(), type_of)),
        Some(t) => match schema.get("format").and_then(Value::as_str) {
            Some(fmt) => format!("{t}/{fmt}"),
            None => t.to_owned(),
        },
        None => {
            let combined = ["allOf", "oneOf", "anyOf"].iter().find_map(|k| {
                schema.get(*k).and_then(Value::as_array).map(|list| {
                    let parts: Vec<String> = list.iter().map(type_of).collect();
                    format!("{k}({})", parts.join(", "))
                })
            });
            combined.unwrap_or_else(|| "any".into())
        }
    };
    format!("{base}{nullable}")
}

struct Param {
    location: String,
    name: String,
    required: bool,
    ty: String,
}

fn parameters(doc: &Value, op: &Value) -> Vec<Param> {
    op.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| resolve(doc, p))
        .map(|p| Param {
            location: p["in"].as_str().unwrap_or("?").to_owned(),
            name: p["name"].as_str().unwrap_or("?").to_owned(),
            required: p["required"].as_bool().unwrap_or(false),
            ty: p.get("schema").map_or("any".into(), type_of),
        })
        .collect()
}

/// The JSON schema of the first 2xx response, if any.
fn success_schema<'a>(doc: &'a Value, op: &'a Value) -> Option<(&'a str, Option<&'a Value>)> {
    let responses = op.get("responses")?.as_object()?;
    responses
        .iter()
        .find(|(status, _)| status.starts_with('2'))
        .map(|(status, r)| {
            let r = resolve(doc, r);
            let schema = r
                .get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.iter().find(|(mt, _)| mt.contains("json")))
                .and_then(|(_, media)| media.get("schema"));
            (status.as_str(), schema)
        })
}

/// Field names of an object schema (following `$ref`, `allOf`, and array items as `[].field`).
fn fields(doc: &Value, schema: &Value, prefix: &str, depth: u8, out: &mut BTreeSet<String>) {
    if depth > 4 {
        return;
    }
    let schema = resolve(doc, schema);
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        out.extend(props.keys().map(|k| format!("{prefix}{k}")));
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        fields(doc, part, prefix, depth + 1, out);
    }
    if let Some(items) = schema.get("items") {
        fields(doc, items, &format!("{prefix}[]."), depth + 1, out);
    }
}

fn body_type(doc: &Value, op: &Value) -> Option<(String, bool)> {
    let body = resolve(doc, op.get("requestBody")?);
    let required = body["required"].as_bool().unwrap_or(false);
    let ty = body
        .get("content")
        .and_then(Value::as_object)
        .and_then(|c| c.iter().next())
        .map(|(mt, media)| format!("{mt} {}", media.get("schema").map_or("any".into(), type_of)))
        .unwrap_or_default();
    Some((ty, required))
}

fn compare_operation(old_doc: &Value, old: &Value, new_doc: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut push = |breaking: bool, text: String| changes.push(Change { breaking, text });

    let (old_id, new_id) = (old.get("operationId"), new.get("operationId"));
    if old_id != new_id {
        push(
            true,
            format!(
                "operationId {} → {} (the Rust method is renamed)",
                old_id.unwrap_or(&Value::Null),
                new_id.unwrap_or(&Value::Null)
            ),
        );
    }

    let old_params = parameters(old_doc, old);
    let new_params = parameters(new_doc, new);
    for p in &new_params {
        match old_params
            .iter()
            .find(|o| o.name == p.name && o.location == p.location)
        {
            None if p.required => push(
                true,
                format!(
                    "new required {} parameter `{}`: {}",
                    p.location, p.name, p.ty
                ),
            ),
            None => push(
                false,
                format!(
                    "new optional {} parameter `{}`: {}",
                    p.location, p.name, p.ty
                ),
            ),
            Some(o) => {
                if o.ty != p.ty {
                    push(
                        true,
                        format!(
                            "{} parameter `{}` type {} → {}",
                            p.location, p.name, o.ty, p.ty
                        ),
                    );
                }
                if !o.required && p.required {
                    push(
                        true,
                        format!("{} parameter `{}` is now required", p.location, p.name),
                    );
                }
                if o.required && !p.required {
                    push(
                        false,
                        format!("{} parameter `{}` is now optional", p.location, p.name),
                    );
                }
            }
        }
    }
    for o in &old_params {
        if !new_params
            .iter()
            .any(|p| p.name == o.name && p.location == o.location)
        {
            push(
                true,
                format!(
                    "{} parameter `{}` removed (its builder setter goes away)",
                    o.location, o.name
                ),
            );
        }
    }

    match (body_type(old_doc, old), body_type(new_doc, new)) {
        (None, Some((ty, required))) => push(required, format!("request body added: {ty}")),
        (Some((ty, _)), None) => push(true, format!("request body removed (was {ty})")),
        (Some((o, o_req)), Some((n, n_req))) => {
            if o != n {
                push(true, format!("request body type {o} → {n}"));
            }
            if !o_req && n_req {
                push(true, "request body is now required".into());
            }
        }
        (None, None) => {}
    }

    let old_success = success_schema(old_doc, old);
    let new_success = success_schema(new_doc, new);
    let old_ty = old_success.map(|(s, schema)| (s, schema.map_or("no body".into(), type_of)));
    let new_ty = new_success.map(|(s, schema)| (s, schema.map_or("no body".into(), type_of)));
    if old_ty != new_ty {
        let show = |t: &Option<(&str, String)>| {
            t.as_ref()
                .map_or("none".to_owned(), |(s, ty)| format!("{s} {ty}"))
        };
        push(
            true,
            format!("success response {} → {}", show(&old_ty), show(&new_ty)),
        );
    }
    if let (Some((_, Some(o))), Some((_, Some(n)))) = (old_success, new_success) {
        let (mut of, mut nf) = (BTreeSet::new(), BTreeSet::new());
        fields(old_doc, o, "", 0, &mut of);
        fields(new_doc, n, "", 0, &mut nf);
        for f in nf.difference(&of) {
            push(false, format!("response field `{f}` added"));
        }
        for f in of.difference(&nf) {
            push(true, format!("response field `{f}` removed"));
        }
    }

    let error_statuses = |op: &Value| -> Map<String, Value> {
        op.get("responses")
            .and_then(Value::as_object)
            .map(|r| {
                r.iter()
                    .filter(|(s, _)| !s.starts_with('2'))
                    .map(|(s, v)| (s.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (oe, ne) = (error_statuses(old), error_statuses(new));
    let (ok, nk): (BTreeSet<&String>, BTreeSet<&String>) =
        (oe.keys().collect(), ne.keys().collect());
    if ok != nk {
        push(
            false,
            format!(
                "error statuses {} → {}",
                ok.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                nk.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    changes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn doc(paths: Value) -> Value {
        json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths,
            "components": {"schemas": {
                "Asset": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
                "Asset2": {"type": "object", "properties": {"id": {"type": "string"}, "site": {"type": "string"}}},
            }},
        })
    }

    fn get(params: Value, schema: &str) -> Value {
        json!({"operationId": "get_asset", "parameters": params, "responses": {"200": {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
        }}})
    }

    #[test]
    fn a_removed_operation_and_a_new_required_parameter_are_breaking() {
        let old = doc(json!({
            "/assets/{id}": {"get": get(json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]), "Asset")},
            "/sites": {"get": {"operationId": "list_sites", "responses": {"200": {"description": "ok"}}}},
        }));
        let new = doc(json!({
            "/assets/{id}": {"get": get(json!([
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "tenant", "in": "query", "required": true, "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer"}},
            ]), "Asset2")},
            "/labels": {"get": {"operationId": "list_labels", "responses": {"200": {"description": "ok"}}}},
        }));
        let report = compare(&old, &new);
        assert_eq!(report.added, ["list_labels (GET /labels)"]);
        assert_eq!(report.removed, ["list_sites (GET /sites)"]);
        let (op, changes) = &report.changed[0];
        assert_eq!(op, "get_asset (GET /assets/{id})");
        let find = |needle: &str| {
            changes
                .iter()
                .find(|c| c.text.contains(needle))
                .unwrap_or_else(|| panic!("no change {needle:?} in {changes:#?}"))
        };
        assert!(find("new required query parameter `tenant`").breaking);
        assert!(!find("new optional query parameter `limit`").breaking);
        assert!(find("response field `name` removed").breaking);
        assert!(!find("response field `site` added").breaking);
        assert!(find("success response 200 Asset → 200 Asset2").breaking);
        let text = report.to_string();
        assert!(
            text.contains("- removed   list_sites (GET /sites)  BREAKING"),
            "{text}"
        );
        assert!(
            text.contains("new required query parameter `tenant`: string  BREAKING"),
            "{text}"
        );
    }

    #[test]
    fn identical_specs_report_nothing() {
        let d = doc(json!({"/a": {"get": get(json!([]), "Asset")}}));
        assert!(compare(&d, &d).is_empty());
    }
}
