//! Writing indexed tables: a full build from a source, or a changed copy for
//! postmap `-i`/`-d`; either way a new file renamed over the old one.
//!
//! Mirrors what Postfix's postmap(1)/postalias(1) do through `mkmap_open()` /
//! `mkmap_close()`, with the same duplicate handling and texts (`NAME.db:
//! duplicate entry: "key"`, first one kept unless `-r`). The temporary file is
//! private until the rename, so it is written with the journal off and one fsync
//! at the end (`util::safe_file::commit`); on any error the old table stays and
//! the temporary file is removed.
//!
//! main.cf parameters read: none.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use super::file::{db_path, lock_writer};
use super::FORMAT;
use crate::maps::{Duplicates, MapError, OpenFlags};
use crate::util::safe_file;

/// Pragmas for a file no one else sees until it is renamed into place.
pub(super) const PRIVATE_FILE_PRAGMAS: &str = "PRAGMA journal_mode = OFF;
     PRAGMA synchronous = OFF;
     PRAGMA locking_mode = EXCLUSIVE;
     PRAGMA cache_size = -32768;";

/// A new indexed table being built in a temporary file; `finish` puts it in place.
pub struct Builder {
    spec: String,
    kind: String,
    target: PathBuf,
    tmp: PathBuf,
    flags: OpenFlags,
    entries: Vec<(String, String, usize)>,
    source: Option<NewFileAttrs>,
}

/// Mode and owner for a table file that does not exist yet, taken from its
/// source as Postfix's postmap(1) does.
#[derive(Debug, Clone, Copy)]
pub(super) struct NewFileAttrs {
    mode: u32,
    owner: Option<(u32, u32)>,
}

impl Builder {
    /// Starts a build of `kind:name` (the target file is not touched until `finish`).
    pub fn new(kind: &str, name: &str, flags: OpenFlags) -> Result<Builder, MapError> {
        let target = db_path(kind, name);
        let tmp = safe_file::temp_path(&target);
        Ok(Builder {
            spec: format!("{kind}:{name}"),
            kind: kind.to_string(),
            target,
            tmp,
            flags,
            entries: Vec::new(),
            source: None,
        })
    }

    /// Takes a new table's permissions from its source file: the source's
    /// group and other read bits (postmap(1): "created with the same group and
    /// other read permissions as their source file"), and, when run as root on
    /// a source owned by someone else without `-o`, the source's owner (Postfix
    /// drops privileges to that owner instead).
    pub fn inherit_from(&mut self, source: &Path, keep_root: bool) {
        if let Ok(m) = fs::metadata(source) {
            let owner = (!keep_root && m.uid() != 0).then_some((m.uid(), m.gid()));
            self.source = Some(NewFileAttrs {
                mode: (m.mode() & 0o044) | 0o600,
                owner,
            });
        }
    }

    /// Adds an entry from source line `line` (0 when there is no source line).
    pub fn add(&mut self, key: &str, value: &str, line: usize) {
        let key = self.flags.fold_key(key).into_owned();
        self.entries.push((key, value.to_string(), line));
    }

    /// Adds an entry whose key is stored exactly as given (postalias's `@`).
    pub fn add_raw(&mut self, key: &str, value: &str) {
        self.entries.push((key.to_string(), value.to_string(), 0));
    }

    /// Sorts and de-duplicates the entries (warning per `flags.duplicates`),
    /// writes the temporary file and renames it over the target.
    pub fn finish(mut self) -> Result<(), MapError> {
        let mut entries = std::mem::take(&mut self.entries);
        // A stable sort keeps source order among equal keys: the first one
        // wins, as in Postfix, unless -r asks for the last. Sorted inserts also
        // fill the B-tree sequentially, the fast way.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let replace = self.flags.duplicates == Duplicates::Replace;
        let mut dups: Vec<(usize, String)> = Vec::new();
        let mut kept: Vec<(String, String, usize)> = Vec::with_capacity(entries.len());
        for e in entries {
            match kept.last_mut() {
                Some(last) if last.0 == e.0 => {
                    dups.push((e.2, e.0.clone()));
                    if replace {
                        *last = e;
                    }
                }
                _ => kept.push(e),
            }
        }
        if self.flags.duplicates == Duplicates::Warn {
            dups.sort();
            for (_, key) in &dups {
                log::warn!("{}: duplicate entry: \"{}\"", self.target.display(), key);
            }
        }
        let _lock = lock_writer(&self.spec, &self.target)?;
        let _ = fs::remove_file(&self.tmp);
        let written = self.write_tmp(&kept);
        written.and_then(|_| install(&self.spec, &self.tmp, &self.target, self.source))
    }

    fn write_tmp(&self, entries: &[(String, String, usize)]) -> Result<(), MapError> {
        let db_err = |source| MapError::Database {
            table: self.spec.clone(),
            path: self.tmp.clone(),
            source,
        };
        let mut conn = Connection::open(&self.tmp).map_err(db_err)?;
        conn.execute_batch(PRIVATE_FILE_PRAGMAS).map_err(db_err)?;
        conn.execute_batch(
            "CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE map(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;",
        )
        .map_err(db_err)?;
        let tx = conn.transaction().map_err(db_err)?;
        {
            tx.execute(
                "INSERT INTO meta(name, value) VALUES ('format', ?1), ('type', ?2)",
                params![FORMAT, self.kind],
            )
            .map_err(db_err)?;
            let mut stmt = tx
                .prepare("INSERT INTO map(k, v) VALUES (?1, ?2)")
                .map_err(db_err)?;
            for (k, v, _) in entries {
                stmt.execute(params![k, v]).map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)?;
        conn.close().map_err(|(_, e)| db_err(e))
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        // After a successful install the name is gone; otherwise clean up.
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Gives `tmp` the old table's mode and owner (or, for a new table, those from
/// `new`, else mode 0644), makes it durable and renames it over `target`.
pub(super) fn install(
    spec: &str,
    tmp: &Path,
    target: &Path,
    new: Option<NewFileAttrs>,
) -> Result<(), MapError> {
    let err = |source| MapError::Write {
        table: spec.to_string(),
        path: target.to_path_buf(),
        source,
    };
    let (mode, owner) = match fs::metadata(target) {
        Ok(m) => (m.mode() & 0o7777, Some((m.uid(), m.gid()))),
        Err(_) => match new {
            Some(a) => (a.mode, a.owner),
            None => (0o644, None),
        },
    };
    fs::set_permissions(tmp, fs::Permissions::from_mode(mode)).map_err(err)?;
    if let Some((uid, gid)) = owner {
        // Only root can give a file away; others keep their own files.
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(tmp, Some(uid), Some(gid)).map_err(err)?;
        }
    }
    safe_file::commit(tmp, target).map_err(err)
}
