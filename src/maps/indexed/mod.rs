//! Indexed tables `hash:`, `btree:` and `lmdb:`: a key/value file built by
//! postmap(1) or postalias(1) beside its source, stored as SQLite.
//!
//! Mirrors Postfix `util/dict_db.c` and `util/dict_lmdb.c` in file names
//! (`name.db` for hash and btree, `name.lmdb` for lmdb) and messages, not in
//! format: only Postern reads these files. A table is one `WITHOUT ROWID` table
//! `map(k, v)` plus `meta` (format tag and type). Every change — a build
//! (`build`) or an `-i`/`-d` update — writes a new file and renames it over the
//! old one under the writer lock, so readers open the file immutable (no locks
//! or change checks per lookup) and see the old table or the new one, never half
//! of one. Files written by real Postfix (Berkeley DB hash/btree, LMDB) are
//! recognised and refused with a hint to rebuild.
//!
//! main.cf parameters read: none (callers pass the type from `default_database_type`).

mod build;
mod file;

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags as SqlFlags, OptionalExtension};

use super::{Duplicates, Map, MapError, OpenFlags};
use crate::util::safe_file;
pub use build::Builder;
use build::PRIVATE_FILE_PRAGMAS;
use file::{check_format, immutable_uri, lock_writer, WriterLock};
pub use file::{db_path, FileStamp};

/// The format tag stored in `meta`; bump when the layout changes.
const FORMAT: &str = "postern-map-1";

/// Warns as Postfix's dict_db.c does when the source changed after the build.
fn warn_if_stale(name: &str, db: &Path) {
    let (Ok(src), Ok(dbm)) = (fs::metadata(name), fs::metadata(db)) else {
        return;
    };
    if let (Ok(s), Ok(d)) = (src.modified(), dbm.modified()) {
        if s > d {
            log::warn!(
                "database {} is older than source file {}",
                db.display(),
                name
            );
        }
    }
}

/// An `-i`/`-d` update in progress: the private copy being changed, and the
/// writer lock that keeps other writers out until it is renamed into place.
struct Update {
    tmp: PathBuf,
    _lock: WriterLock,
    installed: bool,
}

/// An indexed table opened for lookups or for changes.
pub struct IndexedMap {
    spec: String,
    path: PathBuf,
    conn: Connection,
    flags: OpenFlags,
    stamp: Option<FileStamp>,
    update: Option<Update>,
}

/// Checks that `conn` holds a Postern table.
fn check_meta(spec: &str, path: &Path, conn: &Connection) -> Result<(), MapError> {
    let format: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE name = 'format'", [], |r| {
            r.get(0)
        })
        .optional()
        .unwrap_or(None);
    if format.as_deref() == Some(FORMAT) {
        Ok(())
    } else {
        Err(MapError::NotATable {
            table: spec.to_string(),
            path: path.to_path_buf(),
        })
    }
}

/// Postfix's text when the database is missing.
fn missing(path: &Path) -> MapError {
    MapError::Open {
        what: "database ",
        path: path.to_path_buf(),
        source: std::io::Error::from_raw_os_error(libc::ENOENT),
    }
}

impl IndexedMap {
    fn db_err(&self, source: rusqlite::Error) -> MapError {
        MapError::Database {
            table: self.spec.clone(),
            path: self.path.clone(),
            source,
        }
    }

    /// Opens `kind:name` read-only.
    pub fn open(kind: &str, name: &str, flags: OpenFlags) -> Result<IndexedMap, MapError> {
        let spec = format!("{kind}:{name}");
        let path = db_path(kind, name);
        if !path.exists() {
            return Err(missing(&path));
        }
        check_format(&spec, &path)?;
        let stamp = FileStamp::of(&path);
        let db_err = |source| MapError::Database {
            table: spec.clone(),
            path: path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            immutable_uri(&path),
            SqlFlags::SQLITE_OPEN_READ_ONLY
                | SqlFlags::SQLITE_OPEN_URI
                | SqlFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err)?;
        // Lookups read pages through the OS page cache instead of copying them
        // into SQLite's own cache: the table is read-only here and may be large.
        conn.pragma_update(None, "mmap_size", 1i64 << 30)
            .map_err(db_err)?;
        check_meta(&spec, &path, &conn)?;
        warn_if_stale(name, &path);
        Ok(IndexedMap {
            spec,
            path,
            conn,
            flags,
            stamp,
            update: None,
        })
    }

    /// Opens `kind:name` for changes, creating an empty table when there is none
    /// (postmap `-i` on a new table, as Postfix's O_CREAT). Changes go to a
    /// private copy that `commit` renames over the table.
    pub fn open_update(kind: &str, name: &str, flags: OpenFlags) -> Result<IndexedMap, MapError> {
        let spec = format!("{kind}:{name}");
        let path = db_path(kind, name);
        if !path.exists() {
            Builder::new(kind, name, flags)?.finish()?;
        }
        let lock = lock_writer(&spec, &path)?;
        if !path.exists() {
            return Err(missing(&path));
        }
        check_format(&spec, &path)?;
        let tmp = safe_file::temp_path(&path);
        fs::copy(&path, &tmp).map_err(|source| MapError::Write {
            table: spec.clone(),
            path: tmp.clone(),
            source,
        })?;
        let update = Update {
            tmp: tmp.clone(),
            _lock: lock,
            installed: false,
        };
        let db_err = |source| MapError::Database {
            table: spec.clone(),
            path: tmp.clone(),
            source,
        };
        let conn = Connection::open(&tmp).map_err(db_err)?;
        conn.execute_batch(PRIVATE_FILE_PRAGMAS).map_err(db_err)?;
        check_meta(&spec, &path, &conn)?;
        conn.execute_batch("BEGIN").map_err(db_err)?;
        Ok(IndexedMap {
            spec,
            path,
            conn,
            flags,
            stamp: None,
            update: Some(update),
        })
    }

