//! Delivers one message into a Maildir: write `tmp/NAME`, fsync, hard-link to
//! `new/NAME2`, remove the tmp name, so readers never see half a message.
//!
//! Mirrors Postfix local/maildir.c, including its two-name scheme
//! (`time.Ppid.host` in `tmp/`, `time.VdevIinodeMusec.host` in `new/`, device and
//! inode in hex, microseconds in decimal) from cr.yp.to/proto/maildir.html. Reads
//! `home_mailbox` (the caller joins it to the home directory), `mailbox_size_limit`
//! and `prepend_delivered_header`.
//!
//! Postern delivers from several threads of one process, so the process ID alone
//! does not make the `tmp/` name unique: a per-process delivery counter is added
//! (`time.PpidQn.host`, the maildir spec's `Qn` "deliveries made by this process").
//!
//! Exactly once across crashes (Postern; Postfix delivers again): a delivery
//! from the queue carries a delivery key (`arrival.QqueueidRindex`, see
//! [`Envelope::delivery_key`]) and its `new/` name is `KEY.host` instead of
//! `time.VdevIinodeMusec.host`. A name that is already in `new/`, or in
//! `cur/` with a `:2,...` suffix, means an earlier attempt (one interrupted
//! by a crash before qmgr recorded it) already delivered this copy, so this
//! attempt reports success without writing; two attempts racing meet at the
//! hard link, which only one of them can make.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::copy::{self, CopyFlags, DeliveredHeader};
use super::lock;
use super::{Envelope, Severity};

/// Maildir parameters, named after their `main.cf` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirSettings {
    /// `home_mailbox` (default empty): a value ending in `/` selects Maildir
    /// delivery to `$HOME/value`.
    pub home_mailbox: String,
    /// `mailbox_size_limit` (default 51200000; 0 = none): Postfix's RLIMIT_FSIZE also
    /// caps each Maildir file.
    pub mailbox_size_limit: u64,
    /// `prepend_delivered_header` (default `command, file, forward`).
    pub prepend_delivered_header: DeliveredHeader,
}

impl Default for MaildirSettings {
    fn default() -> Self {
        MaildirSettings {
            home_mailbox: String::new(),
            mailbox_size_limit: 51_200_000,
            prepend_delivered_header: DeliveredHeader::default(),
        }
    }
}

impl MaildirSettings {
    /// The Maildir under `home` when `home_mailbox` names one (ends in `/`).
    pub fn home_maildir(&self, home: &Path) -> Option<PathBuf> {
        if self.home_mailbox.ends_with('/') {
            Some(home.join(&self.home_mailbox))
        } else {
            None
        }
    }
}

/// Why a Maildir delivery failed. Every variant names the file or directory.
#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error("maildir delivery failed: create maildir directory {path}: {source}")]
    MakeDir { path: PathBuf, source: io::Error },
    #[error("maildir delivery failed: create {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("maildir delivery failed: error writing message {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("maildir delivery failed: link to {path}: {source}")]
    Link { path: PathBuf, source: io::Error },
    #[error("maildir delivery failed: message of {size} bytes exceeds mailbox_size_limit = {limit} ({path})")]
    SizeLimit {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
}

impl MaildirError {
    /// RFC 3463 code. maildir.c defers a full disk and a stale NFS handle and
    /// bounces the rest; quota and size limit are 5.2.2 (mbox_dsn()).
    pub fn dsn(&self) -> &'static str {
        match self {
            MaildirError::MakeDir { source, .. }
            | MaildirError::Create { source, .. }
            | MaildirError::Write { source, .. }
            | MaildirError::Link { source, .. } => lock::errno_dsn(source, "5.2.0"),
            MaildirError::SizeLimit { .. } => "5.2.2",
        }
    }

    /// Defer or bounce.
    pub fn severity(&self) -> Severity {
        Severity::of_dsn(self.dsn())
    }
}

/// Status text of a successful Maildir delivery (maildir.c).
pub const DELIVERED: &str = "delivered to maildir";

