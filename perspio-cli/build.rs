//! Generates the `perspio` subcommands from the checked-in spec into `OUT_DIR`, with the same
//! progenitor settings as perspio-api's client (`perspio_codegen::generate_cli`).
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
    let generated = perspio_codegen::load_spec(&spec_path)
        .and_then(|spec| perspio_codegen::generate_cli(&spec));
    let source = match generated {
        Ok(source) => source,
        Err(e) => {
            for line in format!("generating the CLI from {}: {e}", spec_path.display()).lines() {
                println!("cargo::error={line}");
            }
            return ExitCode::FAILURE;
        }
    };
    let out_file = out_dir.join("perspio_cli.rs");
    if let Err(e) = std::fs::write(&out_file, source) {
        println!("cargo::error=writing {}: {e}", out_file.display());
        return ExitCode::FAILURE;
    }

    let data_dir = manifest_dir.join("src/sandbox/data");
    println!("cargo::rerun-if-changed={}", data_dir.display());
    let fixtures_file = out_dir.join("sandbox_fixtures.rs");
    if let Err(e) = std::fs::write(&fixtures_file, fixtures_table(&data_dir)) {
        println!("cargo::error=writing {}: {e}", fixtures_file.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `&[("operation_id", include_str!(".../operation_id.json")), …]` for every JSON file in the
/// sandbox's data directory, sorted: a new fixture file needs no code edit.
fn fixtures_table(data_dir: &std::path::Path) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut table = String::from("&[\n");
    for file in files {
        if let Some(stem) = file.file_stem().and_then(|s| s.to_str()) {
            table.push_str(&format!(
                "    ({stem:?}, include_str!({:?})),\n",
                file.display().to_string()
            ));
        }
    }
    table.push(']');
    table
}
