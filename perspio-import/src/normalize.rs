//! Turns an OpenAPI 3.0/3.1 document into the OpenAPI 3.0.3 form progenitor 0.15 takes.
//!
//! The normaliser is a list of small named passes ([`PASSES`]) over a `serde_json::Value`;
//! each pass returns what it changed or lost, as [`Note`]s naming the operation (or schema).
//! Every pass is idempotent: normalising a normalised document changes nothing.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::HTTP_METHODS;

mod bodies;
mod cycles;
mod inline;
mod names;
mod params;
mod text;
mod values;

pub(crate) use names::rename_components;

/// One change the normaliser made (or something it had to drop), and where.
///
/// `Display` is `scope: message`, the line `cargo xtask regen` prints per change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Note {
    /// `document`, an operationId (or `METHOD /path`), or `schema Name`.
    pub scope: String,
    /// What changed, in a sentence.
    pub message: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.scope, self.message)
    }
}

fn note(scope: &str, message: impl Into<String>) -> Note {
    Note {
        scope: scope.to_owned(),
        message: message.into(),
    }
}

type Pass = fn(&mut Map<String, Value>) -> Result<Vec<Note>, NormalizeError>;

/// The passes, in the order they run.
pub(crate) const PASSES: &[(&str, Pass)] = &[
    ("openapi 3.1 document", |r| Ok(document_31(r))),
    ("non-component $refs", |r| Ok(inline::inline_deep_refs(r))),
    ("line ends", |r| Ok(text::line_ends(r))),
    ("operationIds", |r| Ok(operation_ids(r))),
    ("3.1 schema keywords", |r| Ok(schemas_31(r))),
    ("schema values", |r| Ok(values::schema_values(r))),
    ("allOf cycles", |r| Ok(cycles::allof_cycles(r))),
    ("parameters", params::parameters),
    ("request bodies", |r| Ok(bodies::request_bodies(r))),
    ("JSON-like responses", |r| {
        Ok(bodies::vendor_json_responses(r))
    }),
    ("JSON without schema", |r| Ok(json_without_schema(r))),
    ("websocket channels", |r| Ok(websocket_channels(r))),
    ("success response types", |r| Ok(success_types(r))),
    ("default responses", |r| Ok(default_responses(r))),
    ("error response types", |r| Ok(error_types(r))),
    ("schema names", |r| Ok(names::schema_names(r))),
    ("schema titles", |r| Ok(names::schema_titles(r))),
    ("property names", |r| Ok(names::property_names(r))),
];

/// Why a document cannot be normalised at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// The document is not a JSON object.
    #[error("the document is not a mapping")]
    NotAMapping,
    /// Constructs no faithful transformation can make progenitor take.
    #[error("{} construct(s) cannot be normalised faithfully:\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Unfaithful {
        /// One sentence per construct, naming the operation, the construct and the way out.
        problems: Vec<String>,
    },
}

/// Runs every pass over `doc`, in place, and returns what they changed. Identical notes are
/// reported once with a count. Every pass is idempotent: normalising a normalised document
/// changes nothing and notes nothing.
///
/// This is the normaliser alone; [`derive()`](crate::derive()) runs it and then generates the
/// client, renaming components whose Rust names meet (which only the generated code shows).
///
/// # Errors
/// [`NormalizeError::NotAMapping`] when `doc` is not an object;
/// [`NormalizeError::Unfaithful`] when a construct has no faithful form progenitor takes (every
/// pass still ran; each problem is listed).
pub fn normalize(doc: &mut Value) -> Result<Vec<Note>, NormalizeError> {
    let root = doc.as_object_mut().ok_or(NormalizeError::NotAMapping)?;
    let mut notes: Vec<(Note, usize)> = Vec::new();
    // Where each distinct note is in `notes` (a scan per note was quadratic in the notes).
    let mut seen: std::collections::HashMap<Note, usize> = std::collections::HashMap::new();
    for (_, pass) in PASSES {
        for n in pass(root)? {
            match seen.get(&n) {
                Some(&at) => notes[at].1 += 1,
                None => {
                    seen.insert(n.clone(), notes.len());
                    notes.push((n, 1));
                }
            }
        }
    }
    Ok(notes
        .into_iter()
        .map(|(n, count)| {
            if count > 1 {
                Note {
                    message: format!("{} ({count} places)", n.message),
                    ..n
                }
            } else {
                n
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Walking the document

/// `(path, method, operation)` for every operation, in document order.
fn operations_mut(root: &mut Map<String, Value>) -> Vec<(String, String, &mut Map<String, Value>)> {
    let mut ops = Vec::new();
    let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) else {
        return ops;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if let (true, Some(op)) = (HTTP_METHODS.contains(&method.as_str()), op.as_object_mut())
            {
                ops.push((path.clone(), method.clone(), op));
            }
        }
    }
    ops
}

/// An operation's name in notes: its operationId, or `METHOD /path`.
fn op_label(path: &str, method: &str, op: &Map<String, Value>) -> String {
    match op.get("operationId").and_then(Value::as_str) {
        Some(id) if !id.trim().is_empty() => id.to_owned(),
        _ => format!("{} {path}", method.to_uppercase()),
    }
}

/// Calls `f` on every schema object of the document (components, parameters, headers, bodies,
/// responses, and their subschemas), with the scope to report.
fn for_each_schema(
    root: &mut Map<String, Value>,
    f: &mut dyn FnMut(&str, &mut Map<String, Value>),
) {
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        for (section, entries) in components.iter_mut() {
            let Some(entries) = entries.as_object_mut() else {
                continue;
            };
            for (name, entry) in entries.iter_mut() {
                match section.as_str() {
                    "schemas" => visit_schema(entry, &format!("schema {name}"), f),
                    "parameters" | "headers" => visit_param(entry, &format!("{section} {name}"), f),
                    "responses" => visit_response(entry, &format!("response {name}"), f),
                    "requestBodies" => visit_content(entry, &format!("request body {name}"), f),
                    _ => {}
                }
            }
        }
    }
    let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        if let Some(params) = item.get_mut("parameters").and_then(Value::as_array_mut) {
            for p in params {
                visit_param(p, &format!("path {path}"), f);
            }
        }
        for (method, op) in item.iter_mut() {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let scope = op_label(path, method, op);
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in params {
                    visit_param(p, &scope, f);
                }
            }
            if let Some(body) = op.get_mut("requestBody") {
                visit_content(body, &scope, f);
            }
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                for (_, r) in responses.iter_mut() {
                    visit_response(r, &scope, f);
                }
            }
        }
    }
}

