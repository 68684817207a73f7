//! MAIL FROM: start a transaction, after the sequencing checks, the SIZE
//! estimate, the STARTTLS requirement and the sender restrictions.
//!
//! Mirrors Postfix smtpd.c `mail_cmd` ("503 5.5.1 Error: nested MAIL command",
//! "530 5.7.0 Must issue a STARTTLS command first", "552 5.3.4 Message size
//! exceeds fixed limit", `smtpd_helo_required`). Reads `smtpd_helo_required`,
//! `message_size_limit`, the effective `smtpd_tls_security_level`. Implements
//! RFC 5321 section 4.1.1.2, RFC 1870 section 6.1 (SIZE), RFC 3207 section 4
//! (encrypt level), RFC 6531 (SMTPUTF8).

use super::reply;
use super::restrictions::{Checkpoint, Verdict};
use super::session::{Flow, Session, Transaction};
use crate::mail::address::Path;
use crate::mail::envelope::MailParams;

pub(super) fn mail(s: &mut Session, sender: Path, params: MailParams) -> Flow {
    let st = &s.svc.settings;
    if s.helo.is_none() && st.helo_required {
        s.send(&reply::SEND_HELO_FIRST);
        return Flow::Continue;
    }
    if s.tls.is_none() && st.tls_level.must_encrypt() {
        s.send(&reply::MUST_STARTTLS);
        return Flow::Continue;
    }
    if s.tx.is_some() {
        s.send(&reply::NESTED_MAIL);
        return Flow::Continue;
    }
    if let Some(r) = s.connect_reject.clone() {
        s.send(&r);
        return Flow::Continue;
    }
    if sender.mailbox().is_some_and(|m| m.needs_smtputf8()) && !params.smtputf8 {
        s.send(&reply::UNICODE_WITHOUT_SMTPUTF8);
        return Flow::Continue;
    }
    if let (Some(size), limit) = (params.size, st.message_size_limit) {
        if limit > 0 && size > limit {
            s.send(&reply::MESSAGE_TOO_BIG);
            return Flow::Continue;
        }
    }
    s.tx = Some(Transaction::new(sender, params));
    let d = s.check(Checkpoint::Mail, None);
    match d.verdict {
        Verdict::Reject(r) | Verdict::Defer(r) => {
            s.log_reject("MAIL", &r, None);
            s.tx = None;
            s.send(&r);
            return Flow::Continue;
        }
        Verdict::Hold(text) => set_action(s, true, text),
        Verdict::Discard(text) => set_action(s, false, text),
        Verdict::Continue => {}
    }
    s.send(&reply::SENDER_OK);
    Flow::Continue
}

/// Records a HOLD or DISCARD verdict on the transaction, logged as Postfix
/// smtpd_check.c does (`hold:`/`discard:` with the stage).
pub(super) fn set_action(s: &mut Session, hold: bool, text: String) {
    let stage = s.stage.clone();
    let action = if hold { "hold" } else { "discard" };
    s.log_whatsup(action, &stage, &text, None);
    if let Some(tx) = s.tx.as_mut() {
        if hold {
            tx.hold = Some(text);
        } else {
            tx.discard = Some(text);
        }
    }
}
