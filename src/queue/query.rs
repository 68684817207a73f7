//! Read-only queue queries: the mailq listing, loading a message for delivery, and
//! the selection of messages due for another attempt.
//!
//! Mirrors Postfix's showq(8) (what `mailq` prints) and the queue scans of qmgr(8)
//! (qmgr_scan.c). Reads `queue_directory` (given by the caller). No RFC.

use super::ids::QueueId;
use super::record::{QueueName, RcptState, SessionTls};
use super::{schema, QueueError};
use crate::mail::dsn::{Notify, OrigRcpt, Ret};
use crate::mail::envelope::Body;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

/// One recipient as `mailq` shows it, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecipient {
    pub index: u32,
    pub address: String,
    pub orig_rcpt: Option<String>,
    pub notify: Option<Notify>,
    pub orcpt: Option<OrigRcpt>,
    pub state: RcptState,
    pub attempts: u32,
    pub next_attempt: Option<i64>,
    pub last_reason: Option<String>,
    pub last_dsn: Option<String>,
    /// The TLS the last delivery attempt reached (smtp client attempts that
    /// connected); `feature` is not stored and stays empty.
    pub tls: Option<crate::mail::delivery::DeliveryTls>,
}

/// One `mailq` entry: no content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub queue_id: QueueId,
    pub queue: QueueName,
    pub arrival: i64,
    pub size: u64,
    pub sender: String,
    pub recipients: Vec<StoredRecipient>,
}

/// A whole message, as a delivery agent needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub entry: QueueEntry,
    pub client_name: String,
    pub client_addr: String,
    pub helo: String,
    pub protocol: String,
    pub tls: Option<SessionTls>,
    pub envid: Option<String>,
    pub ret: Option<Ret>,
    pub body: Option<Body>,
    pub smtputf8: bool,
    /// Shared with the delivery jobs of the message (not copied per job).
    pub content: Arc<Vec<u8>>,
}

/// A read-only connection; each reading thread opens its own.
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
}

/// The newest queue ID in the database, so new IDs can start after it.
pub fn newest_id(conn: &Connection) -> Result<Option<QueueId>, QueueError> {
    let text: Option<String> = conn
        .query_row("SELECT max(queue_id) FROM messages", [], |r| r.get(0))
        .map_err(QueueError::Read)?;
    Ok(text.and_then(|t| QueueId::parse(&t)))
}

fn read(source: rusqlite::Error) -> QueueError {
    QueueError::Read(source)
}

fn corrupt(queue_id: &str, column: &'static str, value: &str) -> QueueError {
    QueueError::Corrupt {
        queue_id: queue_id.to_string(),
        column,
        value: value.to_string(),
    }
}

impl Reader {
    pub fn open(queue_directory: &Path) -> Result<Reader, QueueError> {
        Ok(Reader {
            conn: schema::open_reader(queue_directory)?,
        })
    }

    /// Every message, oldest first, as `mailq` lists them.
    pub fn list(&self) -> Result<Vec<QueueEntry>, QueueError> {
        self.entries(
            "SELECT queue_id, queue_name, arrival, size, sender FROM messages ORDER BY queue_id",
            [],
        )
    }

    /// The messages in one queue, oldest first.
    pub fn list_queue(&self, queue: QueueName) -> Result<Vec<QueueEntry>, QueueError> {
        self.entries(
            "SELECT queue_id, queue_name, arrival, size, sender FROM messages
             WHERE queue_name = ?1 ORDER BY queue_id",
            [queue.as_str()],
        )
    }

