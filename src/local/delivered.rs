//! Mail loop detection by `Delivered-To:`: a message that already carries a
//! `Delivered-To:` header for the recipient has been here before and bounces.
//!
//! Mirrors Postfix local/delivered.c (which headers count and how addresses are
//! compared: quoted as mail_copy.c writes them, lower-cased) and the check in
//! local/recipient.c ("mail forwarding loop for ..."). Reads no parameters.

use std::collections::HashSet;

use super::copy::quote_822_local;
use super::Severity;

/// The `Delivered-To:` addresses in a message's header, lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveredTo(HashSet<String>);

/// A recipient the message was already delivered to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mail forwarding loop for {recipient}")]
pub struct LoopError {
    pub recipient: String,
}

impl LoopError {
    /// RFC 3463 5.4.6 (routing loop detected): always a bounce.
    pub fn dsn(&self) -> &'static str {
        "5.4.6"
    }

    /// Always permanent.
    pub fn severity(&self) -> Severity {
        Severity::Permanent
    }
}

impl DeliveredTo {
    /// Collects the header's `Delivered-To:` values (LF line endings). Only the
    /// first line of a header is looked at, as delivered.c does; the header ends at
    /// the first line that is neither a header nor a continuation.
    pub fn from_message(content: &[u8]) -> DeliveredTo {
        let mut found = HashSet::new();
        for line in content.split(|&b| b == b'\n') {
            if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                continue;
            }
            let Some(colon) = header_name_end(line) else {
                break;
            };
            if line[..colon]
                .trim_ascii_end()
                .eq_ignore_ascii_case(b"delivered-to")
            {
                let value = String::from_utf8_lossy(&line[colon + 1..]);
                found.insert(value.trim().to_lowercase());
            }
        }
        DeliveredTo(found)
    }

    /// Whether `recipient` is among them (quoted and lower-cased as written).
    pub fn contains(&self, recipient: &str) -> bool {
        self.0.contains(&quote_822_local(recipient).to_lowercase())
    }

    /// `Err` when delivering to `recipient` would repeat an earlier delivery.
    pub fn check(&self, recipient: &str) -> Result<(), LoopError> {
        if self.contains(recipient) {
            Err(LoopError {
                recipient: recipient.to_string(),
            })
        } else {
            Ok(())
        }
    }
}

/// Position of the colon ending a header name (is_header(): printable characters
/// other than `:` and space, then optional blanks), or `None` for a non-header.
fn header_name_end(line: &[u8]) -> Option<usize> {
    let name_len = line
        .iter()
        .position(|&b| b == b':' || !(0x21..=0x7e).contains(&b))?;
    if name_len == 0 {
        return None;
    }
    let rest = &line[name_len..];
    let blanks = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    (rest.get(blanks) == Some(&b':')).then_some(name_len + blanks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_loops_in_the_header_only() {
        let msg = b"Received: from x\n\tby y\nDelivered-To: Bob@Example.COM\ndelivered-to :  \"john doe\"@example.com\nSubject: hi\n\nDelivered-To: carol@example.com\n";
        let d = DeliveredTo::from_message(msg);
        assert!(d.contains("bob@example.com"));
        assert!(d.contains("john doe@example.com"));
        assert!(!d.contains("carol@example.com"), "body lines do not count");
        let err = d.check("BOB@example.com").unwrap_err();
        assert_eq!(err.to_string(), "mail forwarding loop for BOB@example.com");
        assert_eq!(err.dsn(), "5.4.6");
        assert!(d.check("dave@example.com").is_ok());
    }

    #[test]
    fn a_rendered_delivery_is_recognised() {
        // What Maildir delivery prepends must be found again on a second pass.
        let env = crate::local::Envelope {
            recipient: "bob@example.com".into(),
            ..Default::default()
        };
        let out = crate::local::copy::render(
            &env,
            b"Subject: x\n\nbody\n",
            crate::local::copy::CopyFlags::MAILDIR,
            0,
        );
        assert!(DeliveredTo::from_message(&out).contains("bob@example.com"));
    }
}
