#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cause;
pub mod corpus;
mod derive;
mod error;
mod manifest;
mod merge;
mod normalize;
mod provenance;
mod refs;
mod report;
mod source;
mod surface;
mod workspace;

pub use derive::{Derived, Imported, STACK_SIZE, Timings, X_GENERATED, derive, import};
pub use error::ImportError;
pub use manifest::{BLOCK_MARKER, ManifestError, hand_written_features, with_tag_features};
pub use merge::MergeError;
pub use normalize::{NormalizeError, Note, normalize};
pub use refs::{BrokenRef, BrokenRefs};
pub use report::{Change, Report, compare};
pub use source::{FETCH_TIMEOUT, Format, MAX_FETCHED_SIZE, Source, SourceError, load};
pub use surface::SurfaceError;
pub use workspace::{
    API_MANIFEST, API_MD, API_SPEC, NORMALIZED, PROVENANCE, Plan, PlannedFile, SPEC, Stale,
    Workspace,
};

/// The HTTP methods an OpenAPI path item may hold.
pub(crate) const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
