//! Writes one notice: the message headers, the human-readable part, the
//! message/delivery-status part and the returned message or its headers.
//!
//! Mirrors Postfix's bounce_notify_util.c (`bounce_header`, `bounce_boilerplate`,
//! `bounce_recipient_log`, `bounce_header_dsn`, `bounce_diagnostic_dsn`,
//! `bounce_original`) and util/line_wrap.c; plus the Date and Message-Id that
//! Postfix's cleanup adds to the notice. Parameters read: `myhostname`,
//! `myorigin`, `bounce_size_limit`, `maximal_queue_lifetime`,
//! `enable_threaded_bounces` (and the template ones, see `template`). Implements
//! RFC 6522 section 3 (multipart/report), RFC 3464 sections 2.2 (per-message
//! fields), 2.3 (per-recipient fields) and 3 (what to return), RFC 6533
//! section 3 (message/global-delivery-status for SMTPUTF8 mail), RFC 3834
//! section 5 (Auto-Submitted).

use super::{names, template, BounceError, DsnKind, DsnRecipient};
use crate::cleanup::date::{mail_date, utc_stamp};
use crate::config::Config;
use crate::mail::dsn::Ret;
use crate::mail::envelope::Body;
use crate::queue::StoredMessage;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which copy is being written (bounce_notify_service.c's three cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copy {
    /// To the original sender: boilerplate text, RET as asked.
    Sender,
    /// A null-sender message failed: to the postmaster, no boilerplate, the whole
    /// message (failures) or headers (delays).
    DoubleBounce,
    /// `notify_classes` copy of a sender's notice: no boilerplate, headers only.
    Postmaster,
}

/// Everything one notice is made from.
pub struct Request<'a> {
    pub kind: DsnKind,
    pub msg: &'a StoredMessage,
    pub recipients: &'a [DsnRecipient],
    pub cfg: &'a Config,
    /// The notice's recipient, for its To: header.
    pub to: &'a str,
    pub copy: Copy,
    /// Unix time of writing (Date:, boundary, Message-Id).
    pub now: i64,
}

/// Postfix wraps report lines at 79 columns with a 4-space continuation indent
/// (bounce_notify_util.c `LENGTH`/`INDENT`).
const WRAP: usize = 79;
const INDENT: usize = 4;

