//! RCPT TO: one recipient, after sequencing, the recipient limit and the
//! relay/recipient restrictions; the first accepted recipient opens the queue
//! entry (queue id, `ID: client=host[addr]`).
//!
//! Mirrors Postfix smtpd.c `rcpt_cmd` ("503 5.5.1 Error: need MAIL command",
//! "452 4.5.3 Error: too many recipients", `mail_open_stream` at the first valid
//! recipient with `smtpd_delay_open_until_valid_rcpt = yes`). Reads
//! `smtpd_recipient_limit`. Implements RFC 5321 sections 4.1.1.3 and 4.5.3.1.8
//! (recipient buffer: 452 to ask for the rest later), RFC 3461 section 4
//! (NOTIFY, ORCPT kept per recipient).

use super::mail::set_action;
use super::reply;
use super::restrictions::{Checkpoint, Verdict};
use super::session::{Flow, Session};
use crate::mail::address::Mailbox;
use crate::mail::envelope::{RcptParams, Recipient};

pub(super) fn rcpt(s: &mut Session, recipient: Mailbox, params: RcptParams) -> Flow {
    let Some(tx) = s.tx.as_ref() else {
        s.send(&reply::NEED_MAIL);
        return Flow::Continue;
    };
    if tx.bdat.is_some() {
        s.send(&reply::RCPT_AFTER_BDAT);
        return Flow::Continue;
    }
    if tx.rcpts.len() >= s.svc.settings.recipient_limit {
        s.send(&reply::TOO_MANY_RECIPIENTS);
        return Flow::Continue;
    }
    if recipient.needs_smtputf8() && !tx.params.smtputf8 {
        s.send(&reply::UNICODE_WITHOUT_SMTPUTF8);
        return Flow::Continue;
    }
    let addr = recipient.to_string();
    let d = s.check(Checkpoint::Rcpt, Some(&addr));
    match d.verdict {
        Verdict::Reject(r) | Verdict::Defer(r) => {
            s.log_reject("RCPT", &r, Some(&addr));
            s.send(&r);
            return Flow::Continue;
        }
        Verdict::Hold(text) => set_action(s, true, text),
        Verdict::Discard(text) => set_action(s, false, text),
        Verdict::Continue => {}
    }
    let queue = s.svc.queue.clone();
    let namaddr = s.client.namaddr.clone();
    if let Some(tx) = s.tx.as_mut() {
        if tx.queue_id.is_none() {
            let id = queue.new_id();
            ::log::info!("{id}: client={namaddr}");
            tx.queue_id = Some(id);
        }
        tx.rcpts.push(Recipient::new(recipient, params));
    }
    s.send(&reply::RCPT_OK);
    Flow::Continue
}