fn visit_param(p: &mut Value, scope: &str, f: &mut dyn FnMut(&str, &mut Map<String, Value>)) {
    if let Some(schema) = p.get_mut("schema") {
        visit_schema(schema, scope, f);
    }
    visit_content(p, scope, f);
}

fn visit_content(v: &mut Value, scope: &str, f: &mut dyn FnMut(&str, &mut Map<String, Value>)) {
    if let Some(content) = v.get_mut("content").and_then(Value::as_object_mut) {
        for (_, media) in content.iter_mut() {
            if let Some(schema) = media.get_mut("schema") {
                visit_schema(schema, scope, f);
            }
        }
    }
}

fn visit_response(r: &mut Value, scope: &str, f: &mut dyn FnMut(&str, &mut Map<String, Value>)) {
    visit_content(r, scope, f);
    if let Some(headers) = r.get_mut("headers").and_then(Value::as_object_mut) {
        for (_, h) in headers.iter_mut() {
            visit_param(h, scope, f);
        }
    }
}

fn visit_schema(schema: &mut Value, scope: &str, f: &mut dyn FnMut(&str, &mut Map<String, Value>)) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    f(scope, map);
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" | "$defs" | "definitions" => {
                for (_, s) in child.as_object_mut().into_iter().flatten() {
                    visit_schema(s, scope, f);
                }
            }
            "allOf" | "anyOf" | "oneOf" => {
                for s in child.as_array_mut().into_iter().flatten() {
                    visit_schema(s, scope, f);
                }
            }
            "items" | "additionalProperties" | "not" => visit_schema(child, scope, f),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pass: the 3.1 document

/// `openapi: 3.1.x` → `3.0.3`; drops the 3.1-only top-level fields; `paths` becomes required.
fn document_31(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = Vec::new();
    let version = root
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if version.starts_with("3.1") {
        root.insert("openapi".into(), "3.0.3".into());
        notes.push(note("document", format!("OpenAPI {version} → 3.0.3")));
    }
    for key in ["$schema", "jsonSchemaDialect"] {
        if root.shift_remove(key).is_some() {
            notes.push(note("document", format!("`{key}` dropped (3.1 only)")));
        }
    }
    if let Some(webhooks) = root.shift_remove("webhooks") {
        let n = webhooks.as_object().map_or(0, Map::len);
        notes.push(note(
            "document",
            format!("{n} webhook(s) dropped (3.1 only; progenitor generates no server side)"),
        ));
    }
    if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
        if info.shift_remove("summary").is_some() {
            notes.push(note("document", "`info.summary` dropped (3.1 only)"));
        }
        if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut)
            && license.shift_remove("identifier").is_some()
        {
            notes.push(note(
                "document",
                "`info.license.identifier` dropped (3.1 only)",
            ));
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut)
        && components.shift_remove("pathItems").is_some()
    {
        notes.push(note(
            "document",
            "`components.pathItems` dropped (3.1 only)",
        ));
    }
    if !root.contains_key("paths") {
        root.insert("paths".into(), json!({}));
        notes.push(note("document", "no `paths`: an empty `paths` added"));
    }
    notes
}

// ---------------------------------------------------------------------------------------------
// Pass: operationIds

