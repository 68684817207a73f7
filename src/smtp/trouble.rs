//! Error handling policy of the smtp client: every way a delivery can fail
//! turned into a `Dsn` with Postfix's text, and the one decision of whether the
//! next server may still be tried.
//!
//! Mirrors Postfix smtp_trouble.c (`smtp_site_fail`, `smtp_mesg_fail`,
//! `smtp_rcpt_fail`, `smtp_stream_except`: "host %s said: %s (in reply to %s
//! command)", "lost connection with %s while %s", "conversation with %s timed
//! out while %s"), smtp_connect.c ("connect to %s: %m", the DNS texts) and the
//! TLS texts of smtp_proto.c. Reads no parameters.
//! RFCs: RFC 3463 (status codes: 4.4.1 no answer, 4.4.2 bad connection, 4.4.3
//! routing, 5.1.0 null MX (Postfix smtp_addr.c; RFC 7505 suggests 5.1.10), 5.3.4 too big, 4.7.4/4.7.5 TLS).

use super::conn::IoTrouble;
use super::reply::Reply;
use crate::dns::NexthopError;
use crate::mail::dsn::{Dsn, StatusCode};

/// The SMTP command a reply answered, as Postfix names it in "(in reply to ...)".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Helo,
    Mail,
    Rcpt,
    Data,
    EndOfData,
}

impl Command {
    fn name(self) -> &'static str {
        match self {
            Command::Helo => "HELO",
            Command::Mail => "MAIL FROM",
            Command::Rcpt => "RCPT TO",
            Command::Data => "DATA",
            Command::EndOfData => "end of DATA",
        }
    }
}

/// What the client was doing when the connection broke (smtp_proto.c's
/// `xfer_states` and smtp_helo's descriptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Greeting,
    Ehlo,
    Helo,
    Starttls,
    Mail,
    Rcpt,
    Data,
    Body,
    EndOfData,
}

impl Stage {
    fn description(self) -> &'static str {
        match self {
            Stage::Greeting => "receiving the initial server greeting",
            Stage::Ehlo => "performing the EHLO handshake",
            Stage::Helo => "performing the HELO handshake",
            Stage::Starttls => "receiving the STARTTLS response",
            Stage::Mail => "sending MAIL FROM",
            Stage::Rcpt => "sending RCPT TO",
            Stage::Data => "sending DATA command",
            Stage::Body => "sending message body",
            Stage::EndOfData => "sending end of data -- message may be sent more than once",
        }
    }
}

/// A failed attempt at one server, and whether the next server may be tried
/// for the recipients it concerns (soft errors, as Postfix's non-final
/// servers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub dsn: Dsn,
}

impl Failure {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Failure {
        Failure {
            dsn: Dsn::new(status, reason),
        }
    }

    /// Soft errors leave the recipient for the next server; hard ones are final.
    pub fn try_next(&self) -> bool {
        self.dsn.status.is_transient()
    }
}

/// "host mx[addr] said: 550 5.1.1 ... (in reply to RCPT TO command)".
pub fn said(namaddr: &str, reply: &Reply, command: Command) -> Failure {
    Failure::new(
        reply.status(),
        format!(
            "host {namaddr} said: {} (in reply to {} command)",
            reply.text(),
            command.name()
        ),
    )
}

/// A greeting other than 2xx. With `smtp_skip_5xx_greeting` a 5xx greeting is
/// treated as soft, so the next server is tried (smtp_proto.c `smtp_helo`).
pub fn greeting(namaddr: &str, reply: &Reply, skip_5xx: bool) -> Failure {
    let mut status = reply.status();
    if skip_5xx && status.is_permanent() {
        status = status.with_class(4);
    }
    Failure::new(
        status,
        format!("host {namaddr} refused to talk to me: {}", reply.text()),
    )
}

/// A broken or timed-out conversation (smtp_stream_except).
pub fn io(namaddr: &str, trouble: &IoTrouble, stage: Stage) -> Failure {
    let what = stage.description();
    let status = StatusCode::new(4, 4, 2);
    match trouble {
        IoTrouble::Timeout => Failure::new(
            status,
            format!("conversation with {namaddr} timed out while {what}"),
        ),
        IoTrouble::Lost => Failure::new(
            status,
            format!("lost connection with {namaddr} while {what}"),
        ),
        IoTrouble::Malformed(line) => Failure::new(
            StatusCode::new(4, 5, 0),
            format!(
                "host {namaddr} said: malformed reply {:?} while {what}",
                line.chars().take(100).collect::<String>()
            ),
        ),
    }
}

/// "connect to mx[addr]:25: Connection refused".
pub fn connect(namaddrport: &str, reason: &str) -> Failure {
    Failure::new(
        StatusCode::new(4, 4, 1),
        format!("connect to {namaddrport}: {reason}"),
    )
}

/// A nexthop that gave no server to try: DNS, null MX, bad syntax.
pub fn nexthop(e: &NexthopError) -> Failure {
    let status = match e {
        NexthopError::NullMx { .. } => StatusCode::new(5, 1, 0),
        NexthopError::Dns(d) if d.is_temporary() => StatusCode::new(4, 4, 3),
        NexthopError::Dns(_) => StatusCode::new(5, 4, 4),
        NexthopError::BadSyntax { .. } => StatusCode::new(5, 4, 4),
        NexthopError::FamilyDisabled { .. } => StatusCode::new(5, 4, 4),
    };
    Failure::new(status, e.to_string())
}

