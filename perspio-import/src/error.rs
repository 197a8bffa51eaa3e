//! [`ImportError`]: why an import, a derivation or a workspace update failed.

use std::path::PathBuf;

use perspio_codegen::CodegenError;

use crate::manifest::ManifestError;
use crate::merge::MergeError;
use crate::normalize::NormalizeError;
use crate::refs::BrokenRefs;
use crate::source::SourceError;
use crate::surface::SurfaceError;

/// Why an import, a derivation or a workspace update failed.
///
/// Each message names the file, the operation (`regen --from`, normalising, reading the
/// generated client) and the step (`read`, `merge`, `$ref`, `normalise`, `parse`, `generate`,
/// `type names`, `API.md`); the cause is the error's [`source`](std::error::Error::source),
/// typed ([`SourceError`], [`MergeError`], [`BrokenRefs`], [`NormalizeError`],
/// [`CodegenError`], [`SurfaceError`], I/O and parser errors). [`cause`](Self::cause) gives a
/// short label to rank failures by.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// No thread with a large enough stack could be made for the import
    /// ([`STACK_SIZE`](crate::STACK_SIZE)): the operating system's thread or memory limits.
    #[error(
        "regen --from: no thread with a {} MiB stack for the import (the system's thread or \
         memory limits)",
        crate::STACK_SIZE / (1024 * 1024)
    )]
    NoThread {
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An upstream source could not be read ([`load`](crate::load)).
    #[error("regen --from: reading the upstream spec (step: read)")]
    ReadUpstream {
        /// Which source, and why.
        #[source]
        source: SourceError,
    },
    /// The upstream sources do not merge.
    #[error("regen --from: merging (step: merge)")]
    Merge {
        /// The conflict, naming both files.
        #[source]
        source: MergeError,
    },
    /// An upstream source has `$ref`s that point nowhere (or to another file).
    #[error("regen --from: resolving references (step: $ref)")]
    UpstreamRefs {
        /// Every broken reference of the first source that has any.
        #[source]
        source: BrokenRefs,
    },
    /// The merged document could not be written as YAML.
    #[error("regen --from: writing YAML")]
    WriteYaml {
        /// What the YAML serialiser said.
        #[source]
        source: serde_norway::Error,
    },
    /// The imported spec could not be derived from (see the variants below).
    #[error("regen --from: deriving (step: normalise)")]
    DeriveImported {
        /// Why [`derive()`](crate::derive()) failed.
        #[source]
        source: Box<ImportError>,
    },

    /// The spec text is not an OpenAPI 3 document.
    #[error(transparent)]
    Spec {
        /// What is wrong with it.
        source: SourceError,
    },
    /// The spec has `$ref`s that point nowhere (or to another file).
    #[error(transparent)]
    SpecRefs {
        /// Every broken reference.
        source: BrokenRefs,
    },
    /// The normaliser refused the spec.
    #[error("normalising {file}")]
    Normalize {
        /// The spec file.
        file: &'static str,
        /// Which constructs have no faithful form.
        #[source]
        source: NormalizeError,
    },
    /// The normalised document could not be written as JSON.
    #[error("{file}, normalised: cannot write it as JSON")]
    NormalizedJson {
        /// The spec file.
        file: &'static str,
        /// What the JSON serialiser said.
        #[source]
        source: serde_json::Error,
    },
    /// The normalised document is not what `openapiv3` reads as OpenAPI 3.0.
    #[error("{file}, normalised: not an OpenAPI 3.0 document (step: parse)")]
    NotOpenApi30 {
        /// The spec file.
        file: &'static str,
        /// What `openapiv3` said.
        #[source]
        source: serde_json::Error,
    },
    /// `perspio_codegen` refused the normalised spec, or progenitor failed on it.
    #[error("{file}, normalised: generating the client (step: generate)")]
    Generate {
        /// The spec file.
        file: &'static str,
        /// The problems, naming the operations.
        #[source]
        source: CodegenError,
    },
    /// The generated client is not Rust that `syn` parses.
    #[error("{file}: reading the generated client: the generated source does not parse")]
    GeneratedSourceUnparsable {
        /// The spec file.
        file: &'static str,
        /// What `syn` said.
        #[source]
        source: syn::Error,
    },
    /// The generated client defines Rust types twice, and renaming components did not help.
    #[error(
        "{file}, normalised: the generator defines the Rust type(s) {} more than once, and \
         renaming component schemas does not help (step: type names); give the inline \
         schemas that become these types a distinct `title`",
        names.join(", ")
    )]
    DuplicateTypeNames {
        /// The spec file.
        file: &'static str,
        /// The type names defined more than once.
        names: Vec<String>,
    },
    /// The generated client does not have the shape API.md is read from.
    #[error("{file}: reading the generated client (step: API.md)")]
    ApiSurface {
        /// The spec file.
        file: &'static str,
        /// What is missing.
        #[source]
        source: SurfaceError,
    },

    /// The generated block of tag features cannot be written into perspio-api's manifest.
    #[error("{file}: writing the tag features (step: features)")]
    ApiManifest {
        /// The manifest, relative to the workspace root.
        file: &'static str,
        /// Why.
        #[source]
        source: ManifestError,
    },
    /// A file of the workspace could not be read.
    #[error("cannot read {}", path.display())]
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `openapi/provenance.json` could not be read.
    #[error(
        "cannot read {}; it records where the spec came from: restore it from git, or import \
         the spec with `cargo xtask regen --from`",
        path.display()
    )]
    ProvenanceUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `openapi/provenance.json` is not a provenance record.
    #[error("{} is not a provenance record", path.display())]
    ProvenanceInvalid {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
    /// The provenance record could not be written as JSON.
    #[error("cannot write the provenance record as JSON")]
    ProvenanceJson {
        /// What the JSON serialiser said.
        #[source]
        source: serde_json::Error,
    },
    /// The folder of a file to write is missing and could not be created.
    #[error("cannot create the folder {}", dir.display())]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No temporary file could be created beside a file to replace.
    #[error("cannot create a temporary file in {}", dir.display())]
    TempFile {
        /// The folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The new content of a file could not be written to its temporary file.
    #[error("cannot write the new {file}")]
    WriteFile {
        /// The file, relative to the workspace root.
        file: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A temporary file could not be renamed over the file it replaces.
    #[error("cannot replace {}", path.display())]
    ReplaceFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl ImportError {
    /// A short label of the cause, the same for the same cause in different specs (quoted
    /// names and numbers are generalised): `read: neither JSON nor YAML`, `$ref: points to
    /// nothing`, `check: several success response types`, `progenitor: …`, `other: …`.
    /// `cargo xtask corpus` ranks failures by it.
    pub fn cause(&self) -> String {
        crate::cause::of_import(self)
    }
}

impl SourceError {
    /// A short label of the cause (see [`ImportError::cause`]).
    pub fn cause(&self) -> String {
        crate::cause::of_source(self)
    }
}
