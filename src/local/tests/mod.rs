//! Tests of the local delivery primitives against real files, real locks held by
//! other threads and processes, and real commands run through `/bin/sh`.
//!
//! Exercises src/local (Postfix local(8) behaviour); the parameters are set through
//! the settings structs, shortened where a test would otherwise wait seconds.

pub mod agent;
mod command;
mod file;
mod forward;
mod helper;
mod lock;
mod maildir;
mod mbox;

use std::time::Duration;

use super::lock::{LockSettings, LockStyle};
use super::Envelope;

/// A typical envelope: sender, final and original recipient differ.
pub fn envelope() -> Envelope {
    Envelope {
        queue_id: "4XyZ1Q2w3e".into(),
        sender: "alice@example.org".into(),
        recipient: "bob@example.com".into(),
        original_recipient: "postmaster@example.com".into(),
        delivery_key: String::new(),
        retry: false,
    }
}

/// A message whose body has lines that need `>From ` quoting in a mailbox.
pub const CONTENT: &[u8] = b"From: Alice <alice@example.org>\nTo: bob@example.com\nSubject: test\n\nFrom here on it is body.\n>From quoted already\nFrom  two spaces\nlast line\n";

/// Lock settings with Postfix's meaning but short delays, so timeouts take
/// fractions of a second.
pub fn quick_locks(style: &str, attempts: u32) -> LockSettings {
    LockSettings {
        mailbox_delivery_lock: LockStyle::parse(style).expect("valid style"),
        deliver_lock_attempts: attempts,
        deliver_lock_delay: Duration::from_millis(100),
        stale_lock_time: Duration::from_secs(500),
    }
}
