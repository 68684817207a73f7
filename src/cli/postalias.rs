//! The `postalias` and `newaliases` commands (STUB: being built).

use std::process::ExitCode;

/// Runs `postalias` with Postfix's options.
pub fn run(_args: Vec<String>) -> ExitCode {
    eprintln!("postalias: fatal: not built yet");
    ExitCode::from(69)
}

/// Runs `newaliases`: `postalias` on every table in `$alias_database`.
pub fn run_newaliases(_args: Vec<String>) -> ExitCode {
    eprintln!("newaliases: fatal: not built yet");
    ExitCode::from(69)
}