/// Makes Message-Ids unique among notices written in the same second for the
/// same message (Postfix uses the notice's own new queue ID there).
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// The notice's content, CRLF line ends.
pub fn compose(r: &Request<'_>) -> Result<Vec<u8>, BounceError> {
    if r.recipients.is_empty() {
        return Err(BounceError::NoRecipients);
    }
    let cfg = r.cfg;
    let tmpl = template::load(r.kind, cfg)?;
    let charset = template::charset(&tmpl, cfg)?;
    let hostname = cfg.get(names::MYHOSTNAME);
    let origin = cfg.get(names::MYORIGIN);
    let qid = r.msg.entry.queue_id.as_str();
    let boundary = format!("{qid}.{}/{hostname}", r.now);
    let encoding = encoding(r.msg, &charset);
    let utf8 = r.msg.smtputf8;
    let postmaster = r.copy != Copy::Sender;
    let mut o = Out::default();

    // bounce_header(): template headers, threading, Auto-Submitted, MIME. Date
    // and Message-Id are what cleanup adds, in the places it puts them.
    o.line(&format!("Date: {}", mail_date(r.now)));
    o.line(&format!("From: {}", qualify_from(&tmpl.from, &origin)));
    let subject = match (&tmpl.postmaster_subject, postmaster) {
        (Some(s), true) => s,
        _ => &tmpl.subject,
    };
    o.line(&format!("Subject: {subject}"));
    o.line(&format!("To: {}", r.to));
    if cfg.get_bool(names::ENABLE_THREADED_BOUNCES)? {
        if let Some(id) = header_value(&r.msg.content, "message-id") {
            o.line(&format!("References: {id}"));
            o.line(&format!("In-Reply-To: {id}"));
        }
    }
    let auto = if postmaster {
        "auto-generated"
    } else {
        "auto-replied"
    };
    o.line(&format!("Auto-Submitted: {auto}"));
    o.line("MIME-Version: 1.0");
    o.line("Content-Type: multipart/report; report-type=delivery-status;");
    o.line(&format!("\tboundary=\"{boundary}\""));
    o.encoding(encoding);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    o.line(&format!(
        "Message-Id: <{}.{qid}.{seq}@{hostname}>",
        utc_stamp(r.now)
    ));
    o.line("");
    o.line("This is a MIME-encapsulated message.");

    // Part 1: the text for people; the postmaster gets no boilerplate.
    o.line("");
    o.line(&format!("--{boundary}"));
    o.line("Content-Description: Notification");
    o.line(&format!("Content-Type: text/plain; charset={charset}"));
    o.encoding(encoding);
    o.line("");
    if !postmaster {
        for l in template::expand(&tmpl.text, cfg)?.lines() {
            o.line(l);
        }
    }
    for rcpt in r.recipients {
        o.line("");
        let (_, reason) = split_diagnostic(&rcpt.diagnostic);
        let who = match &rcpt.orig_rcpt {
            Some(orig) if !orig.eq_ignore_ascii_case(&rcpt.address) => {
                format!("<{}> (expanded from <{orig}>)", rcpt.address)
            }
            _ => format!("<{}>", rcpt.address),
        };
        o.wrapped(&format!("{who}: {reason}"));
    }

    // Part 2: RFC 3464 fields, per message then per recipient.
    o.line("");
    o.line(&format!("--{boundary}"));
    o.line("Content-Description: Delivery report");
    o.line(if utf8 {
        "Content-Type: message/global-delivery-status"
    } else {
        "Content-Type: message/delivery-status"
    });
    o.line("");
    o.line(&format!("Reporting-MTA: dns; {hostname}"));
    if let Some(envid) = r.msg.envid.as_deref().filter(|e| !e.is_empty()) {
        o.line(&format!("Original-Envelope-Id: {envid}"));
    }
    o.line(&format!("X-Postfix-Queue-ID: {qid}"));
    let sender = shown_sender(&r.msg.entry.sender, &origin);
    o.line(&format!("X-Postfix-Sender: rfc822; {sender}"));
    o.line(&format!("Arrival-Date: {}", mail_date(r.msg.entry.arrival)));
    let lifetime = cfg.get_time(names::MAXIMAL_QUEUE_LIFETIME)?.as_secs();
    for rcpt in r.recipients {
        o.line("");
        recipient_fields(&mut o, rcpt, r.msg.entry.arrival, lifetime);
    }

    // Part 3: the message, or its headers (RFC 3464 section 3, bounce_original).
    let full = returns_full(r, cfg)?;
    let what = match (r.kind, full) {
        (DsnKind::Success, true) => "Message",
        (DsnKind::Success, false) => "Message Headers",
        (_, true) => "Undelivered Message",
        (_, false) => "Undelivered Message Headers",
    };
    let ctype = match (utf8, full) {
        (false, true) => "message/rfc822",
        (false, false) => "text/rfc822-headers",
        (true, true) => "message/global",
        (true, false) => "text/global-headers",
    };
    o.line("");
    o.line(&format!("--{boundary}"));
    o.line(&format!("Content-Description: {what}"));
    o.line(&format!("Content-Type: {ctype}"));
    o.encoding(encoding);
    o.line("");
    // Cleanup removed any Return-Path:; bounce_original() puts one back.
    o.line(&format!("Return-Path: <{sender}>"));
    o.raw(original(&r.msg.content, full, size_limit(cfg)?));
    o.line("");
    o.line(&format!("--{boundary}--"));
    Ok(o.bytes)
}

/// The per-recipient group, in bounce_diagnostic_dsn()'s order.
fn recipient_fields(o: &mut Out, rcpt: &DsnRecipient, arrival: i64, lifetime: u64) {
    o.line(&format!("Final-Recipient: rfc822; {}", rcpt.address));
    // Postfix prints ORCPT decoded, with no space after ';', and falls back to
    // the pre-rewrite address; Postern leaves `orig_rcpt` unset when unchanged.
    match (&rcpt.orcpt, &rcpt.orig_rcpt) {
        (Some(orcpt), _) => o.line(&format!(
            "Original-Recipient: {};{}",
            orcpt.addr_type, orcpt.address
        )),
        (None, orig) => o.line(&format!(
            "Original-Recipient: rfc822;{}",
            orig.as_deref().unwrap_or(&rcpt.address)
        )),
    }
    o.line(&format!("Action: {}", rcpt.action));
    o.line(&format!("Status: {}", rcpt.status));
    if let Some(mta) = rcpt.remote_mta.as_deref().filter(|m| !m.is_empty()) {
        if mta.contains(';') {
            o.line(&format!("Remote-MTA: {mta}"));
        } else {
            o.line(&format!("Remote-MTA: dns; {mta}"));
        }
    }
    let (dtype, text) = split_diagnostic(&rcpt.diagnostic);
    o.wrapped(&format!("Diagnostic-Code: {dtype}; {text}"));
    if rcpt.action == "delayed" {
        let until = arrival.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
        o.line(&format!("Will-Retry-Until: {}", mail_date(until)));
    }
}

/// `smtp; 550 ...` -> ("smtp", "550 ..."); text without a type is Postfix's own
/// ("X-Postfix", text), as bounce_diagnostic_dsn() prints a reason without dtype.
fn split_diagnostic(diagnostic: &str) -> (&str, &str) {
    match diagnostic.split_once(';') {
        Some((t, text))
            if !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            (t, text.trim_start())
        }
        _ => ("X-Postfix", diagnostic.trim()),
    }
}

