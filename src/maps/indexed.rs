//! Indexed tables `hash:`, `btree:` and `lmdb:`: a key/value file built by
//! postmap(1) or postalias(1) beside its source, stored as SQLite.
//!
//! Mirrors Postfix `util/dict_db.c` and `util/dict_lmdb.c` in file names
//! (`name.db` for hash and btree, `name.lmdb` for lmdb) and messages, not in
//! format: only Postern reads these files. A table is one `WITHOUT ROWID` table
//! `map(k, v)` plus `meta` (format tag and type). A build writes a temporary file
//! beside the target with the journal off, then fsyncs and renames it over the
//! target (`util::safe_file`), so a reader sees the old table or the new one, never
//! half of one; on any error the old table stays. Files written by real Postfix
//! (Berkeley DB hash/btree, LMDB) are recognised and refused with a hint to rebuild.
//!
//! main.cf parameters read: none (callers pass the type from `default_database_type`).

use std::cell::Cell;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags as SqlFlags, OptionalExtension};

use super::{Duplicates, Map, MapError, OpenFlags};
use crate::util::safe_file;

/// The format tag stored in `meta`; bump when the layout changes.
const FORMAT: &str = "postern-map-1";

/// How long a reader waits for a writer's lock (postmap `-i`/`-d` in progress).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The database file Postfix would use for `kind:name`.
pub fn db_path(kind: &str, name: &str) -> PathBuf {
    let suffix = if kind == "lmdb" { ".lmdb" } else { ".db" };
    PathBuf::from(format!("{name}{suffix}"))
}

/// What the first bytes of a file say it is.
#[derive(Debug, PartialEq, Eq)]
enum FileFormat {
    Postern,
    BerkeleyHash,
    BerkeleyBtree,
    Lmdb,
    Unknown,
}

