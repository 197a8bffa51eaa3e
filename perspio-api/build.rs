//! Generates the PerspioTalk client from the checked-in spec into `OUT_DIR`
//! (`perspio_codegen::build_script`): reruns only when the spec changes; errors name the file,
//! the step and the operation.

fn main() -> std::process::ExitCode {
    match perspio_codegen::build_script("client", perspio_codegen::generate, "perspio_talk.rs") {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(code) => code,
    }
}