    /// Streams the listing, oldest first, one entry with its recipients at a
    /// time, in one query (so 100,000 messages list in well under a second);
    /// `queue` and `id` narrow it. `each` returns `Break` to stop early.
    pub fn for_each_entry(
        &self,
        queue: Option<QueueName>,
        id: Option<&QueueId>,
        mut each: impl FnMut(QueueEntry) -> ControlFlow<()>,
    ) -> Result<(), QueueError> {
        // Plain conditions (no `?1 IS NULL OR ...`), so SQLite can seek the
        // covering index for one ID instead of scanning it.
        let mut sql = String::from(
            "SELECT m.queue_id, m.queue_name, m.arrival, m.size, m.sender,
                 r.rcpt_index, r.address, r.orig_rcpt, r.dsn_notify, r.dsn_orcpt, r.state,
                 r.attempts, r.next_attempt, r.last_reason, r.last_dsn, r.tls_level,
                 r.tls_protocol, r.tls_cipher, r.tls_peer_name, r.tls_peer_fingerprint
             FROM messages m INDEXED BY messages_listing
             LEFT JOIN recipients r ON r.queue_id = m.queue_id WHERE 1",
        );
        let mut args: Vec<&str> = Vec::new();
        if let Some(q) = queue {
            args.push(q.as_str());
            sql.push_str(&format!(" AND m.queue_name = ?{}", args.len()));
        }
        if let Some(id) = id {
            args.push(id.as_str());
            sql.push_str(&format!(" AND m.queue_id = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY m.queue_id, r.rcpt_index");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(read)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args)).map_err(read)?;
        let mut current: Option<QueueEntry> = None;
        while let Some(row) = rows.next().map_err(read)? {
            let qid: String = row.get(0).map_err(read)?;
            if current.as_ref().is_none_or(|e| e.queue_id.as_str() != qid) {
                if let Some(done) = current.take() {
                    if each(done).is_break() {
                        return Ok(());
                    }
                }
                current = Some(entry_head(row).map_err(read)?.into_entry()?);
            }
            let index: Option<u32> = row.get(5).map_err(read)?;
            if let (Some(entry), Some(_)) = (current.as_mut(), index) {
                let raw = RawRecipient::from_row(row, 5).map_err(read)?;
                entry.recipients.push(raw.into_recipient(&qid)?);
            }
        }
        if let Some(done) = current {
            let _ = each(done);
        }
        Ok(())
    }

    /// Recorded origins starting with `prefix` (pickup: `maildrop:`).
    pub fn origins(&self, prefix: &str) -> Result<Vec<String>, QueueError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT origin FROM origins WHERE substr(origin, 1, length(?1)) = ?1")
            .map_err(read)?;
        let rows = stmt
            .query_map([prefix], |r| r.get::<_, String>(0))
            .map_err(read)?;
        rows.collect::<Result<_, _>>().map_err(read)
    }

    /// Deferred messages with at least one deferred recipient whose retry time
    /// has come (`now` in Unix seconds), oldest first, as qmgr's deferred scan.
    pub fn due_for_retry(&self, now: i64) -> Result<Vec<QueueId>, QueueError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT m.queue_id FROM messages m JOIN recipients r USING (queue_id)
                 WHERE m.queue_name = 'deferred' AND r.state = 'deferred'
                   AND (r.next_attempt IS NULL OR r.next_attempt <= ?1)
                 ORDER BY m.queue_id",
            )
            .map_err(read)?;
        let rows = stmt
            .query_map([now], |r| r.get::<_, String>(0))
            .map_err(read)?;
        let mut ids = Vec::new();
        for text in rows {
            let text = text.map_err(read)?;
            ids.push(QueueId::parse(&text).ok_or_else(|| corrupt(&text, "queue_id", &text))?);
        }
        Ok(ids)
    }

    /// The whole message, or `None` when it is no longer queued.
    pub fn load(&self, id: &QueueId) -> Result<Option<StoredMessage>, QueueError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT queue_id, queue_name, arrival, size, sender, client_name, client_addr,
                     helo, protocol, tls_protocol, tls_cipher, tls_bits, tls_alg_bits,
                     tls_ccert_subject, tls_ccert_issuer, tls_ccert_fingerprint,
                     tls_ccert_verified, dsn_envid, dsn_ret, body_type, smtputf8, content
                 FROM messages WHERE queue_id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([id.as_str()], |r| Ok((entry_head(r)?, message_tail(r)?)))
            })
            .optional()
            .map_err(read)?;
        let Some((head, tail)) = row else {
            return Ok(None);
        };
        let mut entry = head.into_entry()?;
        entry.recipients = self.recipients(&entry.queue_id)?;
        tail.into_message(entry).map(Some)
    }

    fn entries<P: rusqlite::Params>(
        &self,
        sql: &str,
        args: P,
    ) -> Result<Vec<QueueEntry>, QueueError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(read)?;
        let heads: Vec<EntryHead> = stmt
            .query_map(args, entry_head)
            .map_err(read)?
            .collect::<Result<_, _>>()
            .map_err(read)?;
        heads
            .into_iter()
            .map(|h| {
                let mut e = h.into_entry()?;
                e.recipients = self.recipients(&e.queue_id)?;
                Ok(e)
            })
            .collect()
    }

    fn recipients(&self, id: &QueueId) -> Result<Vec<StoredRecipient>, QueueError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT rcpt_index, address, orig_rcpt, dsn_notify, dsn_orcpt, state, attempts,
                     next_attempt, last_reason, last_dsn, tls_level, tls_protocol, tls_cipher,
                     tls_peer_name, tls_peer_fingerprint
                 FROM recipients WHERE queue_id = ?1 ORDER BY rcpt_index",
            )
            .map_err(read)?;
        let rows = stmt
            .query_map(params![id.as_str()], |r| RawRecipient::from_row(r, 0))
            .map_err(read)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(read)?.into_recipient(id.as_str())?);
        }
        Ok(out)
    }
}

