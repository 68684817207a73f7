//! The envelope of one message: sender, recipients with their DSN requests, and the
//! ESMTP parameters given with MAIL FROM (SIZE, BODY, SMTPUTF8, RET, ENVID).
//!
//! Mirrors the envelope records of Postfix's cleanup/qmgr (rec_type.h: sender,
//! recipient, original recipient, DSN fields). Reads no main.cf parameters.
//! Implements the parameter values of RFC 1870 section 4 (SIZE), RFC 6152
//! section 2 (BODY=8BITMIME), RFC 3030 section 3 (BODY=BINARYMIME), RFC 6531
//! section 3.4 (SMTPUTF8) and RFC 3461 section 4 (RET, ENVID, NOTIFY, ORCPT).

use super::address::{Mailbox, Path};
use super::dsn::{Notify, OrigRcpt, Ret};

/// The BODY parameter of MAIL FROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    SevenBit,
    EightBitMime,
    BinaryMime,
}

impl Body {
    /// Parses `7BIT`, `8BITMIME` or `BINARYMIME`, case-insensitively.
    pub fn parse(value: &str) -> Option<Body> {
        [
            ("7BIT", Body::SevenBit),
            ("8BITMIME", Body::EightBitMime),
            ("BINARYMIME", Body::BinaryMime),
        ]
        .into_iter()
        .find(|(name, _)| value.eq_ignore_ascii_case(name))
        .map(|(_, b)| b)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Body::SevenBit => "7BIT",
            Body::EightBitMime => "8BITMIME",
            Body::BinaryMime => "BINARYMIME",
        }
    }
}

/// ESMTP parameters of MAIL FROM, each `None`/`false` when not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// SIZE=n, the client's estimate in bytes (RFC 1870).
    pub size: Option<u64>,
    pub body: Option<Body>,
    /// SMTPUTF8 was requested (RFC 6531).
    pub smtputf8: bool,
    pub ret: Option<Ret>,
    /// ENVID, xtext-decoded.
    pub envid: Option<String>,
}

/// ESMTP parameters of RCPT TO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    pub notify: Option<Notify>,
    pub orcpt: Option<OrigRcpt>,
}

/// One recipient as accepted: the address and what the client asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: Mailbox,
    pub notify: Option<Notify>,
    pub orcpt: Option<OrigRcpt>,
}

impl Recipient {
    pub fn new(address: Mailbox, params: RcptParams) -> Recipient {
        Recipient {
            address,
            notify: params.notify,
            orcpt: params.orcpt,
        }
    }
}

/// Sender, parameters and recipients of one mail transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub sender: Path,
    pub params: MailParams,
    pub recipients: Vec<Recipient>,
}

impl Envelope {
    pub fn new(sender: Path, params: MailParams) -> Envelope {
        Envelope {
            sender,
            params,
            recipients: Vec::new(),
        }
    }

    /// True when any address needs SMTPUTF8, whether or not the client asked for it
    /// (strict_smtputf8 compares the two).
    pub fn needs_smtputf8(&self) -> bool {
        self.sender.mailbox().is_some_and(Mailbox::needs_smtputf8)
            || self.recipients.iter().any(|r| r.address.needs_smtputf8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::address::parse_path;

    #[test]
    fn body_values() {
        assert_eq!(Body::parse("8bitmime"), Some(Body::EightBitMime));
        assert_eq!(Body::parse("7BIT"), Some(Body::SevenBit));
        assert_eq!(Body::parse("BinaryMIME"), Some(Body::BinaryMime));
        assert_eq!(Body::parse("8BIT"), None);
        assert_eq!(Body::EightBitMime.as_str(), "8BITMIME");
    }

    #[test]
    fn envelope_knows_when_it_needs_smtputf8() {
        let mut env = Envelope::new(parse_path("").unwrap(), MailParams::default());
        let Path::Mailbox(plain) = parse_path("a@example.org").unwrap() else {
            panic!("not a mailbox");
        };
        env.recipients
            .push(Recipient::new(plain, RcptParams::default()));
        assert!(!env.needs_smtputf8());
        let Path::Mailbox(utf8) = parse_path("ü@example.org").unwrap() else {
            panic!("not a mailbox");
        };
        env.recipients
            .push(Recipient::new(utf8, RcptParams::default()));
        assert!(env.needs_smtputf8());
    }
}
