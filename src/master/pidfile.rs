//! The master's pid file `$queue_directory/$process_id_directory/master.pid`:
//! taken with an exclusive lock for the daemon's life, and probed by `postfix
//! status`/`stop`/`reload` to find the running master.
//!
//! Mirrors Postfix master.c (open_lock of the pid file, `"%*lu\n"` with the width
//! of four times `sizeof(unsigned long)`) and `master -t` as postfix-script uses
//! it. Reads nothing from main.cf itself; callers pass the path.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::error::MasterError;

/// The name of the master's pid file inside `process_id_directory`.
pub const MASTER_PID: &str = "master.pid";

/// The locked pid file; the lock goes with the process (or with this value).
pub struct PidFile {
    _lock: Flock<File>,
}

/// The pid file of the configuration whose queue is `queue_dir`.
pub fn path(queue_dir: &Path, pid_dir: &str) -> PathBuf {
    queue_dir.join(pid_dir).join(MASTER_PID)
}

impl PidFile {
    /// Locks `path` (creating it 0644) and writes our pid. A lock held by another
    /// process means another master runs on this queue.
    pub fn take(path: &Path) -> Result<PidFile, MasterError> {
        let err = |source| MasterError::PidFile {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(err)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((_, Errno::EWOULDBLOCK)) => return Err(MasterError::AlreadyRunning),
            Err((_, e)) => return Err(err(e.into())),
        };
        // Truncate only once the lock is ours, so a refused second master
        // leaves the first one's pid in place.
        lock.set_len(0).map_err(err)?;
        lock.seek(SeekFrom::Start(0)).map_err(err)?;
        let width = std::mem::size_of::<libc::c_ulong>() * 4;
        writeln!(lock, "{:>width$}", std::process::id()).map_err(err)?;
        lock.flush().map_err(err)?;
        Ok(PidFile { _lock: lock })
    }
}

/// The pid of the master holding the lock on `path`, or `None` when no master
/// holds it (a leftover pid file from a crash does not count).
pub fn running(path: &Path) -> Result<Option<i32>, MasterError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(MasterError::PidFile {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // Unlocked when dropped here: nobody was holding it.
        Ok(_) => Ok(None),
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            file.read_to_string(&mut text)
                .map_err(|source| MasterError::PidFile {
                    path: path.to_path_buf(),
                    source,
                })?;
            // `sed 1q pid/master.pid`, as postfix-script reads it.
            let pid = text.lines().next().unwrap_or("").trim().parse().ok();
            Ok(pid.or(Some(0)))
        }
        Err((_, e)) => Err(MasterError::PidFile {
            path: path.to_path_buf(),
            source: e.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_write_and_probe() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(MASTER_PID);
        assert_eq!(running(&p).unwrap(), None);
        let held = PidFile::take(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.len(), std::mem::size_of::<libc::c_ulong>() * 4 + 1);
        assert_eq!(text.trim(), std::process::id().to_string());
        assert_eq!(running(&p).unwrap(), Some(std::process::id() as i32));
        assert!(matches!(
            PidFile::take(&p),
            Err(MasterError::AlreadyRunning)
        ));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        drop(held);
        assert_eq!(running(&p).unwrap(), None);
    }
}
