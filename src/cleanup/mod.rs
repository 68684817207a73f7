//! cleanup for smtpd mail, in the receiving thread: the Received header (with
//! the TLS clause), Message-ID and Date for local submissions,
//! `header_size_limit`, virtual_alias_maps rewriting with duplicate
//! elimination, and one durable queue insert.
//!
//! Mirrors Postfix cleanup(8) (cleanup_envelope.c, cleanup_message.c,
//! cleanup_map1n.c, cleanup_out_recipient.c duplicate elimination) and the
//! Received header of smtpd.c; logs `ID: message-id=<...>` as cleanup (qmgr
//! logs `from=<...> (queue active)` when it takes the message). Reads (passed in by
//! smtpd in `Settings`) `myhostname`, `mail_name`, `header_size_limit`,
//! `always_add_missing_headers`, `virtual_alias_recursion_limit`,
//! `virtual_alias_expansion_limit`. Implements RFC 5321 sections 4.1.1.4 (a
//! message is acknowledged only once stored) and 4.4 (trace), RFC 5322 3.6.

pub mod date;
pub mod headers;
pub mod received;
pub mod virtual_alias;

use crate::mail::address::Path;
use crate::mail::envelope::{MailParams, Recipient};
use crate::maps::MapList;
use crate::queue::{
    Durable, NewMessage, NewRecipient, QueueError, QueueHandle, QueueId, QueueName, SessionTls,
};
use crate::tls::TlsFacts;
use thiserror::Error;

/// cleanup's parameters.
#[derive(Debug, Clone)]
pub struct Settings {
    pub myhostname: String,
    pub mail_name: String,
    pub header_size_limit: usize,
    pub always_add_missing_headers: bool,
    pub alias_limits: virtual_alias::Limits,
    pub alias_extensions: virtual_alias::Extensions,
}

/// One message as smtpd hands it over.
pub struct Submission<'a> {
    pub queue_id: QueueId,
    pub sender: &'a Path,
    pub params: &'a MailParams,
    pub recipients: &'a [Recipient],
    pub client_name: &'a str,
    pub client_addr: &'a str,
    /// `1.2.3.4` or `IPv6:...`, for Received.
    pub client_rfc_addr: &'a str,
    pub helo: Option<&'a str>,
    pub protocol: &'a str,
    pub tls: Option<&'a TlsFacts>,
    /// Write the TLS clause into Received (`smtpd_tls_received_header`).
    pub tls_received_header: bool,
    pub ask_ccert: bool,
    /// The client is local per `local_header_rewrite_clients`.
    pub local_client: bool,
    /// HOLD verdict: store in the hold queue.
    pub hold: bool,
    pub arrival: i64,
    /// Dot-unstuffed content, CRLF line ends.
    pub content: Vec<u8>,
}

