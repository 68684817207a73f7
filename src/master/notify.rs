//! The start-up report of a master started in the background: one line on its
//! stdout, a pipe to the waiting `postfix start`, which then closes.
//!
//! Mirrors Postfix master -w (master.c: the initialization status sent from
//! the background master to the foreground process over a pipe). Reads no
//! parameters.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;

/// The line that says the master has bound its listeners and runs.
pub const READY: &str = "ready";

/// The reporting end: the background master's stdout.
pub struct Notify(());

impl Notify {
    /// Reports over stdout, which `postfix start` made a pipe.
    pub fn stdout() -> Notify {
        Notify(())
    }

    /// Start-up succeeded.
    pub fn ready(self) {
        self.send(READY);
    }

    /// Start-up failed with `text` (already logged).
    pub fn failed(self, text: &str) {
        self.send(&format!("fatal: {text}"));
    }

    /// Writes the line, then points stdout at /dev/null so that the pipe closes
    /// and the waiting command sees its end.
    fn send(self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        if let Ok(null) = OpenOptions::new().write(true).open("/dev/null") {
            let _ = nix::unistd::dup2(null.as_raw_fd(), out.as_raw_fd());
        }
    }
}
