//! Typed SMTP server replies: code, RFC 3463 enhanced status, text; single- and
//! multi-line wire formatting, and the replies the server sends most, with
//! Postfix's wording so scripts and log readers see what they know.
//!
//! Mirrors Postfix's smtpd_chat.c (reply formatting) and the reply texts of
//! smtpd.c. Reads no main.cf parameters (codes that come from parameters, such as
//! `smtpd_forbid_bare_newline_reject_code`, are passed in). Implements RFC 5321
//! section 4.2 (reply lines, `code-text` continuation), RFC 2034 section 4
//! (enhanced status after the code).

use crate::mail::dsn::StatusCode;
use crate::queue::Durable;
use std::borrow::Cow;
use std::fmt::Write as _;

/// One server reply. Lines of a multi-line reply are separated by `\n` in `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    status: Option<StatusCode>,
    text: Cow<'static, str>,
}

const fn st(class: u8, subject: u16, detail: u16) -> Option<StatusCode> {
    Some(StatusCode::new(class, subject, detail))
}

const fn fixed(code: u16, status: Option<StatusCode>, text: &'static str) -> Reply {
    Reply {
        code,
        status,
        text: Cow::Borrowed(text),
    }
}

impl Reply {
    pub fn new(code: u16, status: Option<StatusCode>, text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            code,
            status,
            text: text.into(),
        }
    }

    /// A multi-line reply such as the EHLO keyword list.
    pub fn multi(code: u16, status: Option<StatusCode>, lines: &[String]) -> Reply {
        Reply::new(code, status, lines.join("\n"))
    }

    pub fn code(&self) -> u16 {
        self.code
    }

    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// 4xx: the client may try again (RFC 5321 section 4.2.1).
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// The reply on the wire: every line `code-` but the last `code `, each with the
    /// enhanced status when the client said EHLO (RFC 2034 section 4 applies to
    /// ESMTP sessions). CR and LF inside a line are dropped, so text that came from
    /// the client cannot forge extra reply lines.
    pub fn to_wire(&self, enhanced: bool) -> String {
        let lines: Vec<&str> = self.text.split('\n').collect();
        let mut out = String::with_capacity(self.text.len() + 16 * lines.len());
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            let _ = write!(out, "{}{}", self.code, sep);
            if let (true, Some(s)) = (enhanced, self.status) {
                let _ = write!(out, "{s} ");
            }
            out.extend(line.chars().filter(|&c| c != '\r' && c != '\n'));
            out.push_str("\r\n");
        }
        out
    }

    /// How Postfix logs a reply inside `reject:` lines: `554 5.7.1 text`.
    pub fn log_text(&self) -> String {
        let wire = self.to_wire(true);
        wire.trim_end().replace("\r\n", " ")
    }

    /// `250 2.0.0 Ok: queued as ID`: only a `Durable` receipt can make it, so the
    /// server cannot acknowledge a message that is not on disk.
    pub fn queued(receipt: &Durable) -> Reply {
        Reply::new(
            250,
            st(2, 0, 0),
            format!("Ok: queued as {}", receipt.queue_id()),
        )
    }

    /// The reply to a message that a DISCARD action dropped: the same words as
    /// `queued`, since Postfix hides a discard from the client. Nothing is
    /// stored, so no `Durable` exists; only the DISCARD path may use this.
    pub fn discarded(queue_id: &crate::queue::QueueId) -> Reply {
        Reply::new(250, st(2, 0, 0), format!("Ok: queued as {queue_id}"))
    }

    /// The bare-newline rejection; the code is `smtpd_forbid_bare_newline_reject_code`.
    pub fn bare_lf(code: u16) -> Reply {
        Reply::new(code, st(5, 5, 2), "Error: bare <LF> received")
    }

    /// Bare CR, treated like bare LF (SMTP smuggling uses either).
    pub fn bare_cr(code: u16) -> Reply {
        Reply::new(code, st(5, 5, 2), "Error: bare <CR> received")
    }

    /// `421 4.4.2 host Error: timeout exceeded` (smtpd_timeout).
    pub fn timeout(myhostname: &str) -> Reply {
        Reply::new(
            421,
            st(4, 4, 2),
            format!("{myhostname} Error: timeout exceeded"),
        )
    }

    /// `421 4.7.0 host Error: too many errors` (smtpd_hard_error_limit).
    pub fn too_many_errors(myhostname: &str) -> Reply {
        Reply::new(
            421,
            st(4, 7, 0),
            format!("{myhostname} Error: too many errors"),
        )
    }

    /// The EHLO answer: host name, then one keyword per line, no enhanced status
    /// (RFC 5321 section 4.1.1.1).
    pub fn ehlo(myhostname: &str, keywords: &[String]) -> Reply {
        let mut lines = Vec::with_capacity(keywords.len() + 1);
        lines.push(myhostname.to_string());
        lines.extend(keywords.iter().cloned());
        Reply::multi(250, None, &lines)
    }

    /// 555 for an ESMTP parameter the server does not know (RFC 5321 section 4.1.1.11).
    pub fn unsupported_option(param: &str) -> Reply {
        Reply::new(555, st(5, 5, 4), format!("Unsupported option: {param}"))
    }
}

