//! The queue database: file name, connection settings and the versioned schema.
//!
//! Replaces Postfix's queue directories (incoming, active, deferred, hold) and
//! queue-file records (global/rec_type.h) with two tables in one SQLite file.
//! Reads `queue_directory` (given by the caller). No RFC.
//!
//! Durability: WAL with `synchronous=FULL`, so a commit returns only after the WAL
//! is fsynced (SQLite "WAL mode" documentation: NORMAL may lose the last commits on
//! power loss, FULL does not). The version lives in `PRAGMA user_version`.

use super::QueueError;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database file inside `queue_directory`.
pub const DB_FILE: &str = "queue.db";

/// The schema version this code reads and writes (1: messages and recipients;
/// 2: `origins`, the maildrop files pickup has queued, and the mailq index).
pub const SCHEMA_VERSION: i64 = 2;

/// How long a reader waits for the writer's lock before reporting the queue busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA_V1: &str = "
CREATE TABLE messages (
    queue_id        TEXT PRIMARY KEY,
    queue_name      TEXT NOT NULL
                    CHECK (queue_name IN ('incoming', 'active', 'deferred', 'hold')),
    arrival         INTEGER NOT NULL,      -- Unix seconds
    sender          TEXT NOT NULL,         -- '' for the null sender
    size            INTEGER NOT NULL,      -- content octets
    client_name     TEXT NOT NULL,
    client_addr     TEXT NOT NULL,
    helo            TEXT NOT NULL,
    protocol        TEXT NOT NULL,         -- SMTP, ESMTP, ESMTPS, ... or 'local'
    tls_protocol    TEXT,                  -- NULL: the session had no TLS
    tls_cipher      TEXT,
    tls_bits        INTEGER,
    tls_alg_bits    INTEGER,
    tls_ccert_subject     TEXT,
    tls_ccert_issuer      TEXT,
    tls_ccert_fingerprint TEXT,
    tls_ccert_verified    INTEGER,         -- 1: chain verified against a trusted CA
    dsn_envid       TEXT,
    dsn_ret         TEXT CHECK (dsn_ret IN ('FULL', 'HDRS')),
    body_type       TEXT,                  -- 7BIT, 8BITMIME, BINARYMIME or NULL
    smtputf8        INTEGER NOT NULL DEFAULT 0,
    content         BLOB NOT NULL
) STRICT;

CREATE TABLE recipients (
    queue_id        TEXT NOT NULL REFERENCES messages (queue_id) ON DELETE CASCADE,
    rcpt_index      INTEGER NOT NULL,
    address         TEXT NOT NULL,
    orig_rcpt       TEXT,                  -- before alias/virtual rewriting
    dsn_notify      TEXT,                  -- SUCCESS,FAILURE,DELAY / NEVER / NULL
    dsn_orcpt       TEXT,                  -- addr-type;xtext as received
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'deferred', 'delivered', 'bounced')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt    INTEGER,               -- Unix seconds, NULL: as soon as possible
    last_reason     TEXT,
    last_dsn        TEXT,                  -- RFC 3463 code of the last attempt
    tls_level       TEXT,                  -- TLS of the last delivery attempt
    tls_protocol    TEXT,
    tls_cipher      TEXT,
    tls_peer_name   TEXT,
    tls_peer_fingerprint TEXT,
    PRIMARY KEY (queue_id, rcpt_index)
) STRICT;

CREATE INDEX messages_by_queue ON messages (queue_name, queue_id);
CREATE INDEX recipients_due ON recipients (state, next_attempt);
";

/// Version 2. `origins` remembers, beyond the life of the message, which outside
/// source a message was queued from (`maildrop:NAME` for a pickup file), in the
/// same transaction as the message: pickup deletes the file only after the
/// commit, and a file found again after a crash in between is recognised, not
/// queued twice. `messages_listing` covers every column mailq reads, so the
/// listing never touches the content pages.
const SCHEMA_V2: &str = "
CREATE TABLE origins (
    origin          TEXT PRIMARY KEY,
    queue_id        TEXT NOT NULL,
    recorded        INTEGER NOT NULL       -- Unix seconds
) STRICT;

