//! The importer end to end on a copy of the workspace's spec and derived files (`openapi/`,
//! `perspio-api/spec/`): `--check`, `regen` and `regen --from` as `cargo xtask regen` runs
//! them, and the checked-in files themselves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use perspio_import::{
    API_MANIFEST, API_MD, API_SPEC, BLOCK_MARKER, NORMALIZED, PROVENANCE, SPEC, Workspace, derive,
    load,
};
use serde_json::Value;

/// The workspace this crate is in.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// Every file `regen` reads or writes.
const FILES: [&str; 6] = [SPEC, NORMALIZED, API_SPEC, PROVENANCE, API_MD, API_MANIFEST];

/// A scratch workspace holding a copy of the checked-in spec and derived files.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for rel in FILES {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(project_root().join(rel), to).unwrap();
    }
    dir
}

fn snapshot(root: &Path) -> Vec<(String, String)> {
    FILES
        .iter()
        .map(|rel| {
            (
                rel.to_string(),
                std::fs::read_to_string(root.join(rel)).unwrap(),
            )
        })
        .collect()
}

fn stale_names(root: &Path) -> Vec<&'static str> {
    Workspace::new(root)
        .stale()
        .unwrap()
        .iter()
        .map(|s| s.path)
        .collect()
}

/// `regen --from <from>…` without the build.
fn import(root: &Path, from: &[String]) -> Result<Vec<&'static str>, perspio_import::ImportError> {
    Workspace::new(root).plan_import(&load(from)?)?.write()
}

fn read_json(path: PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `cargo test` fails when the spec was edited without `cargo xtask regen`.
#[test]
fn the_checked_in_derived_files_are_up_to_date_with_the_spec() {
    let names = stale_names(&project_root());
    assert!(
        names.is_empty(),
        "{} out of date with {SPEC}: run `cargo xtask regen` (or `cargo xtask regen --check \
         --diff` to see why)",
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

    let stale = Workspace::new(root).stale().unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].path, NORMALIZED);
    assert!(stale[0].current.as_deref().unwrap().contains("\"3.0.2\""));
    assert!(stale[0].expected.contains("\"3.0.3\""));

    let plan = Workspace::new(root).plan_regen().unwrap();
    assert_eq!(plan.write().unwrap(), [NORMALIZED]);
    assert!(stale_names(root).is_empty());
    assert_eq!(
        plan.write().unwrap(),
        Vec::<&str>::new(),
        "nothing left to write"
    );
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
    assert_eq!(
        stale_names(root),
        [NORMALIZED, API_SPEC, PROVENANCE, API_MD]
    );
}

/// The generated block of tag features in perspio-api's manifest is checked like the other
/// derived files: a hand edit inside it, or a tag added to the spec without `regen`, is
/// drift; `regen` rewrites the block and no other byte of the manifest.
#[test]
fn check_detects_drift_in_the_tag_features_and_regen_rewrites_only_the_block() {
    let dir = scratch();
    let root = dir.path();
    let path = root.join(API_MANIFEST);
    let checked_in = std::fs::read_to_string(&path).unwrap();
    assert!(checked_in.contains(BLOCK_MARKER));

    let edited = checked_in.replacen("sites = []", "sites = [\"assets\"]", 1);
    assert_ne!(edited, checked_in);
    std::fs::write(&path, &edited).unwrap();
    assert_eq!(stale_names(root), [API_MANIFEST]);
    assert_eq!(
        Workspace::new(root).plan_regen().unwrap().write().unwrap(),
        [API_MANIFEST]
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), checked_in);

    // A new tag in the spec is a new feature.
    let spec = root.join(SPEC);
    let text = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("tags: [directory]", "tags: [directory, Users]");
    std::fs::write(&spec, text).unwrap();
    assert!(stale_names(root).contains(&API_MANIFEST));
    Workspace::new(root).plan_regen().unwrap().write().unwrap();
    let manifest = std::fs::read_to_string(&path).unwrap();
    assert!(
        manifest.contains("users = [] # tag \"Users\": 1 operation"),
        "{manifest}"
    );
    let outside = |text: &str| text[..text.find(BLOCK_MARKER).unwrap()].to_owned();
    assert_eq!(outside(&manifest), outside(&checked_in));
    let api_md = std::fs::read_to_string(root.join(API_MD)).unwrap();
    assert!(api_md.contains("| `users` | `Users` | 1 |"), "{api_md}");
}

/// The copy perspio-api packages is checked like the file it copies, and `regen` recreates it
/// (and its folder) when it is missing.
#[test]
fn check_detects_a_stale_or_missing_packaged_copy_and_regen_restores_it() {
    let dir = scratch();
    let root = dir.path();
    let path = root.join(API_SPEC);
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"list_assets\"", "\"list_all_assets\"");
    std::fs::write(&path, edited).unwrap();
    let stale = Workspace::new(root).stale().unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].path, API_SPEC);
    assert_eq!(
        stale[0].expected,
        std::fs::read_to_string(root.join(NORMALIZED)).unwrap(),
        "the copy is the normalised file, byte for byte"
    );

    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    let stale = Workspace::new(root).stale().unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(
        (stale[0].path, stale[0].current.as_deref()),
        (API_SPEC, None)
    );

    let written = Workspace::new(root).plan_regen().unwrap().write().unwrap();
    assert_eq!(written, [API_SPEC]);
    assert!(stale_names(root).is_empty());
}

