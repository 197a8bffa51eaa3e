use std::fmt;
use std::path::PathBuf;

/// Why a spec could not be turned into Rust source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// The spec file could not be read.
    #[error("cannot read the spec {path}")]
    ReadSpec {
        /// The file that was read.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The spec file is not an OpenAPI 3.0 JSON document.
    #[error("{path} is not an OpenAPI 3.0 JSON document")]
    ParseSpec {
        /// The file that was parsed.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// The spec uses constructs progenitor cannot take; each problem names the operation.
    #[error("{} problem(s) progenitor cannot take:\n{}", .0.len(), Problems(.0))]
    Unsupported(Vec<Problem>),
    /// progenitor itself rejected the spec.
    #[error("progenitor rejected the spec at the {step} step: {message}")]
    Generator {
        /// Which step failed (`generate`, `parse`).
        step: &'static str,
        /// progenitor's message.
        message: String,
    },
}

/// One construct that progenitor cannot take, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The operation (`operationId`, or `METHOD /path` when it has none).
    pub operation: String,
    /// What is wrong.
    pub construct: String,
    /// What to change.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; {}", self.operation, self.construct, self.fix)
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {p}")?;
        }
        Ok(())
    }
}
