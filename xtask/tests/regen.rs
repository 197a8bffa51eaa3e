//! `cargo xtask regen` as a command, on a scratch copy of the workspace's spec and derived
//! files (`openapi/`, `perspio-api/spec/`, `perspio-api/Cargo.toml`):
//! what it prints, writes and exits with (the importer's own tests are perspio-import's).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

const FILES: [&str; 6] = [
    "openapi/perspio-talk.yaml",
    "openapi/perspio-talk.normalized.json",
    "perspio-api/spec/perspio-talk.normalized.json",
    "openapi/provenance.json",
    "openapi/API.md",
    "perspio-api/Cargo.toml",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A scratch workspace: a copy of [`FILES`] and an empty `xtask/` (the binary acts on the
/// parent of `CARGO_MANIFEST_DIR`).
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("xtask")).unwrap();
    for rel in FILES {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(workspace_root().join(rel), to).unwrap();
    }
    dir
}

fn xtask(root: &Path, args: &[&str]) -> (Output, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("CARGO_MANIFEST_DIR", root.join("xtask"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[test]
fn check_fails_on_a_stale_file_with_the_fix_and_regen_fixes_it() {
    let dir = scratch();
    let root = dir.path();
    let (out, stdout, _) = xtask(root, &["regen", "--check"]);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("are up to date with openapi/perspio-talk.yaml"));

    let path = root.join(FILES[1]);
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"3.0.3\"", "\"3.0.2\"");
    std::fs::write(&path, edited).unwrap();
    let (out, stdout, stderr) = xtask(root, &["regen", "--check", "--diff"]);
    assert!(!out.status.success());
    assert!(
        stdout.contains("stale: openapi/perspio-talk.normalized.json"),
        "{stdout}"
    );
    assert!(stdout.contains("openapi/perspio-talk.normalized.json (checked in)"));
    assert!(stdout.contains("-  \"openapi\": \"3.0.2\","), "{stdout}");
    assert!(
        stderr.contains("1 file(s) out of date with openapi/perspio-talk.yaml")
            && stderr.contains("run `cargo xtask regen`"),
        "{stderr}"
    );

    let (out, stdout, _) = xtask(root, &["regen", "--no-build"]);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("updated   openapi/perspio-talk.normalized.json"));
    assert!(stdout.contains("unchanged openapi/API.md"));
    assert!(stdout.contains("skipped `cargo build -p perspio-api` (--no-build)"));
    assert!(xtask(root, &["regen", "--check"]).0.status.success());
}

#[test]
fn from_prints_the_sources_the_notes_and_the_report() {
    let dir = scratch();
    let root = dir.path();
    let fixture = workspace_root().join("perspio-import/tests/fixtures/upstream-3.1.yaml");
    let (out, stdout, stderr) = xtask(
        root,
        &["regen", "--no-build", "--from", fixture.to_str().unwrap()],
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("imported 1 source(s): "), "{stdout}");
    assert!(stdout.contains("(yaml "), "{stdout}");
    assert!(stdout.contains("normaliser: "), "{stdout}");
    assert!(
        stdout.contains("operations versus the previous openapi/perspio-talk.normalized.json:"),
        "{stdout}"
    );
    assert!(stdout.contains("BREAKING"), "{stdout}");
    assert!(
        stdout.contains("updated   openapi/perspio-talk.yaml"),
        "{stdout}"
    );

    let (out, _, stderr) = xtask(root, &["regen", "--from", "does-not-exist.yaml"]);
    assert!(!out.status.success());
    assert!(
        stderr.contains("regen --from: reading the upstream spec (step: read)")
            && stderr.contains("cannot read does-not-exist.yaml"),
        "{stderr}"
    );
}
