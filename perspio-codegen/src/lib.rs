//! The one place where the PerspioTalk OpenAPI spec becomes Rust source.
//!
//! Where it sits: spec (`openapi/`) → import (`perspio-import`) → **generate
//! (`perspio-codegen`)** → client (`perspio-api`) → middleware (`perspio-auth`,
//! `perspio-policy`) → wire.
//!
//! `perspio-api/build.rs` and `perspio-import` (behind `cargo xtask regen`) both call
//! [`generate`], so the generation settings exist once and the two cannot drift.
//! `perspio-cli/build.rs` calls [`generate_cli`] with the same settings, so the `perspio`
//! command line follows the spec too. Both build scripts are [`build_script`]: perspio-api's
//! reads the spec its package carries ([`SpecSource::OwnPackage`], [`NORMALIZED_SPEC`]) and
//! perspio-cli's reads the same file through cargo ([`SpecSource::PerspioApi`],
//! [`DEP_SPEC_VAR`]).
//!
//! ```no_run
//! let spec = perspio_codegen::load_spec(std::path::Path::new("openapi/perspio-talk.normalized.json"))?;
//! let source = perspio_codegen::generate(&spec)?;
//! assert!(source.contains("pub struct Client"));
//! # Ok::<(), perspio_codegen::CodegenError>(())
//! ```
//!
//! # What it checks first
//! progenitor panics (or asserts) on several constructs without naming the operation. [`check`]
//! finds them first and names the operation, the construct and the way out; see
//! [`CodegenError`]. `cargo xtask regen --from` normalises an upstream spec into the form that
//! passes these checks.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod build_script;
mod builders;
mod check;
mod decode;
mod error;
mod features;
mod generate;
mod names;
mod tokens;

pub use build_script::{DEP_SPEC_VAR, NORMALIZED_SPEC, SpecSource, build_script};
pub use check::check;
pub use error::{CodegenError, Problem};
pub use features::{ALL_TAGS_FEATURE, RESERVED_FEATURES, TagFeatures, tag_feature};
pub use generate::{GENERATED_HEADER, MAX_TOKENS, generate, generate_cli, load_spec, pretty};
