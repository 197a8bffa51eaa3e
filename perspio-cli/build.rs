//! Generates the `perspio` subcommands into `OUT_DIR`, with the same progenitor settings as
//! perspio-api's client (`perspio_codegen::generate_cli`), from the spec perspio-api carries.
//!
//! Why from perspio-api's copy, found through `DEP_PERSPIO_API_SPEC`: the commands must match
//! the client they call, and the spec should exist once in the published crates. perspio-api
//! declares `links = "perspio-api"` and its build script prints the absolute path of its
//! `spec/perspio-talk.normalized.json` as `cargo::metadata=spec=…`; cargo passes that to this
//! script because perspio-cli depends on perspio-api directly. The path points into
//! perspio-api's own sources, so this works for a path, git or registry dependency alike. The
//! alternatives were worse: a second copy in this package can drift from the client; a path
//! like `../perspio-api/spec` is outside this package and does not exist in a published one;
//! perspio-api as a build-dependency (to read `perspio_api::NORMALIZED_SPEC`) would compile
//! the whole client and its HTTP stack a second time, for the host, to read one string. The
//! price of `links` is that one dependency graph can hold only one perspio-api version.
//!
//! Reruns only when the spec changes. Errors name the file, the step and the operation.

use perspio_codegen::{SpecSource, build_script, generate_cli};

fn main() -> std::process::ExitCode {
    match build_script(
        "CLI",
        SpecSource::PerspioApi,
        generate_cli,
        "perspio_cli.rs",
    ) {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(code) => code,
    }
}