/// Counts deliveries made by this process, for unique `tmp/` names.
static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// Delivers `content` into the Maildir `maildir` (with or without trailing `/`),
/// creating `tmp/`, `new/` and `cur/` (mode 0700) when missing. Returns the final
/// path in `new/`.
pub fn deliver_maildir(
    maildir: &Path,
    envelope: &Envelope,
    content: &[u8],
    settings: &MaildirSettings,
) -> Result<PathBuf, MaildirError> {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, usecs) = (started.as_secs(), started.subsec_micros());
    let host = maildir_hostname();
    let tmp_dir = maildir.join("tmp");
    let new_dir = maildir.join("new");
    let cur_dir = maildir.join("cur");
    let keyed = (!envelope.delivery_key.is_empty())
        .then(|| format!("{}.{host}", envelope.delivery_key.replace(['/', ':'], "_")));
    if let Some(name) = &keyed {
        if let Some(found) = already_delivered(&new_dir, &cur_dir, name, envelope.retry) {
            return Ok(found);
        }
    }
    let flags = CopyFlags::MAILDIR.with_delivered_to(settings.prepend_delivered_header.file);
    let bytes = copy::render(envelope, content, flags, secs as i64);
    let limit = settings.mailbox_size_limit;
    if limit > 0 && bytes.len() as u64 > limit {
        return Err(MaildirError::SizeLimit {
            path: maildir.to_path_buf(),
            size: bytes.len() as u64,
            limit,
        });
    }

    let count = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!("{secs}.P{}Q{count}.{host}", std::process::id());
    let tmp_path = tmp_dir.join(&tmp_name);
    let mut file = match create_exclusive(&tmp_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            make_dirs(&tmp_dir)?;
            create_exclusive(&tmp_path)
        }
        other => other,
    }
    .map_err(|source| MaildirError::Create {
        path: tmp_path.clone(),
        source,
    })?;

    let result = write_and_link(
        &mut file,
        &bytes,
        &tmp_path,
        &new_dir,
        &cur_dir,
        keyed.as_deref(),
        secs,
        usecs,
        &host,
    );
    // maildir.c removes the tmp/ name whether or not the link worked: on success the
    // message lives on under new/, on failure it must not linger half-written.
    if let Err(e) = fs::remove_file(&tmp_path) {
        log::warn!("remove {}: {e}", tmp_path.display());
    }
    result
}

/// Writes and fsyncs the message, then links it into `new/` under its final name.
#[allow(clippy::too_many_arguments)]
fn write_and_link(
    file: &mut File,
    bytes: &[u8],
    tmp_path: &Path,
    new_dir: &Path,
    cur_dir: &Path,
    keyed: Option<&str>,
    secs: u64,
    usecs: u32,
    host: &str,
) -> Result<PathBuf, MaildirError> {
    let write_err = |source: io::Error| MaildirError::Write {
        path: tmp_path.to_path_buf(),
        source,
    };
    let meta = file.metadata().map_err(write_err)?;
    file.write_all(bytes).map_err(write_err)?;
    // The message must be on disk before its name appears in new/.
    file.sync_all().map_err(write_err)?;
    let new_name = match keyed {
        Some(name) => name.to_string(),
        None => format!("{secs}.V{:x}I{:x}M{usecs}.{host}", meta.dev(), meta.ino()),
    };
    let new_path = new_dir.join(new_name);
    let link = || fs::hard_link(tmp_path, &new_path);
    let linked = match link() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            make_dirs(cur_dir)?;
            make_dirs(new_dir)?;
            link()
        }
        other => other,
    };
    if keyed.is_some() && matches!(&linked, Err(e) if e.kind() == io::ErrorKind::AlreadyExists) {
        // An earlier or parallel attempt at this very delivery made it.
        return Ok(new_path);
    }
    linked.map_err(|source| MaildirError::Link {
        path: new_path.clone(),
        source,
    })?;
    // As Postfix local(8) (and qmail): the file is on disk before its name
    // appears in new/, and the new/ directory is not fsynced. A killed daemon
    // loses nothing (the link is made); after a power failure the link is
    // durable once the file system commits it, which the queue's own fsync of
    // the delivery record forces on ext4 and XFS when both share a file
    // system. An fsync of new/ per delivery made the two deliveries a user
    // may get at once (local_destination_concurrency_limit = 2) queue up on
    // the directory: local delivery ran 30% slower in scripts/bench.
    Ok(new_path)
}

/// Where an earlier attempt put the keyed message `name`: `new/name`, or
/// (when `retry`) `cur/name:2,FLAGS` once a reader has seen it.
fn already_delivered(new_dir: &Path, cur_dir: &Path, name: &str, retry: bool) -> Option<PathBuf> {
    let in_new = new_dir.join(name);
    if fs::symlink_metadata(&in_new).is_ok() {
        return Some(in_new);
    }
    if !retry {
        return None;
    }
    let prefix = format!("{name}:");
    fs::read_dir(cur_dir).ok()?.flatten().find_map(|e| {
        let file = e.file_name();
        let file = file.to_string_lossy();
        (file == name || file.starts_with(&prefix)).then(|| e.path())
    })
}

/// `O_CREAT|O_EXCL`, mode 0600, as maildir.c opens the tmp/ file.
fn create_exclusive(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// make_dirs(path, 0700): the directory and any missing parents.
fn make_dirs(path: &Path) -> Result<(), MaildirError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| MaildirError::MakeDir {
            path: path.to_path_buf(),
            source,
        })
}

/// gethostname() with `/` and `:` written as `\057` and `\072`, which the maildir
/// specification asks for so that the name stays one path component.
fn maildir_hostname() -> String {
    let name = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".to_string());
    name.replace('/', "\\057").replace(':', "\\072")
}
