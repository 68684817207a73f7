//! DATA: the 354, the message up to `<CR><LF>.<CR><LF>` (smuggling-safe, size
//! and hop limits, minimum data rate), then cleanup and `250 2.0.0 Ok: queued
//! as ID` only with a durable queue receipt.
//!
//! Mirrors Postfix smtpd.c `data_cmd` and `receive_data` ("554 5.5.1 Error: no
//! valid recipients", "503 5.5.1 Error: need RCPT command", "451 4.3.0 Error:
//! queue file write error", "timeout after DATA (N bytes)"). Reads
//! `message_size_limit`, `hopcount_limit`, `smtpd_forbid_bare_newline`(+ code),
//! `smtpd_min_data_rate`, `smtpd_per_request_deadline`,
//! `local_header_rewrite_clients`. Implements RFC 5321 sections 4.1.1.4,
//! 4.5.2, 4.5.3.1.10, 6.1 (a 250 means the message is safely stored), RFC 1870
//! section 6.3.

use super::data::{self, DataError, DataLimits};
use super::reply::{self, Reply};
use super::restrictions::{Checkpoint, Verdict};
use super::session::{Flow, Session};
use crate::cleanup::{self, virtual_alias, Submission};
use std::net::{IpAddr, UdpSocket};

pub(super) fn data(s: &mut Session) -> Flow {
    let Some(tx) = s.tx.as_ref() else {
        s.send(&reply::NEED_RCPT);
        return Flow::Continue;
    };
    if tx.bdat.is_some() {
        s.send(&reply::DATA_AFTER_BDAT);
        return Flow::Continue;
    }
    if tx.rcpts.is_empty() {
        s.send(&reply::NO_VALID_RECIPIENTS);
        return Flow::Continue;
    }
    s.check_pipelining();
    let d = s.check(Checkpoint::Data, None);
    if let Verdict::Reject(r) | Verdict::Defer(r) = d.verdict {
        s.log_reject("DATA", &r, None);
        s.send(&r);
        return Flow::Continue;
    }
    if !s.send(&reply::START_DATA) {
        return Flow::Close;
    }
    let st = &s.svc.settings;
    s.reader
        .get_mut()
        .start_request(st.per_request_deadline, st.min_data_rate);
    let limits = limits(s);
    let mut content = Vec::new();
    match data::read_data(&mut s.reader, &mut content, &limits) {
        Ok(_) => finish(s, content),
        Err(e) => refuse(s, e, content.len() as u64),
    }
}

/// The limits of one message.
pub(super) fn limits(s: &Session) -> DataLimits {
    let st = &s.svc.settings;
    DataLimits {
        message_size_limit: st.message_size_limit,
        hopcount_limit: st.hopcount_limit,
        bare_newline: s.bare_newline(),
    }
}

/// A message that cannot be taken: nothing is stored. A lost client ends the
/// session; a bare newline too (Postfix 3.9 `reject` disconnects).
pub(super) fn refuse(s: &mut Session, e: DataError, bytes: u64) -> Flow {
    let code = s.svc.settings.bare_newline_code;
    let flow = match &e {
        DataError::Disconnected | DataError::Read(_) => {
            s.lost_connection(Some(bytes));
            Flow::Close
        }
        DataError::BareLf | DataError::BareCr => {
            if let Some(r) = e.reply(code) {
                s.log_reject(&e.to_string(), &r, None);
                s.send(&r);
            }
            Flow::Close
        }
        _ => {
            if let Some(r) = e.reply(code) {
                if matches!(e, DataError::TooManyHops { .. }) {
                    s.log_reject("END-OF-MESSAGE", &r, None);
                }
                s.send(&r);
            }
            Flow::Continue
        }
    };
    s.reset();
    flow
}

/// Hands a complete message to cleanup and replies with the queue receipt.
pub(super) fn finish(s: &mut Session, content: Vec<u8>) -> Flow {
    let d = s.check(Checkpoint::EndOfData, None);
    match d.verdict {
        Verdict::Reject(r) | Verdict::Defer(r) => {
            s.log_reject("END-OF-MESSAGE", &r, None);
            s.send(&r);
            s.reset();
            return Flow::Continue;
        }
        Verdict::Hold(text) => super::mail::set_action(s, true, text),
        Verdict::Discard(text) => super::mail::set_action(s, false, text),
        Verdict::Continue => {}
    }
    let protocol = s.protocol();
    let Some(tx) = s.tx.take() else {
        s.send(&reply::NEED_MAIL);
        return Flow::Continue;
    };
    let queue_id = tx.queue_id.clone().unwrap_or_else(|| s.svc.queue.new_id());
    if tx.discard.is_some() {
        // Postfix hides a DISCARD from the client: it sees the usual 250.
        s.send(&Reply::discarded(&queue_id));
        return Flow::Continue;
    }
    let st = &s.svc.settings;
    let settings = cleanup::Settings {
        myhostname: st.myhostname.clone(),
        mail_name: st.mail_name.clone(),
        header_size_limit: st.header_size_limit,
        always_add_missing_headers: st.always_add_missing_headers,
        alias_limits: virtual_alias::Limits {
            recursion: st.virtual_alias_recursion_limit,
            expansion: st.virtual_alias_expansion_limit,
        },
        alias_extensions: st.virtual_alias_extensions.clone(),
    };
    let addr = s.client.addr.to_string();
    let rfc_addr = s.client.rfc_addr();
    let sub = Submission {
        queue_id,
        sender: &tx.sender,
        params: &tx.params,
        recipients: &tx.rcpts,
        client_name: &s.client.name,
        client_addr: &addr,
        client_rfc_addr: &rfc_addr,
        helo: s.helo.as_deref(),
        protocol: &protocol,
        tls: s.tls.as_ref(),
        tls_received_header: st.tls_received_header,
        ask_ccert: s
            .svc
            .tls
            .as_ref()
            .is_some_and(|t| t.asks_client_certificate()),
        local_client: is_local_client(s),
        hold: tx.hold.is_some(),
        arrival: now(),
        content,
    };
    let r = match cleanup::cleanup(&settings, s.aliases.as_ref(), &s.svc.queue, sub) {
        Ok(receipt) => Reply::queued(&receipt),
        Err(cleanup::CleanupError::Queue(e)) => {
            ::log::warn!("{}: queue file write error: {e}", s.client.namaddr);
            reply::QUEUE_WRITE_ERROR
        }
        Err(e @ cleanup::CleanupError::Alias(_)) => {
            ::log::warn!("{e}");
            reply::QUEUE_WRITE_ERROR
        }
    };
    s.send(&r);
    Flow::Continue
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `local_header_rewrite_clients`: whether headers are completed for this
/// client as for a local submission (Postfix cleanup's "local" origin).
fn is_local_client(s: &Session) -> bool {
    let addr = s.client.addr;
    s.svc
        .settings
        .local_header_rewrite_clients
        .iter()
        .any(|w| match w.as_str() {
            "permit_mynetworks" => s.svc.restrictions.in_mynetworks(addr),
            "permit_inet_interfaces" => is_interface_address(addr),
            "static:all" => true,
            _ => false,
        })
}

/// Whether `addr` belongs to this host: binding a socket to it succeeds only
/// for a local interface address.
fn is_interface_address(addr: IpAddr) -> bool {
    addr.is_loopback() || UdpSocket::bind((addr, 0)).is_ok()
}