#[test]
fn the_normalised_file_announces_itself_and_is_deterministic() {
    let text = std::fs::read_to_string(project_root().join(SPEC)).unwrap();
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
    let plan = Workspace::new(root)
        .plan_import(&load(&[fixture("upstream-3.1.yaml")]).unwrap())
        .unwrap();
    let report = plan.report.as_ref().expect("a previous normalised file");
    assert!(report.breaking() > 0, "the demo operations are removed");
    plan.write().unwrap();

    assert!(
        stale_names(root).is_empty(),
        "an import leaves nothing stale"
    );
    let spec: openapiv3::OpenAPI =
        serde_json::from_str(&std::fs::read_to_string(root.join(NORMALIZED)).unwrap()).unwrap();
    assert_eq!(spec.openapi, "3.0.3");
    let code = perspio_codegen::pretty(&perspio_codegen::generate(&spec).unwrap()).unwrap();
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
    let provenance = read_json(root.join(PROVENANCE));
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
    import(
        root,
        &[fixture("group-assets.json"), fixture("group-sites.yaml")],
    )
    .unwrap();
    let doc = read_json(root.join(NORMALIZED));
    assert!(doc["paths"]["/assets"]["get"].is_object());
    assert!(doc["paths"]["/sites"]["get"].is_object());
    let provenance = read_json(root.join(PROVENANCE));
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
        let err = import(root, &from).unwrap_err();
        let chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(chain.contains(needle), "{chain}");
        assert!(chain.contains("regen --from: "), "{chain}");
        assert!(chain.contains("(step: "), "{chain}");
        assert_eq!(snapshot(root), before, "files changed after: {chain}");
    }
    let leftovers = std::fs::read_dir(root.join("openapi")).unwrap().count()
        + std::fs::read_dir(root.join("perspio-api")).unwrap().count()
        + std::fs::read_dir(root.join("perspio-api/spec"))
            .unwrap()
            .count();
    assert_eq!(leftovers, 7, "no temporary file is left behind");
}

/// The demo import keeps `types::ApiError` as every operation's error type, which the
/// handwritten `perspio-api` error module needs.
#[test]
fn the_demo_import_keeps_api_error_as_every_error_type() {
    let dir = scratch();
    let root = dir.path();
    import(root, &[fixture("demo-3.1.yaml")]).unwrap();
    let api_md = std::fs::read_to_string(root.join(API_MD)).unwrap();
    for row in api_md
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains("`Client::"))
    {
        // `| HTTP | Rust | success | error | feature |`
        let error = row.split(" | ").nth(3);
        assert_eq!(error, Some("`types::ApiError`"), "{row}");
    }
    assert!(api_md.contains("`Client::get_assets_v3()`"), "{api_md}");
}

/// `cargo xtask corpus` builds what `regen --from` writes in a copy of the workspace itself,
/// not in a crate of its own: the copy holds perspio-api's manifest, build script and sources
/// and the workspace manifest (its lints) byte for byte, and an import writes its plan, tag
/// features included, into it. (`xtask/tests/formats.rs` then builds such a copy.)
#[test]
fn the_corpus_builds_the_workspace_s_own_perspio_api_with_the_import_written_into_it() {
    let copy = tempfile::tempdir().unwrap();
    perspio_import::corpus::scratch::mirror(&project_root(), copy.path()).unwrap();
    for rel in [
        "Cargo.toml",
        "Cargo.lock",
        "perspio-api/Cargo.toml",
        "perspio-api/build.rs",
        "perspio-api/src/lib.rs",
        "perspio-api/src/error.rs",
        "perspio-codegen/src/generate.rs",
    ] {
        assert_eq!(
            std::fs::read(copy.path().join(rel)).unwrap(),
            std::fs::read(project_root().join(rel)).unwrap(),
            "{rel} differs in the copy"
        );
    }
    assert!(!copy.path().join("target").exists());

    let plan = Workspace::new(copy.path())
        .plan_import(&load(&[fixture("group-assets.json")]).unwrap())
        .unwrap();
    plan.write().unwrap();
    let manifest = std::fs::read_to_string(copy.path().join(API_MANIFEST)).unwrap();
    assert!(manifest.contains(BLOCK_MARKER), "{manifest}");
    assert!(
        std::fs::read_to_string(copy.path().join(API_SPEC)).unwrap() == plan.derived.normalized
    );
    // The rest of perspio-api's manifest is the workspace's.
    let before = std::fs::read_to_string(project_root().join(API_MANIFEST)).unwrap();
    let cut = |text: &str| text[..text.find(BLOCK_MARKER).unwrap()].to_owned();
    assert_eq!(cut(&manifest), cut(&before));
}
