//! Appends a message to a UNIX mailbox file (`mail_spool_directory` or a home file):
//! open without following symlinks, lock, write `From `-separated and `>From `-quoted
//! text, fsync, and truncate back to the old size if anything fails.
//!
//! Mirrors Postfix local/mailbox.c (deliver_mailbox_file), global/mbox_open.c and
//! global/mail_copy.c. Reads `mail_spool_directory`, `mailbox_size_limit`,
//! `mailbox_delivery_lock`, `deliver_lock_attempts`, `deliver_lock_delay`,
//! `stale_lock_time`, `prepend_delivered_header` and `strict_mailbox_ownership`.
//!
//! `mailbox_size_limit` is enforced the way its effect shows in Postfix (which sets
//! RLIMIT_FSIZE): a write that would grow the file past the limit fails with 5.2.2
//! "File too large". A per-process rlimit cannot serve many delivery threads, so the
//! size is checked before writing instead.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::copy::{self, CopyFlags, DeliveredHeader};
use super::lock::{self, LockError, LockSettings};
use super::{Envelope, Severity};

/// Mailbox parameters, named after their `main.cf` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MboxSettings {
    /// `mail_spool_directory` (default `/var/mail`): where `user` mailboxes live.
    pub mail_spool_directory: PathBuf,
    /// `mailbox_size_limit` (default 51200000 bytes; 0 means no limit).
    pub mailbox_size_limit: u64,
    /// `prepend_delivered_header` (default `command, file, forward`).
    pub prepend_delivered_header: DeliveredHeader,
    /// `strict_mailbox_ownership` (default yes): defer when an existing mailbox is
    /// not owned by the recipient.
    pub strict_mailbox_ownership: bool,
    /// `mailbox_delivery_lock` and the lock retry parameters.
    pub lock: LockSettings,
}

impl Default for MboxSettings {
    fn default() -> Self {
        MboxSettings {
            mail_spool_directory: PathBuf::from("/var/mail"),
            mailbox_size_limit: 51_200_000,
            prepend_delivered_header: DeliveredHeader::default(),
            strict_mailbox_ownership: true,
            lock: LockSettings::default(),
        }
    }
}

impl MboxSettings {
    /// The spool mailbox of `user`: `$mail_spool_directory/user`.
    pub fn spool_mailbox(&self, user: &str) -> PathBuf {
        self.mail_spool_directory.join(user)
    }
}

/// The recipient's numeric identity, when the caller knows it: a new mailbox is
/// given to this owner (when running as root) and an existing one must belong to it
/// under `strict_mailbox_ownership`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// Where a delivery landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub path: PathBuf,
    /// File size before the message: the message starts here.
    pub offset: u64,
    /// Bytes written, separator line and trailing blank line included.
    pub bytes: u64,
}

/// Why appending to a mailbox-format file failed; the texts are Postfix's. The
/// callers put the destination in front ([`MailboxError`], `FileError`).
#[derive(Debug, thiserror::Error)]
pub enum MboxError {
    #[error("cannot open file: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("destination {path} is not a regular file")]
    NotRegular { path: PathBuf },
    #[error("destination file is executable")]
    Executable { path: PathBuf },
    #[error("destination {path} is not owned by recipient")]
    NotOwned { path: PathBuf },
    #[error("target file status changed unexpectedly")]
    Changed { path: PathBuf },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("error writing message: File too large (mailbox_size_limit = {limit})")]
    SizeLimit { path: PathBuf, limit: u64 },
    #[error("error writing message: {source}")]
    Write { path: PathBuf, source: io::Error },
}

impl MboxError {
    /// RFC 3463 code, as mbox_open.c and mail_copy.c choose it.
    pub fn dsn(&self) -> &'static str {
        match self {
            MboxError::Open { source, .. } => lock::errno_dsn(source, "5.2.0"),
            MboxError::NotRegular { .. } => "5.2.0",
            MboxError::Executable { .. } => "5.7.1",
            MboxError::NotOwned { .. } | MboxError::Changed { .. } => "4.2.0",
            MboxError::Lock(e) => e.dsn(),
            MboxError::SizeLimit { .. } => "5.2.2",
            MboxError::Write { source, .. } => lock::errno_dsn(source, "5.3.0"),
        }
    }

    /// Defer or bounce.
    pub fn severity(&self) -> Severity {
        Severity::of_dsn(self.dsn())
    }
}

/// A failed delivery to a user's mailbox, worded as mailbox.c words it.
#[derive(Debug, thiserror::Error)]
#[error("cannot update mailbox {path} for user {user}. {source}")]
pub struct MailboxError {
    pub path: PathBuf,
    /// The recipient's login name.
    pub user: String,
    pub source: MboxError,
}

impl MailboxError {
    /// RFC 3463 code of the underlying failure.
    pub fn dsn(&self) -> &'static str {
        self.source.dsn()
    }

    /// Defer or bounce.
    pub fn severity(&self) -> Severity {
        self.source.severity()
    }
}

/// Status text of a successful mailbox delivery (mailbox.c).
pub const DELIVERED: &str = "delivered to mailbox";