/// The inherent methods of progenitor's generated `Client`: an operation cannot take these names
/// (gambitcomm's `new` gave E0592).
const CLIENT_METHODS: [&str; 2] = ["new", "new_with_client"];

/// Missing operationIds are derived from method and path; duplicates (after progenitor's
/// snake_case) are renamed. Document order decides which one keeps its name.
fn operation_ids(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut ops = operations_mut(root);
    let mut taken: BTreeSet<String> = CLIENT_METHODS.iter().map(|m| (*m).to_owned()).collect();
    let mut needs_id: Vec<usize> = Vec::new();
    let mut first_use: Vec<(String, String)> = Vec::new();
    for (i, (path, method, op)) in ops.iter().enumerate() {
        match op.get("operationId").and_then(Value::as_str) {
            Some(id) if !id.trim().is_empty() => {
                if taken.insert(snake_case(id)) {
                    first_use.push((snake_case(id), format!("{} {path}", method.to_uppercase())));
                } else {
                    needs_id.push(i);
                }
            }
            _ => needs_id.push(i),
        }
    }
    for i in needs_id {
        let (path, method, op) = &mut ops[i];
        let where_ = format!("{} {path}", method.to_uppercase());
        let id = unique(&derive_operation_id(method, path), &taken);
        taken.insert(id.clone());
        let message = match op.get("operationId").and_then(Value::as_str) {
            Some(old) if CLIENT_METHODS.contains(&snake_case(old).as_str()) => format!(
                "operationId `{old}` of {where_} would be a method the generated `Client` already \
                 has (`Client::{}`); renamed to `{id}`",
                snake_case(old)
            ),
            Some(old) if !old.trim().is_empty() => {
                let first = first_use
                    .iter()
                    .find(|(k, _)| *k == snake_case(old))
                    .map_or("another operation", |(_, w)| w.as_str());
                format!(
                    "operationId `{old}` of {where_} is also used by {first}; renamed to `{id}`"
                )
            }
            _ => format!("operationId derived from {where_}"),
        };
        notes.push(note(&id, message));
        op.insert("operationId".into(), id.into());
    }
    notes
}

/// `get` + `/assets/{id}/events` → `get_assets_id_events`.
pub(crate) fn derive_operation_id(method: &str, path: &str) -> String {
    let id = snake_case(&format!("{method} {path}"));
    if id == snake_case(method) {
        format!("{id}_root")
    } else {
        id
    }
}

/// `listAssets`, `list-assets`, `List Assets` → `list_assets`; never starts with a digit.
pub(crate) fn snake_case(s: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase()
                && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
            {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        prev = Some(c);
    }
    let out = out.trim_end_matches('_').to_owned();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("op_{out}")
    } else {
        out
    }
}

fn unique(base: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| base.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Pass: 3.1 schema keywords

/// Keywords of JSON Schema 2020-12 that OpenAPI 3.0 lacks and that carry no type information
/// progenitor could use; they are dropped.
const DROPPED_SCHEMA_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "$dynamicRef",
    "$dynamicAnchor",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    "unevaluatedProperties",
    "unevaluatedItems",
    "prefixItems",
    "contains",
    "minContains",
    "maxContains",
    "patternProperties",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "if",
    "then",
    "else",
];

fn schemas_31(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = Vec::new();
    for_each_schema(root, &mut |scope, schema| {
        schema_31(scope, schema, &mut notes)
    });
    notes
}