/// The recipient columns (rcpt_index through tls_peer_fingerprint, from
/// `first` on), before their text is checked.
struct RawRecipient {
    index: u32,
    address: String,
    orig_rcpt: Option<String>,
    notify: Option<String>,
    orcpt: Option<String>,
    state: String,
    attempts: u32,
    next_attempt: Option<i64>,
    last_reason: Option<String>,
    last_dsn: Option<String>,
    tls: Option<crate::mail::delivery::DeliveryTls>,
}

impl RawRecipient {
    fn from_row(r: &Row<'_>, first: usize) -> rusqlite::Result<RawRecipient> {
        Ok(RawRecipient {
            index: r.get(first)?,
            address: r.get(first + 1)?,
            orig_rcpt: r.get(first + 2)?,
            notify: r.get(first + 3)?,
            orcpt: r.get(first + 4)?,
            state: r.get(first + 5)?,
            attempts: r.get(first + 6)?,
            next_attempt: r.get(first + 7)?,
            last_reason: r.get(first + 8)?,
            last_dsn: r.get(first + 9)?,
            tls: match r.get::<_, Option<String>>(first + 10)? {
                None => None,
                Some(level) => Some(crate::mail::delivery::DeliveryTls {
                    level,
                    protocol: r.get(first + 11)?,
                    cipher: r.get(first + 12)?,
                    peer_name: r.get(first + 13)?,
                    peer_fingerprint: r.get(first + 14)?,
                    feature: String::new(),
                }),
            },
        })
    }

    fn into_recipient(self, qid: &str) -> Result<StoredRecipient, QueueError> {
        Ok(StoredRecipient {
            index: self.index,
            address: self.address,
            orig_rcpt: self.orig_rcpt,
            notify: self
                .notify
                .map(|n| Notify::parse(&n).map_err(|_| corrupt(qid, "dsn_notify", &n)))
                .transpose()?,
            orcpt: self
                .orcpt
                .map(|o| OrigRcpt::parse(&o).map_err(|_| corrupt(qid, "dsn_orcpt", &o)))
                .transpose()?,
            state: RcptState::parse(&self.state)
                .ok_or_else(|| corrupt(qid, "state", &self.state))?,
            attempts: self.attempts,
            next_attempt: self.next_attempt,
            last_reason: self.last_reason,
            last_dsn: self.last_dsn,
            tls: self.tls,
        })
    }
}

