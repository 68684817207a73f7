//! The SQL of each write request, run by the queue writer inside its
//! transaction: a new message with its recipients (and where it came from),
//! and the updates to queued messages (attempt results, moves between queues,
//! deletion, flushes, forgotten origins).
//!
//! Mirrors what Postfix's cleanup(8) writes into a queue file, qmgr(8) records
//! after a delivery attempt, and postsuper(1) moves or removes. The tables are
//! those of schema.rs.

use super::ids::QueueId;
use super::record::{Attempt, NewMessage, QueueName, RcptState};
use super::QueueError;
use crate::mail::dsn::{Outcome, StatusCode};
use rusqlite::{params, Connection, OptionalExtension};

/// Changes to messages already queued.
#[derive(Debug)]
pub(super) enum Update {
    Record {
        id: QueueId,
        attempts: Vec<Attempt>,
    },
    Move {
        id: QueueId,
        to: QueueName,
    },
    Delete {
        id: QueueId,
    },
    /// Deferred recipients due now (postqueue -f, -i ID, -s site).
    Flush {
        id: Option<QueueId>,
        domain: Option<String>,
    },
    /// The source of a message is gone (pickup removed its maildrop file).
    ForgetOrigin {
        origin: String,
    },
}

pub(super) fn insert(conn: &Connection, m: &NewMessage) -> Result<(), QueueError> {
    let write = |source| QueueError::Write {
        queue_id: m.queue_id.clone(),
        source,
    };
    let tls = m.tls.as_ref();
    conn.prepare_cached(
        "INSERT INTO messages (queue_id, queue_name, arrival, sender, size, client_name,
             client_addr, helo, protocol, tls_protocol, tls_cipher, tls_bits, tls_alg_bits,
             tls_ccert_subject, tls_ccert_issuer, tls_ccert_fingerprint, tls_ccert_verified,
             dsn_envid, dsn_ret, body_type, smtputf8, content)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, ?19, ?20, ?21, ?22)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            m.queue_id.as_str(),
            m.queue.as_str(),
            m.arrival,
            m.sender,
            m.content.len() as i64,
            m.client_name,
            m.client_addr,
            m.helo,
            m.protocol,
            tls.map(|t| &t.protocol),
            tls.map(|t| &t.cipher),
            tls.map(|t| t.bits),
            tls.map(|t| t.alg_bits),
            tls.and_then(|t| t.ccert_subject.as_ref()),
            tls.and_then(|t| t.ccert_issuer.as_ref()),
            tls.and_then(|t| t.ccert_fingerprint.as_ref()),
            tls.map(|t| t.ccert_verified),
            m.envid,
            m.ret.map(|r| r.as_str()),
            m.body.map(|b| b.as_str()),
            m.smtputf8,
            m.content,
        ])
    })
    .map_err(write)?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO recipients (queue_id, rcpt_index, address, orig_rcpt, dsn_notify,
                 dsn_orcpt) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(write)?;
    for (index, r) in m.recipients.iter().enumerate() {
        stmt.execute(params![
            m.queue_id.as_str(),
            index as i64,
            r.address,
            r.orig_rcpt,
            r.notify.map(|n| n.to_string()),
            r.orcpt.as_ref().map(|o| o.to_string()),
        ])
        .map_err(write)?;
    }
    Ok(())
}