fn schema_31(scope: &str, schema: &mut Map<String, Value>, notes: &mut Vec<Note>) {
    // `anyOf: [X, {type: null}]` (the 3.1 way to say nullable) → `allOf: [X], nullable: true`.
    for key in ["anyOf", "oneOf"] {
        let Some(list) = schema.get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        let before = list.len();
        list.retain(|s| s.get("type").and_then(Value::as_str) != Some("null"));
        if list.len() == before {
            continue;
        }
        schema.insert("nullable".into(), true.into());
        if let Some(Value::Array(list)) = schema.get(key)
            && list.len() == 1
        {
            let only = list.clone();
            schema.shift_remove(key);
            schema.insert("allOf".into(), Value::Array(only));
        }
        notes.push(note(
            scope,
            format!("`{key}` with a `null` member → `nullable: true`"),
        ));
    }

    match schema.get("type").cloned() {
        Some(Value::Array(types)) => {
            let has_null = types.iter().any(|t| t == "null");
            let others: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
            let shown = Value::Array(types.clone());
            if let [only] = others.as_slice() {
                schema.insert("type".into(), (*only).clone());
                let mut message = format!("`type: {shown}` → `type: {only}`");
                if has_null {
                    schema.insert("nullable".into(), true.into());
                    message.push_str(", `nullable: true`");
                }
                notes.push(note(scope, message));
            } else {
                schema.shift_remove("type");
                if has_null {
                    schema.insert("nullable".into(), true.into());
                }
                notes.push(note(
                    scope,
                    format!("`type: {shown}` → any type (progenitor takes one type)"),
                ));
            }
        }
        Some(Value::String(t)) if t == "null" => {
            schema.shift_remove("type");
            schema.insert("nullable".into(), true.into());
            notes.push(note(scope, "`type: null` → any type, `nullable: true`"));
        }
        _ => {}
    }

    if let Some(value) = schema.shift_remove("const") {
        if !schema.contains_key("enum") {
            schema.insert("enum".into(), Value::Array(vec![value]));
        }
        notes.push(note(scope, "`const` → a one-value `enum`"));
    }
    if let Some(Value::Array(examples)) = schema.get("examples").cloned() {
        schema.shift_remove("examples");
        if let (Some(first), false) = (examples.first(), schema.contains_key("example")) {
            schema.insert("example".into(), first.clone());
        }
        if examples.len() > 1 {
            notes.push(note(
                scope,
                format!("`examples` ({}) → `example` (the first)", examples.len()),
            ));
        }
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(n) = schema.get(exclusive).filter(|v| v.is_number()).cloned() {
            schema.insert(bound.into(), n);
            schema.insert(exclusive.into(), true.into());
        }
    }
    let dropped: Vec<&str> = DROPPED_SCHEMA_KEYWORDS
        .iter()
        .copied()
        .filter(|k| schema.shift_remove(*k).is_some())
        .collect();
    if !dropped.is_empty() {
        notes.push(note(
            scope,
            format!(
                "dropped schema keyword(s) OpenAPI 3.0 lacks: `{}`",
                dropped.join("`, `")
            ),
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Responses: how progenitor sees them

/// How progenitor classifies a response body (mirrors `perspio_codegen::check`).
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Json(Value),
    Raw,
    Empty,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Json(schema) => format!("JSON {}", describe_schema(schema)),
            Kind::Raw => "a non-JSON body".into(),
            Kind::Empty => "no body".into(),
        }
    }
}

/// A short name for a schema: the `$ref` target's name, `any`, or compact JSON.
pub(crate) fn describe_schema(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if schema.as_object().is_some_and(Map::is_empty) {
        return "any (`{}`)".into();
    }
    let text = schema.to_string();
    if text.len() > 60 {
        format!("{}…", &text[..text.floor_char_boundary(60)])
    } else {
        text
    }
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.starts_with("application/json;")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Success,
    Error,
    Default,
}

fn side(status: &str) -> Side {
    if status == "default" {
        return Side::Default;
    }
    match status.chars().next() {
        Some('1' | '2') => Side::Success,
        _ => Side::Error,
    }
}

/// Follows `#/components/responses/...` references (at most a few hops).
fn resolve<'a>(components: &'a Value, mut response: &'a Value) -> &'a Value {
    for _ in 0..8 {
        match response.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with("#/") => {
                match components.pointer(&crate::refs::decode_fragment(&r[1..])) {
                    Some(target) => response = target,
                    None => return response,
                }
            }
            _ => return response,
        }
    }
    response
}

fn kind(components: &Value, response: &Value) -> Kind {
    let response = resolve(components, response);
    let content = response.get("content").and_then(Value::as_object);
    match content {
        None => Kind::Empty,
        Some(c) if c.is_empty() => Kind::Empty,
        Some(c) => match c.iter().find(|(mt, _)| is_json(mt)) {
            Some((_, media)) => Kind::Json(media.get("schema").cloned().unwrap_or(json!({}))),
            None => Kind::Raw,
        },
    }
}

/// The resolved response with its JSON media type's schema replaced by `schema`.
fn with_json_schema(components: &Value, response: &Value, schema: &Value) -> Value {
    let mut inline = resolve(components, response).clone();
    if let Some(content) = inline.get_mut("content").and_then(Value::as_object_mut) {
        for (mt, media) in content.iter_mut() {
            if is_json(mt)
                && let Some(media) = media.as_object_mut()
            {
                media.insert("schema".into(), schema.clone());
            }
        }
    }
    inline
}

/// For the response passes: a document holding only `components`, to resolve `$ref`s against.
fn components_only(root: &Map<String, Value>) -> Value {
    json!({"components": root.get("components").cloned().unwrap_or(json!({}))})
}

/// `(path, method, label, responses)` for every operation that has a `responses` mapping.
fn responses_mut(root: &mut Map<String, Value>) -> Vec<(String, &mut Map<String, Value>)> {
    operations_mut(root)
        .into_iter()
        .filter_map(|(path, method, op)| {
            let label = op_label(&path, &method, op);
            op.get_mut("responses")
                .and_then(Value::as_object_mut)
                .map(|r| (label, r))
        })
        .collect()
}

