//! Delivery status: RFC 3463 enhanced status codes, per-recipient outcomes and the
//! RFC 3461 DSN envelope fields (RET, ENVID, NOTIFY, ORCPT) with xtext decoding.
//!
//! Mirrors Postfix's global/dsn.c, dsn_util.c and xtext.c. Reads no main.cf
//! parameters. Implements RFC 3463 sections 2-3 (status code syntax), RFC 3461
//! sections 4.1-4.4 (NOTIFY, ORCPT, RET, ENVID) and 4 (xtext).

use std::fmt;
use thiserror::Error;

/// Why a DSN field or status code was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DsnError {
    #[error("bad enhanced status code {0:?}")]
    Status(String),
    #[error("bad xtext {0:?}")]
    Xtext(String),
    #[error("bad RET value {0:?}")]
    Ret(String),
    #[error("bad NOTIFY value {0:?}")]
    Notify(String),
    #[error("bad ORCPT value {0:?}")]
    Orcpt(String),
}

/// An RFC 3463 enhanced status code `class.subject.detail`, e.g. `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl StatusCode {
    /// Builds a code; `class` must be 2, 4 or 5 (RFC 3463 section 3.1), which the
    /// constants below and `parse` guarantee.
    pub const fn new(class: u8, subject: u16, detail: u16) -> StatusCode {
        StatusCode {
            class,
            subject,
            detail,
        }
    }

    /// Parses `2.0.0`-style text. Subject and detail are 1-3 digits without
    /// leading zeros beyond one digit (RFC 3463 section 2).
    pub fn parse(text: &str) -> Result<StatusCode, DsnError> {
        let bad = || DsnError::Status(text.to_string());
        let mut parts = text.split('.');
        let (Some(c), Some(s), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let class = match c {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return Err(bad()),
        };
        let number = |p: &str| -> Result<u16, DsnError> {
            let ok = !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && !(p.len() > 1 && p.starts_with('0'));
            if ok {
                p.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        Ok(StatusCode::new(class, number(s)?, number(d)?))
    }

    pub fn class(&self) -> u8 {
        self.class
    }

    /// True for 4.x.x: the condition may clear, try again later.
    pub fn is_transient(&self) -> bool {
        self.class == 4
    }

    /// True for 5.x.x.
    pub fn is_permanent(&self) -> bool {
        self.class == 5
    }

    /// The same subject and detail with another class, as Postfix does when a soft
    /// bounce turns a 5.x.x into 4.x.x (soft_bounce) or a policy forces a class.
    pub const fn with_class(self, class: u8) -> StatusCode {
        StatusCode::new(class, self.subject, self.detail)
    }

    pub const OK: StatusCode = StatusCode::new(2, 0, 0);
    pub const OTHER_TEMP: StatusCode = StatusCode::new(4, 0, 0);
    pub const OTHER_PERM: StatusCode = StatusCode::new(5, 0, 0);
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A status with its human reason, e.g. `4.4.1` "connect to mx[1.2.3.4]:25:
/// Connection refused"; what Postfix logs as `dsn=4.4.1, status=deferred (reason)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    pub status: StatusCode,
    pub reason: String,
}

impl Dsn {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Dsn {
        Dsn {
            status,
            reason: reason.into(),
        }
    }
}

/// What became of one recipient after one delivery attempt. Each agent decides soft
/// versus hard failure in one place and reports it as this value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Deferred(Dsn),
    Bounced(Dsn),
}

/// RET: what a failure DSN should return (RFC 3461 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Full,
    Hdrs,
}

impl Ret {
    pub fn parse(value: &str) -> Result<Ret, DsnError> {
        if value.eq_ignore_ascii_case("FULL") {
            Ok(Ret::Full)
        } else if value.eq_ignore_ascii_case("HDRS") {
            Ok(Ret::Hdrs)
        } else {
            Err(DsnError::Ret(value.to_string()))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ret::Full => "FULL",
            Ret::Hdrs => "HDRS",
        }
    }
}

/// NOTIFY: when the sender wants a DSN for this recipient (RFC 3461 section 4.1).
/// `NEVER` is all three false; an absent NOTIFY is `None` at the recipient level
/// and means Postfix's default (failure and delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notify {
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

impl Notify {
    /// Parses `NEVER` or a comma list of SUCCESS, FAILURE, DELAY; NEVER must stand
    /// alone and no keyword may repeat (RFC 3461 section 4.1).
    pub fn parse(value: &str) -> Result<Notify, DsnError> {
        let bad = || DsnError::Notify(value.to_string());
        if value.eq_ignore_ascii_case("NEVER") {
            return Ok(Notify::default());
        }
        let mut n = Notify::default();
        for word in value.split(',') {
            let slot = if word.eq_ignore_ascii_case("SUCCESS") {
                &mut n.success
            } else if word.eq_ignore_ascii_case("FAILURE") {
                &mut n.failure
            } else if word.eq_ignore_ascii_case("DELAY") {
                &mut n.delay
            } else {
                return Err(bad());
            };
            if *slot {
                return Err(bad());
            }
            *slot = true;
        }
        Ok(n)
    }