/// RFC 3207 with a level that requires TLS: the server did not offer it.
pub fn tls_not_offered(namaddr: &str) -> Failure {
    Failure::new(
        StatusCode::new(4, 7, 4),
        format!("TLS is required, but was not offered by host {namaddr}"),
    )
}

/// The server answered STARTTLS with an error while TLS is required; the
/// status is the reply's (smtp_proto.c passes the response to smtp_site_fail).
pub fn tls_refused(namaddr: &str, reply: &Reply) -> Failure {
    Failure::new(
        reply.status(),
        format!(
            "TLS is required, but host {namaddr} refused to start TLS: {}",
            reply.text()
        ),
    )
}

pub fn tls_handshake() -> Failure {
    Failure::new(
        StatusCode::new(4, 7, 5),
        "Cannot start TLS: handshake failure",
    )
}

pub fn not_verified() -> Failure {
    Failure::new(StatusCode::new(4, 7, 5), "Server certificate not verified")
}

pub fn tls_policy() -> Failure {
    Failure::new(StatusCode::new(4, 7, 5), "client TLS configuration problem")
}

/// The server is this host (smtp_proto.c); hard only at the best MX.
pub fn loops_back(nexthop: &str, best_mx: bool) -> Failure {
    let status = if best_mx {
        StatusCode::new(5, 4, 6)
    } else {
        StatusCode::new(4, 4, 6)
    };
    Failure::new(status, format!("mail for {nexthop} loops back to myself"))
}

/// RFC 6531: the envelope needs SMTPUTF8 and the server lacks it
/// (smtp_proto.c, 5.6.7).
pub fn smtputf8_not_offered(namaddr: &str) -> Failure {
    Failure::new(
        StatusCode::new(5, 6, 7),
        format!("SMTPUTF8 is required, but was not offered by host {namaddr}"),
    )
}

/// SIZE announced by the server is smaller than the message (smtp_proto.c).
pub fn too_big(size: u64, limit: u64, namaddr: &str) -> Failure {
    Failure::new(
        StatusCode::new(5, 3, 4),
        format!("message size {size} exceeds size limit {limit} of server {namaddr}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::DnsError;
    use hickory_proto::rr::RecordType;

    fn reply(code: u16, line: &str) -> Reply {
        Reply {
            code,
            lines: vec![line.to_string()],
        }
    }

    #[test]
    fn site_replies() {
        let f = said(
            "mx.example[192.0.2.1]",
            &reply(550, "550 5.1.1 <u@example>: Recipient address rejected"),
            Command::Rcpt,
        );
        assert_eq!(
            f.dsn.reason,
            "host mx.example[192.0.2.1] said: 550 5.1.1 <u@example>: Recipient address rejected (in reply to RCPT TO command)"
        );
        assert_eq!(f.dsn.status, StatusCode::new(5, 1, 1));
        assert!(!f.try_next());
        let f = said("h[a]", &reply(451, "451 later"), Command::Mail);
        assert!(f.try_next());
        assert_eq!(f.dsn.status, StatusCode::new(4, 0, 0));
    }

    #[test]
    fn greeting_5xx_soft_when_skipping() {
        let r = reply(554, "554 5.7.1 go away");
        assert!(greeting("h[a]", &r, true).try_next());
        let f = greeting("h[a]", &r, false);
        assert!(!f.try_next());
        assert_eq!(
            f.dsn.reason,
            "host h[a] refused to talk to me: 554 5.7.1 go away"
        );
    }

    #[test]
    fn io_and_connect_texts() {
        let f = io("h[a]", &IoTrouble::Timeout, Stage::Greeting);
        assert_eq!(
            f.dsn.reason,
            "conversation with h[a] timed out while receiving the initial server greeting"
        );
        let f = io("h[a]", &IoTrouble::Lost, Stage::Rcpt);
        assert_eq!(
            f.dsn.reason,
            "lost connection with h[a] while sending RCPT TO"
        );
        let f = connect("h[a]:25", "Connection refused");
        assert_eq!(f.dsn.status, StatusCode::new(4, 4, 1));
        assert!(f.try_next());
    }

    #[test]
    fn dns_classification() {
        let nx = NexthopError::Dns(DnsError::NxDomain {
            name: "nowhere.example".into(),
            rtype: RecordType::MX,
        });
        let f = nexthop(&nx);
        assert_eq!(f.dsn.status, StatusCode::new(5, 4, 4));
        assert_eq!(
            f.dsn.reason,
            "Host or domain name not found. Name service error for name=nowhere.example type=MX: Host not found"
        );
        let null = NexthopError::NullMx {
            domain: "example.com".into(),
        };
        let f = nexthop(&null);
        assert_eq!(f.dsn.status, StatusCode::new(5, 1, 0));
        assert_eq!(
            f.dsn.reason,
            "Domain example.com does not accept mail (nullMX)"
        );
        let servfail = NexthopError::Dns(DnsError::NoNameservers);
        assert_eq!(nexthop(&servfail).dsn.status, StatusCode::new(4, 4, 3));
    }

    #[test]
    fn tls_texts() {
        let f = tls_not_offered("mx.example[127.0.0.1]");
        assert_eq!(
            f.dsn.reason,
            "TLS is required, but was not offered by host mx.example[127.0.0.1]"
        );
        assert_eq!(f.dsn.status, StatusCode::new(4, 7, 4));
        assert_eq!(not_verified().dsn.status, StatusCode::new(4, 7, 5));
    }
}
