//! Generates the PerspioTalk client from the checked-in spec into `OUT_DIR`.
//!
//! Reruns only when the spec changes. Errors name the file, the step and the operation.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let spec_path = manifest_dir.join("../openapi/perspio-talk.normalized.json");
    println!("cargo::rerun-if-changed={}", spec_path.display());

    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo::error=OUT_DIR is not set: build.rs must be run by cargo");
        return ExitCode::FAILURE;
    };
    let generated =
        perspio_codegen::load_spec(&spec_path).and_then(|spec| perspio_codegen::generate(&spec));
    let source = match generated {
        Ok(source) => source,
        Err(e) => {
            for line in format!("generating the client from {}: {e}", spec_path.display()).lines() {
                println!("cargo::error={line}");
            }
            return ExitCode::FAILURE;
        }
    };
    let out_file = out_dir.join("perspio_talk.rs");
    if let Err(e) = std::fs::write(&out_file, source) {
        println!("cargo::error=writing {}: {e}", out_file.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
