//! Passes: media types progenitor 0.15 cannot take.
//!
//! progenitor reads a response as JSON only under `application/json`, and takes a request body
//! with exactly one media type among `application/json`, `application/x-www-form-urlencoded`,
//! `application/octet-stream` (schema `string`/`binary`) and `text/plain` (schema `string`).

use serde_json::{Map, Value, json};

use super::{Note, is_json, note, op_label, operations_mut};

/// `application/vnd.x+json`, `text/json`, `application/x-json`: JSON under another name.
pub(super) fn is_json_like(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence.ends_with("+json")
        || essence == "text/json"
        || essence == "application/x-json"
}

fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Responses: a JSON-like media type (`+json`, `text/json`) beside no `application/json` is
/// renamed `application/json`, so the body is decoded into its type instead of raw bytes.
/// progenitor decodes by the declared type, not by the answer's `Content-Type`, so nothing is
/// lost.
pub(super) fn vendor_json_responses(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut fix = |scope: &str, what: &str, response: &mut Value| {
        let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
            return;
        };
        if content.keys().any(|k| is_json(k)) {
            return;
        }
        let Some(name) = content.keys().find(|k| is_json_like(k)).cloned() else {
            return;
        };
        let media = content.shift_remove(&name).unwrap_or(Value::Null);
        let mut renamed = Map::new();
        renamed.insert("application/json".into(), media);
        for (k, v) in std::mem::take(content) {
            renamed.insert(k, v);
        }
        *content = renamed;
        notes.push(note(
            scope,
            format!("{what}: `{name}` read as `application/json`"),
        ));
    };
    if let Some(responses) = root
        .get_mut("components")
        .and_then(|c| c.get_mut("responses"))
        .and_then(Value::as_object_mut)
    {
        for (name, r) in responses.iter_mut() {
            fix(&format!("response {name}"), "response", r);
        }
    }
    for (path, method, op) in operations_mut(root) {
        let label = op_label(&path, &method, op);
        for (status, r) in op
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flatten()
        {
            fix(&label, &format!("response {status}"), r);
        }
    }
    notes
}

/// How a request body's media type can be sent by progenitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum BodyKind {
    Json,
    Form,
    Text,
    Octet,
    Other,
}

fn body_kind(media_type: &str) -> BodyKind {
    let e = essence(media_type);
    if is_json_like(&e) {
        BodyKind::Json
    } else if e == "application/x-www-form-urlencoded" {
        BodyKind::Form
    } else if e == "text/plain" || e == "text/x-markdown" {
        BodyKind::Text
    } else if e == "application/octet-stream" {
        BodyKind::Octet
    } else {
        BodyKind::Other
    }
}

/// Request bodies: one media type, in a form progenitor sends.
///
/// - Several media types: JSON is kept (then form, text, octet-stream, then the first); the
///   others are dropped, noted.
/// - `+json` and other JSON names → `application/json` (the `Content-Type` sent changes, noted).
/// - A body progenitor cannot encode (multipart, XML, images, …) → `application/octet-stream`
///   raw bytes: the caller encodes the body, noted.
/// - `text/plain` or octet-stream with a schema progenitor rejects → a plain string / binary.
/// - `encoding` on a JSON or form body is dropped (progenitor does not read it), noted.
/// - JSON without a schema → any JSON (`{}`).
pub(super) fn request_bodies(root: &mut Map<String, Value>) -> Vec<Note> {
    let components = json!({"components": root.get("components").cloned().unwrap_or(json!({}))});
    let mut notes = Vec::new();
    for (path, method, op) in operations_mut(root) {
        let label = op_label(&path, &method, op);
        let Some(body) = op.get("requestBody") else {
            continue;
        };
        let resolved = resolve_body(&components, body);
        let Some(content) = resolved.get("content").and_then(Value::as_object) else {
            continue;
        };
        let (fixed, mut body_notes) = fix_content(&components, content);
        if fixed.as_ref() == Some(content) || fixed.is_none() && body_notes.is_empty() {
            continue;
        }
        let mut new_body = resolved.clone();
        match fixed {
            Some(c) => {
                new_body["content"] = Value::Object(c);
            }
            None => {
                op.shift_remove("requestBody");
                notes.extend(body_notes.drain(..).map(|m| note(&label, m)));
                continue;
            }
        }
        op.insert("requestBody".into(), new_body);
        notes.extend(body_notes.drain(..).map(|m| note(&label, m)));
    }
    notes
}