fn sniff(path: &Path) -> std::io::Result<FileFormat> {
    use std::io::Read;
    let mut head = [0u8; 64];
    let mut f = fs::File::open(path)?;
    let mut got = 0;
    while got < head.len() {
        let n = f.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let head = &head[..got];
    if head.starts_with(b"SQLite format 3\0") {
        return Ok(FileFormat::Postern);
    }
    let word = |at: usize| -> Option<(u32, u32)> {
        let b: [u8; 4] = head.get(at..at + 4)?.try_into().ok()?;
        Some((u32::from_le_bytes(b), u32::from_be_bytes(b)))
    };
    // Berkeley DB keeps its magic number at offset 12 of the meta page, in the
    // byte order of the machine that wrote it (db_page.h).
    if let Some((le, be)) = word(12) {
        if le == 0x0006_1561 || be == 0x0006_1561 {
            return Ok(FileFormat::BerkeleyHash);
        }
        if le == 0x0005_3162 || be == 0x0005_3162 {
            return Ok(FileFormat::BerkeleyBtree);
        }
    }
    // LMDB's meta page starts after a 16-byte page header with MDB_MAGIC (mdb.c).
    if let Some((le, be)) = word(16) {
        if le == 0xBEEF_C0DE || be == 0xBEEF_C0DE {
            return Ok(FileFormat::Lmdb);
        }
    }
    Ok(FileFormat::Unknown)
}

/// Refuses files that are not Postern tables, naming Postfix's when it is one.
fn check_format(spec: &str, path: &Path) -> Result<(), MapError> {
    let format = sniff(path).map_err(|source| MapError::Open {
        what: "database ",
        path: path.to_path_buf(),
        source,
    })?;
    let format = match format {
        FileFormat::Postern => return Ok(()),
        FileFormat::BerkeleyHash => "Berkeley DB hash",
        FileFormat::BerkeleyBtree => "Berkeley DB btree",
        FileFormat::Lmdb => "LMDB",
        FileFormat::Unknown => {
            return Err(MapError::NotATable {
                table: spec.to_string(),
                path: path.to_path_buf(),
            })
        }
    };
    Err(MapError::BuiltByPostfix {
        table: spec.to_string(),
        path: path.to_path_buf(),
        format,
    })
}

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

/// An indexed table opened for lookups or for in-place changes.
pub struct IndexedMap {
    spec: String,
    path: PathBuf,
    conn: Connection,
    flags: OpenFlags,
    /// A write transaction is open (update mode, before `commit`).
    in_tx: Cell<bool>,
}

impl IndexedMap {
    fn db_err(&self, source: rusqlite::Error) -> MapError {
        MapError::Database {
            table: self.spec.clone(),
            path: self.path.clone(),
            source,
        }
    }

    fn open_conn(
        kind: &str,
        name: &str,
        write: bool,
    ) -> Result<(String, PathBuf, Connection), MapError> {
        let spec = format!("{kind}:{name}");
        let path = db_path(kind, name);
        if !path.exists() {
            return Err(MapError::Open {
                what: "database ",
                path,
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            });
        }
        check_format(&spec, &path)?;
        let sql_flags = if write {
            SqlFlags::SQLITE_OPEN_READ_WRITE | SqlFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            SqlFlags::SQLITE_OPEN_READ_ONLY | SqlFlags::SQLITE_OPEN_NO_MUTEX
        };
        let db_err = |source| MapError::Database {
            table: spec.clone(),
            path: path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(&path, sql_flags).map_err(db_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        let format: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE name = 'format'", [], |r| {
                r.get(0)
            })
            .optional()
            .unwrap_or(None);
        if format.as_deref() != Some(FORMAT) {
            return Err(MapError::NotATable { table: spec, path });
        }
        Ok((spec, path, conn))
    }

    /// Opens `kind:name` read-only.
    pub fn open(kind: &str, name: &str, flags: OpenFlags) -> Result<IndexedMap, MapError> {
        let (spec, path, conn) = Self::open_conn(kind, name, false)?;
        warn_if_stale(name, &path);
        Ok(IndexedMap {
            spec,
            path,
            conn,
            flags,
            in_tx: Cell::new(false),
        })
    }

    /// Opens `kind:name` for changes, creating an empty table when there is none
    /// (postmap `-i` on a new table, as Postfix's O_CREAT).
    pub fn open_update(kind: &str, name: &str, flags: OpenFlags) -> Result<IndexedMap, MapError> {
        if !db_path(kind, name).exists() {
            Builder::new(kind, name, flags)?.finish()?;
        }
        let (spec, path, conn) = Self::open_conn(kind, name, true)?;
        let map = IndexedMap {
            spec,
            path,
            conn,
            flags,
            in_tx: Cell::new(false),
        };
        map.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| map.db_err(e))?;
        map.in_tx.set(true);
        Ok(map)
    }
}

impl IndexedMap {
    /// Sets `key` exactly as given, replacing any value (postalias's `@` and
    /// `YP_*` entries, which are neither folded nor reported as duplicates).
    pub fn put_raw(&mut self, key: &str, value: &str) -> Result<(), MapError> {
        if !self.in_tx.get() {
            return Err(MapError::ReadOnly {
                table: self.spec.clone(),
            });
        }
        let mut stmt = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO map(k, v) VALUES (?1, ?2)")
            .map_err(|e| self.db_err(e))?;
        stmt.execute(params![key, value])
            .map_err(|e| self.db_err(e))?;
        Ok(())
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
        if !self.in_tx.get() {
            return Err(MapError::ReadOnly {
                table: self.spec.clone(),
            });
        }
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
        if !self.in_tx.get() {
            return Err(MapError::ReadOnly {
                table: self.spec.clone(),
            });
        }
        let key = self.flags.fold_key(key);
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM map WHERE k = ?1")
            .map_err(|e| self.db_err(e))?;
        let n = stmt.execute([key.as_ref()]).map_err(|e| self.db_err(e))?;
        Ok(n > 0)
    }