fn entries(
    components: &Value,
    responses: &Map<String, Value>,
    wanted: &[Side],
) -> Vec<(String, Kind)> {
    responses
        .iter()
        .filter(|(status, _)| wanted.contains(&side(status)))
        .map(|(status, r)| (status.clone(), kind(components, r)))
        .collect()
}

fn distinct(list: &[(String, Kind)]) -> Vec<&Kind> {
    let mut out: Vec<&Kind> = Vec::new();
    for (_, k) in list {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Pass: JSON without schema

/// A JSON media type without a schema gets `{}` (any JSON), in responses and request bodies.
/// progenitor's `x-dropshot-websocket` operations upgrade the connection (their code needs
/// `base64`, `rand` and the upgraded response), which the middleware stack cannot carry: it
/// reads every body whole. The extension is dropped; the operation stays a plain request.
fn websocket_channels(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = Vec::new();
    for (path, method, op) in operations_mut(root) {
        if op.remove("x-dropshot-websocket").is_some() {
            notes.push(note(
                &op_label(&path, &method, op),
                "`x-dropshot-websocket` dropped: the client sends it as a plain request (the \
                 middleware stack reads every body whole and cannot carry an upgraded \
                 connection)",
            ));
        }
    }
    notes
}

fn json_without_schema(root: &mut Map<String, Value>) -> Vec<Note> {
    fn fill(scope: &str, what: &str, v: &mut Value, notes: &mut Vec<Note>) {
        for (mt, media) in v
            .get_mut("content")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flatten()
        {
            if let (true, Some(media)) = (is_json(mt), media.as_object_mut())
                && !media.contains_key("schema")
            {
                media.insert("schema".into(), json!({}));
                notes.push(note(
                    scope,
                    format!("{what}: JSON without a schema → any JSON (`{{}}`)"),
                ));
            }
        }
    }
    let mut notes = Vec::new();
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        for (section, what) in [("responses", "response"), ("requestBodies", "request body")] {
            for (name, v) in components
                .get_mut(section)
                .and_then(Value::as_object_mut)
                .into_iter()
                .flatten()
            {
                fill(&format!("{what} {name}"), what, v, &mut notes);
            }
        }
    }
    for (path, method, op) in operations_mut(root) {
        let label = op_label(&path, &method, op);
        if let Some(body) = op.get_mut("requestBody") {
            fill(&label, "request body", body, &mut notes);
        }
        for (status, r) in op
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flatten()
        {
            fill(&label, &format!("response {status}"), r, &mut notes);
        }
    }
    notes
}

// ---------------------------------------------------------------------------------------------
// Pass: several success types

/// progenitor takes one success type. The first 2xx JSON type wins (or, without JSON, the first
/// non-JSON body): other JSON 2xx responses get its schema, and 2xx responses of another kind
/// (no body, non-JSON) are dropped, so such an answer becomes an unexpected-response error.
fn success_types(root: &mut Map<String, Value>) -> Vec<Note> {
    let components = components_only(root);
    let mut notes = Vec::new();
    for (label, responses) in responses_mut(root) {
        let success = entries(&components, responses, &[Side::Success]);
        if distinct(&success).len() <= 1 {
            continue;
        }
        let chosen = success
            .iter()
            .find(|(_, k)| matches!(k, Kind::Json(_)))
            .or_else(|| success.iter().find(|(_, k)| *k == Kind::Raw))
            .or_else(|| success.first())
            .cloned();
        let Some((chosen_status, chosen_kind)) = chosen else {
            continue;
        };
        for (status, k) in &success {
            if *k == chosen_kind {
                continue;
            }
            match (k, &chosen_kind) {
                (Kind::Json(_), Kind::Json(schema)) => {
                    if let Some(r) = responses.get(status) {
                        let replaced = with_json_schema(&components, r, schema);
                        responses.insert(status.clone(), replaced);
                    }
                    notes.push(note(
                        &label,
                        format!(
                            "{status} ({}) now has {chosen_status}'s type ({}): progenitor takes \
                             one success type",
                            k.describe(),
                            chosen_kind.describe()
                        ),
                    ));
                }
                _ => {
                    responses.shift_remove(status);
                    notes.push(note(
                        &label,
                        format!(
                            "{status} ({}) dropped: progenitor takes one success type \
                             ({chosen_status}, {}); a {status} answer is now an unexpected response",
                            k.describe(),
                            chosen_kind.describe()
                        ),
                    ));
                }
            }
        }
    }
    notes
}

// ---------------------------------------------------------------------------------------------
// Pass: default responses

/// progenitor counts `default` as a success *and* an error type. It is kept when its type is the
/// success type and every error response has that type too; otherwise it moves to the error
/// side as `4XX`/`5XX` ranges (those not already present).
fn default_responses(root: &mut Map<String, Value>) -> Vec<Note> {
    let components = components_only(root);
    let mut notes = Vec::new();
    for (label, responses) in responses_mut(root) {
        let Some(default) = responses.get("default").cloned() else {
            continue;
        };
        let default_kind = kind(&components, &default);
        let success = entries(&components, responses, &[Side::Success]);
        let Some((_, success_kind)) = success.first() else {
            // No 2xx response: `default` is the success type; nothing to move it to.
            continue;
        };
        let errors = entries(&components, responses, &[Side::Error]);
        let why = if *success_kind != default_kind {
            format!(
                "`default` ({}) differs from the success type ({})",
                default_kind.describe(),
                success_kind.describe()
            )
        } else if errors.iter().any(|(_, k)| *k != default_kind) {
            format!(
                "`default` has the success type ({}) but other error responses differ",
                default_kind.describe()
            )
        } else {
            continue;
        };
        responses.shift_remove("default");
        let present: Vec<String> = responses.keys().map(|k| k.to_ascii_uppercase()).collect();
        let mut added = Vec::new();
        for range in ["4XX", "5XX"] {
            if !present.iter().any(|p| p == range) {
                responses.insert(range.into(), default.clone());
                added.push(range);
            }
        }
        let moved = if added.is_empty() {
            "dropped (4XX and 5XX already present)".to_owned()
        } else {
            format!("moved to the error side as {}", added.join(", "))
        };
        notes.push(note(&label, format!("{why}; {moved}")));
    }
    notes
}

// ---------------------------------------------------------------------------------------------
// Pass: several error types

/// progenitor takes one error type. When error responses carry different JSON schemas, they
/// all get one open schema (`{}`, any JSON); error responses of another kind (no body, non-JSON)
/// are dropped, so such an answer becomes an unexpected-response error (which keeps the body).
fn error_types(root: &mut Map<String, Value>) -> Vec<Note> {
    let components = components_only(root);
    let mut notes = Vec::new();
    for (label, responses) in responses_mut(root) {
        let errors = entries(&components, responses, &[Side::Error, Side::Default]);
        let kinds = distinct(&errors);
        if kinds.len() <= 1 {
            continue;
        }
        let json_schemas = kinds.iter().filter(|k| matches!(k, Kind::Json(_))).count();
        let any_json = json_schemas > 0;
        let open = json!({});
        let mut merged = Vec::new();
        for (status, k) in &errors {
            match k {
                Kind::Json(_) if json_schemas > 1 => {
                    if let Some(r) = responses.get(status) {
                        let replaced = with_json_schema(&components, r, &open);
                        responses.insert(status.clone(), replaced);
                    }
                    merged.push(status.as_str());
                }
                Kind::Json(_) => {}
                Kind::Empty | Kind::Raw if any_json || *k == Kind::Empty => {
                    responses.shift_remove(status);
                    notes.push(note(
                        &label,
                        format!(
                            "error response {status} ({}) dropped: progenitor takes one error \
                             type; it is now an unexpected response",
                            k.describe()
                        ),
                    ));
                }
                Kind::Empty | Kind::Raw => {}
            }
        }
        if !merged.is_empty() {
            notes.push(note(
                &label,
                format!(
                    "{json_schemas} error schemas merged into one open schema (`{{}}`, any JSON) \
                     for {}",
                    merged.join(", ")
                ),
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    pub(super) fn doc(paths: Value) -> Value {
        json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths})
    }

    pub(super) fn json_response(schema: Value) -> Value {
        json!({"description": "d", "content": {"application/json": {"schema": schema}}})
    }

    pub(super) fn run(mut d: Value) -> (Value, Vec<String>) {
        let notes = normalize(&mut d).unwrap();
        (d, notes.iter().map(ToString::to_string).collect())
    }

    /// The normalised document passes progenitor's checks.
    /// The normalised document generates a client (progenitor runs, nothing panics).
    #[track_caller]
    pub(super) fn assert_generates(d: &Value) {
        let spec: openapiv3::OpenAPI = serde_json::from_value(d.clone()).unwrap();
        if let Err(e) = perspio_codegen::generate(&spec) {
            panic!("{e}\n{}", serde_json::to_string_pretty(d).unwrap());
        }
        let (again, notes) = run(d.clone());
        assert_eq!(&again, d, "normalising twice changes the document");
        assert!(notes.is_empty(), "normalising twice notes {notes:?}");
    }

    #[track_caller]
    pub(super) fn assert_progenitor_takes(d: &Value) {
        let spec: openapiv3::OpenAPI = serde_json::from_value(d.clone()).unwrap();
        if let Err(e) = perspio_codegen::check(&spec) {
            panic!("{e}\n{}", serde_json::to_string_pretty(d).unwrap());
        }
    }

    #[track_caller]
    pub(super) fn assert_noted(notes: &[String], needle: &str) {
        assert!(
            notes.iter().any(|n| n.contains(needle)),
            "no note containing {needle:?} in {notes:#?}"
        );
    }

    #[test]
    fn nullable_type_arrays_of_3_1_become_3_0_nullable() {
        let mut d = doc(json!({}));
        d["openapi"] = "3.1.0".into();
        d["components"] = json!({"schemas": {"A": {"type": "object", "properties": {
            "name": {"type": ["string", "null"]},
            "nothing": {"type": ["null"]},
            "either": {"type": ["string", "integer"]},
            "ref": {"anyOf": [{"$ref": "#/components/schemas/B"}, {"type": "null"}]},
        }}, "B": {"type": "string"}}});
        let (d, notes) = run(d);
        assert_eq!(d["openapi"], "3.0.3");
        let props = &d["components"]["schemas"]["A"]["properties"];
        assert_eq!(props["name"], json!({"type": "string", "nullable": true}));
        assert_eq!(props["nothing"], json!({"nullable": true}));
        assert_eq!(props["either"], json!({}));
        assert_eq!(
            props["ref"],
            json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/B"}]})
        );
        assert_noted(&notes, "document: OpenAPI 3.1.0 → 3.0.3");
        assert_noted(
            &notes,
            "schema A: `type: [\"string\",\"null\"]` → `type: \"string\"`, `nullable: true`",
        );
        assert_noted(&notes, "→ any type");
        assert_progenitor_takes(&d);
    }

    #[test]
    fn const_becomes_a_one_value_enum_and_other_3_1_keywords_go() {
        let mut d = doc(json!({}));
        d["openapi"] = "3.1.0".into();
        d["webhooks"] = json!({"hook": {}});
        d["jsonSchemaDialect"] = "x".into();
        d["info"]["summary"] = "s".into();
        d["components"] = json!({"schemas": {"Kind": {
            "type": "string", "const": "asset", "examples": ["asset", "other"],
            "contentMediaType": "text/plain"
        }, "N": {"type": "number", "exclusiveMinimum": 0}}});
        let (d, notes) = run(d);
        assert_eq!(
            d["components"]["schemas"]["Kind"],
            json!({"type": "string", "example": "asset", "enum": ["asset"]})
        );
        assert_eq!(
            d["components"]["schemas"]["N"],
            json!({"type": "number", "exclusiveMinimum": true, "minimum": 0})
        );
        assert!(d.get("webhooks").is_none() && d.get("jsonSchemaDialect").is_none());
        assert!(d["info"].get("summary").is_none());
        assert_noted(&notes, "schema Kind: `const` → a one-value `enum`");
        assert_noted(&notes, "1 webhook(s) dropped");
        assert_noted(&notes, "`contentMediaType`");
        assert_progenitor_takes(&d);
    }

    #[test]
    fn a_3_1_document_without_paths_gets_empty_paths() {
        let (d, notes) = run(json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}}));
        assert_eq!(d["paths"], json!({}));
        assert_noted(&notes, "no `paths`");
        assert_progenitor_takes(&d);
    }

    #[test]
    fn an_operation_id_that_names_a_client_method_is_renamed() {
        let ok = json!({"200": json_response(json!({"type": "string"}))});
        let (d, notes) = run(doc(json!({"/objects": {"post": {"operationId": "new",
            "responses": ok}}})));
        assert_eq!(
            d["paths"]["/objects"]["post"]["operationId"],
            "post_objects"
        );
        assert_noted(
            &notes,
            "operationId `new` of POST /objects would be a method the generated `Client` \
             already has (`Client::new`); renamed to `post_objects`",
        );
        assert_generates(&d);
    }

    #[test]
    fn a_missing_operation_id_is_derived_from_method_and_path() {
        let ok = json!({"200": {"description": "ok"}});
        let (d, notes) = run(doc(json!({
            "/assets/{id}/events": {"get": {"responses": ok}},
            "/": {"get": {"responses": ok}},
            "/locationLabels": {"post": {"responses": ok}},
        })));
        assert_eq!(
            d["paths"]["/assets/{id}/events"]["get"]["operationId"],
            "get_assets_id_events"
        );
        assert_eq!(d["paths"]["/"]["get"]["operationId"], "get_root");
        assert_eq!(
            d["paths"]["/locationLabels"]["post"]["operationId"],
            "post_location_labels"
        );
        assert_noted(
            &notes,
            "get_assets_id_events: operationId derived from GET /assets/{id}/events",
        );
        assert_progenitor_takes(&d);
    }

    #[test]
    fn a_duplicate_operation_id_is_renamed_deterministically() {
        let ok = json!({"200": {"description": "ok"}});
        let (d, notes) = run(doc(json!({
            "/a": {"get": {"operationId": "getThing", "responses": ok}},
            "/b": {"get": {"operationId": "get_thing", "responses": ok}},
            "/c": {"get": {"operationId": "getThing", "responses": ok}},
        })));
        assert_eq!(d["paths"]["/a"]["get"]["operationId"], "getThing");
        assert_eq!(d["paths"]["/b"]["get"]["operationId"], "get_b");
        assert_eq!(d["paths"]["/c"]["get"]["operationId"], "get_c");
        assert_noted(
            &notes,
            "get_c: operationId `getThing` of GET /c is also used by GET /a; renamed to `get_c`",
        );
        assert_progenitor_takes(&d);
        // Idempotent: a second run changes nothing.
        let (again, notes) = run(d.clone());
        assert_eq!(again, d);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_default_response_typed_differently_moves_to_the_error_side() {
        let (d, notes) = run(doc(
            json!({"/a": {"get": {"operationId": "get_a", "responses": {
                "200": json_response(json!({"type": "string"})),
                "404": json_response(json!({"$ref": "#/components/schemas/Error"})),
                "default": json_response(json!({"$ref": "#/components/schemas/Error"})),
            }}}}),
        ));
        let responses = &d["paths"]["/a"]["get"]["responses"];
        assert!(responses.get("default").is_none());
        assert_eq!(
            responses["4XX"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        assert!(responses.get("5XX").is_some());
        assert_noted(
            &notes,
            "get_a: `default` (JSON Error) differs from the success type (JSON {\"type\":\"string\"}); moved to the error side as 4XX, 5XX",
        );
        let mut d = d;
        d["components"] = json!({"schemas": {"Error": {"type": "object"}}});
        assert_progenitor_takes(&d);
    }

    #[test]
    fn a_default_response_with_the_success_type_is_kept() {
        let same = json_response(json!({"type": "string"}));
        let (d, notes) = run(doc(
            json!({"/a": {"get": {"operationId": "a", "responses": {
                "200": same, "default": same,
            }}}}),
        ));
        assert!(
            d["paths"]["/a"]["get"]["responses"]
                .get("default")
                .is_some()
        );
        assert!(notes.is_empty(), "{notes:?}");
        assert_progenitor_takes(&d);
    }

    #[test]
    fn json_200_plus_empty_204_keeps_the_json_type_and_reports_the_loss() {
        let (d, notes) = run(doc(
            json!({"/a": {"put": {"operationId": "put_a", "responses": {
                "200": json_response(json!({"type": "string"})),
                "201": json_response(json!({"type": "integer"})),
                "204": {"description": "no content"},
            }}}}),
        ));
        let responses = &d["paths"]["/a"]["put"]["responses"];
        assert!(responses.get("204").is_none());
        assert_eq!(
            responses["201"]["content"]["application/json"]["schema"],
            json!({"type": "string"})
        );
        assert_noted(&notes, "put_a: 204 (no body) dropped");
        assert_noted(
            &notes,
            "put_a: 201 (JSON {\"type\":\"integer\"}) now has 200's type",
        );
        assert_progenitor_takes(&d);
    }

    #[test]
    fn two_error_schemas_are_merged_into_one_open_schema() {
        let mut d = doc(
            json!({"/a": {"get": {"operationId": "list_x", "responses": {
                "200": json_response(json!({"type": "string"})),
                "400": {"$ref": "#/components/responses/BadRequest"},
                "500": json_response(json!({"$ref": "#/components/schemas/ServerError"})),
                "503": {"description": "no body"},
            }}}}),
        );
        d["components"] = json!({
            "responses": {"BadRequest": json_response(json!({"$ref": "#/components/schemas/Problem"}))},
            "schemas": {"Problem": {"type": "object"}, "ServerError": {"type": "object"}},
        });
        let (d, notes) = run(d);
        let responses = &d["paths"]["/a"]["get"]["responses"];
        assert_eq!(
            responses["400"]["content"]["application/json"]["schema"],
            json!({})
        );
        assert_eq!(
            responses["500"]["content"]["application/json"]["schema"],
            json!({})
        );
        assert!(responses.get("503").is_none());
        // The shared component is untouched; the operation got an inline copy.
        assert_eq!(
            d["components"]["responses"]["BadRequest"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        assert_noted(
            &notes,
            "list_x: 2 error schemas merged into one open schema",
        );
        assert_noted(&notes, "list_x: error response 503 (no body) dropped");
        assert_progenitor_takes(&d);
    }

    #[test]
    fn json_without_a_schema_gets_the_open_schema() {
        let (d, notes) = run(doc(
            json!({"/a": {"get": {"operationId": "a", "responses": {
                "200": {"description": "ok", "content": {"application/json": {}}},
            }}}}),
        ));
        assert_eq!(
            d["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
            json!({})
        );
        assert_noted(&notes, "a: response 200: JSON without a schema");
        assert_progenitor_takes(&d);
    }

    #[test]
    fn snake_case_handles_camel_case_separators_and_digits() {
        assert_eq!(snake_case("listAssets"), "list_assets");
        assert_eq!(snake_case("List-Assets v2"), "list_assets_v2");
        assert_eq!(snake_case("2fa"), "op_2fa");
        assert_eq!(
            derive_operation_id("get", "/assets/{id}/events"),
            "get_assets_id_events"
        );
    }
}