fn resolve_body<'a>(components: &'a Value, body: &'a Value) -> &'a Value {
    super::resolve(components, body)
}

fn resolve_schema<'a>(components: &'a Value, schema: &'a Value) -> &'a Value {
    super::resolve(components, schema)
}

/// The content mapping progenitor can take, and what was changed. `None`: no body at all.
fn fix_content(
    components: &Value,
    content: &Map<String, Value>,
) -> (Option<Map<String, Value>>, Vec<String>) {
    let mut messages = Vec::new();
    let Some((chosen, kind)) = content
        .keys()
        .map(|k| (k, body_kind(k)))
        .min_by_key(|(_, kind)| *kind)
    else {
        return (Some(content.clone()), messages);
    };
    let dropped: Vec<&str> = content
        .keys()
        .filter(|k| *k != chosen)
        .map(String::as_str)
        .collect();
    if !dropped.is_empty() {
        messages.push(format!(
            "request body: only `{chosen}` is kept; `{}` dropped (progenitor sends one media type)",
            dropped.join("`, `")
        ));
    }
    let mut media = content
        .get(chosen)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut name = chosen.clone();
    match kind {
        BodyKind::Json | BodyKind::Form => {
            if kind == BodyKind::Json && !is_json(chosen) {
                messages.push(format!(
                    "request body: `{chosen}` sent as `application/json` (the `Content-Type` \
                     header differs from the spec's)"
                ));
                name = "application/json".into();
            }
            if media.shift_remove("encoding").is_some() {
                messages.push(format!(
                    "request body: the `encoding` of `{name}` is dropped (progenitor ignores it)"
                ));
            }
            if !media.contains_key("schema") {
                media.insert("schema".into(), json!({}));
                messages.push(format!(
                    "request body: `{name}` without a schema → any value (`{{}}`)"
                ));
            }
        }
        BodyKind::Text => {
            let schema = media.get("schema").cloned().unwrap_or(json!({}));
            if !is_plain_string(resolve_schema(components, &schema)) {
                media = Map::new();
                media.insert("schema".into(), json!({"type": "string"}));
                messages.push(format!(
                    "request body: `{chosen}` schema {} → a plain string (progenitor sends text \
                     bodies as strings)",
                    super::describe_schema(&schema)
                ));
            }
        }
        BodyKind::Octet => {
            let schema = media.get("schema").cloned().unwrap_or(json!({}));
            if !is_binary(resolve_schema(components, &schema)) || media.contains_key("encoding") {
                media = Map::new();
                media.insert(
                    "schema".into(),
                    json!({"type": "string", "format": "binary"}),
                );
                messages.push(format!(
                    "request body: `{chosen}` schema {} → raw bytes (`string`/`binary`)",
                    super::describe_schema(&schema)
                ));
            }
        }
        BodyKind::Other => {
            name = "application/octet-stream".into();
            media = Map::new();
            media.insert(
                "schema".into(),
                json!({"type": "string", "format": "binary"}),
            );
            messages.push(format!(
                "request body: `{chosen}` cannot be encoded by progenitor; it is sent as raw bytes \
                 (`application/octet-stream`): the caller encodes the {} body and the \
                 `Content-Type` header differs from the spec's",
                short_kind(chosen)
            ));
        }
    }
    let mut out = Map::new();
    out.insert(name, Value::Object(media));
    (Some(out), messages)
}

fn short_kind(media_type: &str) -> String {
    let e = essence(media_type);
    if e.starts_with("multipart/") {
        "multipart".into()
    } else if e.ends_with("xml") {
        "XML".into()
    } else {
        format!("`{e}`")
    }
}

