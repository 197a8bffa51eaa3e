//! The body of the workspace's build scripts (`perspio-api`, `perspio-cli`).

#![allow(
    clippy::print_stdout,
    reason = "cargo reads build-script directives from stdout"
)]

use std::path::PathBuf;
use std::process::ExitCode;

use openapiv3::OpenAPI;

use crate::CodegenError;

/// The spec build scripts read, relative to the workspace root.
pub const NORMALIZED_SPEC: &str = "openapi/perspio-talk.normalized.json";

/// Runs in a build script of a crate at the workspace root: reads [`NORMALIZED_SPEC`], asks
/// cargo to rerun only when it changes, turns it into source with `generator`, and writes
/// `OUT_DIR/{file_name}`. Returns `OUT_DIR`.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     match perspio_codegen::build_script("client", perspio_codegen::generate, "client.rs") {
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
    generator: fn(&OpenAPI) -> Result<String, CodegenError>,
    file_name: &str,
) -> Result<PathBuf, ExitCode> {
    let fail = |message: String| {
        for line in message.lines() {
            println!("cargo::error={line}");
        }
        ExitCode::FAILURE
    };
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let spec_path = manifest_dir.join("..").join(NORMALIZED_SPEC);
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
