//! The files behind indexed tables: names, format sniffing, the writer lock and
//! the read-only SQLite URI.
//!
//! Mirrors Postfix `util/dict_db.c`/`dict_lmdb.c` in file names and in locking
//! the database while it is changed (Postfix uses an exclusive lock on the
//! database file; so does Postern, re-checking after the lock that the name
//! still refers to the locked file, since writers replace it by rename).
//!
//! main.cf parameters read: none.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::maps::MapError;

/// The database file Postfix would use for `kind:name`.
pub fn db_path(kind: &str, name: &str) -> PathBuf {
    let suffix = if kind == "lmdb" { ".lmdb" } else { ".db" };
    PathBuf::from(format!("{name}{suffix}"))
}

/// What the first bytes of a file say it is.
#[derive(Debug, PartialEq, Eq)]
pub enum FileFormat {
    Postern,
    BerkeleyHash,
    BerkeleyBtree,
    Lmdb,
    Unknown,
}

/// Reads the start of `path` and names its format.
pub fn sniff(path: &Path) -> std::io::Result<FileFormat> {
    let mut head = [0u8; 64];
    let mut f = File::open(path)?;
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
pub fn check_format(spec: &str, path: &Path) -> Result<(), MapError> {
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

/// A read-only, immutable SQLite URI for `path`: no locks and no change checks
/// per lookup. Safe because every writer replaces the file by rename, so an open
/// file never changes under a reader.
pub fn immutable_uri(path: &Path) -> String {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut uri = String::from("file:");
    for b in abs.to_string_lossy().bytes() {
        match b {
            b'%' | b'?' | b'#' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(b as char),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// The exclusive writer lock on a table's database file, held while a writer
/// builds its replacement.
pub struct WriterLock {
    _lock: Option<Flock<File>>,
}

/// Locks `path` against other writers; no lock is needed when it does not exist
/// yet (the first build). Retries when the file was replaced while waiting.
pub fn lock_writer(table: &str, path: &Path) -> Result<WriterLock, MapError> {
    let err = |source: std::io::Error| MapError::Write {
        table: table.to_string(),
        path: path.to_path_buf(),
        source,
    };
    loop {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(WriterLock { _lock: None })
            }
            Err(e) => return Err(err(e)),
        };
        let locked = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| err(std::io::Error::from(errno)))?;
        let held = locked.metadata().map_err(err)?;
        match fs::metadata(path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                return Ok(WriterLock {
                    _lock: Some(locked),
                })
            }
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(WriterLock { _lock: None })
            }
            Err(e) => return Err(err(e)),
        }
    }
}

/// Identity of an opened file, to tell when it has been replaced or changed
/// (Postfix's dict_changed_name(): daemons restart on table changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileStamp {
    /// The stamp of `path` now; `None` when it cannot be read.
    pub fn of(path: &Path) -> Option<FileStamp> {
        let m = fs::metadata(path).ok()?;
        Some(FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        })
    }

    /// Whether `path` is no longer the file this stamp was taken from.
    pub fn changed(&self, path: &Path) -> bool {
        FileStamp::of(path) != Some(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        head[12..16].copy_from_slice(&[0; 4]);
        head[16..20].copy_from_slice(&0xBEEF_C0DEu32.to_le_bytes());
        fs::write(&p, &head).unwrap();
        assert_eq!(sniff(&p).unwrap(), FileFormat::Lmdb);
    }

    #[test]
    fn uri_escapes_query_characters() {
        assert_eq!(
            immutable_uri(Path::new("/a b/c?d#e%f.db")),
            "file:/a b/c%3Fd%23e%25f.db?immutable=1"
        );
    }
}