// Success and flow.
pub const OK: Reply = fixed(250, st(2, 0, 0), "Ok");
pub const SENDER_OK: Reply = fixed(250, st(2, 1, 0), "Ok");
pub const RCPT_OK: Reply = fixed(250, st(2, 1, 5), "Ok");
pub const START_DATA: Reply = fixed(354, None, "End data with <CR><LF>.<CR><LF>");
pub const BYE: Reply = fixed(221, st(2, 0, 0), "Bye");
pub const READY_FOR_TLS: Reply = fixed(220, st(2, 0, 0), "Ready to start TLS");

// Sequence errors (RFC 5321 section 4.1.4).
pub const SEND_HELO_FIRST: Reply = fixed(503, st(5, 5, 1), "Error: send HELO/EHLO first");
pub const NESTED_MAIL: Reply = fixed(503, st(5, 5, 1), "Error: nested MAIL command");
pub const NEED_MAIL: Reply = fixed(503, st(5, 5, 1), "Error: need MAIL command");
pub const NEED_RCPT: Reply = fixed(503, st(5, 5, 1), "Error: need RCPT command");
pub const NO_VALID_RECIPIENTS: Reply = fixed(554, st(5, 5, 1), "Error: no valid recipients");
pub const TLS_ALREADY_ACTIVE: Reply = fixed(554, st(5, 5, 1), "Error: TLS already active");
pub const MUST_STARTTLS: Reply = fixed(530, st(5, 7, 0), "Must issue a STARTTLS command first");
pub const AUTH_NOT_ENABLED: Reply = fixed(503, st(5, 5, 1), "Error: authentication not enabled");
pub const DATA_AFTER_BDAT: Reply = fixed(503, st(5, 5, 1), "Error: DATA after BDAT");
pub const MAIL_AFTER_BDAT: Reply = fixed(503, st(5, 5, 1), "Error: MAIL after BDAT");
pub const RCPT_AFTER_BDAT: Reply = fixed(503, st(5, 5, 1), "Error: RCPT after BDAT");
pub const TRANSACTION_IN_PROGRESS: Reply =
    fixed(503, st(5, 5, 1), "Error: MAIL transaction in progress");
pub const VRFY_DISABLED: Reply = fixed(502, st(5, 5, 1), "VRFY command is disabled");

// Syntax errors (RFC 5321 section 4.2.2, Postfix smtpd.c wording).
/// 502, not 500: Postfix's code for an unknown verb.
pub const COMMAND_UNRECOGNIZED: Reply = fixed(502, st(5, 5, 2), "Error: command not recognized");
pub const BAD_SYNTAX: Reply = fixed(500, st(5, 5, 2), "Error: bad syntax");
pub const BAD_UTF8: Reply = fixed(500, st(5, 5, 2), "Error: bad UTF-8 syntax");
pub const LINE_TOO_LONG: Reply = fixed(500, st(5, 5, 0), "Error: line too long");
pub const NUL_IN_COMMAND: Reply = fixed(500, st(5, 5, 2), "Error: NUL character in command");
pub const HELO_SYNTAX: Reply = fixed(501, None, "Syntax: HELO hostname");
pub const EHLO_SYNTAX: Reply = fixed(501, None, "Syntax: EHLO hostname");
pub const MAIL_SYNTAX: Reply = fixed(501, st(5, 5, 4), "Syntax: MAIL FROM:<address>");
pub const RCPT_SYNTAX: Reply = fixed(501, st(5, 5, 4), "Syntax: RCPT TO:<address>");
pub const DATA_SYNTAX: Reply = fixed(501, st(5, 5, 4), "Syntax: DATA");
pub const BDAT_SYNTAX: Reply = fixed(501, st(5, 5, 4), "Syntax: BDAT count [LAST]");
pub const RSET_SYNTAX: Reply = fixed(501, st(5, 5, 4), "Syntax: RSET");
pub const STARTTLS_SYNTAX: Reply = fixed(501, st(5, 5, 4), "Syntax: STARTTLS");
pub const VRFY_SYNTAX: Reply = fixed(501, st(5, 5, 4), "Syntax: VRFY address");
pub const ETRN_SYNTAX: Reply = fixed(500, None, "Syntax: ETRN domain");
pub const BAD_SENDER_SYNTAX: Reply = fixed(501, st(5, 1, 7), "Bad sender address syntax");
pub const BAD_RCPT_SYNTAX: Reply = fixed(501, st(5, 1, 3), "Bad recipient address syntax");
pub const BAD_SIZE: Reply = fixed(501, st(5, 5, 4), "Bad message size syntax");
pub const BAD_BODY: Reply = fixed(501, st(5, 5, 4), "Unsupported BODY type");
pub const BAD_RET: Reply = fixed(501, st(5, 5, 4), "Bad RET parameter syntax");
pub const BAD_ENVID: Reply = fixed(501, st(5, 5, 4), "Bad ENVID parameter syntax");
pub const BAD_NOTIFY: Reply = fixed(501, st(5, 5, 4), "Error: Bad NOTIFY parameter syntax");
pub const DSN_DISABLED: Reply = fixed(501, st(5, 7, 1), "DSN support is disabled");
pub const BAD_ORCPT: Reply = fixed(501, st(5, 5, 4), "Error: Bad ORCPT parameter syntax");

