//! `openapi/provenance.json`: where the spec came from, when, and the content hashes of the
//! spec and its normalised form. `regen` updates the hashes; `regen --from` rewrites it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ImportError;

/// The `tool` field: what wrote the file. The wording predates this crate (the importer was
/// part of xtask); xtask and this crate share the workspace version, so the text is unchanged.
pub(crate) const TOOL: &str = concat!("cargo xtask regen (xtask ", env!("CARGO_PKG_VERSION"), ")");

const NOTE: &str = "Where openapi/perspio-talk.yaml came from. `cargo xtask regen` updates the \
                    hashes; `cargo xtask regen --from <file-or-URL>` rewrites sources and date.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Provenance {
    #[serde(rename = "x-note", default)]
    pub(crate) note: String,
    pub(crate) sources: Vec<SourceRecord>,
    /// When the spec was retrieved or imported (RFC 3339, UTC).
    pub(crate) retrieved_at: String,
    pub(crate) tool: String,
    /// File (relative to the workspace root) → sha256 of its content.
    pub(crate) sha256: BTreeMap<String, String>,
}

/// One source of the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SourceRecord {
    /// Path or URL, for an imported file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) location: Option<String>,
    /// Prose, for a hand-written spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) openapi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<String>,
}

impl Provenance {
    /// A provenance for an import made now.
    pub(crate) fn imported(sources: Vec<SourceRecord>) -> Self {
        Self {
            note: NOTE.into(),
            sources,
            retrieved_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            tool: TOOL.into(),
            sha256: BTreeMap::new(),
        }
    }

    /// Reads `path`.
    pub(crate) fn read(path: &Path) -> Result<Self, ImportError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ImportError::ProvenanceUnreadable {
                path: path.to_owned(),
                source,
            })?;
        serde_json::from_str(&text).map_err(|source| ImportError::ProvenanceInvalid {
            path: path.to_owned(),
            source,
        })
    }

    /// The same record with `hashes` and the current note and tool.
    pub(crate) fn with_hashes(&self, hashes: BTreeMap<String, String>) -> Self {
        Self {
            note: NOTE.into(),
            tool: TOOL.into(),
            sha256: hashes,
            ..self.clone()
        }
    }

    /// Pretty JSON with a trailing newline.
    pub(crate) fn to_text(&self) -> Result<String, ImportError> {
        serde_json::to_string_pretty(self)
            .map(|text| text + "\n")
            .map_err(|source| ImportError::ProvenanceJson { source })
    }
}
