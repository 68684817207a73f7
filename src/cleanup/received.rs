//! The Received: header smtpd mail gets, in Postfix's exact form and folding.
//!
//! Mirrors Postfix smtpd.c `data_cmd` (the Received header is written by smtpd
//! into the queue file ahead of the message): `from HELO (NAME [ADDR])`, the TLS
//! clause lines when `smtpd_tls_received_header = yes`, `by MYHOSTNAME
//! (MAIL_NAME) with PROTO id QUEUEID`, `for <RCPT>;` with one recipient only, and
//! the date. Reads (through `Settings`) `myhostname`, `mail_name`,
//! `smtpd_tls_received_header`. Implements RFC 5321 section 4.4 and RFC 5322
//! section 3.6.7 (trace fields), RFC 8314 section 4.3 (TLS in Received).

use super::date::mail_date;
use crate::tls::{summary, TlsFacts};

/// What the Received header says.
pub struct Trace<'a> {
    pub helo: Option<&'a str>,
    pub client_name: &'a str,
    /// `1.2.3.4` or `IPv6:...`.
    pub client_rfc_addr: &'a str,
    pub myhostname: &'a str,
    pub mail_name: &'a str,
    pub protocol: &'a str,
    pub queue_id: &'a str,
    /// The recipient, when the message has exactly one.
    pub single_rcpt: Option<&'a str>,
    pub arrival: i64,
    /// TLS facts when `smtpd_tls_received_header = yes` and TLS was used.
    pub tls: Option<&'a TlsFacts>,
    /// `smtpd_tls_ask_ccert` (for "No client certificate requested").
    pub ask_ccert: bool,
}

/// The header, CRLF line ends, continuation lines starting with a TAB.
pub fn received_header(t: &Trace) -> String {
    let mut out = format!(
        "Received: from {} ({} [{}])\r\n",
        t.helo.unwrap_or(t.client_name),
        t.client_name,
        t.client_rfc_addr
    );
    if let Some(facts) = t.tls {
        for line in summary::received_header_lines(facts, t.ask_ccert) {
            out.push_str(&line);
            out.push_str("\r\n");
        }
    }
    let date = mail_date(t.arrival);
    match t.single_rcpt {
        Some(rcpt) => {
            out.push_str(&format!(
                "\tby {} ({}) with {} id {}\r\n\tfor <{rcpt}>; {date}\r\n",
                t.myhostname, t.mail_name, t.protocol, t.queue_id
            ));
        }
        None => {
            out.push_str(&format!(
                "\tby {} ({}) with {} id {};\r\n\t{date}\r\n",
                t.myhostname, t.mail_name, t.protocol, t.queue_id
            ));
        }
    }
    out
}

/// The Received header of a local submission (Postfix cleanup for pickup
/// mail): `Received: by HOST (MAIL_NAME, from userid UID)` then `id QUEUEID;
/// DATE`, without a `from` clause or recipient.
pub fn local_received_header(t: &Trace, uid: u32) -> String {
    format!(
        "Received: by {} ({}, from userid {uid})\r\n\tid {}; {}\r\n",
        t.myhostname,
        t.mail_name,
        t.queue_id,
        mail_date(t.arrival)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_single_recipient() {
        let t = Trace {
            helo: Some("client.example"),
            client_name: "localhost",
            client_rfc_addr: "127.0.0.1",
            myhostname: "mx.example.org",
            mail_name: "Postfix",
            protocol: "ESMTP",
            queue_id: "4ABCDEF",
            single_rcpt: Some("u@example.org"),
            arrival: 0,
            tls: None,
            ask_ccert: false,
        };
        let h = received_header(&t);
        let mut lines = h.split("\r\n");
        assert_eq!(
            lines.next(),
            Some("Received: from client.example (localhost [127.0.0.1])")
        );
        assert_eq!(
            lines.next(),
            Some("\tby mx.example.org (Postfix) with ESMTP id 4ABCDEF")
        );
        assert!(lines.next().unwrap().starts_with("\tfor <u@example.org>; "));
    }

    #[test]
    fn several_recipients_have_no_for_clause() {
        let t = Trace {
            helo: None,
            client_name: "unknown",
            client_rfc_addr: "IPv6:::1",
            myhostname: "mx",
            mail_name: "Postfix",
            protocol: "SMTP",
            queue_id: "Q",
            single_rcpt: None,
            arrival: 0,
            tls: None,
            ask_ccert: false,
        };
        let h = received_header(&t);
        assert!(h.starts_with("Received: from unknown (unknown [IPv6:::1])\r\n\tby mx (Postfix) with SMTP id Q;\r\n\t"));
    }
}
