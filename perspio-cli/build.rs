//! Generates the `perspio` subcommands from the checked-in spec into `OUT_DIR`, with the same
//! progenitor settings as perspio-api's client (`perspio_codegen::generate_cli`).
//!
//! Reruns only when the spec changes. Errors name the file, the step and the operation.

fn main() -> std::process::ExitCode {
    match perspio_codegen::build_script("CLI", perspio_codegen::generate_cli, "perspio_cli.rs") {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(code) => code,
    }
}
