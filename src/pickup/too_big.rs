//! A maildrop message larger than `message_size_limit` is not delivered: it
//! is queued (on hold, so that the maildrop file can go and nothing is lost
//! or queued twice), bounced to its sender with `5.3.4 message file too big`,
//! and removed, as cleanup(8) does with mail it got with CLEANUP_FLAG_BOUNCE
//! from pickup(8).
//!
//! Mirrors Postfix cleanup/cleanup_bounce.c (every recipient logged
//! `status=bounced`, one non-delivery notice, the message removed) and the
//! CLEANUP_STAT_SIZE entry of global/cleanup_strerror.c. Reads
//! `message_size_limit` (through `submit::Job`) and what the bounce notice
//! reads (bounce/mod.rs).

use crate::bounce::{build_dsn, BounceError, DsnKind, DsnRecipient};
use crate::config::Config;
use crate::queue::{NewMessage, QueueHandle, QueueId, Reader};

/// cleanup_strerror(CLEANUP_STAT_SIZE).
pub const STATUS: &str = "5.3.4";
pub const REASON: &str = "message file too big";

/// Whether `size` octets exceed `limit` (0: no limit).
pub fn exceeds(size: usize, limit: u64) -> bool {
    limit > 0 && size as u64 > limit
}

/// Bounces the held message `id` to its sender and removes it. Failures are
/// logged; the message then stays on hold for the administrator.
pub fn bounce(queue_dir: &std::path::Path, queue: &QueueHandle, cfg: &Config, id: &QueueId) {
    let msg = match Reader::open(queue_dir).and_then(|r| r.load(id)) {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(e) => {
            ::log::warn!("{id}: {e}; the oversized message stays on hold");
            return;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let delay = (now - msg.entry.arrival).max(0);
    crate::log::set_service("cleanup");
    let rcpts: Vec<DsnRecipient> = msg
        .entry
        .recipients
        .iter()
        .map(|r| {
            ::log::info!(
                "{id}: to=<{}>, relay=none, delay={delay}, delays={delay}/0/0/0, dsn={STATUS}, status=bounced ({REASON})",
                r.address
            );
            DsnRecipient {
                address: r.address.clone(),
                orig_rcpt: r.orig_rcpt.clone(),
                orcpt: r.orcpt.clone(),
                status: STATUS.to_string(),
                action: "failed",
                diagnostic: REASON.to_string(),
                remote_mta: None,
            }
        })
        .collect();
    crate::log::set_service("pickup");
    match build_dsn(DsnKind::Failure, &msg, &rcpts, cfg) {
        Ok(parts) if !parts.recipient.is_empty() => {
            let new_id = queue.new_id();
            let notice = NewMessage::notice(
                new_id.clone(),
                now,
                parts.sender,
                parts.recipient,
                parts.content,
            );
            if let Err(e) = queue.insert(notice) {
                ::log::warn!(
                    "{id}: cannot queue the delivery status notice: {e}; the message stays on hold"
                );
                return;
            }
            crate::log::set_service("bounce");
            ::log::info!("{id}: sender non-delivery notification: {new_id}");
            crate::log::set_service("pickup");
        }
        Ok(_) => ::log::info!("{id}: undeliverable postmaster notification discarded"),
        Err(BounceError::NotSent(why)) => ::log::info!("{id}: {why}"),
        Err(e) => {
            ::log::warn!(
                "{id}: cannot build the delivery status notice: {e}; the message stays on hold"
            );
            return;
        }
    }
    match queue.delete(id) {
        Ok(()) => {
            crate::log::set_service("qmgr");
            ::log::info!("{id}: removed");
            crate::log::set_service("pickup");
        }
        Err(e) => ::log::warn!("{id}: cannot remove the oversized message: {e}"),
    }
}
