//! The scratch copy of the workspace in which imported specs are built, and how to read its
//! `cargo check`.
//!
//! A generated client is checked where a user builds it: `cargo xtask regen --from F` writes
//! the files of its [`Plan`](crate::Plan) (the spec, perspio-api's copy of it, the tag features
//! in perspio-api's `Cargo.toml`, …) into a copy of the workspace, and `cargo check -p
//! perspio-api` builds the workspace's own `perspio-api` there: its manifest, its build script,
//! its handwritten modules and the workspace's lints, with `RUSTFLAGS=-D warnings`
//! ([`CHECK_RUSTFLAGS`]). There is no second dependency list to keep in step with
//! perspio-api's.
//!
//! [`mirror`] makes (or refreshes) the copy, writing only the files whose content differs, so
//! one copy and one target directory can be reused for many specs and runs: cargo rebuilds
//! only what changed. [`Diagnostics`] reads `cargo check --message-format=json`.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::generalise;

/// The folders [`mirror`] leaves out, at any depth.
pub const SKIPPED_DIRS: &[&str] = &["target", ".git"];

/// The `RUSTFLAGS` of the check: warnings are errors, as under `cargo clippy -- -D warnings`
/// and in a user's CI.
pub const CHECK_RUSTFLAGS: &str = "-D warnings";

/// The package the check builds.
pub const CHECKED_PACKAGE: &str = "perspio-api";

