//! The `postfix` command (STUB: being built).

use std::process::ExitCode;

/// Runs `postfix` with Postfix's options.
pub fn run(_args: Vec<String>) -> ExitCode {
    eprintln!("postfix: fatal: not built yet");
    ExitCode::from(69)
}
