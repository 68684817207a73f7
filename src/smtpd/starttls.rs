//! STARTTLS and wrapper mode: `220 2.0.0 Ready to start TLS`, every plaintext
//! byte the client sent after the command thrown away unread, the handshake,
//! the TLS log lines, and a fresh session (EHLO again, no STARTTLS offered).
//!
//! Mirrors Postfix smtpd.c `starttls_cmd` and `smtpd_start_tls` (the
//! CVE-2011-0411 fix: the input buffer is purged before the handshake;
//! "SSL_accept error from host[addr]"; `smtpd_tls_req_ccert`'s "421 4.7.1 ...
//! Error: Client certificate not trusted") and tls_server.c's log lines.
//! Reads `smtpd_starttls_timeout`, `smtpd_tls_loglevel`, `smtpd_tls_req_ccert`,
//! `smtpd_tls_wrappermode`. Implements RFC 3207 sections 4 and 4.2 (discard all
//! knowledge from before TLS), RFC 8314 section 3.3 (implicit TLS).

use super::conn::Stream;
use super::reply::{self, Reply};
use super::session::{Flow, Session};
use crate::mail::dsn::StatusCode;
use crate::tls::{stream, summary, Usage};
use std::io::BufRead;

pub(super) fn starttls(s: &mut Session) -> Flow {
    if s.tls.is_some() {
        s.send(&reply::TLS_ALREADY_ACTIVE);
        return Flow::Continue;
    }
    if s.svc.tls.is_none() || s.svc.settings.wrappermode {
        let r = Reply::new(
            502,
            Some(StatusCode::new(5, 5, 1)),
            "Error: command not implemented",
        );
        s.send(&r);
        return Flow::Continue;
    }
    if s.tx.is_some() {
        s.send(&reply::TRANSACTION_IN_PROGRESS);
        return Flow::Continue;
    }
    // Anything already sent is plaintext injection (CVE-2011-0411): logged here,
    // discarded in `handshake`, never executed.
    s.check_pipelining();
    if !s.send(&reply::READY_FOR_TLS) {
        return Flow::Close;
    }
    if handshake(s) {
        Flow::Continue
    } else {
        Flow::Close
    }
}

/// Runs the server handshake on the plaintext socket; on success the session
/// starts over under TLS. False when the connection is over.
pub(super) fn handshake(s: &mut Session) -> bool {
    let Some(ctx) = s.svc.tls.clone() else {
        return false;
    };
    // RFC 3207 section 4.2 / DEPENDENCIES fact 6: drop buffered plaintext.
    let buffered = s.reader.buffer().len();
    s.reader.consume(buffered);
    let Some(tcp) = s.reader.get_mut().take_plain() else {
        return false;
    };
    let st = &s.svc.settings;
    let namaddr = s.client.namaddr.clone();
    match stream::accept(&ctx, tcp, &namaddr, st.starttls_timeout) {
        Ok((ssl, facts)) => {
            let _ = ssl.get_ref().set_write_timeout(Some(st.timeout));
            s.reader.get_mut().stream = Stream::Tls(Box::new(ssl));
            let usage = if facts.resumed {
                Usage::Reused
            } else {
                Usage::New
            };
            // Postern logs the summary at every smtpd_tls_loglevel (Postfix: 1
            // and up), so TLS use is always visible.
            ::log::info!("{}", summary::log_summary(&facts, usage, &namaddr));
            if st.tls_loglevel >= 2 {
                if let Some(line) = summary::peer_certificate_line(&facts, &namaddr) {
                    ::log::info!("{line}");
                }
            }
            let trusted = facts.trusted;
            let present = facts.peer_cert_present;
            s.tls = Some(facts);
            s.helo = None;
            s.esmtp = false;
            s.reset();
            if ctx.requires_client_certificate() && !trusted {
                let why = if present {
                    "Client certificate not trusted"
                } else {
                    "No client certificate presented"
                };
                ::log::info!("NOQUEUE: abort: TLS from {namaddr}: {why}");
                let r = Reply::new(
                    421,
                    Some(StatusCode::new(4, 7, 1)),
                    format!("{} Error: {why}", st.myhostname),
                );
                s.send(&r);
                return false;
            }
            true
        }
        Err(e) => {
            ::log::warn!("TLS library problem: {e}");
            ::log::info!("SSL_accept error from {namaddr}: -1");
            ::log::info!("lost connection after {} from {namaddr}", s.stage);
            false
        }
    }
}