/// Columns 0-4 of a messages row, before their text is checked.
struct EntryHead {
    queue_id: String,
    queue: String,
    arrival: i64,
    size: i64,
    sender: String,
}

fn entry_head(r: &Row<'_>) -> rusqlite::Result<EntryHead> {
    Ok(EntryHead {
        queue_id: r.get(0)?,
        queue: r.get(1)?,
        arrival: r.get(2)?,
        size: r.get(3)?,
        sender: r.get(4)?,
    })
}

impl EntryHead {
    fn into_entry(self) -> Result<QueueEntry, QueueError> {
        let id = &self.queue_id;
        Ok(QueueEntry {
            queue_id: QueueId::parse(id).ok_or_else(|| corrupt(id, "queue_id", id))?,
            queue: QueueName::parse(&self.queue)
                .ok_or_else(|| corrupt(id, "queue_name", &self.queue))?,
            arrival: self.arrival,
            size: u64::try_from(self.size)
                .map_err(|_| corrupt(id, "size", &self.size.to_string()))?,
            sender: self.sender,
            recipients: Vec::new(),
        })
    }
}

/// Columns 5-21 of a messages row.
struct MessageTail {
    client_name: String,
    client_addr: String,
    helo: String,
    protocol: String,
    tls_protocol: Option<String>,
    tls_cipher: Option<String>,
    tls_bits: Option<u32>,
    tls_alg_bits: Option<u32>,
    ccert_subject: Option<String>,
    ccert_issuer: Option<String>,
    ccert_fingerprint: Option<String>,
    ccert_verified: Option<bool>,
    envid: Option<String>,
    ret: Option<String>,
    body: Option<String>,
    smtputf8: bool,
    content: Vec<u8>,
}

fn message_tail(r: &Row<'_>) -> rusqlite::Result<MessageTail> {
    Ok(MessageTail {
        client_name: r.get(5)?,
        client_addr: r.get(6)?,
        helo: r.get(7)?,
        protocol: r.get(8)?,
        tls_protocol: r.get(9)?,
        tls_cipher: r.get(10)?,
        tls_bits: r.get(11)?,
        tls_alg_bits: r.get(12)?,
        ccert_subject: r.get(13)?,
        ccert_issuer: r.get(14)?,
        ccert_fingerprint: r.get(15)?,
        ccert_verified: r.get(16)?,
        envid: r.get(17)?,
        ret: r.get(18)?,
        body: r.get(19)?,
        smtputf8: r.get(20)?,
        content: r.get(21)?,
    })
}

impl MessageTail {
    fn into_message(self, entry: QueueEntry) -> Result<StoredMessage, QueueError> {
        let qid = entry.queue_id.as_str().to_string();
        let tls = self.tls_protocol.map(|protocol| SessionTls {
            protocol,
            cipher: self.tls_cipher.unwrap_or_default(),
            bits: self.tls_bits.unwrap_or(0),
            alg_bits: self.tls_alg_bits.unwrap_or(0),
            ccert_subject: self.ccert_subject,
            ccert_issuer: self.ccert_issuer,
            ccert_fingerprint: self.ccert_fingerprint,
            ccert_verified: self.ccert_verified.unwrap_or(false),
        });
        let ret = self
            .ret
            .map(|r| Ret::parse(&r).map_err(|_| corrupt(&qid, "dsn_ret", &r)))
            .transpose()?;
        let body = self
            .body
            .map(|b| Body::parse(&b).ok_or_else(|| corrupt(&qid, "body_type", &b)))
            .transpose()?;
        Ok(StoredMessage {
            entry,
            client_name: self.client_name,
            client_addr: self.client_addr,
            helo: self.helo,
            protocol: self.protocol,
            tls,
            envid: self.envid,
            ret,
            body,
            smtputf8: self.smtputf8,
            content: Arc::new(self.content),
        })
    }
}
