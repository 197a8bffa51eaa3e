//! The body of the workspace's build scripts (`perspio-api`, `perspio-cli`).

#![allow(
    clippy::print_stdout,
    reason = "cargo reads build-script directives from stdout"
)]

use std::path::PathBuf;
use std::process::ExitCode;

use openapiv3::OpenAPI;

use crate::CodegenError;

/// Where `perspio-api` keeps the normalised spec, relative to its package root: the one copy
/// in the published crates (`cargo xtask regen` writes it from
/// `openapi/perspio-talk.normalized.json`).
pub const NORMALIZED_SPEC: &str = "spec/perspio-talk.normalized.json";

/// The variable cargo sets for the build scripts of perspio-api's direct dependents, from the
/// `cargo::metadata=spec=…` line perspio-api's build script prints (perspio-api declares
/// `links = "perspio-api"`).
pub const DEP_SPEC_VAR: &str = "DEP_PERSPIO_API_SPEC";

/// Which spec a build script generates from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecSource {
    /// The package's own copy, `$CARGO_MANIFEST_DIR/`[`NORMALIZED_SPEC`]: perspio-api's build
    /// script. Its absolute path is printed as `cargo::metadata=spec=…`, so the package must
    /// declare `links = "perspio-api"`.
    OwnPackage,
    /// perspio-api's copy, at the path in [`DEP_SPEC_VAR`]: the build script of a crate that
    /// depends on perspio-api directly (`perspio-cli`). It works wherever perspio-api comes
    /// from (path, git or registry), because the path points into perspio-api's own sources.
    PerspioApi,
}

/// Runs in a build script: reads the spec from `source`, asks cargo to rerun only when it
/// changes, turns it into source with `generator`, and writes `OUT_DIR/{file_name}`. Returns
/// `OUT_DIR`.
///
/// ```no_run
/// use perspio_codegen::{SpecSource, build_script, generate};
///
/// fn main() -> std::process::ExitCode {
///     match build_script("client", SpecSource::OwnPackage, generate, "client.rs") {
///         Ok(_out_dir) => std::process::ExitCode::SUCCESS,
///         Err(code) => code,
///     }
/// }
/// ```
///
/// # Errors
/// The exit code to return from `main`, after printing `cargo::error=` lines that name the file
/// and the step (and, for an unsupported spec, every operation and the fix).
pub fn build_script(
    what: &str,
    source: SpecSource,
    generator: fn(&OpenAPI) -> Result<String, CodegenError>,
    file_name: &str,
) -> Result<PathBuf, ExitCode> {
    let fail = |message: String| {
        for line in message.lines() {
            println!("cargo::error={line}");
        }
        ExitCode::FAILURE
    };
    let spec_path = match source {
        SpecSource::OwnPackage => {
            let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    fail("CARGO_MANIFEST_DIR is not set: build.rs must be run by cargo".into())
                })?;
            let path = manifest_dir.join(NORMALIZED_SPEC);
            println!("cargo::metadata=spec={}", path.display());
            path
        }
        SpecSource::PerspioApi => {
            println!("cargo::rerun-if-env-changed={DEP_SPEC_VAR}");
            std::env::var_os(DEP_SPEC_VAR).map(PathBuf::from).ok_or_else(|| {
                fail(format!(
                    "{DEP_SPEC_VAR} is not set: the {what} is generated from perspio-api's spec, \
                     which cargo passes only to the build scripts of crates that depend on \
                     perspio-api directly ([dependencies] perspio-api)"
                ))
            })?
        }
    };
    println!("cargo::rerun-if-changed={}", spec_path.display());
    let out_dir = std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| fail("OUT_DIR is not set: build.rs must be run by cargo".into()))?;
    let source = crate::load_spec(&spec_path)
        .and_then(|spec| generator(&spec))
        .map_err(|e| {
            fail(format!(
                "generating the {what} from {}: {e}",
                spec_path.display()
            ))
        })?;
    let out_file = out_dir.join(file_name);
    std::fs::write(&out_file, source)
        .map_err(|e| fail(format!("writing {}: {e}", out_file.display())))?;
    Ok(out_dir)
}
