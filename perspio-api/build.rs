//! Generates the PerspioTalk client into `OUT_DIR` from the spec this package carries,
//! `spec/perspio-talk.normalized.json` (`perspio_codegen::build_script`): reruns only when the
//! spec changes; errors name the file, the step and the operation.
//!
//! It also prints that file's absolute path as `cargo::metadata=spec=…` (this package
//! declares `links = "perspio-api"`), which cargo hands to the build scripts of direct
//! dependents as `DEP_PERSPIO_API_SPEC`: `perspio-cli` generates its subcommands from this
//! same file instead of carrying a second copy (see `perspio-cli/build.rs`).

use perspio_codegen::{SpecSource, build_script, generate};

fn main() -> std::process::ExitCode {
    match build_script(
        "client",
        SpecSource::OwnPackage,
        generate,
        "perspio_talk.rs",
    ) {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(code) => code,
    }
}