CREATE INDEX messages_listing ON messages (queue_id, queue_name, arrival, size, sender);
";

/// Path of the database in `queue_directory`.
pub fn db_path(queue_directory: &Path) -> PathBuf {
    queue_directory.join(DB_FILE)
}

/// Opens (creating if needed) the database for writing and brings the schema to
/// `SCHEMA_VERSION`.
pub fn open_writer(queue_directory: &Path) -> Result<Connection, QueueError> {
    let path = db_path(queue_directory);
    let opened = |source| QueueError::Open {
        path: path.clone(),
        source,
    };
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(opened)?;
    if conn
        .is_readonly(rusqlite::DatabaseName::Main)
        .map_err(opened)?
    {
        return Err(QueueError::ReadOnly { path });
    }
    conn.busy_timeout(BUSY_TIMEOUT).map_err(opened)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(opened)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(QueueError::NoWal { path, mode });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(opened)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(opened)?;
    // Builds with SQLITE_SECURE_DELETE (Debian's) zero every freed page, so
    // removing a delivered message wrote its whole content again (to the WAL
    // and at checkpoint). FAST zeroes what is written anyway and leaves freed
    // overflow pages as they are, as Postfix leaves an unlinked queue file's
    // blocks; they are reused by later messages.
    conn.pragma_update(None, "secure_delete", "FAST")
        .map_err(opened)?;
    migrate(&conn, &path)?;
    Ok(conn)
}

/// Opens the database read-only, for listings and the queue manager's scans.
pub fn open_reader(queue_directory: &Path) -> Result<Connection, QueueError> {
    let path = db_path(queue_directory);
    let opened = |source| QueueError::Open {
        path: path.clone(),
        source,
    };
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(opened)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(opened)?;
    let version = user_version(&conn, &path)?;
    if version != SCHEMA_VERSION {
        return Err(QueueError::SchemaVersion {
            path,
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(conn)
}

fn user_version(conn: &Connection, path: &Path) -> Result<i64, QueueError> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|source| QueueError::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// Creates the tables in a new file or upgrades an older one; refuses a file
/// written by a newer Postern rather than guess at its layout.
fn migrate(conn: &Connection, path: &Path) -> Result<(), QueueError> {
    let version = user_version(conn, path)?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if !(0..=SCHEMA_VERSION).contains(&version) {
        return Err(QueueError::SchemaVersion {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    // Each step brings the file from the version before it (0: a new file).
    let steps = match version {
        0 => format!("{SCHEMA_V1} {SCHEMA_V2}"),
        1 => SCHEMA_V2.to_string(),
        _ => String::new(),
    };
    let sql = format!("BEGIN IMMEDIATE; {steps} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;");
    conn.execute_batch(&sql).map_err(|source| {
        let _ = conn.execute_batch("ROLLBACK");
        QueueError::Schema {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue written by schema 1 is upgraded in place, messages kept.
    #[test]
    fn version_1_is_upgraded_to_2() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(db_path(dir.path())).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(&format!("{SCHEMA_V1} PRAGMA user_version = 1;"))
            .unwrap();
        conn.execute(
            "INSERT INTO messages (queue_id, queue_name, arrival, sender, size, client_name,
                 client_addr, helo, protocol, content)
             VALUES ('0000000001', 'hold', 0, '', 0, '', '', '', 'local', x'')",
            [],
        )
        .unwrap();
        drop(conn);
        let conn = open_writer(dir.path()).unwrap();
        assert_eq!(user_version(&conn, dir.path()).unwrap(), SCHEMA_VERSION);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        conn.execute(
            "INSERT INTO origins VALUES ('maildrop:x', '0000000001', 0)",
            [],
        )
        .unwrap();
    }
}
