//! What the queue stores: a new message with its envelope and the TLS facts of the
//! session that brought it, per-recipient state, and the record of a delivery
//! attempt with the TLS it reached.
//!
//! Mirrors Postfix's queue-file records (global/rec_type.h) and the queue names of
//! global/mail_queue.h. Reads no main.cf parameters. No RFC (DSN fields per
//! RFC 3461 come from `mail::dsn`).

use super::ids::QueueId;
use crate::mail::dsn::{Notify, OrigRcpt, Outcome, Ret};
use crate::mail::envelope::Body;

/// Which of Postfix's queues a message is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// Just received, not yet seen by the queue manager.
    Incoming,
    /// Being delivered.
    Active,
    /// Waiting for a retry.
    Deferred,
    /// Parked by the administrator (`postsuper -h`, HOLD action).
    Hold,
}

impl QueueName {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Incoming => "incoming",
            QueueName::Active => "active",
            QueueName::Deferred => "deferred",
            QueueName::Hold => "hold",
        }
    }

    pub fn parse(name: &str) -> Option<QueueName> {
        [
            QueueName::Incoming,
            QueueName::Active,
            QueueName::Deferred,
            QueueName::Hold,
        ]
        .into_iter()
        .find(|q| q.as_str() == name)
    }
}

/// The TLS facts of the receiving session, as logged and written in Received:.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionTls {
    /// e.g. `TLSv1.3`.
    pub protocol: String,
    /// e.g. `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// Secret bits used and supported by the cipher (`256/256 bits`).
    pub bits: u32,
    pub alg_bits: u32,
    /// Client certificate, when one was presented.
    pub ccert_subject: Option<String>,
    pub ccert_issuer: Option<String>,
    /// Fingerprint per `smtpd_tls_fingerprint_digest`, `AB:CD:...`.
    pub ccert_fingerprint: Option<String>,
    /// The certificate chain verified against a trusted CA.
    pub ccert_verified: bool,
}

/// A recipient as first queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecipient {
    /// The address to deliver to, without angle brackets.
    pub address: String,
    /// The address before rewriting (Postfix's original recipient), if different.
    pub orig_rcpt: Option<String>,
    pub notify: Option<Notify>,
    pub orcpt: Option<OrigRcpt>,
}

/// A message to be queued; the writer stores it in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// From `QueueHandle::new_id` (assigned at MAIL FROM, as Postfix logs
    /// `ID: client=...` before DATA).
    pub queue_id: QueueId,
    pub queue: QueueName,
    /// Unix seconds.
    pub arrival: i64,
    /// Without angle brackets; empty for the null sender.
    pub sender: String,
    pub client_name: String,
    pub client_addr: String,
    pub helo: String,
    /// `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPSA`, ... as in the Received header.
    pub protocol: String,
    pub tls: Option<SessionTls>,
    pub envid: Option<String>,
    pub ret: Option<Ret>,
    pub body: Option<Body>,
    pub smtputf8: bool,
    pub recipients: Vec<NewRecipient>,
    /// Headers and body, CRLF line ends, dot-unstuffed.
    pub content: Vec<u8>,
}

impl NewMessage {
    /// A message the mail system writes itself (a delivery status notice),
    /// for one recipient, queued in `incoming` as a local submission.
    pub fn notice(
        queue_id: QueueId,
        arrival: i64,
        sender: String,
        recipient: String,
        content: Vec<u8>,
    ) -> NewMessage {
        NewMessage {
            queue_id,
            queue: QueueName::Incoming,
            arrival,
            sender,
            client_name: String::new(),
            client_addr: String::new(),
            helo: String::new(),
            protocol: "local".into(),
            tls: None,
            envid: None,
            ret: None,
            body: None,
            smtputf8: false,
            recipients: vec![NewRecipient {
                address: recipient,
                orig_rcpt: None,
                notify: None,
                orcpt: None,
            }],
            content,
        }
    }
}

/// Per-recipient delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcptState {
    Pending,
    Deferred,
    Delivered,
    Bounced,
}

impl RcptState {
    pub fn as_str(self) -> &'static str {
        match self {
            RcptState::Pending => "pending",
            RcptState::Deferred => "deferred",
            RcptState::Delivered => "delivered",
            RcptState::Bounced => "bounced",
        }
    }

    pub fn parse(name: &str) -> Option<RcptState> {
        [
            RcptState::Pending,
            RcptState::Deferred,
            RcptState::Delivered,
            RcptState::Bounced,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

pub use crate::mail::delivery::DeliveryTls;

/// The result of one delivery attempt for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Index of the recipient within its message (see `StoredRecipient::index`).
    pub rcpt_index: u32,
    pub outcome: Outcome,
    /// When to try again (Unix seconds), for a deferral.
    pub next_attempt: Option<i64>,
    pub tls: Option<DeliveryTls>,
}
