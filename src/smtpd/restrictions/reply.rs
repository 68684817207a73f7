//! Building restriction replies: the enhanced status made to agree with the
//! reply code, address-related status codes fixed for sender vs recipient, and
//! a leading `D.D.D` in access-table text used as the status.
//!
//! Mirrors Postfix `smtpd/smtpd_dsn_fix.c`, `global/dsn_split.c` and the code
//! checks of smtpd_check_reject() in `smtpd/smtpd_check.c`. Reads no parameters.

use crate::mail::dsn::StatusCode;
use crate::smtpd::reply::Reply;

/// Names the kind of thing a reply is about, as Postfix's SMTPD_NAME_*.
pub const CLIENT: &str = "Client host";
pub const HELO: &str = "Helo command";
pub const SENDER: &str = "Sender address";
pub const RECIPIENT: &str = "Recipient address";
pub const CCERT: &str = "Client certificate";
pub const DATA: &str = "Data command";
pub const EOD: &str = "End-of-data";
pub const ETRN: &str = "Etrn command";

/// A reply whose status class follows the code's first digit (Postfix copies
/// the code's class into the DSN, so `450` never goes out with `5.7.1`).
pub fn make(code: u16, status: StatusCode, text: impl Into<String>) -> Reply {
    let class = if code >= 500 { 5 } else { 4 };
    let fixed = StatusCode::parse(&format!("{class}.{}", subject_detail(status)))
        .unwrap_or(StatusCode::new(class, 7, 1));
    Reply::new(code, Some(fixed), text.into())
}

/// `subject.detail` of a status.
fn subject_detail(s: StatusCode) -> String {
    let text = s.to_string();
    text.split_once('.')
        .map(|(_, r)| r.to_string())
        .unwrap_or(text)
}

/// A status from text known to be valid (`"5.7.1"`); falls back to 5.7.1.
pub fn st(text: &str) -> StatusCode {
    StatusCode::parse(text).unwrap_or(StatusCode::new(5, 7, 1))
}

/// Postfix dsn_split(): text that starts with `D.D.D ` gives its status; else
/// the default. Returns the status and the remaining text.
pub fn split_dsn<'a>(default: &str, text: &'a str) -> (StatusCode, &'a str) {
    let text = text.trim_start();
    if let Some((head, rest)) = text.split_once([' ', '\t']) {
        if head.starts_with(['4', '5']) {
            if let Ok(s) = StatusCode::parse(head) {
                return (s, rest.trim_start());
            }
        }
    } else if text.starts_with(['4', '5']) {
        if let Ok(s) = StatusCode::parse(text) {
            return (s, "");
        }
    }
    (st(default), text)
}

/// Postfix smtpd_dsn_fix(): an `X.1.Y` mailbox status is turned into the
/// sender or recipient form that fits the reply class; for other classes an
/// address status makes no sense and becomes `X.7.1`.
pub fn dsn_fix(status: StatusCode, reply_class: &str) -> StatusCode {
    let text = status.to_string();
    let mut parts = text.split('.');
    let (Some(class), Some("1"), Some(detail)) = (parts.next(), parts.next(), parts.next()) else {
        return status;
    };
    // (detail, sender form, recipient form), smtpd_dsn_fix.c's dsn_map.
    const MAP: &[(&str, &str, &str)] = &[
        ("1", "1.0", "1.1"),
        ("2", "1.8", "1.2"),
        ("3", "1.7", "1.3"),
        ("4", "1.0", "1.4"),
        ("5", "1.0", "1.5"),
        ("6", "1.0", "1.6"),
        ("7", "1.7", "1.3"),
        ("8", "1.8", "1.2"),
    ];
    let (snd, rcpt) = MAP
        .iter()
        .find(|(d, _, _)| *d == detail)
        .map(|(_, s, r)| (*s, *r))
        .unwrap_or(("1.0", "1.0"));
    let fixed = match reply_class {
        SENDER => format!("{class}.{snd}"),
        RECIPIENT => format!("{class}.{rcpt}"),
        _ => format!("{class}.7.1"),
    };
    StatusCode::parse(&fixed).unwrap_or(status)
}

/// `450 4.3.0`-style reply for a table that could not be read (Postfix
/// reject_dict_retry: "Temporary lookup failure").
pub fn lookup_failure(name: &str) -> Reply {
    make(
        451,
        st("4.3.0"),
        format!("<{name}>: Temporary lookup failure"),
    )
}

/// Postfix's answer when a table returns something it cannot use.
pub fn config_error() -> Reply {
    make(451, st("4.3.5"), "Server configuration error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_code_and_class() {
        assert_eq!(make(450, st("5.7.1"), "x").log_text(), "450 4.7.1 x");
        assert_eq!(dsn_fix(st("5.1.1"), SENDER).to_string(), "5.1.0");
        assert_eq!(dsn_fix(st("5.1.7"), RECIPIENT).to_string(), "5.1.3");
        assert_eq!(dsn_fix(st("4.1.1"), CLIENT).to_string(), "4.7.1");
        assert_eq!(dsn_fix(st("5.2.2"), SENDER).to_string(), "5.2.2");
    }

    #[test]
    fn dsn_split_takes_leading_status() {
        let (s, t) = split_dsn("5.7.1", "5.2.1 mailbox full");
        assert_eq!((s.to_string().as_str(), t), ("5.2.1", "mailbox full"));
        let (s, t) = split_dsn("5.7.1", "go away");
        assert_eq!((s.to_string().as_str(), t), ("5.7.1", "go away"));
        let (s, t) = split_dsn("4.7.1", "");
        assert_eq!((s.to_string().as_str(), t), ("4.7.1", ""));
    }
}
