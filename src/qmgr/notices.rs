//! The end of a message's pass through the active queue: delivery status
//! notices to the sender (failure, delay, success), expiry of recipients
//! deferred for too long, and then removal or a return to the deferred queue.
//!
//! Mirrors Postfix qmgr_active.c qmgr_active_done() (expiry with
//! `from=<...>, status=expired, returned to sender`, bounce_flush, delay
//! warnings, `ID: removed`) and the bounce(8) log lines (`sender non-delivery
//! notification: ID`, `postmaster ...`, `sender delay notification`,
//! `sender delivery status notification`). Reads `double_bounce_sender` and, through the bounce
//! generator, what it reads. Notices follow RFC 3461 section 4.1 NOTIFY.

use super::active::ActiveMessage;
use super::names;
use super::scheduler::{unix_now, Scheduler};
use crate::bounce::{build_dsn, BounceError, DsnKind, DsnRecipient};
use crate::mail::delivery::SuccessNotice;
use crate::mail::dsn::{Dsn, Notify, Outcome};
use crate::queue::{Attempt, NewMessage, QueueId, QueueName, StoredRecipient};

/// NOTIFY when the client gave none: failures and delays (RFC 3461 section 4.1,
/// Postfix DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY).
fn notify_of(r: &StoredRecipient) -> Notify {
    r.notify.unwrap_or(Notify {
        success: false,
        failure: true,
        delay: true,
    })
}

fn dsn_recipient(r: &StoredRecipient, dsn: &Dsn, action: &'static str) -> DsnRecipient {
    DsnRecipient {
        address: r.address.clone(),
        orig_rcpt: r.orig_rcpt.clone(),
        orcpt: r.orcpt.clone(),
        status: dsn.status.to_string(),
        action,
        diagnostic: dsn.reason.clone(),
        remote_mta: None,
    }
}

pub fn finish(s: &mut Scheduler, id: &QueueId, mut entry: ActiveMessage) {
    let now = unix_now();
    let sender = entry.msg.entry.sender.clone();
    // Recipients deferred for longer than the queue lifetime are returned.
    if !entry.deferred.is_empty()
        && s.timing
            .expired(entry.msg.entry.arrival, sender.is_empty(), now)
    {
        ::log::info!("{id}: from=<{sender}>, status=expired, returned to sender");
        let expired = std::mem::take(&mut entry.deferred);
        let attempts = expired
            .iter()
            .map(|(index, dsn)| Attempt {
                rcpt_index: *index,
                outcome: Outcome::Bounced(dsn.clone()),
                next_attempt: None,
                tls: None,
            })
            .collect();
        s.record(id, attempts);
        for (index, dsn) in expired {
            entry.bounced.push((index, dsn, "none".into()));
        }
    }
    let mut failed = Vec::new();
    for (index, dsn, _) in &entry.bounced {
        if let Some(r) = entry.recipient(*index).filter(|r| notify_of(r).failure) {
            failed.push(dsn_recipient(r, dsn, "failed"));
        }
    }
    notice(s, id, &entry, DsnKind::Failure, failed);
    let mut succeeded = Vec::new();
    for (index, how) in &entry.delivered {
        let action = match how {
            SuccessNotice::Delivered => "delivered",
            SuccessNotice::Relayed => "relayed",
            SuccessNotice::PassedOn => continue,
        };
        if let Some(r) = entry.recipient(*index).filter(|r| notify_of(r).success) {
            let ok = Dsn::new(crate::mail::dsn::StatusCode::OK, action);
            succeeded.push(dsn_recipient(r, &ok, action));
        }
    }
    notice(s, id, &entry, DsnKind::Success, succeeded);
    if entry.deferred.is_empty() {
        s.delete(id);
        s.warned.remove(id);
        return;
    }
    if s.timing.warn_delay(entry.msg.entry.arrival, now) && !s.warned.contains(id) {
        let mut delayed = Vec::new();
        for (index, dsn) in &entry.deferred {
            if let Some(r) = entry.recipient(*index).filter(|r| notify_of(r).delay) {
                delayed.push(dsn_recipient(r, dsn, "delayed"));
            }
        }
        notice(s, id, &entry, DsnKind::Delay, delayed);
        s.warned.insert(id.clone());
    }
    // postsuper -h during delivery wins: a held message stays held.
    if s.current_queue(id) != Some(QueueName::Active) {
        return;
    }
    if let Err(e) = s.queue.move_to(id, QueueName::Deferred) {
        ::log::warn!("{id}: cannot move the message to the deferred queue: {e}");
    }
}

/// Is the sender the mail system's own postmaster-notice sender? Notices about
/// its mail are never sent: that is how Postfix ends bounce loops.
fn is_double_bounce(s: &Scheduler, sender: &str) -> bool {
    let local = sender.rsplit_once('@').map_or(sender, |(l, _)| l);
    !sender.is_empty() && local.eq_ignore_ascii_case(&s.cfg.get(names::DOUBLE_BOUNCE_SENDER))
}

/// Builds and queues one notice, logged as bounce(8) does.
fn notice(
    s: &mut Scheduler,
    id: &QueueId,
    entry: &ActiveMessage,
    kind: DsnKind,
    rcpts: Vec<DsnRecipient>,
) {
    if rcpts.is_empty() {
        return;
    }
    let sender = &entry.msg.entry.sender;
    if is_double_bounce(s, sender) {
        ::log::info!("{id}: discarding notice to the double-bounce sender <{sender}>");
        return;
    }
    let mut parts = match build_dsn(kind, &entry.msg, &rcpts, &s.cfg) {
        Ok(p) => p,
        // Not a failure: Postfix's rules say no notice is due (bounce/mod.rs).
        Err(BounceError::NotSent(why)) => {
            ::log::info!("{id}: {why}");
            return;
        }
        Err(e) => {
            ::log::warn!("{id}: cannot build the delivery status notice: {e}");
            return;
        }
    };
    // Never a notice to the null sender.
    if parts.recipient.is_empty() {
        ::log::info!("{id}: undeliverable postmaster notification discarded");
        return;
    }
    // A notice about a null-sender message (to the postmaster) is sent from
    // double_bounce_sender, so that if it fails in turn it is discarded
    // (is_double_bounce) instead of looping between postmaster notices.
    if sender.is_empty() && parts.sender.is_empty() {
        parts.sender = format!(
            "{}@{}",
            s.cfg.get(names::DOUBLE_BOUNCE_SENDER),
            s.cfg.get(names::MYORIGIN)
        );
    }
    let new_id = s.queue.new_id();
    let message = NewMessage::notice(
        new_id.clone(),
        unix_now(),
        parts.sender,
        parts.recipient,
        parts.content,
    );
    if let Err(e) = s.queue.insert(message) {
        ::log::warn!("{id}: cannot queue the delivery status notice: {e}");
        return;
    }
    let who = if sender.is_empty() {
        "postmaster"
    } else {
        "sender"
    };
    let what = match kind {
        DsnKind::Failure => "non-delivery notification",
        DsnKind::Delay => "delay notification",
        DsnKind::Success => "delivery status notification",
    };
    log_as("bounce", &format!("{id}: {who} {what}: {new_id}"));
}

/// Logs one line under another daemon's name, then returns to qmgr's.
fn log_as(service: &str, line: &str) {
    crate::log::set_service(service);
    ::log::info!("{line}");
    crate::log::set_service("qmgr");
}
