//! The `postmap` command (STUB: being built).

use std::process::ExitCode;

/// Runs `postmap` with Postfix's options.
pub fn run(_args: Vec<String>) -> ExitCode {
    eprintln!("postmap: fatal: not built yet");
    ExitCode::from(69)
}
