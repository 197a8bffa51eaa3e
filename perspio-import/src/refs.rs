//! Every `$ref` must point somewhere: a broken one is an error naming it and where it is.

use std::fmt;

use serde_json::Value;

/// The `$ref`s of one document that point nowhere, or outside the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {} broken $ref(s):\n{}", refs.len(), refs.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
pub struct BrokenRefs {
    /// The file the document came from.
    pub location: String,
    /// Every broken reference, in document order.
    pub refs: Vec<BrokenRef>,
}

/// One broken `$ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenRef {
    /// The `$ref` value.
    pub reference: String,
    /// Where it is: the keys from the root, joined by ` › ` (`(root)` at the top).
    pub place: String,
    /// `true` for a reference to another file (not supported), `false` for one into this
    /// document that points to nothing.
    pub external: bool,
}

impl fmt::Display for BrokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            reference, place, ..
        } = self;
        if self.external {
            write!(
                f,
                "`{reference}` at {place} is an external reference (not supported: bundle the \
                 spec into one file first)"
            )
        } else {
            write!(f, "`{reference}` at {place} points to nothing")
        }
    }
}

/// Checks every `$ref` in `doc` against `target` (the merged document); `location` names the
/// file `doc` came from.
///
/// # Errors
/// Lists every broken or external `$ref` with its place in the document.
pub(crate) fn check(doc: &Value, target: &Value, location: &str) -> Result<(), BrokenRefs> {
    let mut broken = Vec::new();
    walk(doc, target, &mut Vec::new(), &mut broken);
    if broken.is_empty() {
        return Ok(());
    }
    Err(BrokenRefs {
        location: location.to_owned(),
        refs: broken,
    })
}

/// A URI fragment with its `%XX` escapes decoded (`#/paths/~1a~1%7Bid%7D` names the path
/// `/a/{id}`): a `$ref` is a URI, its fragment a JSON pointer.
pub(crate) fn decode_fragment(fragment: &str) -> String {
    if !fragment.contains('%') {
        return fragment.to_owned();
    }
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let (h, l) = (hex(h).unwrap_or(0), hex(l).unwrap_or(0));
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| fragment.to_owned())
}

fn walk(v: &Value, target: &Value, at: &mut Vec<String>, broken: &mut Vec<BrokenRef>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                match r.strip_prefix('#') {
                    Some(pointer) if target.pointer(&decode_fragment(pointer)).is_some() => {}
                    pointer => broken.push(BrokenRef {
                        reference: r.clone(),
                        // Written only for a broken reference.
                        place: if at.is_empty() {
                            "(root)".to_owned()
                        } else {
                            at.join(" › ")
                        },
                        external: pointer.is_none(),
                    }),
                }
            }
            for (k, child) in map {
                // A property literally named `$ref` is a schema, not a reference.
                at.push(k.clone());
                walk(child, target, at, broken);
                at.pop();
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                at.push(i.to_string());
                walk(child, target, at, broken);
                at.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn a_broken_ref_is_an_error_naming_it_and_where_it_is() {
        let doc = json!({"paths": {"/a": {"get": {"responses": {"200": {
            "$ref": "#/components/responses/Missing"
        }}}}}, "components": {"responses": {}}});
        let err = check(&doc, &doc, "upstream.yaml").unwrap_err().to_string();
        assert!(err.contains("upstream.yaml"), "{err}");
        assert!(err.contains("`#/components/responses/Missing`"), "{err}");
        assert!(err.contains("paths › /a › get › responses › 200"), "{err}");
    }

    #[test]
    fn an_external_ref_is_reported_and_a_good_one_passes() {
        let doc = json!({"a": {"$ref": "other.yaml#/x"}, "b": {"$ref": "#/c"}, "c": {}});
        let err = check(&doc, &doc, "f.json").unwrap_err().to_string();
        assert!(
            err.contains("1 broken") && err.contains("external"),
            "{err}"
        );
        let good = json!({"b": {"$ref": "#/c/~1x"}, "c": {"/x": 1}});
        check(&good, &good, "f.json").unwrap();
        let escaped = json!({"b": {"$ref": "#/c/~1x~1%7Bid%7D"}, "c": {"/x/{id}": 1}});
        check(&escaped, &escaped, "f.json").unwrap();
    }
}
