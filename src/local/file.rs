//! Delivers to a `/file/name` destination from an alias, `.forward` or `:include:`:
//! mbox format with the mailbox locks, or Maildir when the name ends in `/`;
//! refused when `allow_mail_to_files` does not allow the destination's origin.
//!
//! Mirrors Postfix local/file.c. Reads `allow_mail_to_files`, and through
//! [`MboxSettings`] and [`MaildirSettings`] the lock, size and header parameters.

use std::path::{Path, PathBuf};

use super::copy::CopyFlags;
use super::maildir::{self, MaildirError, MaildirSettings};
use super::mbox::{self, Appended, MboxError, MboxSettings, Owner, Target};
use super::{Envelope, Origin, OriginMask, Severity};

/// `/file` delivery parameters, named after their `main.cf` keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSettings {
    /// `allow_mail_to_files` (default `alias, forward`).
    pub allow_mail_to_files: OriginMask,
    /// Locking, `mailbox_size_limit` and `prepend_delivered_header` for mbox files.
    pub mbox: MboxSettings,
    /// The same for `/dir/` Maildir destinations.
    pub maildir: MaildirSettings,
}

/// Where a file delivery landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileDelivered {
    Mbox(Appended),
    Maildir(PathBuf),
}

/// Why a file delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("mail to file is restricted: {path}")]
    Restricted { path: PathBuf },
    #[error("file destination is not an absolute path: {path}")]
    NotAbsolute { path: PathBuf },
    #[error("cannot append message to destination file {path}: {source}")]
    Append { path: PathBuf, source: MboxError },
    #[error(transparent)]
    Maildir(#[from] MaildirError),
}

impl FileError {
    /// RFC 3463 code.
    pub fn dsn(&self) -> &'static str {
        match self {
            FileError::Restricted { .. } => "5.7.1",
            FileError::NotAbsolute { .. } => "5.3.0",
            FileError::Append { source, .. } => source.dsn(),
            FileError::Maildir(e) => e.dsn(),
        }
    }

    /// Defer or bounce.
    pub fn severity(&self) -> Severity {
        Severity::of_dsn(self.dsn())
    }
}

/// Status text of a successful file delivery (file.c logs the path).
pub fn delivered_text(path: &Path) -> String {
    format!("delivered to file: {}", path.display())
}

/// Appends to `path` (or delivers into it as a Maildir when it ends in `/`).
/// `owner` is the user the delivery is made for, when known.
pub fn deliver_file(
    path: &Path,
    origin: Origin,
    envelope: &Envelope,
    content: &[u8],
    settings: &FileSettings,
    owner: Option<Owner>,
) -> Result<FileDelivered, FileError> {
    if !settings.allow_mail_to_files.allows(origin) {
        return Err(FileError::Restricted {
            path: path.to_path_buf(),
        });
    }
    if !path.is_absolute() {
        return Err(FileError::NotAbsolute {
            path: path.to_path_buf(),
        });
    }
    if path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        let new = maildir::deliver_maildir(path, envelope, content, &settings.maildir)?;
        return Ok(FileDelivered::Maildir(new));
    }
    let flags = CopyFlags::MBOX.with_delivered_to(settings.mbox.prepend_delivered_header.file);
    let target = Target {
        path,
        owner,
        strict_owner: false,
        regular_only: false,
        // file.c: a directory where we may not create `.lock` is only a warning.
        dotlock_may_fail: true,
        refuse_executable: true,
    };
    let appended =
        mbox::append(&target, envelope, content, flags, &settings.mbox).map_err(|source| {
            FileError::Append {
                path: path.to_path_buf(),
                source,
            }
        })?;
    Ok(FileDelivered::Mbox(appended))
}
