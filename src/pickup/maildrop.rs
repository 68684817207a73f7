//! The maildrop area: where `sendmail` leaves a message for pickup, one file per
//! message, whether or not the daemon runs; the file format, its atomic write,
//! and reading it back.
//!
//! Mirrors Postfix's maildrop queue (postdrop(1) writes, pickup(8) reads;
//! global/mail_queue.c for the directory, global/rec_type.h for the records).
//! Reads `queue_directory` (given by the caller). No RFC.
//!
//! Permission model (Postfix without its setgid `postdrop` helper, as Postfix
//! before 1.1 ran its world-writable maildrop): `$queue_directory/maildrop` is
//! mode 1733 owned by `mail_owner`, so anyone can create a file there, nobody
//! but the owner can list it, and the sticky bit keeps users from removing each
//! other's files. A file is written as `.tmp.NAME` (mode 0600), fsynced, made
//! 0644 (so pickup, running as `mail_owner`, can read a file root or a user
//! wrote) and renamed to `NAME`; the directory is then fsynced. Pickup takes
//! the submitting uid from the file's owner, never from its contents.
//!
//! Format (version 1), an envelope of `keyword value` lines, a blank line, then
//! the message with CRLF line ends:
//! ```text
//! postern-maildrop 1
//! sender root            (login name or -f address; "<>" is the null sender)
//! fullname Charlie Root  (sendmail -F, optional)
//! ret HDRS               (sendmail -R, optional)
//! envid abc123           (sendmail -V, optional)
//! notify SUCCESS,DELAY   (sendmail -N, optional)
//! rcpt user@example.org  (one line per recipient)
//!
//! Subject: ...
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

/// The maildrop directory inside `queue_directory`.
pub const MAILDROP_DIR: &str = "maildrop";
/// Mode of the maildrop directory: world-writable, sticky, not listable.
pub const DIR_MODE: u32 = 0o1733;
/// First line of every maildrop file.
const MAGIC: &str = "postern-maildrop 1";
/// Prefix of a file still being written; pickup ignores such files.
pub const TEMP_PREFIX: &str = ".tmp.";

/// What went wrong with a maildrop file, naming it.
#[derive(Debug, Error)]
pub enum MaildropError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a maildrop file: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("illegal {what} {value:?}: line breaks are not allowed")]
    BadValue { what: &'static str, value: String },
}

/// The envelope sendmail records for pickup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropEnvelope {
    /// The sender as given: a login name, an address, or empty for `<>`.
    pub sender: String,
    pub fullname: Option<String>,
    pub ret: Option<String>,
    pub envid: Option<String>,
    pub notify: Option<String>,
    pub recipients: Vec<String>,
}

/// A maildrop file as pickup reads it.
#[derive(Debug)]
pub struct Dropped {
    /// The file name (unique; the origin pickup records).
    pub name: String,
    /// Owner of the file: who submitted it.
    pub uid: u32,
    /// When the file was written (Unix seconds).
    pub mtime: i64,
    pub envelope: DropEnvelope,
    /// The message, CRLF line ends.
    pub content: Vec<u8>,
}

/// Path of the maildrop directory.
pub fn dir(queue_directory: &Path) -> PathBuf {
    queue_directory.join(MAILDROP_DIR)
}

/// Creates the maildrop directory if needed and gives it mode 1733 (and, when
/// `owner` is given and we are root, to that uid/gid).
pub fn ensure_dir(queue_directory: &Path, owner: Option<(u32, u32)>) -> Result<(), MaildropError> {
    let path = dir(queue_directory);
    let io = |source| MaildropError::Io {
        path: path.clone(),
        source,
    };
    match fs::create_dir(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    // Only root or the owner may change the mode; a user's sendmail leaves it.
    let meta = fs::metadata(&path).map_err(io)?;
    let me = nix::unistd::geteuid();
    if (me.is_root() || meta.uid() == me.as_raw()) && meta.mode() & 0o7777 != DIR_MODE {
        fs::set_permissions(&path, fs::Permissions::from_mode(DIR_MODE)).map_err(io)?;
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(io)?;
    }
    Ok(())
}

/// A name no other file in the maildrop has: time, pid and a counter.
fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{micros:016X}.{}.{n}", std::process::id())
}

fn check_line(what: &'static str, value: &str) -> Result<(), MaildropError> {
    if value.contains(['\r', '\n']) {
        return Err(MaildropError::BadValue {
            what,
            value: value.to_string(),
        });
    }
    Ok(())
}

/// The envelope block, checked: no value may break a line.
fn envelope_text(env: &DropEnvelope) -> Result<String, MaildropError> {
    let mut out = format!("{MAGIC}\n");
    let sender = if env.sender.is_empty() {
        "<>"
    } else {
        &env.sender
    };
    check_line("sender", sender)?;
    out.push_str(&format!("sender {sender}\n"));
    for (key, value) in [
        ("fullname", &env.fullname),
        ("ret", &env.ret),
        ("envid", &env.envid),
        ("notify", &env.notify),
    ] {
        if let Some(v) = value {
            check_line(key, v)?;
            out.push_str(&format!("{key} {v}\n"));
        }
    }
    for r in &env.recipients {
        check_line("recipient", r)?;
        out.push_str(&format!("rcpt {r}\n"));
    }
    out.push('\n');
    Ok(out)
}

