//! Generates the `perspio` subcommands from the checked-in spec into `OUT_DIR`, with the same
//! progenitor settings as perspio-api's client (`perspio_codegen::generate_cli`).
//!
//! Reruns only when the spec changes. Errors name the file, the step and the operation.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let out_dir =
        match perspio_codegen::build_script("CLI", perspio_codegen::generate_cli, "perspio_cli.rs")
        {
            Ok(out_dir) => out_dir,
            Err(code) => return code,
        };

    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
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
