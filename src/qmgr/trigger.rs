//! The queue manager's wake-up FIFO, `$queue_directory/public/qmgr`:
//! `postqueue -f`, `-i` and `-s` make deferred mail due and write a byte
//! here, and qmgr scans the deferred queue at once instead of at its next
//! `queue_run_delay` scan.
//!
//! Mirrors Postfix's qmgr trigger (qmgr.c qmgr_trigger_event: `F` for flush,
//! `W` for wake-up; any byte makes Postern scan). Reads `queue_directory`
//! (given by the caller).

use std::fs::OpenOptions;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::OnceLock;

use crossbeam_channel::{bounded, Receiver};

/// The FIFO inside `queue_directory` (Postfix's `public/qmgr`).
pub const TRIGGER: &str = "public/qmgr";

/// The one watcher of this process (qmgr may be restarted after a panic; the
/// watcher thread lives on and the new qmgr takes the same channel).
static WATCHER: OnceLock<Option<Receiver<()>>> = OnceLock::new();

/// A channel that yields `()` for every wake-up (coalesced), from a thread
/// watching the FIFO, created if needed. `None` (with a warning) when the FIFO
/// cannot be made or opened: qmgr then relies on its periodic scans.
pub fn watch(queue_directory: &Path) -> Option<Receiver<()>> {
    WATCHER.get_or_init(|| start(queue_directory)).clone()
}

fn start(queue_directory: &Path) -> Option<Receiver<()>> {
    if let Err(e) = crate::pickup::make_fifo(queue_directory, TRIGGER) {
        ::log::warn!("{e}; postqueue -f waits for the next deferred queue scan");
        return None;
    }
    let fifo = OpenOptions::new()
        .read(true)
        .write(true) // keeps the FIFO open when no writer is left: no EOF spin
        .custom_flags(libc::O_NONBLOCK)
        .open(queue_directory.join(TRIGGER));
    let mut fifo = match fifo {
        Ok(f) => f,
        Err(e) => {
            ::log::warn!(
                "open {TRIGGER}: {e}; postqueue -f waits for the next deferred queue scan"
            );
            return None;
        }
    };
    let (tx, rx) = bounded(1);
    let spawned = std::thread::Builder::new()
        .name("qmgr-trigger".into())
        .spawn(move || {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            loop {
                let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
                if matches!(poll(&mut fds, PollTimeout::NONE), Ok(n) if n > 0) {
                    let mut buf = [0u8; 512];
                    while matches!(fifo.read(&mut buf), Ok(n) if n > 0) {}
                    // A wake-up already waiting covers this one.
                    let _ = tx.try_send(());
                }
            }
        });
    match spawned {
        Ok(_) => Some(rx),
        Err(e) => {
            ::log::warn!("cannot start the qmgr trigger thread: {e}");
            None
        }
    }
}