/// Why a message was not stored; `temporary()` tells 4xx from 5xx.
#[derive(Debug, Error)]
pub enum CleanupError {
    #[error("queue file write error: {0}")]
    Queue(#[from] QueueError),
    #[error("{0}")]
    Alias(#[from] virtual_alias::AliasError),
}

/// A local submission from pickup: who submitted it and the maildrop file it
/// came from (queued exactly once under that origin).
pub struct Local<'a> {
    pub uid: u32,
    /// `maildrop:NAME`, see `QueueHandle::insert_once`.
    pub origin: &'a str,
}

/// Runs cleanup and stores the message; returns the durable receipt.
pub fn cleanup(
    settings: &Settings,
    aliases: Option<&MapList>,
    queue: &QueueHandle,
    sub: Submission,
) -> Result<Durable, CleanupError> {
    store(settings, aliases, queue, sub, None)
}

/// cleanup for pickup: `Received: by HOST (MAIL_NAME, from userid N)` as
/// Postfix writes for local mail, and an insert that refuses a maildrop file
/// queued before (`QueueError::AlreadyQueued`).
pub fn cleanup_local(
    settings: &Settings,
    aliases: Option<&MapList>,
    queue: &QueueHandle,
    sub: Submission,
    local: &Local,
) -> Result<Durable, CleanupError> {
    store(settings, aliases, queue, sub, Some(local))
}

fn store(
    settings: &Settings,
    aliases: Option<&MapList>,
    queue: &QueueHandle,
    sub: Submission,
    local: Option<&Local>,
) -> Result<Durable, CleanupError> {
    let recipients = rewrite_recipients(aliases, sub.recipients, settings)?;
    let id = sub.queue_id.to_string();
    let single = (sub.recipients.len() == 1)
        .then(|| sub.recipients.first().map(|r| r.address.to_string()))
        .flatten();
    let trace = received::Trace {
        helo: sub.helo,
        client_name: sub.client_name,
        client_rfc_addr: sub.client_rfc_addr,
        myhostname: &settings.myhostname,
        mail_name: &settings.mail_name,
        protocol: sub.protocol,
        queue_id: &id,
        single_rcpt: single.as_deref(),
        arrival: sub.arrival,
        tls: sub.tls.filter(|_| sub.tls_received_header),
        ask_ccert: sub.ask_ccert,
    };
    let (body, facts) = headers::scan(&sub.content, settings.header_size_limit);
    let mut added = String::new();
    let mut message_id = facts.message_id.clone();
    if sub.local_client || settings.always_add_missing_headers {
        if !facts.has_message_id {
            let mid = format!(
                "<{}.{id}@{}>",
                date::utc_stamp(sub.arrival),
                settings.myhostname
            );
            added.push_str(&format!("Message-Id: {mid}\r\n"));
            message_id = Some(mid);
        }
        if !facts.has_date {
            added.push_str(&format!("Date: {}\r\n", date::mail_date(sub.arrival)));
        }
    }
    let body = if added.is_empty() {
        body
    } else {
        headers::append_headers(&body, &added)
    };
    let mut content = match local {
        Some(l) => received::local_received_header(&trace, l.uid),
        None => received::received_header(&trace),
    }
    .into_bytes();
    content.extend_from_slice(&body);
    log_as(
        "cleanup",
        &format!(
            "{id}: message-id={}",
            message_id.unwrap_or_else(|| "<>".into())
        ),
    );
    let message = NewMessage {
        queue_id: sub.queue_id.clone(),
        queue: if sub.hold {
            QueueName::Hold
        } else {
            QueueName::Incoming
        },
        arrival: sub.arrival,
        sender: sub.sender.to_string(),
        client_name: sub.client_name.to_string(),
        client_addr: sub.client_addr.to_string(),
        helo: sub.helo.unwrap_or_default().to_string(),
        protocol: sub.protocol.to_string(),
        tls: sub.tls.map(session_tls),
        envid: sub.params.envid.clone(),
        ret: sub.params.ret,
        body: sub.params.body,
        smtputf8: sub.params.smtputf8,
        recipients,
        content,
    };
    // The `from=<...>, size=N, nrcpt=N (queue active)` line is qmgr's, logged
    // each time it takes the message in (src/qmgr), as Postfix does.
    Ok(match local {
        Some(l) => queue.insert_once(message, l.origin)?,
        None => queue.insert(message)?,
    })
}

/// virtual_alias_maps and duplicate elimination (Postfix cleanup_out_recipient:
/// same address and same original recipient is written once).
fn rewrite_recipients(
    aliases: Option<&MapList>,
    rcpts: &[Recipient],
    settings: &Settings,
) -> Result<Vec<NewRecipient>, virtual_alias::AliasError> {
    let mut out: Vec<NewRecipient> = Vec::new();
    for r in rcpts {
        let orig = r.address.to_string();
        let targets = match aliases {
            Some(maps) => virtual_alias::expand(
                maps,
                &orig,
                settings.alias_limits,
                &settings.alias_extensions,
            )?,
            None => vec![orig.clone()],
        };
        for t in targets {
            let dup = out.iter().any(|o| {
                o.address.eq_ignore_ascii_case(&t)
                    && o.orig_rcpt.as_deref().unwrap_or(&o.address) == orig
            });
            if dup {
                continue;
            }
            out.push(NewRecipient {
                orig_rcpt: (t != orig).then(|| orig.clone()),
                address: t,
                notify: r.notify,
                orcpt: r.orcpt.clone(),
            });
        }
    }
    Ok(out)
}

fn session_tls(f: &TlsFacts) -> SessionTls {
    SessionTls {
        protocol: f.protocol.clone(),
        cipher: f.cipher.clone(),
        bits: u32::try_from(f.cipher_usebits).unwrap_or(0),
        alg_bits: u32::try_from(f.cipher_algbits).unwrap_or(0),
        ccert_subject: f.peer_cert_present.then(|| f.peer_cn.clone()),
        ccert_issuer: f.peer_cert_present.then(|| f.issuer_cn.clone()),
        ccert_fingerprint: f.peer_cert_present.then(|| f.peer_cert_fingerprint.clone()),
        ccert_verified: f.peer_cert_present && f.trusted,
    }
}

/// Logs one line under another daemon's name (`postfix/cleanup[pid]`), as the
/// separate Postfix process would, then returns to the caller's name.
fn log_as(service: &str, line: &str) {
    let previous = crate::log::current_service();
    crate::log::set_service(service);
    ::log::info!("{line}");
    crate::log::set_service(previous.as_deref().unwrap_or("smtpd"));
}

#[cfg(test)]
mod tests;
