#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A scratch workspace holding a copy of the checked-in `openapi/` files.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let openapi = dir.path().join("openapi");
    std::fs::create_dir(&openapi).unwrap();
    for rel in [SPEC, NORMALIZED, PROVENANCE, API_MD] {
        std::fs::copy(crate::project_root().join(rel), dir.path().join(rel)).unwrap();
    }
    dir
}

fn snapshot(root: &Path) -> Vec<(String, String)> {
    [SPEC, NORMALIZED, PROVENANCE, API_MD]
        .iter()
        .map(|rel| {
            (
                rel.to_string(),
                std::fs::read_to_string(root.join(rel)).unwrap(),
            )
        })
        .collect()
}

fn import_args(from: &[String]) -> RegenArgs {
    RegenArgs {
        from: from.to_vec(),
        check: false,
        diff: false,
        no_build: true,
    }
}

/// `cargo test` fails when the spec was edited without `cargo xtask regen`.
#[test]
fn the_checked_in_derived_files_are_up_to_date_with_the_spec() {
    let stale = check(&crate::project_root()).unwrap();
    let names: Vec<&str> = stale.iter().map(|s| s.path).collect();
    assert!(
        stale.is_empty(),
        "{} out of date with {SPEC}: run `{FIX}` (or `cargo xtask regen --check --diff` to see why)",
        names.join(", ")
    );
}

#[test]
fn check_detects_a_stale_normalized_file_and_regen_fixes_it() {
    let dir = scratch();
    let root = dir.path();
    let path = root.join(NORMALIZED);
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"3.0.3\"", "\"3.0.2\"");
    std::fs::write(&path, edited).unwrap();

    let stale = check(root).unwrap();
    let names: Vec<&str> = stale.iter().map(|s| s.path).collect();
    assert_eq!(names, [NORMALIZED]);
    let err = run(
        root,
        &RegenArgs {
            from: vec![],
            check: true,
            diff: true,
            no_build: true,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(NORMALIZED) && err.contains("run `cargo xtask regen`"),
        "{err}"
    );

    run(
        root,
        &RegenArgs {
            from: vec![],
            check: false,
            diff: false,
            no_build: true,
        },
    )
    .unwrap();
    assert!(check(root).unwrap().is_empty());
}

#[test]
fn check_detects_a_spec_edited_without_regen() {
    let dir = scratch();
    let root = dir.path();
    let path = root.join(SPEC);
    let edited = std::fs::read_to_string(&path).unwrap().replace(
        "summary: List all assets in the tenant",
        "summary: List the assets",
    );
    std::fs::write(&path, edited).unwrap();
    let names: Vec<&str> = check(root).unwrap().iter().map(|s| s.path).collect();
    assert_eq!(names, [NORMALIZED, PROVENANCE, API_MD]);
}

#[test]
fn the_normalised_file_announces_itself_and_is_deterministic() {
    let text = std::fs::read_to_string(crate::project_root().join(SPEC)).unwrap();
    let a = derive(&text).unwrap();
    let b = derive(&text).unwrap();
    assert_eq!(a.normalized, b.normalized);
    assert_eq!(a.api_md, b.api_md);
    assert!(
        a.normalized
            .starts_with("{\n  \"x-generated\": \"by `cargo xtask regen`")
    );
    assert!(a.normalized.ends_with("}\n"));
}

/// End to end: a 3.1 upstream with missing operationIds and `default` responses becomes a
/// spec progenitor generates a client from.
#[test]
fn a_3_1_upstream_with_missing_operation_ids_and_defaults_imports_and_generates() {
    let dir = scratch();
    let root = dir.path();
    run(root, &import_args(&[fixture("upstream-3.1.yaml")])).unwrap();

    assert!(
        check(root).unwrap().is_empty(),
        "an import leaves nothing stale"
    );
    let spec: openapiv3::OpenAPI =
        serde_json::from_str(&std::fs::read_to_string(root.join(NORMALIZED)).unwrap()).unwrap();
    assert_eq!(spec.openapi, "3.0.3");
    let code = perspio_codegen::generate(&spec).unwrap();
    for method in ["get_assets_id_events", "get_assets", "put_assets"] {
        assert!(
            code.contains(&format!("pub fn {method}(")),
            "no Client::{method}"
        );
    }
    let yaml = std::fs::read_to_string(root.join(SPEC)).unwrap();
    assert!(
        yaml.contains("openapi: 3.1.0"),
        "the YAML stays faithful to upstream"
    );
    let provenance: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(PROVENANCE)).unwrap()).unwrap();
    assert_eq!(provenance["sources"][0]["openapi"], "3.1.0");
    assert_eq!(provenance["sources"][0]["format"], "yaml");
    let api_md = std::fs::read_to_string(root.join(API_MD)).unwrap();
    assert!(
        api_md.contains("## `GET /assets/{id}/events` → `Client::get_assets_id_events()`"),
        "{api_md}"
    );
}

