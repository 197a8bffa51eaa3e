//! [`Document`]: the JSON value every output format is made from, with object keys in the
//! order they arrived.
//!
//! `serde_json::Value` sorts keys (the workspace does not turn on `preserve_order`, which
//! would change the order of every derived file). An answer read by `perspio api`, or an
//! object a `--jq` filter builds (`{name, id}`), keeps its order here, so csv columns follow it.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep their keys in order (a repeated key keeps its first place
/// and its last value, as JSON parsers usually do).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Document {
    #[default]
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Document>),
    Object(IndexMap<String, Document>),
}

impl Document {
    /// Any serialisable value (the typed answers of the generated commands) as a document, in
    /// the order its serialiser writes keys.
    pub(crate) fn from_serialize<T: Serialize + ?Sized>(
        value: &T,
    ) -> Result<Document, serde_json::Error> {
        // Through bytes rather than `serde_json::Value`: one compact copy instead of a tree.
        serde_json::from_slice(&serde_json::to_vec(value)?)
    }

    /// The document as compact JSON.
    pub(crate) fn to_json(&self) -> String {
        // Serialising a document cannot fail: every key is a string, every number finite.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The document as one csv/tsv/table cell: text as it is, nothing for `null`, numbers and
    /// booleans as JSON, arrays and objects as compact JSON.
    pub(crate) fn cell(&self) -> String {
        match self {
            Document::Null => String::new(),
            Document::String(text) => text.clone(),
            other => other.to_json(),
        }
    }
}

impl Serialize for Document {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Document::Null => serializer.serialize_unit(),
            Document::Bool(b) => serializer.serialize_bool(*b),
            Document::Number(n) => n.serialize(serializer),
            Document::String(s) => serializer.serialize_str(s),
            Document::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Document::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    out.serialize_entry(key, value)?;
                }
                out.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Document, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Document, E> {
        Ok(Document::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Document, E> {
        Ok(Document::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Document, E> {
        Ok(Document::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Document, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Document::Null, Document::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Document, E> {
        Ok(Document::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Document, E> {
        Ok(Document::String(v))
    }

    fn visit_unit<E>(self) -> Result<Document, E> {
        Ok(Document::Null)
    }

    fn visit_none<E>(self) -> Result<Document, E> {
        Ok(Document::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Document, D::Error> {
        Document::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Document::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut out = IndexMap::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some((key, value)) = map.next_entry::<String, Document>()? {
            out.insert(key, value);
        }
        Ok(Document::Object(out))
    }
}

impl From<serde_json::Value> for Document {
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Document::Null,
            serde_json::Value::Bool(b) => Document::Bool(b),
            serde_json::Value::Number(n) => Document::Number(n),
            serde_json::Value::String(s) => Document::String(s),
            serde_json::Value::Array(items) => {
                Document::Array(items.into_iter().map(Document::from).collect())
            }
            serde_json::Value::Object(map) => Document::Object(
                map.into_iter()
                    .map(|(k, v)| (k, Document::from(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn keys_keep_the_order_they_arrived_in() {
        let doc: Document =
            serde_json::from_str(r#"{"name":"x","id":1,"a":{"z":1,"b":2}}"#).unwrap();
        assert_eq!(doc.to_json(), r#"{"name":"x","id":1,"a":{"z":1,"b":2}}"#);
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_its_last_value() {
        let doc: Document = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(doc.to_json(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn cells_are_text_as_is_and_nested_values_compact_json() {
        let doc: Document =
            serde_json::from_str(r#"[null, "a,b", 1.5, true, [1, "x"], {"k": null}]"#).unwrap();
        let Document::Array(items) = doc else {
            panic!("an array")
        };
        let cells: Vec<String> = items.iter().map(Document::cell).collect();
        assert_eq!(
            cells,
            ["", "a,b", "1.5", "true", r#"[1,"x"]"#, r#"{"k":null}"#]
        );
    }
}