/// Makes `to` a copy of the workspace at `from`: every file outside [`SKIPPED_DIRS`], each
/// written only when its content differs (so cargo's fingerprints of unchanged files stay
/// valid), and files of `to` that `from` does not have removed. Returns how many files were
/// written or removed.
///
/// # Errors
/// When a folder cannot be listed or a file read, written or removed.
pub fn mirror(from: &Path, to: &Path) -> io::Result<usize> {
    let mut changed = 0;
    let mut wanted = BTreeSet::new();
    for rel in files(from)? {
        let source = from.join(&rel);
        let target = to.join(&rel);
        let content = std::fs::read(&source)?;
        if std::fs::read(&target).ok().as_deref() != Some(content.as_slice()) {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&target, content)?;
            changed += 1;
        }
        wanted.insert(rel);
    }
    if to.is_dir() {
        for rel in files(to)? {
            if !wanted.contains(&rel) {
                std::fs::remove_file(to.join(&rel))?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// Every file under `root` outside [`SKIPPED_DIRS`], relative to it, sorted.
fn files(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name();
            let path = rel.join(&name);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                    stack.push(path);
                }
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What one `cargo check --message-format=json` of [`CHECKED_PACKAGE`] reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostics {
    /// The label of each error, in order (`E0433: failed to resolve: …`, or the lint's name
    /// for a warning turned into an error: `non_camel_case_types: type _ should have an upper
    /// camel case name`).
    pub errors: Vec<String>,
    /// The label of each warning that stayed a warning.
    pub warnings: Vec<String>,
}

impl Diagnostics {
    /// Reads the compiler messages about [`CHECKED_PACKAGE`] from `cargo check
    /// --message-format=json`'s stdout (the closing "aborting due to" and "could not compile"
    /// are skipped).
    pub fn from_cargo_json(stdout: &str) -> Self {
        let mut out = Self::default();
        for line in stdout.lines() {
            let Ok(msg) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if msg["reason"] != "compiler-message" || !is_checked_package(&msg) {
                continue;
            }
            let m = &msg["message"];
            let text = m["message"].as_str().unwrap_or("");
            if text.starts_with("aborting due to")
                || text.starts_with("could not compile")
                || text.contains("warning emitted")
                || text.contains("warnings emitted")
            {
                continue;
            }
            let label = match m["code"]["code"].as_str() {
                Some(code) => format!("{code}: {}", generalise(text)),
                None => generalise(text),
            };
            match m["level"].as_str() {
                Some("error") => out.errors.push(label),
                Some("warning") => out.warnings.push(label),
                _ => {}
            }
        }
        out
    }

    /// The first error, if any.
    pub fn first_error(&self) -> Option<&str> {
        self.errors.first().map(String::as_str)
    }
}

/// Whether a message is about [`CHECKED_PACKAGE`] (its `package_id` names it:
/// `path+file:///…/perspio-api#0.1.0`, `…#perspio-api@0.1.0` or `perspio-api 0.1.0 (path+…)`).
fn is_checked_package(msg: &Value) -> bool {
    let id = msg["package_id"].as_str().unwrap_or("");
    id.contains(&format!("/{CHECKED_PACKAGE}#"))
        || id.contains(&format!("#{CHECKED_PACKAGE}@"))
        || id.starts_with(&format!("{CHECKED_PACKAGE} "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn errors_and_warnings_of_perspio_api_are_read_and_others_skipped() {
        let api = r#""package_id":"path+file:///w/perspio-api#0.1.0""#;
        let other = r#""package_id":"path+file:///w/perspio-core#0.1.0""#;
        let stdout = [
            format!(
                r#"{{"reason":"compiler-message",{api},"message":{{"level":"error","message":"failed to resolve: use of unresolved module or unlinked crate `uuid`","code":{{"code":"E0433"}}}}}}"#
            ),
            format!(
                r#"{{"reason":"compiler-message",{api},"message":{{"level":"error","message":"type `foo_Bar` should have an upper camel case name","code":{{"code":"non_camel_case_types"}}}}}}"#
            ),
            format!(
                r#"{{"reason":"compiler-message",{api},"message":{{"level":"warning","message":"unused variable: `x`","code":{{"code":"unused_variables"}}}}}}"#
            ),
            format!(
                r#"{{"reason":"compiler-message",{other},"message":{{"level":"error","message":"elsewhere","code":null}}}}"#
            ),
            format!(
                r#"{{"reason":"compiler-message",{api},"message":{{"level":"error","message":"aborting due to 2 previous errors","code":null}}}}"#
            ),
            r#"{"reason":"build-finished","success":false}"#.to_owned(),
        ]
        .join("\n");
        let d = Diagnostics::from_cargo_json(&stdout);
        assert_eq!(
            d.errors,
            [
                "E0433: failed to resolve: use of unresolved module or unlinked crate _",
                "non_camel_case_types: type _ should have an upper camel case name",
            ]
        );
        assert_eq!(d.warnings, ["unused_variables: unused variable: _"]);
        assert_eq!(d.first_error(), Some(d.errors[0].as_str()));
    }

    #[test]
    fn the_mirror_writes_only_what_differs_and_removes_what_is_gone() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("a/target")).unwrap();
        std::fs::create_dir_all(from.path().join(".git")).unwrap();
        std::fs::write(from.path().join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::write(from.path().join("a/lib.rs"), "fn a() {}\n").unwrap();
        std::fs::write(from.path().join("a/target/big"), "x").unwrap();
        std::fs::write(from.path().join(".git/HEAD"), "x").unwrap();
        assert_eq!(mirror(from.path(), to.path()).unwrap(), 2);
        assert!(!to.path().join("a/target").exists() && !to.path().join(".git").exists());

        // Nothing differs: nothing is written.
        assert_eq!(mirror(from.path(), to.path()).unwrap(), 0);
        // A file written in the copy is put back; one only in the copy goes.
        std::fs::write(to.path().join("a/lib.rs"), "changed").unwrap();
        std::fs::write(to.path().join("extra.rs"), "x").unwrap();
        assert_eq!(mirror(from.path(), to.path()).unwrap(), 2);
        assert_eq!(
            std::fs::read_to_string(to.path().join("a/lib.rs")).unwrap(),
            "fn a() {}\n"
        );
        assert!(!to.path().join("extra.rs").exists());
    }
}
