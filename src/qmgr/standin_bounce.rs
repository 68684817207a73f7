//! TEMPORARY stand-in for the bounce/DSN generator `crate::bounce`, with the
//! signature the real module has; the lead swaps it for the real one at merge.
//! It writes a plain notice (not a full RFC 3464 report) so that qmgr's side —
//! when a notice is made, who gets it, that it is queued with the null sender —
//! can be tested now.
//!
//! Mirrors the addressing rules of Postfix bounce(8): notices go to the sender;
//! a notice about a null-sender message goes to `2bounce_notice_recipient`.
//! Reads `2bounce_notice_recipient`, `myhostname`.

use crate::config::Config;
use crate::queue::StoredMessage;

/// Which notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnKind {
    Failure,
    Delay,
    Success,
}

/// One recipient reported in a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    pub address: String,
    pub orig_rcpt: Option<String>,
    pub orcpt: Option<String>,
    /// RFC 3463 code, e.g. `5.1.1`.
    pub status: String,
    /// RFC 3464 Action: `failed`, `delayed`, `delivered`, ...
    pub action: &'static str,
    pub diagnostic: String,
    pub remote_mta: Option<String>,
}

/// The notice to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessageParts {
    /// Empty: the null sender.
    pub sender: String,
    pub recipient: String,
    pub content: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BounceError {
    #[error("no recipient for the notice about {0}")]
    NoRecipient(String),
}

const TWO_BOUNCE_NOTICE_RECIPIENT: &str = "2bounce_notice_recipient";

pub fn build_dsn(
    kind: DsnKind,
    msg: &StoredMessage,
    recipients: &[DsnRecipient],
    cfg: &Config,
) -> Result<NewMessageParts, BounceError> {
    let to = if msg.entry.sender.is_empty() {
        cfg.get(TWO_BOUNCE_NOTICE_RECIPIENT)
    } else {
        msg.entry.sender.clone()
    };
    if to.is_empty() {
        return Err(BounceError::NoRecipient(msg.entry.queue_id.to_string()));
    }
    let subject = match kind {
        DsnKind::Failure => "Undelivered Mail Returned to Sender",
        DsnKind::Delay => "Delayed Mail (still being retried)",
        DsnKind::Success => "Successful Mail Delivery Report",
    };
    let mut text = format!(
        "From: MAILER-DAEMON@{host}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n\
         This is the mail system at host {host}.\r\n\r\n",
        host = cfg.get(crate::config::params::names::MYHOSTNAME)
    );
    for r in recipients {
        text.push_str(&format!(
            "<{}>: {} {} ({})\r\n",
            r.address, r.action, r.status, r.diagnostic
        ));
    }
    Ok(NewMessageParts {
        sender: String::new(),
        recipient: to,
        content: text.into_bytes(),
    })
}
