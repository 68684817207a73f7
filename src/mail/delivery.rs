//! What the queue manager hands a delivery agent, and what comes back.
//!
//! Mirrors Postfix's deliver_request(3) / deliver_completed protocol between qmgr
//! and its delivery agents (global/deliver_request.c), as plain values sent over
//! crossbeam channels instead of a socket. Reads no main.cf parameters.

use std::sync::Arc;

use super::dsn::{Notify, OrigRcpt, Outcome, Ret};

/// One delivery request: one message, one transport and nexthop, and the
/// recipients of that message that go there.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    /// The message's queue ID (as text, to keep this layer below the queue).
    pub queue_id: String,
    /// The transport (master.cf service) name: `local`, `virtual`, `smtp`, `relay`,
    /// `discard`, `error`, ...
    pub transport: String,
    /// The nexthop from transport_maps/relayhost/the recipient domain; for
    /// `error:`/`discard:` the optional text.
    pub nexthop: String,
    /// The envelope sender; empty for the null sender (bounces).
    pub sender: String,
    /// Arrival time, Unix seconds (for `delay=` and Delivered-To loops).
    pub arrival: i64,
    /// When qmgr took the message into the active queue, Unix seconds with
    /// fraction (for Postfix's `delays=a/b/c/d`).
    pub active_since: f64,
    /// DSN envelope ID and RET (RFC 3461), when the client gave them.
    pub envid: Option<String>,
    pub ret: Option<Ret>,
    /// How the message arrived, for mailbox_command's environment and Received.
    pub client: ClientInfo,
    pub recipients: Vec<JobRecipient>,
    /// The message as queued: headers and body, CRLF or LF as stored.
    pub content: Arc<Vec<u8>>,
}

/// The client that submitted the message (empty strings for local submissions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub name: String,
    pub addr: String,
    pub helo: String,
    pub protocol: String,
}

/// One recipient in a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecipient {
    /// The recipient's index within its message (the queue's key).
    pub index: u32,
    /// The address to deliver to (after virtual alias rewriting).
    pub address: String,
    /// The address as the client gave it (Postfix's `orig_to=`), if different.
    pub orig_rcpt: Option<String>,
    pub notify: Option<Notify>,
    pub orcpt: Option<OrigRcpt>,
    /// An earlier attempt may already have delivered this recipient: it was
    /// tried before, or its message was in the active queue when the queue
    /// manager started (a delivery interrupted by a crash). Agents that can
    /// tell a made delivery look harder for one (maildir.rs).
    pub retry: bool,
}

/// The outcome of one job, one entry per recipient of the job.
#[derive(Debug, Clone)]
pub struct DeliveryResult {
    pub queue_id: String,
    pub transport: String,
    pub recipients: Vec<RecipientResult>,
}

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    pub index: u32,
    pub outcome: Outcome,
    /// Postfix's `relay=` value: `local`, `virtual`, `none`, `host[addr]:port`.
    pub relay: String,
    /// The text in `status=sent (...)` for a delivery (`delivered to maildir`,
    /// `250 2.0.0 Ok: queued as X`); for a failure the Dsn reason is used.
    pub detail: String,
    /// New recipients this delivery produced (alias or .forward expansion that
    /// must be delivered as a new message, as Postfix's local resubmits them).
    pub forwarded: Vec<Forwarded>,
    /// The TLS this attempt reached (smtp client only; `None` for local agents
    /// and for attempts that never connected).
    pub tls: Option<DeliveryTls>,
    /// The final deliveries of a delivered recipient that an alias or
    /// `.forward` expanded (local(8)), each logged as its own line
    /// `to=<part>, orig_to=<recipient>`; empty: one line for the recipient.
    pub parts: Vec<DeliveredPart>,
    /// What a success notice (NOTIFY=SUCCESS) says of a delivered recipient.
    pub success: SuccessNotice,
}

/// The success notice a delivered recipient earns (RFC 3461 section 4.1, RFC
/// 3464 section 2.3.3 Action), as Postfix decides it: `delivered` for a final
/// delivery; `relayed` when the mail went to a server without the DSN
/// extension; none when that server announced DSN and was given NOTIFY, so
/// that the notice is its duty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SuccessNotice {
    #[default]
    Delivered,
    Relayed,
    PassedOn,
}

/// An address an alias or `.forward` sent the message on to, with the
/// envelope and header of the new copy (Postfix local/forward.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub address: String,
    /// Envelope sender of the copy: the original one, or an `owner-` alias.
    pub sender: String,
    /// The `Delivered-To:` header the copy gets (the top-level recipient),
    /// `None` when `prepend_delivered_header` lacks `forward`.
    pub delivered_to: Option<String>,
}

impl Forwarded {
    /// A plain forward: the same sender, no Delivered-To header.
    pub fn plain(address: &str, sender: &str) -> Forwarded {
        Forwarded {
            address: address.to_string(),
            sender: sender.to_string(),
            delivered_to: None,
        }
    }
}

/// One final delivery made for a recipient: the address delivered at that
/// level (`user@$myorigin` for a local name) and its status text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredPart {
    pub address: String,
    /// `delivered to maildir`, `delivered to command: ...`, `forwarded as ID`.
    pub detail: String,
}

/// The TLS a delivery attempt reached, recorded per recipient in the queue
/// with its outcome (so that `postqueue -j` and DSNs can show it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryTls {
    /// The security level reached (`none`, `may`, `encrypt`, `verify`, ...).
    pub level: String,
    pub protocol: Option<String>,
    pub cipher: Option<String>,
    pub peer_name: Option<String>,
    pub peer_fingerprint: Option<String>,
    /// The `tls=POLICY:REACHED` field of the delivery log line (`may:anonymous`,
    /// `secure:verified`, `encrypt:none` ...); empty when not logged
    /// (`smtp_log_tls_feature_status = no`). Not stored in the queue.
    pub feature: String,
}
