//! Pass: carriage returns in descriptions.
//!
//! progenitor copies `description`, `summary` and `title` into doc comments; a bare `\r` in a
//! doc comment does not lex, so the generated source cannot be read back. Line ends become
//! `\n`; the text is otherwise unchanged.

use serde_json::{Map, Value};

use super::{Note, note};

const TEXT_KEYS: &[&str] = &["description", "summary", "title"];

pub(super) fn line_ends(root: &mut Map<String, Value>) -> Vec<Note> {
    let mut count = 0usize;
    for (_, v) in root.iter_mut() {
        walk(v, &mut count);
    }
    if count == 0 {
        Vec::new()
    } else {
        vec![note(
            "document",
            format!("carriage returns in {count} description(s) made `\\n`"),
        )]
    }
}

fn walk(v: &mut Value, count: &mut usize) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if let Value::String(text) = child
                    && TEXT_KEYS.contains(&k.as_str())
                    && text.contains('\r')
                {
                    *text = text.replace("\r\n", "\n").replace('\r', "\n");
                    *count += 1;
                } else {
                    walk(child, count);
                }
            }
        }
        Value::Array(list) => {
            for child in list {
                walk(child, count);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::super::tests::{assert_generates, assert_noted, doc, json_response, run};

    #[test]
    fn carriage_returns_in_descriptions_become_newlines() {
        let (d, notes) = run(doc(json!({"/a": {"get": {"operationId": "get_a",
            "description": "one\r\ntwo\rthree",
            "responses": {"200": json_response(json!({"type": "object", "properties": {
                "x": {"type": "string", "description": "a\rb"}}}))}}}})));
        assert_eq!(d["paths"]["/a"]["get"]["description"], "one\ntwo\nthree");
        assert_noted(&notes, "carriage returns in 2 description(s)");
        assert_generates(&d);
    }
}
