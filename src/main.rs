//! Postern: one binary, many names.
//!
//! Dispatches on the name it was called by (`argv[0]`: a symlink named `postconf`,
//! `postmap`, `sendmail`, ...) or, when called as `postern`, on its first argument
//! (`postern postmap -q key hash:/etc/postfix/access`). Only `cli` decides exit codes.
#![forbid(unsafe_op_in_unsafe_fn)]

mod bounce;
mod cleanup;
mod cli;
mod config;
mod dns;
mod local;
mod log;
mod mail;
mod maps;
mod master;
mod pickup;
mod qmgr;
mod queue;
mod smtp;
mod smtpd;
mod tls;
mod util;
mod virtual_;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    cli::dispatch(args)
}