    pub fn is_never(&self) -> bool {
        !(self.success || self.failure || self.delay)
    }
}

impl fmt::Display for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_never() {
            return f.write_str("NEVER");
        }
        let words: Vec<&str> = [
            (self.success, "SUCCESS"),
            (self.failure, "FAILURE"),
            (self.delay, "DELAY"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
        f.write_str(&words.join(","))
    }
}

/// ORCPT: the original recipient as the first MTA saw it, `addr-type;xtext`
/// (RFC 3461 section 4.2). Stored decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrigRcpt {
    /// Address type, e.g. `rfc822` or `utf-8`.
    pub addr_type: String,
    /// The decoded address.
    pub address: String,
}

impl OrigRcpt {
    pub fn parse(value: &str) -> Result<OrigRcpt, DsnError> {
        let bad = || DsnError::Orcpt(value.to_string());
        let (addr_type, encoded) = value.split_once(';').ok_or_else(bad)?;
        let atom_ok = !addr_type.is_empty()
            && addr_type
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !atom_ok || encoded.is_empty() {
            return Err(bad());
        }
        let address = xtext_decode(encoded).map_err(|_| bad())?;
        Ok(OrigRcpt {
            addr_type: addr_type.to_string(),
            address,
        })
    }
}

impl fmt::Display for OrigRcpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};{}", self.addr_type, xtext_encode(&self.address))
    }
}

/// Decodes RFC 3461 section 4 xtext: printable US-ASCII except `+` and `=`, with
/// `+XX` (upper-case hex) standing for any octet. The result must be UTF-8.
pub fn xtext_decode(text: &str) -> Result<String, DsnError> {
    let bad = || DsnError::Xtext(text.to_string());
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let digit = |b: u8| match b {
                    b'0'..=b'9' => Some(b - b'0'),
                    b'A'..=b'F' => Some(b - b'A' + 10),
                    _ => None,
                };
                match (digit(hex[0]), digit(hex[1])) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(bad()),
                }
                i += 3;
            }
            b'!'..=b'~' if bytes[i] != b'=' => {
                out.push(bytes[i]);
                i += 1;
            }
            _ => return Err(bad()),
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Encodes text as RFC 3461 xtext.
pub fn xtext_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// Checks an ENVID value (RFC 3461 section 4.4: xtext, at most 100 characters)
/// and returns it decoded.
pub fn parse_envid(value: &str) -> Result<String, DsnError> {
    if value.is_empty() || value.len() > 100 {
        return Err(DsnError::Xtext(value.to_string()));
    }
    xtext_decode(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip_and_reject_junk() {
        for s in ["2.0.0", "4.4.1", "5.7.1", "5.1.10", "4.999.999"] {
            assert_eq!(StatusCode::parse(s).unwrap().to_string(), s);
        }
        for s in ["3.0.0", "5.1", "5.1.1.1", "5.01.1", "5.1.1000", "5.a.1", ""] {
            assert!(StatusCode::parse(s).is_err(), "{s}");
        }
        let c = StatusCode::parse("5.7.1").unwrap();
        assert!(c.is_permanent() && !c.is_transient());
        assert_eq!(c.with_class(4).to_string(), "4.7.1");
    }

    #[test]
    fn xtext_decodes_and_encodes() {
        assert_eq!(xtext_decode("a+2Bb+3Dc").unwrap(), "a+b=c");
        assert_eq!(
            xtext_decode("user@example.com").unwrap(),
            "user@example.com"
        );
        assert!(xtext_decode("a+2b").is_err(), "lower-case hex is not xtext");
        assert!(xtext_decode("a+2").is_err());
        assert!(xtext_decode("a=b").is_err());
        assert!(xtext_decode("a b").is_err());
        assert!(xtext_decode("+FF").is_err(), "not UTF-8");
        assert_eq!(xtext_encode("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext_decode(&xtext_encode("ü+x")).unwrap(), "ü+x");
    }

    #[test]
    fn notify_ret_orcpt_envid() {
        let n = Notify::parse("success,DELAY").unwrap();
        assert!(n.success && n.delay && !n.failure);
        assert_eq!(n.to_string(), "SUCCESS,DELAY");
        assert!(Notify::parse("NEVER").unwrap().is_never());
        assert!(Notify::parse("NEVER,SUCCESS").is_err());
        assert!(Notify::parse("SUCCESS,SUCCESS").is_err());
        assert!(Notify::parse("").is_err());
        assert_eq!(Ret::parse("hdrs").unwrap(), Ret::Hdrs);
        assert!(Ret::parse("ALL").is_err());
        let o = OrigRcpt::parse("rfc822;a+2Bb@example.com").unwrap();
        assert_eq!(o.addr_type, "rfc822");
        assert_eq!(o.address, "a+b@example.com");
        assert_eq!(o.to_string(), "rfc822;a+2Bb@example.com");
        assert!(OrigRcpt::parse("rfc822").is_err());
        assert!(OrigRcpt::parse(";x").is_err());
        assert_eq!(parse_envid("QQ+2B1").unwrap(), "QQ+1");
        assert!(parse_envid(&"x".repeat(101)).is_err());
    }
}