    fn writable(&self) -> Result<(), MapError> {
        match &self.update {
            Some(u) if !u.installed => Ok(()),
            _ => Err(MapError::ReadOnly {
                table: self.spec.clone(),
            }),
        }
    }

    /// Sets `key` exactly as given, replacing any value (postalias's `@` and
    /// `YP_*` entries, which are neither folded nor reported as duplicates).
    pub fn put_raw(&mut self, key: &str, value: &str) -> Result<(), MapError> {
        self.writable()?;
        let mut stmt = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO map(k, v) VALUES (?1, ?2)")
            .map_err(|e| self.db_err(e))?;
        stmt.execute(params![key, value])
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }
}

impl Drop for IndexedMap {
    fn drop(&mut self) {
        if let Some(u) = &self.update {
            if !u.installed {
                let _ = fs::remove_file(&u.tmp);
            }
        }
    }
}

impl Map for IndexedMap {
    fn spec(&self) -> &str {
        &self.spec
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, MapError> {
        let key = self.flags.fold_key(key);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT v FROM map WHERE k = ?1")
            .map_err(|e| self.db_err(e))?;
        stmt.query_row([key.as_ref()], |r| r.get(0))
            .optional()
            .map_err(|e| self.db_err(e))
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) -> Result<(), MapError> {
        let mut stmt = self
            .conn
            .prepare("SELECT k, v FROM map")
            .map_err(|e| self.db_err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.db_err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.db_err(e))? {
            let k: String = row.get(0).map_err(|e| self.db_err(e))?;
            let v: String = row.get(1).map_err(|e| self.db_err(e))?;
            f(&k, &v);
        }
        Ok(())
    }

    fn insert(&mut self, key: &str, value: &str) -> Result<bool, MapError> {
        self.writable()?;
        let key = self.flags.fold_key(key);
        let sql = match self.flags.duplicates {
            Duplicates::Replace => "INSERT OR REPLACE INTO map(k, v) VALUES (?1, ?2)",
            _ => "INSERT OR IGNORE INTO map(k, v) VALUES (?1, ?2)",
        };
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.db_err(e))?;
        let changed = stmt
            .execute(params![key.as_ref(), value])
            .map_err(|e| self.db_err(e))?;
        if changed == 0 && self.flags.duplicates == Duplicates::Warn {
            log::warn!("{}: duplicate entry: \"{}\"", self.path.display(), key);
        }
        Ok(changed > 0)
    }

    fn delete(&mut self, key: &str) -> Result<bool, MapError> {
        self.writable()?;
        let key = self.flags.fold_key(key);
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM map WHERE k = ?1")
            .map_err(|e| self.db_err(e))?;
        let n = stmt.execute([key.as_ref()]).map_err(|e| self.db_err(e))?;
        Ok(n > 0)
    }

    fn commit(&mut self) -> Result<(), MapError> {
        let Some(u) = &self.update else {
            return Ok(());
        };
        if u.installed {
            return Ok(());
        }
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| self.db_err(e))?;
        build::install(&self.spec, &u.tmp, &self.path, None)?;
        if let Some(u) = self.update.as_mut() {
            u.installed = true;
        }
        Ok(())
    }

    fn changed(&self) -> bool {
        self.stamp.is_some_and(|s| s.changed(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_lookup_update_dump() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("access");
        let name = name.to_str().unwrap();
        let mut b = Builder::new("hash", name, OpenFlags::default()).unwrap();
        b.add("Example.COM", "REJECT", 1);
        b.add("example.com", "OK", 2);
        b.add("b", "2", 3);
        b.finish().unwrap();
        let m = IndexedMap::open("hash", name, OpenFlags::default()).unwrap();
        assert_eq!(m.lookup("EXAMPLE.com").unwrap().as_deref(), Some("REJECT"));
        assert_eq!(m.lookup("nope").unwrap(), None);
        assert!(!m.changed());

        let mut u = IndexedMap::open_update("hash", name, OpenFlags::default()).unwrap();
        assert!(u.insert("c", "3").unwrap());
        assert!(!u.insert("C", "4").unwrap());
        assert!(u.delete("b").unwrap());
        assert!(!u.delete("b").unwrap());
        u.commit().unwrap();
        // The open reader keeps its snapshot and learns that the table changed.
        assert_eq!(m.lookup("b").unwrap().as_deref(), Some("2"));
        assert!(m.changed());

        let m = IndexedMap::open("hash", name, OpenFlags::default()).unwrap();
        let mut all = Vec::new();
        m.for_each(&mut |k, v| all.push(format!("{k}={v}")))
            .unwrap();
        assert_eq!(all, vec!["c=3", "example.com=REJECT"]);
    }

    #[test]
    fn update_dropped_without_commit_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("t");
        let name = name.to_str().unwrap();
        let mut b = Builder::new("btree", name, OpenFlags::default()).unwrap();
        b.add("a", "1", 1);
        b.finish().unwrap();
        let before = fs::read(db_path("btree", name)).unwrap();
        {
            let mut u = IndexedMap::open_update("btree", name, OpenFlags::default()).unwrap();
            u.insert("b", "2").unwrap();
        }
        assert_eq!(fs::read(db_path("btree", name)).unwrap(), before);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
