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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::{Map, Value};

    /// The shapes the generator gives the spec's list types (`AssetList`: a `Vec` of open
    /// objects, or an open object), here without the spec's tag features.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(transparent)]
    struct OpenObject(Map<String, Value>);

    /// An item with a typed field and the rest kept, to cover more than open maps.
    #[derive(Debug, PartialEq, Deserialize)]
    struct Item {
        #[serde(default)]
        id: Option<String>,
        #[serde(flatten)]
        rest: Map<String, Value>,
    }

    macro_rules! list {
        ($fast:ident, $untagged:ident, $item:ty) => {
            /// What the generator writes.
            #[derive(Debug, PartialEq)]
            enum $fast {
                Array(Vec<$item>),
                OpenObject(OpenObject),
            }

            impl<'de> Deserialize<'de> for $fast {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    super::array_or_object(d, stringify!($fast), Self::Array, Self::OpenObject)
                }
            }

            /// What it replaced: serde's untagged derive of the same variants.
            #[derive(Debug, PartialEq, Deserialize)]
            #[serde(untagged)]
            enum $untagged {
                Array(Vec<$item>),
                OpenObject(OpenObject),
            }

            impl $fast {
                fn same_as(text: &str) -> Result<(), String> {
                    match (
                        serde_json::from_str::<$fast>(text),
                        serde_json::from_str::<$untagged>(text),
                    ) {
                        (Ok($fast::Array(a)), Ok($untagged::Array(b))) if a == b => Ok(()),
                        (Ok($fast::OpenObject(a)), Ok($untagged::OpenObject(b))) if a == b => {
                            Ok(())
                        }
                        (Err(_), Err(_)) => Ok(()),
                        (new, old) => Err(format!("{text}: {new:?} against {old:?}")),
                    }
                }
            }
        };
    }

    list!(OpenList, OpenUntagged, OpenObject);
    list!(ItemList, ItemUntagged, Item);

    fn same(text: &str) -> Result<(), String> {
        OpenList::same_as(text)?;
        ItemList::same_as(text)
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
            r#"[{"id": 1}]"#,
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
            value in crate::test_json::any_json(prop_oneof![Just("id".to_owned()), any::<String>()])
        ) {
            let text = value.to_string();
            prop_assert!(same(&text).is_ok(), "{}", same(&text).unwrap_err());
        }
    }
}