/// Notes where a message came from; refuses an origin already recorded.
pub(super) fn record_origin(
    conn: &Connection,
    origin: &str,
    id: &QueueId,
) -> Result<(), QueueError> {
    let seen: Option<String> = conn
        .query_row(
            "SELECT queue_id FROM origins WHERE origin = ?1",
            [origin],
            |r| r.get(0),
        )
        .optional()
        .map_err(QueueError::Read)?;
    if let Some(queue_id) = seen {
        return Err(QueueError::AlreadyQueued {
            origin: origin.to_string(),
            queue_id,
        });
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    conn.execute(
        "INSERT INTO origins (origin, queue_id, recorded) VALUES (?1, ?2, ?3)",
        params![origin, id.as_str(), now],
    )
    .map_err(|source| QueueError::Write {
        queue_id: id.clone(),
        source,
    })?;
    Ok(())
}

pub(super) fn apply_update(conn: &Connection, update: &Update) -> Result<(), QueueError> {
    match update {
        Update::ForgetOrigin { origin } => {
            conn.execute("DELETE FROM origins WHERE origin = ?1", [origin])
                .map_err(QueueError::Read)?;
            Ok(())
        }
        Update::Flush { id, domain } => {
            // '%@domain' with LIKE's wildcards in the site name escaped.
            let pattern = domain.as_ref().map(|d| {
                let escaped = d
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%@{escaped}")
            });
            conn.execute(
                "UPDATE recipients SET next_attempt = NULL
                 WHERE state = 'deferred'
                   AND (?1 IS NULL OR queue_id = ?1)
                   AND (?2 IS NULL OR address LIKE ?2 ESCAPE '\\')",
                params![id.as_ref().map(QueueId::as_str), pattern],
            )
            .map_err(QueueError::Read)?;
            Ok(())
        }
        Update::Record { id, attempts } => attempts
            .iter()
            .try_for_each(|attempt| record(conn, id, attempt)),
        Update::Move { id, to } => {
            let write = |source| QueueError::Write {
                queue_id: id.clone(),
                source,
            };
            let n = conn
                .prepare_cached("UPDATE messages SET queue_name = ?1 WHERE queue_id = ?2")
                .and_then(|mut stmt| stmt.execute(params![to.as_str(), id.as_str()]))
                .map_err(write)?;
            if n == 0 {
                return Err(QueueError::UnknownMessage(id.clone()));
            }
            if *to == QueueName::Incoming {
                conn.execute(
                    "UPDATE recipients SET state = 'pending', next_attempt = NULL
                     WHERE queue_id = ?1 AND state = 'deferred'",
                    params![id.as_str()],
                )
                .map_err(write)?;
            }
            Ok(())
        }
        Update::Delete { id } => {
            let n = conn
                .prepare_cached("DELETE FROM messages WHERE queue_id = ?1")
                .and_then(|mut stmt| stmt.execute(params![id.as_str()]))
                .map_err(|source| QueueError::Write {
                    queue_id: id.clone(),
                    source,
                })?;
            if n == 0 {
                return Err(QueueError::UnknownMessage(id.clone()));
            }
            Ok(())
        }
    }
}

fn record(conn: &Connection, id: &QueueId, a: &Attempt) -> Result<(), QueueError> {
    let (state, dsn) = match &a.outcome {
        Outcome::Delivered => (RcptState::Delivered, None),
        Outcome::Deferred(d) => (RcptState::Deferred, Some(d)),
        Outcome::Bounced(d) => (RcptState::Bounced, Some(d)),
    };
    let tls = a.tls.as_ref();
    let n = conn
        .execute(
            "UPDATE recipients SET state = ?1, attempts = attempts + 1, next_attempt = ?2,
                 last_reason = ?3, last_dsn = ?4, tls_level = ?5, tls_protocol = ?6,
                 tls_cipher = ?7, tls_peer_name = ?8, tls_peer_fingerprint = ?9
             WHERE queue_id = ?10 AND rcpt_index = ?11",
            params![
                state.as_str(),
                a.next_attempt,
                dsn.map(|d| &d.reason),
                dsn.map_or(StatusCode::OK, |d| d.status).to_string(),
                tls.map(|t| &t.level),
                tls.and_then(|t| t.protocol.as_ref()),
                tls.and_then(|t| t.cipher.as_ref()),
                tls.and_then(|t| t.peer_name.as_ref()),
                tls.and_then(|t| t.peer_fingerprint.as_ref()),
                id.as_str(),
                a.rcpt_index,
            ],
        )
        .map_err(|source| QueueError::Write {
            queue_id: id.clone(),
            source,
        })?;
    if n == 0 {
        return Err(QueueError::UnknownRecipient {
            queue_id: id.clone(),
            index: a.rcpt_index,
        });
    }
    Ok(())
}
