//! What the queue commands (postqueue, postsuper, postcat) share: reading
//! main.cf, becoming `mail_owner` when run as root, opening the queue, and
//! the small formats (JSON strings) they print.
//!
//! Mirrors what Postfix's postqueue.c, postsuper.c and postcat.c do first
//! (`mail_conf_read`, `set_ugid(var_owner_uid, ...)`, `chdir(var_queue_dir)`)
//! and util/quote_for_json.c. Reads `queue_directory`, `mail_owner`, and the
//! logging parameters (`cli::logging`).
//!
//! Permission model: the queue database belongs to `mail_owner`. Root runs
//! these commands as `mail_owner` (so SQLite's `-wal`/`-shm` files it creates
//! stay the daemon's); `mail_owner` runs them directly; other users need read
//! access to the queue for `mailq` (Postfix's showq would read it for them).

use std::path::PathBuf;

use crate::config::{self, Config};
use crate::queue::{QueueHandle, Reader, Store};

/// A fatal error, printed as `program: fatal: text`.
#[derive(Debug)]
pub(super) struct Fatal(pub String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Fatal {
        Fatal(e.to_string())
    }
}

/// The exit status of postcat and postsuper: 0, or 1 after logging the
/// fatal error as Postfix's `msg_fatal` does.
pub(super) fn exit_status(r: Result<(), Fatal>) -> std::process::ExitCode {
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(Fatal(text)) => {
            crate::log::fatal(&text);
            std::process::ExitCode::from(1)
        }
    }
}

/// main.cf for a queue command, with logging set up under `program`.
pub(super) fn load(
    program: &str,
    config_dir: Option<&str>,
    verbose: bool,
) -> Result<(Config, PathBuf), Fatal> {
    let dir = config::config_dir(config_dir);
    let cfg = Config::load(&dir)?;
    super::logging::from_config(program, &cfg, verbose);
    let queue_dir = PathBuf::from(cfg.get(crate::master::QUEUE_DIRECTORY));
    become_owner(&cfg)?;
    Ok((cfg, queue_dir))
}

/// As root, switches to `mail_owner` for good (Postfix's postsuper does the
/// same), so nothing in the queue ends up owned by root.
fn become_owner(cfg: &Config) -> Result<(), Fatal> {
    if !crate::master::is_root() {
        return Ok(());
    }
    let owner = crate::master::mail_owner(cfg)?;
    nix::unistd::setgroups(&[owner.gid])?;
    nix::unistd::setresgid(owner.gid, owner.gid, owner.gid)?;
    nix::unistd::setresuid(owner.uid, owner.uid, owner.uid)?;
    Ok(())
}

/// A read connection, with the error Postfix gives when there is no queue.
pub(super) fn reader(queue_dir: &std::path::Path) -> Result<Reader, Fatal> {
    Reader::open(queue_dir).map_err(|e| Fatal(format!("open queue: {e}")))
}

/// A write handle (its own writer thread; SQLite's locking and busy timeout
/// let it share the database with a running daemon).
pub(super) fn writer(queue_dir: &std::path::Path) -> Result<(Store, QueueHandle), Fatal> {
    let store = Store::open(queue_dir).map_err(|e| Fatal(format!("open queue: {e}")))?;
    let handle = store.handle();
    Ok((store, handle))
}

/// `s` as a JSON string, quotes included: `"` and `\` escaped, control
/// characters as `\uXXXX` (or their short forms), everything else as is
/// (UTF-8), as Postfix's quote_for_json.
pub(super) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes() {
        assert_eq!(json_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json_string("x\ny\u{1}"), r#""x\ny\u0001""#);
        assert_eq!(json_string("é"), "\"é\"");
    }
}