/// Delivers to the UNIX mailbox at `path` (mailbox.c: From_ line, quoting, blank
/// line, `Delivered-To:` when `prepend_delivered_header` has `file`).
pub fn deliver_mbox(
    path: &Path,
    user: &str,
    envelope: &Envelope,
    content: &[u8],
    settings: &MboxSettings,
    owner: Option<Owner>,
) -> Result<Appended, MailboxError> {
    let flags = CopyFlags::MBOX.with_delivered_to(settings.prepend_delivered_header.file);
    let target = Target {
        path,
        owner,
        strict_owner: settings.strict_mailbox_ownership,
        regular_only: true,
        dotlock_may_fail: false,
        refuse_executable: false,
    };
    append(&target, envelope, content, flags, settings).map_err(|source| MailboxError {
        path: path.to_path_buf(),
        user: user.to_string(),
        source,
    })
}

/// What [`append`] writes to and how strict it is.
pub(crate) struct Target<'a> {
    pub path: &'a Path,
    pub owner: Option<Owner>,
    pub strict_owner: bool,
    /// Mailboxes must be regular files; `/file` destinations may be devices.
    pub regular_only: bool,
    /// `/file` destinations tolerate an unwritable directory for the `.lock` file.
    pub dotlock_may_fail: bool,
    /// `/file` destinations refuse executable files (file.c).
    pub refuse_executable: bool,
}

/// Opens, locks and appends; shared by mailbox and `/file` delivery.
pub(crate) fn append(
    target: &Target<'_>,
    envelope: &Envelope,
    content: &[u8],
    flags: CopyFlags,
    settings: &MboxSettings,
) -> Result<Appended, MboxError> {
    let path = target.path;
    let (mut file, created) = open_append(path, target.owner)?;
    let meta = file.metadata().map_err(|source| MboxError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let regular = meta.file_type().is_file();
    if !regular && target.regular_only {
        return Err(MboxError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    if target.refuse_executable && meta.mode() & 0o111 != 0 {
        return Err(MboxError::Executable {
            path: path.to_path_buf(),
        });
    }
    // Locks apply to regular files only, so /dev/null is never dot-locked.
    let _lock = if regular {
        Some(lock::lock_mailbox(
            &file,
            path,
            &settings.lock,
            target.dotlock_may_fail,
        )?)
    } else {
        None
    };
    if regular {
        // A hard-link count other than 1 means the file was removed or linked
        // while we waited for the lock (mbox_open.c, the GNU pop3d check); a
        // different file under the name means it was replaced.
        let now = file.metadata().map_err(|source| MboxError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let same_name = std::fs::symlink_metadata(path)
            .map(|named| named.ino() == now.ino() && named.dev() == now.dev())
            .unwrap_or(false);
        if now.nlink() != 1 || !same_name {
            log::warn!("{}: file status changed unexpectedly", path.display());
            return Err(MboxError::Changed {
                path: path.to_path_buf(),
            });
        }
        if let Some(owner) = target.owner {
            if target.strict_owner && !created && now.uid() != owner.uid {
                log::warn!("specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch");
                return Err(MboxError::NotOwned {
                    path: path.to_path_buf(),
                });
            }
        }
    }
    let write_err = |source: io::Error| MboxError::Write {
        path: path.to_path_buf(),
        source,
    };
    let offset = if regular {
        file.seek(SeekFrom::End(0)).map_err(write_err)?
    } else {
        0
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let bytes = copy::render(envelope, content, flags, now);
    let limit = settings.mailbox_size_limit;
    if regular && limit > 0 && offset + bytes.len() as u64 > limit {
        return Err(MboxError::SizeLimit {
            path: path.to_path_buf(),
            limit,
        });
    }
    let written = file
        .write_all(&bytes)
        .and_then(|()| if regular { file.sync_all() } else { Ok(()) });
    if let Err(e) = written {
        // mail_copy.c: give the mailbox back its old length, before the lock goes.
        if regular {
            if let Err(t) = file.set_len(offset) {
                log::warn!("truncate {} to {offset}: {t}", path.display());
            }
        }
        return Err(write_err(e));
    }
    Ok(Appended {
        path: path.to_path_buf(),
        offset,
        bytes: bytes.len() as u64,
    })
}

/// Opens for appending without following a symlink and without blocking on a FIFO
/// (safe_open.c as mbox_open.c calls it). Creates a missing file with mode 0600 and,
/// when we are root, gives it to `owner`. Returns whether the file was created.
fn open_append(path: &Path, owner: Option<Owner>) -> Result<(File, bool), MboxError> {
    let open_err = |source: io::Error| MboxError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = OpenOptions::new();
    opts.append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .mode(0o600);
    // safe_open.c retries when another deliverer creates or removes the file
    // between our two attempts.
    let mut last = io::Error::from(io::ErrorKind::NotFound);
    for _ in 0..10 {
        match opts.open(path) {
            Ok(file) => {
                let meta = file.metadata().map_err(open_err)?;
                if meta.file_type().is_file() && meta.nlink() != 1 {
                    return Err(open_err(io::Error::other("file has 2 or more hard links")));
                }
                return Ok((file, false));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(open_err(e)),
        }
        let mut create = opts.clone();
        match create.create_new(true).open(path) {
            Ok(file) => {
                if let Some(owner) = owner {
                    if nix::unistd::geteuid().is_root() {
                        std::os::unix::fs::fchown(&file, Some(owner.uid), Some(owner.gid))
                            .map_err(open_err)?;
                    }
                }
                return Ok((file, true));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(open_err(e)),
        }
    }
    Err(open_err(last))
}