#[test]
fn two_files_are_merged_on_import() {
    let dir = scratch();
    let root = dir.path();
    run(
        root,
        &import_args(&[fixture("group-assets.json"), fixture("group-sites.yaml")]),
    )
    .unwrap();
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(NORMALIZED)).unwrap()).unwrap();
    assert!(doc["paths"]["/assets"]["get"].is_object());
    assert!(doc["paths"]["/sites"]["get"].is_object());
    let provenance: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(PROVENANCE)).unwrap()).unwrap();
    assert_eq!(provenance["sources"].as_array().unwrap().len(), 2);
}

#[test]
fn a_failed_import_leaves_the_checked_in_files_untouched() {
    let dir = scratch();
    let root = dir.path();
    let before = snapshot(root);
    for (from, needle) in [
        (
            vec![fixture("broken-ref.yaml")],
            "#/components/schemas/Missing",
        ),
        (
            vec![fixture("not-openapi.yaml")],
            "not an OpenAPI 3 document",
        ),
        (vec![fixture("does-not-exist.yaml")], "cannot read"),
        (
            vec![
                fixture("group-assets.json"),
                fixture("group-sites-conflicting.yaml"),
            ],
            "component `schemas/Error` is defined differently in",
        ),
    ] {
        let err = format!("{:#}", run(root, &import_args(&from)).unwrap_err());
        assert!(err.contains(needle), "{err}");
        assert_eq!(snapshot(root), before, "files changed after: {err}");
    }
    let leftovers = std::fs::read_dir(root.join("openapi")).unwrap().count();
    assert_eq!(leftovers, 4, "no temporary file is left behind");
}

/// The demo import keeps `types::ApiError` as every operation's error type, which the
/// handwritten `perspio-api` error module needs.
#[test]
fn the_demo_import_keeps_api_error_as_every_error_type() {
    let dir = scratch();
    let root = dir.path();
    run(root, &import_args(&[fixture("demo-3.1.yaml")])).unwrap();
    let api_md = std::fs::read_to_string(root.join(API_MD)).unwrap();
    for row in api_md
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains("`Client::"))
    {
        assert!(row.ends_with("| `types::ApiError` |"), "{row}");
    }
    assert!(api_md.contains("`Client::get_assets_v3()`"), "{api_md}");
}

/// typify names the inline `links` of `Order` `OrderLinks`, the name of a component too (E0428
/// in beezup's spec): the component is renamed and the client generated again.
#[test]
fn a_component_named_like_a_derived_inline_type_is_renamed_after_generation() {
    let spec = serde_json::json!({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {"/orders": {"get": {"operationId": "get_orders", "responses": {"200": {
            "description": "d", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "order": {"$ref": "#/components/schemas/Order"},
                    "links": {"$ref": "#/components/schemas/OrderLinks"},
                }}}}}}}}},
        "components": {"schemas": {
            "Order": {"type": "object", "properties": {
                "links": {"type": "object", "properties": {"self": {"type": "string"}}},
            }},
            "OrderLinks": {"type": "object", "properties": {"next": {"type": "integer"}}},
        }},
    });
    let plain: openapiv3::OpenAPI = serde_json::from_value(spec.clone()).unwrap();
    let before = perspio_codegen::generate(&plain).unwrap();
    assert_eq!(
        surface::type_names(&surface::parse(&before).unwrap()).0,
        ["OrderLinks"]
    );

    let derived = derive(&spec.to_string()).unwrap();
    let schemas = &derived.normalized_doc["components"]["schemas"];
    assert!(schemas.get("OrderLinks2").is_some(), "{schemas:#}");
    assert_eq!(
        derived.normalized_doc["paths"]["/orders"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["properties"]["links"]["$ref"],
        "#/components/schemas/OrderLinks2"
    );
    assert_eq!(
        surface::type_names(&surface::parse(&derived.code).unwrap()).0,
        Vec::<String>::new()
    );
    assert!(
        derived.notes.iter().any(|n| n
            .to_string()
            .starts_with("schema OrderLinks: renamed `OrderLinks2`")),
        "{:#?}",
        derived.notes
    );
    // What build.rs generates from the normalised file is the same client.
    let again: openapiv3::OpenAPI = serde_json::from_str(&derived.normalized).unwrap();
    assert_eq!(perspio_codegen::generate(&again).unwrap(), derived.code);
}
