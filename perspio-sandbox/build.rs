//! Embeds every fixture of `data/` (`data/{operationId}.json`): writes
//! `&[("operation_id", include_str!(".../operation_id.json")), …]` to `OUT_DIR`, sorted, so a
//! new fixture file needs no code edit. Reruns only when `data/` changes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let data_dir = manifest_dir.join("data");
    println!("cargo::rerun-if-changed={}", data_dir.display());
    let fixtures_file = out_dir.join("sandbox_fixtures.rs");
    if let Err(e) = std::fs::write(&fixtures_file, fixtures_table(&data_dir)) {
        println!("cargo::error=writing {}: {e}", fixtures_file.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn fixtures_table(data_dir: &Path) -> String {
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
