//! [`Workspace`]: the spec and the files derived from it (under `openapi/`, and the copy of the
//! normalised spec in `perspio-api`'s package), read, checked and written all at once.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::manifest::with_tag_features;
use crate::provenance::{Provenance, SourceRecord};
use crate::report::Report;
use crate::source::{Source, sha256_hex};
use crate::{Derived, ImportError, derive, import};

/// The spec humans review (relative to the workspace root).
pub const SPEC: &str = "openapi/perspio-talk.yaml";
/// The normalised OpenAPI 3.0.3, next to the spec it is derived from.
pub const NORMALIZED: &str = "openapi/perspio-talk.normalized.json";
/// The copy of [`NORMALIZED`] that `perspio-api` carries in its package: the one its build
/// script, `perspio_api::NORMALIZED_SPEC` and (through perspio-api) `perspio-cli`'s build
/// script read, so the published crates build without `openapi/`.
pub const API_SPEC: &str = "perspio-api/spec/perspio-talk.normalized.json";
/// perspio-api's manifest: `regen` keeps the generated block of one cargo feature per spec
/// tag at the end of its `[features]` ([`BLOCK_MARKER`](crate::BLOCK_MARKER)); every other
/// byte of it is left as it is.
pub const API_MANIFEST: &str = "perspio-api/Cargo.toml";
/// Where the spec came from, when, and the sha256 of the spec and of its normalised form.
pub const PROVENANCE: &str = "openapi/provenance.json";
/// The reviewable API surface.
pub const API_MD: &str = "openapi/API.md";

/// A workspace's spec, [`SPEC`], and what is derived from it ([`NORMALIZED`] and its copy
/// [`API_SPEC`], the hashes in [`PROVENANCE`], [`API_MD`], the tag features in
/// [`API_MANIFEST`]).
///
/// [`plan_regen`](Self::plan_regen) and [`plan_import`](Self::plan_import) compute every file
/// first and write nothing; [`Plan::write`] then writes them all at once. An error before the
/// write leaves every file untouched.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

/// The files one `regen` (or `regen --from`) would write, and what they were derived from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Plan {
    /// Every file of the update, with its new content, in the order they are reported.
    pub files: Vec<PlannedFile>,
    /// What was derived from the spec (notes, normalised document, client, API.md).
    pub derived: Derived,
    /// The change report from the checked-in [`NORMALIZED`] file, when there is one that
    /// parses.
    pub report: Option<Report>,
    root: PathBuf,
}

/// One file of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedFile {
    /// Relative to the workspace root ([`SPEC`], [`NORMALIZED`], …).
    pub path: &'static str,
    /// The new content.
    pub content: String,
}

/// A checked-in file whose content is not what `regen` would write (see
/// [`Workspace::stale`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stale {
    /// Relative to the workspace root.
    pub path: &'static str,
    /// What is checked in; `None` when the file is missing.
    pub current: Option<String>,
    /// What `regen` would write.
    pub expected: String,
}

impl Workspace {
    /// The workspace whose root folder (the one holding `openapi/` and `perspio-api/`) is
    /// `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Derives everything from the checked-in [`SPEC`] and keeps its provenance's sources and
    /// date (only the hashes change): what `cargo xtask regen` writes.
    ///
    /// # Errors
    /// When [`SPEC`] or [`PROVENANCE`] cannot be read, or [`derive()`] fails.
    pub fn plan_regen(&self) -> Result<Plan, ImportError> {
        let spec_text = self.read(SPEC)?;
        let derived = derive(&spec_text)?;
        let provenance = Provenance::read(&self.root.join(PROVENANCE))?;
        self.plan(None, spec_text, derived, &provenance)
    }

    /// [`import`]s `sources` as the new [`SPEC`], records them (location relative to the root
    /// when inside it, format, OpenAPI version, sha256) and the date in a new provenance, and
    /// derives the rest: what `cargo xtask regen --from` writes.
    ///
    /// # Errors
    /// When [`import`] fails.
    pub fn plan_import(&self, sources: &[Source]) -> Result<Plan, ImportError> {
        let imported = import(sources)?;
        let provenance = Provenance::imported(
            sources
                .iter()
                .map(|s| SourceRecord {
                    location: Some(display_location(&self.root, &s.location)),
                    description: None,
                    format: Some(s.format.name().into()),
                    openapi: Some(s.version().into()),
                    sha256: Some(s.sha256.clone()),
                })
                .collect(),
        );
        let spec_text = imported.spec.clone();
        self.plan(
            Some(imported.spec),
            spec_text,
            imported.derived,
            &provenance,
        )
    }

