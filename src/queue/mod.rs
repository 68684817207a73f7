//! The mail queue: one SQLite database (`queue.db` in `queue_directory`) holding
//! every message, its envelope, per-recipient delivery state and the TLS facts of
//! how it arrived and how each delivery went. Knows nothing of SMTP.
//!
//! Replaces Postfix's queue directories and queue files (global/mail_queue.c,
//! cleanup's queue-file writer, showq, postsuper's moves). Reads
//! `queue_directory` (passed in by the caller). No RFC beyond RFC 5321 section
//! 4.1.1.4's rule that mail is acknowledged only once safely stored.
//!
//! Public API:
//! - `Store::open(queue_directory) -> Result<Store, QueueError>` starts the one
//!   writer thread; `Store::handle() -> QueueHandle` (cloneable, one per session).
//! - `QueueHandle::new_id() -> QueueId`, `insert(NewMessage) -> Result<Durable, _>`
//!   (returns only after COMMIT with `synchronous=FULL`), `record(&id, Vec<Attempt>)`,
//!   `move_to(&id, QueueName)`, `delete(&id)`; `insert_once(NewMessage, origin)`
//!   and `forget_origin(origin)` (pickup's exactly-once), `flush(id, domain)`.
//! - `Reader::open(queue_directory)`: `list()`, `list_queue(q)`, `load(&id)`,
//!   `due_for_retry(now)`; `for_each_entry(filter, f)` (streaming mailq),
//!   `origins(prefix)`.
#![allow(dead_code)] // wired in by the daemon (issue 3)

mod apply;
pub mod ids;
pub mod query;
pub mod record;
pub mod schema;
pub mod writer;

#[cfg(test)]
mod tests;

#[allow(unused_imports)] // the API the daemon will use (issue 3)
pub use ids::QueueId;
#[allow(unused_imports)]
pub use query::{QueueEntry, Reader, StoredMessage, StoredRecipient};
#[allow(unused_imports)]
pub use record::{
    Attempt, DeliveryTls, NewMessage, NewRecipient, QueueName, RcptState, SessionTls,
};
#[allow(unused_imports)]
pub use writer::{Completion, Durable, QueueHandle, Store};

use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;

/// What went wrong with the queue, naming the file or message at fault.
#[derive(Debug, Error)]
pub enum QueueError {
    #[error("open queue database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("queue database {path} is read-only")]
    ReadOnly { path: PathBuf },
    #[error("queue database {path}: journal mode is {mode}, WAL is required")]
    NoWal { path: PathBuf, mode: String },
    #[error("create schema in {path}: {source}")]
    Schema {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("queue database {path} has schema version {found}, this program knows {supported}")]
    SchemaVersion {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("queue id {queue_id}: write failed: {source}")]
    Write {
        queue_id: QueueId,
        source: rusqlite::Error,
    },
    #[error("queue transaction failed: {source}")]
    Commit { source: Arc<rusqlite::Error> },
    #[error("queue id {0}: no such message")]
    UnknownMessage(QueueId),
    #[error("queue id {queue_id}: no recipient number {index}")]
    UnknownRecipient { queue_id: QueueId, index: u32 },
    #[error("queue read failed: {0}")]
    Read(rusqlite::Error),
    #[error("queue id {queue_id}: bad value {value:?} in column {column}")]
    Corrupt {
        queue_id: String,
        column: &'static str,
        value: String,
    },
    #[error("{origin} was already queued as {queue_id}")]
    AlreadyQueued { origin: String, queue_id: String },
    #[error("the queue writer thread has stopped")]
    WriterGone,
    #[error("cannot start the queue writer thread: {0}")]
    Spawn(std::io::Error),
}
