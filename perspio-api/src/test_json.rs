//! Arbitrary JSON for the property tests of this crate (error bodies, list decoding).

use proptest::prelude::*;
use serde_json::{Value, json};

/// Any JSON value, three levels deep, with object keys drawn from `keys`.
pub(crate) fn any_json<K>(keys: K) -> impl Strategy<Value = Value>
where
    K: Strategy<Value = String> + Clone + 'static,
{
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
