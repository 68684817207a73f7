//! pickup: local submissions from `sendmail`, taken from the maildrop area and
//! queued through cleanup exactly once, by a thread of the daemon.
//!
//! Mirrors Postfix pickup(8) (pickup.c: scan the maildrop on a trigger or a
//! timer, log `ID: uid=N from=<sender>`, hand the file to cleanup, delete it
//! only once cleanup has stored it; ill-formatted files are deleted). Reads
//! `queue_directory`, `myhostname`, `myorigin`, `mail_name`,
//! `header_size_limit`, `always_add_missing_headers`, `virtual_alias_maps`,
//! `virtual_alias_recursion_limit`, `virtual_alias_expansion_limit`. RFC 5322
//! section 3.6 (the From: header pickup completes).
//!
//! Exactly once: each file is queued with `QueueHandle::insert_once` under the
//! origin `maildrop:NAME`, committed in the same transaction as the message.
//! The file is removed after the commit, then the origin is forgotten. A crash
//! after the commit leaves the file and the origin: at the next scan the file
//! is recognised and removed without a second copy, even when the first has
//! already been delivered and left the queue. Origins whose file is gone are
//! pruned when the thread starts.
//!
//! Trigger: the daemon creates the FIFO `$queue_directory/public/pickup`
//! (mode 0622, as Postfix's); `sendmail` writes a byte to it after dropping a
//! file, and the thread otherwise rescans every `SCAN_INTERVAL`.
//!
//! Public API: `start(&Config, QueueHandle, stop) -> Result<JoinHandle<()>, PickupError>`;
//! `trigger(queue_directory)` (used by sendmail); `maildrop` (the file format).

pub mod maildrop;
mod submit;
mod too_big;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use thiserror::Error;

use crate::config::{Config, ConfigError};
use crate::queue::{QueueError, QueueHandle, Reader};

/// The trigger FIFO inside `queue_directory` (Postfix's `public/pickup`).
pub const TRIGGER: &str = "public/pickup";
/// How often the maildrop is scanned without a trigger; short, since a scan of
/// an empty directory costs next to nothing and a lost trigger must not delay
/// mail for long (Postfix's pickup wakes every 60 s).
const SCAN_INTERVAL: Duration = Duration::from_secs(2);

/// Why pickup could not start.
#[derive(Debug, Error)]
pub enum PickupError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Maildrop(#[from] maildrop::MaildropError),
    #[error("{0}")]
    Queue(#[from] QueueError),
    #[error("create trigger {path}: {source}")]
    Trigger {
        path: PathBuf,
        source: nix::errno::Errno,
    },
    #[error("cannot start the pickup thread: {0}")]
    Spawn(std::io::Error),
}

/// Creates the trigger FIFO if missing (call as the queue's owner or root).
pub fn make_trigger(queue_directory: &Path) -> Result<(), PickupError> {
    make_fifo(queue_directory, TRIGGER)
}

/// Creates the FIFO `rel` (mode 0622, writable by every user) inside
/// `queue_directory` if missing; qmgr's `public/qmgr` is made the same way.
pub fn make_fifo(queue_directory: &Path, rel: &str) -> Result<(), PickupError> {
    let path = queue_directory.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| PickupError::Trigger {
            path: parent.to_path_buf(),
            source: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        })?;
    }
    if path.exists() {
        return Ok(());
    }
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o622);
    nix::unistd::mkfifo(&path, mode).map_err(|source| PickupError::Trigger {
        path: path.clone(),
        source,
    })?;
    // mkfifo honours the umask; the FIFO must be writable by every user.
    nix::sys::stat::fchmodat(
        None,
        &path,
        mode,
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(|source| PickupError::Trigger { path, source })
}

/// Wakes a running pickup thread; does nothing when none listens.
pub fn trigger(queue_directory: &Path) {
    // O_NONBLOCK: opening a FIFO without a reader fails at once (ENXIO)
    // instead of waiting for a daemon that is not running.
    if let Ok(mut f) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(queue_directory.join(TRIGGER))
    {
        let _ = f.write_all(b"W");
    }
}

/// Starts the pickup thread (after the privilege drop); it runs until `stop`.
pub fn start(
    cfg: &Config,
    queue: QueueHandle,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, PickupError> {
    let job = submit::Job::new(cfg, queue)?;
    prune_origins(&job)?;
    let syslog_name = cfg.get(crate::config::params::names::SYSLOG_NAME);
    std::thread::Builder::new()
        .name("pickup".into())
        .spawn(move || {
            crate::log::set_thread_tag(&syslog_name, "pickup");
            serve(&job, &stop)
        })
        .map_err(PickupError::Spawn)
}

/// Forgets origins whose maildrop file is gone (removed after the commit but
/// before the origin was forgotten).
fn prune_origins(job: &submit::Job) -> Result<(), PickupError> {
    let reader = Reader::open(&job.queue_dir)?;
    let present = maildrop::list(&job.queue_dir)?;
    for origin in reader.origins(submit::ORIGIN_PREFIX)? {
        let name = origin.trim_start_matches(submit::ORIGIN_PREFIX);
        if !present.iter().any(|p| p == name) {
            job.queue.forget_origin(&origin)?;
        }
    }
    Ok(())
}

fn serve(job: &submit::Job, stop: &AtomicBool) {
    let fifo = OpenOptions::new()
        .read(true)
        .write(true) // keeps the FIFO open when no writer is left: no EOF spin
        .custom_flags(libc::O_NONBLOCK)
        .open(job.queue_dir.join(TRIGGER));
    if let Err(e) = &fifo {
        ::log::warn!("open {TRIGGER}: {e}; scanning the maildrop every few seconds");
    }
    while !stop.load(Ordering::Relaxed) {
        job.scan();
        match &fifo {
            Ok(f) => wait(f),
            Err(_) => std::thread::sleep(SCAN_INTERVAL),
        }
    }
}

/// Waits for a trigger or the scan interval, then drains the FIFO.
fn wait(mut fifo: &std::fs::File) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
    let timeout =
        PollTimeout::try_from(SCAN_INTERVAL.as_millis() as i32).unwrap_or(PollTimeout::MAX);
    if let Ok(n) = poll(&mut fds, timeout) {
        if n > 0 {
            let mut buf = [0u8; 512];
            while matches!(fifo.read(&mut buf), Ok(n) if n > 0) {}
        }
    }
}
