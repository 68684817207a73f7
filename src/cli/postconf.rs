//! The `postconf` command (STUB: being built).

use std::process::ExitCode;

/// Runs `postconf` with Postfix's options.
pub fn run(_args: Vec<String>) -> ExitCode {
    eprintln!("postconf: fatal: not built yet");
    ExitCode::from(69)
}