/// Whether the whole message goes back. Failures honour RET (default FULL);
/// delays, success reports and postmaster copies send headers; a double bounce
/// sends the whole message (bounce_notify_service.c). Since Postfix 2.5 a
/// message over `bounce_size_limit` is returned as headers only (postconf(5));
/// Postfix 3.7 returned a message of size=1998 (its qmgr log) whole and one of
/// 2003 as headers with the limit at 2000. Its size is within a byte of our
/// CRLF content length (one byte per line over the LF text), so that is used.
fn returns_full(r: &Request<'_>, cfg: &Config) -> Result<bool, BounceError> {
    let asked = match (r.kind, r.copy) {
        (DsnKind::Failure, Copy::Sender) => r.msg.ret.unwrap_or(Ret::Full) == Ret::Full,
        (DsnKind::Failure, Copy::DoubleBounce) => true,
        _ => false,
    };
    let limit = size_limit(cfg)?;
    Ok(asked && (limit == 0 || r.msg.content.len() <= limit))
}

fn size_limit(cfg: &Config) -> Result<usize, BounceError> {
    Ok(usize::try_from(cfg.get_long(names::BOUNCE_SIZE_LIMIT)?.max(0)).unwrap_or(usize::MAX))
}

/// The message (`full`) or its header section, never more than `limit` bytes
/// when headers are cut (whole lines only), ending in CRLF.
fn original(content: &[u8], full: bool, limit: usize) -> Vec<u8> {
    let mut out = if full {
        content.to_vec()
    } else {
        let end = header_end(content);
        let mut head = &content[..end];
        if limit > 0 && head.len() > limit {
            let cut = head[..limit]
                .windows(2)
                .rposition(|w| w == b"\r\n")
                .map_or(0, |p| p + 2);
            head = &head[..cut];
        }
        head.to_vec()
    };
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the header section including its last CRLF, excluding the empty line.
fn header_end(content: &[u8]) -> usize {
    if content.starts_with(b"\r\n") {
        return 0;
    }
    content
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(content.len(), |p| p + 2)
}

/// The first `name:` header's unfolded value.
fn header_value(content: &[u8], name: &str) -> Option<String> {
    let head = String::from_utf8_lossy(&content[..header_end(content)]);
    let mut found: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = found.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.trim().eq_ignore_ascii_case(name) {
                found = Some(v.trim().to_string());
            }
        }
    }
    found.filter(|v| !v.is_empty())
}

/// The null sender is shown as MAILER-DAEMON, qualified as cleanup would.
fn shown_sender(sender: &str, origin: &str) -> String {
    if sender.is_empty() {
        format!("MAILER-DAEMON@{origin}")
    } else {
        sender.to_string()
    }
}

/// `Mail Delivery System <MAILER-DAEMON>` -> `... <MAILER-DAEMON@$myorigin>`, as
/// Postfix's cleanup qualifies the template's From: address.
fn qualify_from(from: &str, origin: &str) -> String {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b && !from[a..b].contains('@') => {
            format!("{}@{origin}{}", &from[..b], &from[b..])
        }
        (None, None) if !from.contains('@') && !from.contains(' ') => format!("{from}@{origin}"),
        _ => from.to_string(),
    }
}

/// The Content-Transfer-Encoding Postfix declares: 8bit when the text charset or
/// the message needs it, 7bit when the client declared BODY=7BIT, else none.
fn encoding(msg: &StoredMessage, charset: &str) -> Option<&'static str> {
    let eight = !charset.eq_ignore_ascii_case("us-ascii")
        || matches!(msg.body, Some(Body::EightBitMime | Body::BinaryMime))
        || !msg.content.is_ascii();
    if eight {
        Some("8bit")
    } else if msg.body == Some(Body::SevenBit) {
        Some("7bit")
    } else {
        None
    }
}

/// Splits `text` into lines of at most `WRAP` columns at blanks, continuation
/// lines indented by `INDENT` (util/line_wrap.c as bounce calls it); a word
/// longer than a line stays whole.
pub fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut indent = 0;
    for word in text.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > WRAP {
            lines.push(format!("{:indent$}{line}", ""));
            line.clear();
            indent = INDENT;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(format!("{:indent$}{line}", ""));
    lines
}

/// The notice under construction.
#[derive(Default)]
struct Out {
    bytes: Vec<u8>,
}

impl Out {
    fn line(&mut self, text: &str) {
        self.bytes.extend_from_slice(text.as_bytes());
        self.bytes.extend_from_slice(b"\r\n");
    }

    fn wrapped(&mut self, text: &str) {
        for l in wrap(text) {
            self.line(&l);
        }
    }

    fn encoding(&mut self, encoding: Option<&str>) {
        if let Some(e) = encoding {
            self.line(&format!("Content-Transfer-Encoding: {e}"));
        }
    }

    fn raw(&mut self, bytes: Vec<u8>) {
        self.bytes.extend_from_slice(&bytes);
    }
}