// Content and resources.
pub const MESSAGE_TOO_BIG: Reply = fixed(552, st(5, 3, 4), "Message size exceeds fixed limit");
pub const TOO_MANY_HOPS: Reply = fixed(554, st(5, 4, 0), "Too many hops");
pub const NUL_IN_DATA: Reply = fixed(550, st(5, 6, 0), "Error: NUL character in message content");
pub const TOO_MANY_RECIPIENTS: Reply = fixed(452, st(4, 5, 3), "Error: too many recipients");
pub const QUEUE_WRITE_ERROR: Reply = fixed(451, st(4, 3, 0), "Error: queue file write error");
pub const CHUNK_TOO_BIG: Reply = fixed(552, st(5, 3, 4), "Chunk exceeds message size limit");
pub const NULL_BDAT: Reply = fixed(551, st(5, 7, 1), "Null BDAT request");
pub const UNICODE_WITHOUT_SMTPUTF8: Reply = fixed(
    553,
    st(5, 6, 7),
    "Must declare SMTPUTF8 to send unicode address",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_and_without_enhanced_status() {
        assert_eq!(OK.to_wire(true), "250 2.0.0 Ok\r\n");
        assert_eq!(OK.to_wire(false), "250 Ok\r\n");
        assert_eq!(
            START_DATA.to_wire(true),
            "354 End data with <CR><LF>.<CR><LF>\r\n"
        );
        assert_eq!(
            COMMAND_UNRECOGNIZED.to_wire(true),
            "502 5.5.2 Error: command not recognized\r\n"
        );
        assert_eq!(
            MESSAGE_TOO_BIG.log_text(),
            "552 5.3.4 Message size exceeds fixed limit"
        );
    }

    #[test]
    fn multi_line_uses_dash_continuations() {
        let lines = [
            "mx.example.org".to_string(),
            "PIPELINING".into(),
            "8BITMIME".into(),
        ];
        let r = Reply::multi(250, None, &lines);
        assert_eq!(
            r.to_wire(true),
            "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        );
        let r = Reply::new(550, st(5, 7, 1), "first\nsecond");
        assert_eq!(r.to_wire(true), "550-5.7.1 first\r\n550 5.7.1 second\r\n");
        assert_eq!(r.log_text(), "550-5.7.1 first 550 5.7.1 second");
    }

    #[test]
    fn host_replies_and_ehlo() {
        assert_eq!(
            Reply::timeout("mx.example.org").to_wire(true),
            "421 4.4.2 mx.example.org Error: timeout exceeded\r\n"
        );
        assert_eq!(
            Reply::too_many_errors("mx").log_text(),
            "421 4.7.0 mx Error: too many errors"
        );
        let r = Reply::ehlo("mx", &["PIPELINING".into(), "SIZE 10240000".into()]);
        assert_eq!(
            r.to_wire(true),
            "250-mx\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n"
        );
    }

    #[test]
    fn client_text_cannot_inject_lines() {
        let r = Reply::new(250, st(2, 1, 0), "<a@b>\r... Ok");
        assert_eq!(r.to_wire(true), "250 2.1.0 <a@b>... Ok\r\n");
    }

    #[test]
    fn parameterised_replies() {
        assert_eq!(
            Reply::bare_lf(550).to_wire(true),
            "550 5.5.2 Error: bare <LF> received\r\n"
        );
        assert_eq!(
            Reply::unsupported_option("FOO=bar").to_wire(true),
            "555 5.5.4 Unsupported option: FOO=bar\r\n"
        );
        assert!(TOO_MANY_RECIPIENTS.is_transient() && MESSAGE_TOO_BIG.is_permanent());
    }

    #[test]
    fn queued_reply_needs_a_real_receipt() {
        use crate::queue::{NewMessage, QueueName, Store};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let h = store.handle();
        let queue_id = h.new_id();
        let receipt = h
            .insert(NewMessage {
                queue_id: queue_id.clone(),
                queue: QueueName::Incoming,
                arrival: 0,
                sender: String::new(),
                client_name: "localhost".into(),
                client_addr: "127.0.0.1".into(),
                helo: "localhost".into(),
                protocol: "ESMTP".into(),
                tls: None,
                envid: None,
                ret: None,
                body: None,
                smtputf8: false,
                recipients: Vec::new(),
                content: b"\r\n".to_vec(),
            })
            .unwrap();
        assert_eq!(
            Reply::queued(&receipt).to_wire(true),
            format!("250 2.0.0 Ok: queued as {queue_id}\r\n")
        );
    }
}
