//! Exclusive mailbox locks for delivery: `.lock` files and kernel locks (`fcntl`,
//! `flock`), each tried `deliver_lock_attempts` times `deliver_lock_delay` apart.
//!
//! Mirrors Postfix global/dot_lockfile.c (dotlock with stale-lock breaking),
//! global/deliver_flock.c (kernel lock retries), global/mbox_conf.c (the lock style
//! names) and the lock order of global/mbox_open.c (dotlock, then flock, then fcntl).
//! Reads `mailbox_delivery_lock`, `deliver_lock_attempts`, `deliver_lock_delay` and
//! `stale_lock_time`.
//!
//! Postern runs deliveries as threads of one process, where classic POSIX `fcntl`
//! locks do not exclude each other. On Linux the `fcntl` style therefore takes an
//! open-file-description lock (`F_OFD_SETLK`), which conflicts with POSIX locks held
//! by mail readers and with other Postern threads alike; elsewhere it is `F_SETLK`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Which locks `mailbox_delivery_lock` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockStyle {
    pub fcntl: bool,
    pub flock: bool,
    pub dotlock: bool,
}

impl LockStyle {
    /// Parses a value such as `fcntl, dotlock`. Postfix rejects unknown names, so do
    /// we.
    pub fn parse(value: &str) -> Result<LockStyle, LockError> {
        let mut style = LockStyle {
            fcntl: false,
            flock: false,
            dotlock: false,
        };
        for word in value.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
            match word {
                "fcntl" => style.fcntl = true,
                "flock" => style.flock = true,
                "dotlock" => style.dotlock = true,
                _ => {
                    return Err(LockError::UnknownStyle {
                        name: word.to_string(),
                    })
                }
            }
        }
        Ok(style)
    }
}

impl Default for LockStyle {
    /// Postfix's per-system default (sys_defs.h): `fcntl, dotlock` on Linux,
    /// `flock, dotlock` on the BSDs.
    fn default() -> Self {
        if cfg!(target_os = "linux") {
            LockStyle {
                fcntl: true,
                flock: false,
                dotlock: true,
            }
        } else {
            LockStyle {
                fcntl: false,
                flock: true,
                dotlock: true,
            }
        }
    }
}

/// Lock parameters, named after their `main.cf` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSettings {
    /// `mailbox_delivery_lock`: how mailboxes and `/file` destinations are locked.
    pub mailbox_delivery_lock: LockStyle,
    /// `deliver_lock_attempts` (default 20): tries before giving up on a lock.
    pub deliver_lock_attempts: u32,
    /// `deliver_lock_delay` (default 1s): pause between tries.
    pub deliver_lock_delay: Duration,
    /// `stale_lock_time` (default 500s): age after which a `.lock` file is removed.
    pub stale_lock_time: Duration,
}

impl Default for LockSettings {
    fn default() -> Self {
        LockSettings {
            mailbox_delivery_lock: LockStyle::default(),
            deliver_lock_attempts: 20,
            deliver_lock_delay: Duration::from_secs(1),
            stale_lock_time: Duration::from_secs(500),
        }
    }
}

/// Why a mailbox could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// `mailbox_delivery_lock` names a method Postfix does not know.
    #[error("unknown mailbox_delivery_lock method: {name}")]
    UnknownStyle { name: String },
    /// The `.lock` file stayed in place or could not be made.
    #[error("unable to create lock file {lock_file}: {source}")]
    DotLock {
        lock_file: PathBuf,
        source: io::Error,
    },
    /// Someone else kept the kernel lock through every attempt.
    #[error("unable to lock for exclusive access: {source}")]
    Kernel { path: PathBuf, source: io::Error },
}

impl LockError {
    /// RFC 3463 code as Postfix's mbox_dsn(): a lock held by someone else is a
    /// mailbox problem to retry (4.2.0); a full disk is 4.3.0; quota is 5.2.2.
    pub fn dsn(&self) -> &'static str {
        match self {
            LockError::UnknownStyle { .. } => "4.3.5",
            LockError::DotLock { source, .. } | LockError::Kernel { source, .. } => {
                errno_dsn(source, "5.2.0")
            }
        }
    }

    /// Defer or bounce.
    pub fn severity(&self) -> super::Severity {
        super::Severity::of_dsn(self.dsn())
    }
}