    /// The derived files whose checked-in content is stale (what `cargo xtask regen --check`
    /// reports). Writes nothing.
    ///
    /// # Errors
    /// When [`SPEC`] or [`PROVENANCE`] cannot be read, or [`derive()`] fails.
    pub fn stale(&self) -> Result<Vec<Stale>, ImportError> {
        let spec_text = self.read(SPEC)?;
        let derived = derive(&spec_text)?;
        let provenance = Provenance::read(&self.root.join(PROVENANCE))?;
        let manifest = self.read(API_MANIFEST)?;
        Ok(derived_files(&spec_text, &derived, &provenance, &manifest)?
            .into_iter()
            .filter_map(|PlannedFile { path, content }| {
                let current = std::fs::read_to_string(self.root.join(path)).ok();
                (current.as_deref() != Some(content.as_str())).then_some(Stale {
                    path,
                    current,
                    expected: content,
                })
            })
            .collect())
    }

    fn plan(
        &self,
        spec: Option<String>,
        spec_text: String,
        derived: Derived,
        provenance: &Provenance,
    ) -> Result<Plan, ImportError> {
        let mut files: Vec<PlannedFile> = spec
            .into_iter()
            .map(|content| PlannedFile {
                path: SPEC,
                content,
            })
            .collect();
        let manifest = self.read(API_MANIFEST)?;
        files.extend(derived_files(&spec_text, &derived, provenance, &manifest)?);
        let report = std::fs::read_to_string(self.root.join(NORMALIZED))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .map(|old| derived.report_since(&old));
        Ok(Plan {
            files,
            derived,
            report,
            root: self.root.clone(),
        })
    }

    fn read(&self, rel: &str) -> Result<String, ImportError> {
        let path = self.root.join(rel);
        std::fs::read_to_string(&path)
            .map_err(|source| ImportError::FileUnreadable { path, source })
    }
}

impl Plan {
    /// Writes each file whose content differs from the checked-in one: each to a temporary
    /// file beside it (creating its folder when missing), then all renamed into place, so an
    /// error before the renames leaves every file untouched. Returns the paths written.
    ///
    /// # Errors
    /// When a folder or a temporary file cannot be created or written, or renamed into place.
    pub fn write(&self) -> Result<Vec<&'static str>, ImportError> {
        let mut staged = Vec::new();
        for PlannedFile { path: rel, content } in &self.files {
            let path = self.root.join(rel);
            if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
                continue;
            }
            let dir = path.parent().unwrap_or(&self.root);
            std::fs::create_dir_all(dir).map_err(|source| ImportError::CreateDir {
                dir: dir.to_owned(),
                source,
            })?;
            let mut tmp =
                tempfile::NamedTempFile::new_in(dir).map_err(|source| ImportError::TempFile {
                    dir: dir.to_owned(),
                    source,
                })?;
            tmp.write_all(content.as_bytes())
                .and_then(|()| tmp.flush())
                .map_err(|source| ImportError::WriteFile { file: rel, source })?;
            staged.push((*rel, tmp, path));
        }
        let mut written = Vec::new();
        for (rel, tmp, path) in staged {
            tmp.persist(&path).map_err(|e| ImportError::ReplaceFile {
                path: path.clone(),
                source: e.error,
            })?;
            written.push(rel);
        }
        Ok(written)
    }
}

fn hashes(spec_text: &str, derived: &Derived) -> BTreeMap<String, String> {
    BTreeMap::from([
        (SPEC.to_owned(), sha256_hex(spec_text.as_bytes())),
        (
            NORMALIZED.to_owned(),
            sha256_hex(derived.normalized.as_bytes()),
        ),
    ])
}

/// The derived files (relative path, expected content), in the order they are reported.
fn derived_files(
    spec_text: &str,
    derived: &Derived,
    provenance: &Provenance,
    manifest: &str,
) -> Result<Vec<PlannedFile>, ImportError> {
    let file = |path, content| PlannedFile { path, content };
    let manifest = with_tag_features(manifest, &derived.features).map_err(|source| {
        ImportError::ApiManifest {
            file: API_MANIFEST,
            source,
        }
    })?;
    Ok(vec![
        file(NORMALIZED, derived.normalized.clone()),
        file(API_SPEC, derived.normalized.clone()),
        file(
            PROVENANCE,
            provenance
                .with_hashes(hashes(spec_text, derived))
                .to_text()?,
        ),
        file(API_MD, derived.api_md.clone()),
        file(API_MANIFEST, manifest),
    ])
}

/// A file given on the command line, relative to the workspace root when inside it.
fn display_location(root: &Path, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let path = PathBuf::from(location);
    let absolute = std::fs::canonicalize(&path).unwrap_or(path);
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    absolute.strip_prefix(&root).map_or_else(
        |_| absolute.display().to_string(),
        |p| p.display().to_string(),
    )
}