    fn commit(&mut self) -> Result<(), MapError> {
        if self.in_tx.replace(false) {
            self.conn
                .execute_batch("COMMIT")
                .map_err(|e| self.db_err(e))?;
        }
        Ok(())
    }
}

/// A new indexed table being built in a temporary file; `finish` puts it in place.
pub struct Builder {
    spec: String,
    target: PathBuf,
    tmp: PathBuf,
    flags: OpenFlags,
    entries: Vec<(String, String, usize)>,
    committed: bool,
}

impl Builder {
    /// Starts a build of `kind:name` (the target file is not touched until `finish`).
    pub fn new(kind: &str, name: &str, flags: OpenFlags) -> Result<Builder, MapError> {
        let target = db_path(kind, name);
        let tmp = safe_file::temp_path(&target);
        Ok(Builder {
            spec: format!("{kind}:{name}"),
            target,
            tmp,
            flags,
            entries: Vec::new(),
            committed: false,
        })
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

    fn write_err(&self, source: std::io::Error) -> MapError {
        MapError::Write {
            table: self.spec.clone(),
            path: self.target.clone(),
            source,
        }
    }

    /// Sorts and de-duplicates the entries (warning per `flags.duplicates`),
    /// writes the temporary file and renames it over the target.
    pub fn finish(mut self) -> Result<(), MapError> {
        let mut entries = std::mem::take(&mut self.entries);
        // Stable sort keeps source order among equal keys: the first one wins, as
        // in Postfix, unless -r asks for the last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut dups: Vec<(usize, String)> = Vec::new();
        let replace = self.flags.duplicates == Duplicates::Replace;
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
        let _ = fs::remove_file(&self.tmp);
        self.write_tmp(&kept)?;
        let mode = fs::metadata(&self.target)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        fs::set_permissions(&self.tmp, fs::Permissions::from_mode(mode))
            .map_err(|e| self.write_err(e))?;
        safe_file::commit(&self.tmp, &self.target).map_err(|e| self.write_err(e))?;
        self.committed = true;
        Ok(())
    }

    fn write_tmp(&self, entries: &[(String, String, usize)]) -> Result<(), MapError> {
        let db_err = |source| MapError::Database {
            table: self.spec.clone(),
            path: self.tmp.clone(),
            source,
        };
        let mut conn = Connection::open(&self.tmp).map_err(db_err)?;
        // The file is private until the rename, so no journal and no syncs here;
        // safe_file::commit fsyncs it once before it becomes visible.
        conn.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA cache_size = -32768;
             CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE map(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;",
        )
        .map_err(db_err)?;
        let tx = conn.transaction().map_err(db_err)?;
        {
            let kind = self.spec.split(':').next().unwrap_or_default();
            tx.execute(
                "INSERT INTO meta(name, value) VALUES ('format', ?1), ('type', ?2)",
                params![FORMAT, kind],
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
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
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
        let mut u = IndexedMap::open_update("hash", name, OpenFlags::default()).unwrap();
        assert!(u.insert("c", "3").unwrap());
        assert!(!u.insert("C", "4").unwrap());
        assert!(u.delete("b").unwrap());
        assert!(!u.delete("b").unwrap());
        u.commit().unwrap();
        let mut all = Vec::new();
        m.for_each(&mut |k, v| all.push(format!("{k}={v}")))
            .unwrap();
        assert_eq!(all, vec!["c=3", "example.com=REJECT"]);
    }

    #[test]
    fn berkeley_magic_is_recognised_in_both_byte_orders() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        let mut head = vec![0u8; 64];
        head[12..16].copy_from_slice(&0x0006_1561u32.to_be_bytes());
        fs::write(&p, &head).unwrap();
        assert_eq!(sniff(&p).unwrap(), FileFormat::BerkeleyHash);
        head[12..16].copy_from_slice(&0x0005_3162u32.to_le_bytes());
        fs::write(&p, &head).unwrap();
        assert_eq!(sniff(&p).unwrap(), FileFormat::BerkeleyBtree);
    }
}
