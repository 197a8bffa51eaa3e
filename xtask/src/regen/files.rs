//! Writing the files of one regeneration all at once: each to a temporary file beside it,
//! then renamed into place, so an error before the renames leaves every file untouched.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Writes each `(relative path, content)` whose content differs from the file's; returns the
/// paths written.
pub(crate) fn write_atomically(
    root: &Path,
    files: &[(&'static str, String)],
) -> anyhow::Result<Vec<&'static str>> {
    let mut staged = Vec::new();
    for (rel, content) in files {
        let path = root.join(rel);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
            continue;
        }
        let dir = path.parent().unwrap_or(root);
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        tmp.write_all(content.as_bytes())
            .and_then(|()| tmp.flush())
            .with_context(|| format!("cannot write the new {rel}"))?;
        staged.push((*rel, tmp, path));
    }
    let mut written = Vec::new();
    for (rel, tmp, path) in staged {
        tmp.persist(&path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        written.push(rel);
    }
    Ok(written)
}

/// `updated` / `unchanged` per file.
pub(crate) fn print_written(files: &[(&'static str, String)], written: &[&str]) {
    for (rel, _) in files {
        let state = if written.contains(rel) {
            "updated  "
        } else {
            "unchanged"
        };
        println!("{state} {rel}");
    }
}
