//! The coverage guard: every operation of the spec has a contract test in `operations.rs`
//! whose name starts with its operationId. After `cargo xtask regen` adds an operation, this
//! test names it.

use std::path::Path;

#[test]
fn every_operation_in_the_spec_has_a_contract_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("openapi/perspio-talk.normalized.json")).unwrap(),
    )
    .unwrap();
    let tests = std::fs::read_to_string(root.join("tests/contract/operations.rs")).unwrap();

    let mut operation_ids = Vec::new();
    for (_path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(id) = operation.get("operationId").and_then(|v| v.as_str()) {
                operation_ids.push((id.to_owned(), method.to_uppercase()));
            }
        }
    }
    assert!(!operation_ids.is_empty(), "the spec has no operations?");

    let missing: Vec<String> = operation_ids
        .iter()
        .filter(|(id, _)| !has_test_for(&tests, id))
        .map(|(id, method)| format!("{id} ({method})"))
        .collect();
    assert!(
        missing.is_empty(),
        "operations without a contract test in tests/contract/operations.rs \
         (add `#[tokio::test] async fn <operationId>_…`): {}",
        missing.join(", ")
    );
}

/// A `#[tokio::test]` function named `{id}_…`.
fn has_test_for(source: &str, id: &str) -> bool {
    let needle = format!("async fn {id}_");
    source.match_indices(&needle).any(|(at, _)| {
        source[..at]
            .trim_end()
            .trim_end_matches("pub")
            .trim_end()
            .ends_with("#[tokio::test]")
    })
}

#[test]
fn the_guard_sees_a_missing_test() {
    let source =
        "#[tokio::test]\nasync fn list_assets_works() {}\nasync fn list_sites_not_a_test() {}";
    assert!(has_test_for(source, "list_assets"));
    assert!(!has_test_for(source, "list_sites"));
    assert!(!has_test_for(source, "get_current_user"));
}