/// Writes one message into the maildrop atomically and durably; returns the
/// file's name. `content` must already have CRLF line ends.
pub fn write(
    queue_directory: &Path,
    env: &DropEnvelope,
    content: &[u8],
) -> Result<String, MaildropError> {
    let head = envelope_text(env)?;
    let dir = dir(queue_directory);
    let name = unique_name();
    let tmp = dir.join(format!("{TEMP_PREFIX}{name}"));
    let target = dir.join(&name);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MaildropError::Io { path, source }
    };
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(head.as_bytes())?;
        f.write_all(content)?;
        f.sync_all()?;
        // Readable by pickup (mail_owner) only once complete.
        f.set_permissions(fs::Permissions::from_mode(0o644))?;
        fs::rename(&tmp, &target)?;
        // A user who may not read the (mode 1733) directory cannot open it to
        // fsync the rename; the content is durable, and the name becomes so
        // with the directory's next sync (Postfix's set-gid postdrop can).
        match File::open(&dir) {
            Ok(d) => d.sync_all(),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
            Err(e) => Err(e),
        }
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io(&target)(e));
    }
    Ok(name)
}

/// Names of the complete files in the maildrop, oldest first.
pub fn list(queue_directory: &Path) -> Result<Vec<String>, MaildropError> {
    let path = dir(queue_directory);
    let entries = fs::read_dir(&path).map_err(|source| MaildropError::Io {
        path: path.clone(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// Reads and parses one maildrop file.
pub fn read(queue_directory: &Path, name: &str) -> Result<Dropped, MaildropError> {
    let path = dir(queue_directory).join(name);
    let io = |source| MaildropError::Io {
        path: path.clone(),
        source,
    };
    let meta = fs::symlink_metadata(&path).map_err(io)?;
    let bad = |reason: &str| MaildropError::Format {
        path: path.clone(),
        reason: reason.to_string(),
    };
    if !meta.file_type().is_file() {
        return Err(bad("not a regular file"));
    }
    let bytes = fs::read(&path).map_err(io)?;
    let (envelope, content) = parse(&bytes).map_err(|r| bad(&r))?;
    Ok(Dropped {
        name: name.to_string(),
        uid: meta.uid(),
        mtime: meta.mtime(),
        envelope,
        content: content.to_vec(),
    })
}

/// Splits a file into its envelope and the message.
pub fn parse(bytes: &[u8]) -> Result<(DropEnvelope, &[u8]), String> {
    let end = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or("no end of envelope")?;
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| "envelope is not UTF-8")?;
    let mut lines = head.split('\n');
    if lines.next() != Some(MAGIC) {
        return Err(format!("first line is not \"{MAGIC}\""));
    }
    let mut env = DropEnvelope::default();
    let mut have_sender = false;
    for line in lines {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let value = value.to_string();
        match key {
            "sender" => {
                have_sender = true;
                env.sender = if value == "<>" { String::new() } else { value };
            }
            "fullname" => env.fullname = Some(value),
            "ret" => env.ret = Some(value),
            "envid" => env.envid = Some(value),
            "notify" => env.notify = Some(value),
            "rcpt" => env.recipients.push(value),
            other => return Err(format!("unknown envelope line \"{other}\"")),
        }
    }
    if !have_sender {
        return Err("no sender".into());
    }
    Ok((env, &bytes[end + 2..]))
}

/// Removes a file pickup has queued (or rejected).
pub fn remove(queue_directory: &Path, name: &str) -> Result<(), MaildropError> {
    let path = dir(queue_directory).join(name);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(MaildropError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let q = tempfile::tempdir().unwrap();
        ensure_dir(q.path(), None).unwrap();
        let env = DropEnvelope {
            sender: "root".into(),
            fullname: Some("Charlie Root".into()),
            ret: Some("HDRS".into()),
            envid: None,
            notify: Some("SUCCESS,DELAY".into()),
            recipients: vec!["a@example.org".into(), "b".into()],
        };
        let name = write(q.path(), &env, b"Subject: x\r\n\r\nbody\r\n").unwrap();
        assert_eq!(list(q.path()).unwrap(), vec![name.clone()]);
        let d = read(q.path(), &name).unwrap();
        assert_eq!(d.envelope, env);
        assert_eq!(d.content, b"Subject: x\r\n\r\nbody\r\n");
        let mode = fs::metadata(dir(q.path()).join(&name)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o644);
        remove(q.path(), &name).unwrap();
        assert!(list(q.path()).unwrap().is_empty());
    }

    #[test]
    fn null_sender_and_bad_values() {
        let env = DropEnvelope::default();
        let text = envelope_text(&env).unwrap();
        assert!(text.contains("sender <>\n"));
        let (back, rest) = parse(format!("{text}x").as_bytes())
            .map(|(e, r)| (e, r.to_vec()))
            .unwrap();
        assert_eq!(back.sender, "");
        assert_eq!(rest, b"x");
        let bad = DropEnvelope {
            recipients: vec!["a\nrcpt evil".into()],
            ..DropEnvelope::default()
        };
        assert!(matches!(
            envelope_text(&bad),
            Err(MaildropError::BadValue { .. })
        ));
        assert!(parse(b"garbage\n\nx").is_err());
    }
}
