//! Every format and construct the generator knows builds in the workspace's own perspio-api.
//!
//! `perspio-import/tests/fixtures/every-construct.yaml` (every string, integer and number
//! format typify maps to a type, patterns, bounds, enums, tagged and untagged `oneOf`, `allOf`,
//! `anyOf`, nullable and defaulted fields, maps, raw, form, text and multipart bodies,
//! pagination, a websocket channel, several tags and an untagged operation) is imported with
//! `cargo xtask regen --from` into a copy of the workspace, as a user would in the workspace
//! itself; then perspio-api is built there with `RUSTFLAGS=-D warnings`: `cargo clippy` with
//! the default features (every tag), `cargo check` with none and with one tag's feature. The
//! copy and its target directory live in `CARGO_TARGET_TMPDIR` and are reused from run to run,
//! so a run rebuilds only the workspace's crates that changed.
//!
//! It fails where a user would: with `uuid` removed from perspio-api's dependencies, the
//! clippy step reports `E0433: cannot find uuid in the crate root` (checked by hand,
//! 2026-12-01).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use perspio_import::corpus::scratch::{self, CHECK_RUSTFLAGS, CHECKED_PACKAGE, Diagnostics};
use perspio_import::{Source, import};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `cargo <command> -p perspio-api <args>` in the copy, warnings denied; panics with every
/// diagnostic when it fails or warns.
fn build(copy: &Path, target: &Path, command: &str, args: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .arg(command)
        .args([
            "--quiet",
            "--locked",
            "--message-format=json",
            "--jobs",
            "2",
        ])
        .args(["--package", CHECKED_PACKAGE])
        .args(args)
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", target)
        .env("RUSTFLAGS", CHECK_RUSTFLAGS)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let diagnostics = Diagnostics::from_cargo_json(&stdout);
    assert!(
        out.status.success() && diagnostics.errors.is_empty() && diagnostics.warnings.is_empty(),
        "`cargo {command} -p perspio-api {}` of the imported fixture failed: {diagnostics:#?}\n{}\n{}",
        args.join(" "),
        rendered(&stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The compiler's own rendering of every message, for the failure text.
fn rendered(stdout: &str) -> String {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|m| m["message"]["rendered"].as_str().map(str::to_owned))
        .take(20)
        .collect()
}

#[test]
fn every_format_and_construct_the_generator_knows_builds_in_perspio_api() {
    let root = workspace_root();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("every-construct");
    let copy = base.join("workspace");
    let target = base.join("target");
    scratch::mirror(&root, &copy).unwrap();

    let fixture = root.join("perspio-import/tests/fixtures/every-construct.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["regen", "--no-build", "--from"])
        .arg(&fixture)
        .env("CARGO_MANIFEST_DIR", copy.join("xtask"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The websocket channel is a plain request: its upgrade needs what the stack cannot carry.
    assert!(
        stdout.contains("`x-dropshot-websocket` dropped"),
        "{stdout}"
    );
    let manifest = std::fs::read_to_string(copy.join("perspio-api/Cargo.toml")).unwrap();
    for feature in ["bodies = []", "formats = []", "pages = []"] {
        assert!(manifest.contains(feature), "no `{feature}` in\n{manifest}");
    }
    // The fixture covers every type the generator maps a format or construct to.
    let code = import(&[Source::load(&fixture.display().to_string()).unwrap()])
        .unwrap()
        .derived
        .code;
    let code = perspio_codegen::pretty(&code).unwrap();
    for ty in [
        "::uuid::Uuid",
        "::chrono::naive::NaiveDate",
        "::chrono::DateTime<::chrono::offset::Utc>",
        "::std::net::IpAddr",
        "::std::net::Ipv4Addr",
        "::std::net::Ipv6Addr",
        "::std::num::NonZeroU64",
        "::std::num::NonZeroU32",
        "pub int8: ::std::option::Option<i8>",
        "pub uint8: ::std::option::Option<u8>",
        "pub int16: ::std::option::Option<i16>",
        "pub uint16: ::std::option::Option<u16>",
        "pub uint: ::std::option::Option<u32>",
        "pub uint64: ::std::option::Option<u64>",
        "pub float: ::std::option::Option<f32>",
        "pub double: ::std::option::Option<f64>",
        "::regress::Regex",
        "::std::collections::HashMap<::std::string::String, i64>",
        "ByteStream",
        "futures::Stream",
        "#[serde(tag = \"pet_type\")]",
        "#[serde(untagged)]",
        "#[serde(rename = \"+1\")]\n        Plus1,",
    ] {
        assert!(code.contains(ty), "the fixture no longer gives `{ty}`");
    }

    build(&copy, &target, "clippy", &[]);
    build(&copy, &target, "check", &["--no-default-features"]);
    build(
        &copy,
        &target,
        "check",
        &["--no-default-features", "--features", "pages"],
    );

    // Leave the copy as the workspace is (the next run reuses it).
    scratch::mirror(&root, &copy).unwrap();
}
