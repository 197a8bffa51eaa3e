//! The decoder the generator gives the spec's list types (`oneOf [array, open object]`,
//! perspio-codegen `decode.rs`): the first token says which variant, and that variant is decoded
//! directly, instead of serde's untagged decoding, which buffers the whole value and tries each
//! variant against the buffer.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// `array(…)` of the sequence or `object(…)` of the map `deserializer` holds, for the enum
/// `name` (named in the error for anything else).
#[allow(
    dead_code,
    reason = "called by generated code only, for specs with list types of that shape"
)]
pub(crate) fn array_or_object<'de, D, T, O, X>(
    deserializer: D,
    name: &'static str,
    array: fn(Vec<T>) -> X,
    object: fn(O) -> X,
) -> Result<X, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
    O: Deserialize<'de>,
{
    deserializer.deserialize_any(ArrayOrObject {
        name,
        array,
        object,
        item: PhantomData,
    })
}

struct ArrayOrObject<T, O, X> {
    name: &'static str,
    array: fn(Vec<T>) -> X,
    object: fn(O) -> X,
    item: PhantomData<fn() -> (T, O)>,
}

impl<'de, T, O, X> Visitor<'de> for ArrayOrObject<T, O, X>
where
    T: Deserialize<'de>,
    O: Deserialize<'de>,
{
    type Value = X;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array or an object (untagged enum {})", self.name)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<X, A::Error> {
        Vec::<T>::deserialize(SeqAccessDeserializer::new(seq)).map(self.array)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<X, M::Error> {
        O::deserialize(MapAccessDeserializer::new(map)).map(self.object)
    }
}

#[cfg(all(test, feature = "assets"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::types::{Asset, AssetList, OpenObject};
    use proptest::prelude::*;

    /// What the generator replaced: serde's untagged decoding of the same variants.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(untagged)]
    enum Untagged {
        Array(Vec<Asset>),
        OpenObject(OpenObject),
    }

    fn same(text: &str) -> Result<(), String> {
        let new = serde_json::from_str::<AssetList>(text);
        let old = serde_json::from_str::<Untagged>(text);
        match (new, old) {
            (Ok(AssetList::Array(a)), Ok(Untagged::Array(b))) if a == b => Ok(()),
            (Ok(AssetList::OpenObject(a)), Ok(Untagged::OpenObject(b))) if a == b => Ok(()),
            (Err(_), Err(_)) => Ok(()),
            (new, old) => Err(format!("{text}: {new:?} against {old:?}")),
        }
    }

    #[test]
    fn lists_objects_and_everything_else_decode_as_the_untagged_enum_did() {
        for text in [
            "[]",
            r#"[{"id": "IN-1", "name": "pump"}, {}]"#,
            r#"{"value": [], "next": null}"#,
            "{}",
            " \n [ ] ",
            "null",
            "3",
            r#""text""#,
            "[1, 2]",
            "[[]]",
            r#"[{"id": 1}"#,
            "",
        ] {
            same(text).unwrap();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_json_decodes_as_the_untagged_enum_did(
            value in crate::test_json::any_json(any::<String>())
        ) {
            let text = value.to_string();
            prop_assert!(same(&text).is_ok(), "{}", same(&text).unwrap_err());
        }
    }
}