/// Postfix mbox_dsn(): maps an I/O error to a mailbox-related status code.
pub fn errno_dsn(err: &io::Error, default: &'static str) -> &'static str {
    match err.raw_os_error().map(Errno::from_raw) {
        Some(Errno::EAGAIN) | Some(Errno::ESTALE) => "4.2.0",
        Some(Errno::EEXIST) => "4.2.0",
        // Postfix bounces other write errors; a failing disk (EIO) is deferred here so
        // the message waits for repair instead of being returned.
        Some(Errno::ENOSPC) | Some(Errno::EIO) => "4.3.0",
        Some(Errno::EDQUOT) | Some(Errno::EFBIG) => "5.2.2",
        _ => default,
    }
}

/// The locks held on one open mailbox; dropping it removes the `.lock` file and
/// releases the `flock`. The `fcntl` lock goes away when the file is closed.
#[derive(Debug)]
pub struct MailboxLock {
    dotlock: Option<PathBuf>,
    _flock: Option<Flock<File>>,
}

impl Drop for MailboxLock {
    fn drop(&mut self) {
        if let Some(lock_file) = &self.dotlock {
            // dot_unlockfile(): nothing useful to do when it is already gone.
            let _ = std::fs::remove_file(lock_file);
        }
    }
}

/// Locks the open mailbox `file` (whose name is `path`) in mbox_open.c's order:
/// dotlock, flock, fcntl. With `dotlock_may_fail`, a `.lock` that cannot be created
/// for a reason other than "exists" (an unwritable directory) only logs a warning,
/// as Postfix allows for `/file` destinations.
pub fn lock_mailbox(
    file: &File,
    path: &Path,
    settings: &LockSettings,
    dotlock_may_fail: bool,
) -> Result<MailboxLock, LockError> {
    let style = settings.mailbox_delivery_lock;
    let mut held = MailboxLock {
        dotlock: None,
        _flock: None,
    };
    if style.dotlock {
        match dot_lock(path, settings) {
            Ok(lock_file) => held.dotlock = Some(lock_file),
            Err(LockError::DotLock { source, lock_file })
                if dotlock_may_fail && source.kind() != io::ErrorKind::AlreadyExists =>
            {
                log::warn!(
                    "unable to create lock file {}: {source}",
                    lock_file.display()
                );
            }
            Err(e) => return Err(e),
        }
    }
    if style.flock {
        let dup = file.try_clone().map_err(|source| LockError::Kernel {
            path: path.to_path_buf(),
            source,
        })?;
        held._flock = Some(flock_with_retries(dup, path, settings)?);
    }
    if style.fcntl {
        retry(settings, || fcntl_try(file)).map_err(|source| LockError::Kernel {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(held)
}

/// Creates `path.lock` exclusively, breaking it when older than `stale_lock_time`
/// (dot_lockfile.c). Returns the lock file name.
pub fn dot_lock(path: &Path, settings: &LockSettings) -> Result<PathBuf, LockError> {
    let mut name = path.as_os_str().to_os_string();
    name.push(".lock");
    let lock_file = PathBuf::from(name);
    let mut count = 1;
    loop {
        // O_EXCL|O_CREAT does not follow a symlink planted at the lock name.
        let attempt = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o000)
            .open(&lock_file);
        let err = match attempt {
            Ok(_) => return Ok(lock_file),
            Err(e) => e,
        };
        if count >= settings.deliver_lock_attempts.max(1)
            || err.kind() != io::ErrorKind::AlreadyExists
        {
            return Err(LockError::DotLock {
                lock_file,
                source: err,
            });
        }
        if let Ok(meta) = std::fs::metadata(&lock_file) {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let stale = i64::try_from(settings.stale_lock_time.as_secs()).unwrap_or(i64::MAX);
            if now > meta.ctime().saturating_add(stale) {
                if let Err(e) = std::fs::remove_file(&lock_file) {
                    if e.kind() != io::ErrorKind::NotFound {
                        return Err(LockError::DotLock {
                            lock_file,
                            source: e,
                        });
                    }
                }
                log::warn!("{}: removed stale lock file", lock_file.display());
                count += 1;
                continue;
            }
        }
        thread::sleep(settings.deliver_lock_delay);
        count += 1;
    }
}

/// deliver_flock() for the `flock` style: non-blocking tries with a pause between.
fn flock_with_retries(
    mut file: File,
    path: &Path,
    settings: &LockSettings,
) -> Result<Flock<File>, LockError> {
    let attempts = settings.deliver_lock_attempts.max(1);
    let mut last = Errno::EAGAIN;
    for i in 0..attempts {
        if i > 0 {
            thread::sleep(settings.deliver_lock_delay);
        }
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => return Ok(locked),
            Err((back, errno)) => {
                file = back;
                last = errno;
                if errno != Errno::EWOULDBLOCK && errno != Errno::EINTR {
                    break;
                }
            }
        }
    }
    Err(LockError::Kernel {
        path: path.to_path_buf(),
        source: io::Error::from(last),
    })
}

/// deliver_flock() for the `fcntl` style.
fn retry(
    settings: &LockSettings,
    mut try_once: impl FnMut() -> Result<(), Errno>,
) -> io::Result<()> {
    let attempts = settings.deliver_lock_attempts.max(1);
    let mut last = Errno::EAGAIN;
    for i in 0..attempts {
        if i > 0 {
            thread::sleep(settings.deliver_lock_delay);
        }
        match try_once() {
            Ok(()) => return Ok(()),
            // EACCES is what some systems return for a held POSIX lock.
            Err(e @ (Errno::EAGAIN | Errno::EACCES | Errno::EINTR)) => last = e,
            Err(e) => return Err(io::Error::from(e)),
        }
    }
    Err(io::Error::from(last))
}

/// One non-blocking exclusive whole-file write lock.
fn fcntl_try(file: &File) -> Result<(), Errno> {
    let request = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        // Must be 0 for open-file-description locks.
        l_pid: 0,
        #[cfg(target_os = "freebsd")]
        l_sysid: 0,
    };
    #[cfg(target_os = "linux")]
    let arg = nix::fcntl::FcntlArg::F_OFD_SETLK(&request);
    #[cfg(not(target_os = "linux"))]
    let arg = nix::fcntl::FcntlArg::F_SETLK(&request);
    nix::fcntl::fcntl(file.as_raw_fd(), arg).map(|_| ())
}