/// `{type: string}` with nothing progenitor rejects for a text body.
fn is_plain_string(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else {
        return false;
    };
    map.get("type").and_then(Value::as_str) == Some("string")
        && !map.contains_key("format")
        && !map.contains_key("pattern")
        && !map.contains_key("enum")
        && !map.contains_key("minLength")
        && !map.contains_key("maxLength")
        && !map.contains_key("default")
        && !map.contains_key("discriminator")
        && map.get("nullable").is_none_or(|n| n == false)
}

/// `{type: string, format: binary}` with nothing progenitor rejects for an octet-stream body.
fn is_binary(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else {
        return false;
    };
    map.get("type").and_then(Value::as_str) == Some("string")
        && map.get("format").and_then(Value::as_str) == Some("binary")
        && !map.contains_key("pattern")
        && !map.contains_key("enum")
        && !map.contains_key("minLength")
        && !map.contains_key("maxLength")
        && !map.contains_key("default")
        && !map.contains_key("discriminator")
        && map.get("nullable").is_none_or(|n| n == false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::super::tests::{assert_generates, assert_noted, doc, json_response, run};

    fn body_of(d: &serde_json::Value) -> &serde_json::Value {
        &d["paths"]["/a"]["post"]["requestBody"]["content"]
    }

    fn post_with_body(content: serde_json::Value) -> serde_json::Value {
        doc(json!({"/a": {"post": {"operationId": "post_a",
            "requestBody": {"required": true, "content": content},
            "responses": {"200": json_response(json!({"type": "string"}))}}}}))
    }

    #[test]
    fn several_request_media_types_keep_json_and_note_the_others() {
        let (d, notes) = run(post_with_body(json!({
            "application/xml": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        })));
        assert_eq!(
            body_of(&d),
            &json!({"application/json": {"schema": {"type": "object"}}})
        );
        assert_noted(
            &notes,
            "post_a: request body: only `application/json` is kept; `application/xml` dropped",
        );
        assert_generates(&d);
    }

    #[test]
    fn multipart_and_xml_bodies_become_raw_bytes_with_a_note() {
        for (mt, what) in [
            ("multipart/form-data", "multipart"),
            ("application/xml", "XML"),
        ] {
            let (d, notes) = run(post_with_body(json!({mt: {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
                "encoding": {"file": {"contentType": "image/png"}}
            }})));
            assert_eq!(
                body_of(&d),
                &json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}})
            );
            assert_noted(&notes, &format!("the caller encodes the {what} body"));
            assert_generates(&d);
        }
    }

    #[test]
    fn vendor_json_is_json_in_bodies_and_responses() {
        let mut d =
            post_with_body(json!({"application/vnd.api+json": {"schema": {"type": "object"}}}));
        d["paths"]["/a"]["post"]["responses"] = json!({"200": {"description": "ok", "content": {
            "application/hal+json": {"schema": {"type": "integer"}}}}});
        let (d, notes) = run(d);
        assert_eq!(
            body_of(&d),
            &json!({"application/json": {"schema": {"type": "object"}}})
        );
        assert_eq!(
            d["paths"]["/a"]["post"]["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"type": "integer"})
        );
        assert_noted(
            &notes,
            "`application/vnd.api+json` sent as `application/json`",
        );
        assert_noted(
            &notes,
            "response 200: `application/hal+json` read as `application/json`",
        );
        assert_generates(&d);
    }

    #[test]
    fn text_and_octet_stream_bodies_with_other_schemas_become_plain() {
        let (d, notes) = run(post_with_body(
            json!({"text/plain": {"schema": {"type": "object"}}}),
        ));
        assert_eq!(
            body_of(&d),
            &json!({"text/plain": {"schema": {"type": "string"}}})
        );
        assert_noted(&notes, "→ a plain string");
        assert_generates(&d);
        let (d, notes) = run(post_with_body(
            json!({"application/octet-stream": {"schema": {"type": "object"}}}),
        ));
        assert_eq!(
            body_of(&d),
            &json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}})
        );
        assert_noted(&notes, "→ raw bytes");
        assert_generates(&d);
    }
}
