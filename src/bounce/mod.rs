//! Delivery status notifications: the RFC 3464 multipart/report messages that
//! tell a sender their mail failed, is delayed, or (NOTIFY=SUCCESS) arrived.
//! This module writes the notice; qmgr decides when one is due, queues it and
//! logs `ID: sender non-delivery notification: ID2`.
//!
//! Mirrors Postfix's bounce(8): bounce_notify_service.c (failures),
//! bounce_warn_service.c (delays), bounce_trace_service.c (success),
//! bounce_notify_util.c (the message layout) and bounce_template.c /
//! bounce_templates.c (the texts). Parameters read: `myhostname`, `myorigin`,
//! `bounce_size_limit`, `bounce_template_file`, `notify_classes`,
//! `2bounce_notice_recipient`, `bounce_notice_recipient`,
//! `delay_notice_recipient`, `double_bounce_sender`, `delay_warning_time`,
//! `maximal_queue_lifetime`, `enable_threaded_bounces`, `smtputf8_enable`.
//! Implements RFC 3464 sections 2.1-2.3 (report fields), RFC 6522 (the
//! multipart/report type, formerly RFC 3462), RFC 3461 sections 4.2-4.4 (ORCPT,
//! RET, ENVID carried into the report), RFC 3834 section 5 (Auto-Submitted) and,
//! for SMTPUTF8 mail, the RFC 6533 section 3 type names.
//!
//! Public API (what qmgr calls):
//! - `build_dsn(kind, &StoredMessage, &[DsnRecipient], &Config)
//!   -> Result<NewMessageParts, BounceError>`: the notice to queue. Its `sender` is
//!   `""` for a notice to the original sender and the `double_bounce_sender`
//!   address for a double bounce (so that a failing double bounce is discarded,
//!   never bounced again, as in Postfix). `Err(BounceError::NotSent(why))` when
//!   Postfix would send nothing (see `Discard`): log it, do not retry.
//! - `route(kind, &StoredMessage, &Config) -> Route`: who gets the notice, without
//!   building it; `is_double_bounce(kind, msg, cfg)` is `Route::DoubleBounce`.
//! - `wants_notice(kind, Option<Notify>) -> bool`: whether a recipient's NOTIFY
//!   asks for this kind of notice (absent NOTIFY = failure and delay).
//! - `postmaster_copy(kind, &Config) -> Option<String>`: the postmaster copy
//!   recipient when `notify_classes` asks for one (`bounce`, `delay`);
//!   `build_postmaster_copy(...)` builds it (headers only, no boilerplate text).
#![allow(dead_code)] // called by qmgr (issue 4)

mod compose;
mod names;
mod route;
mod template;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mime;
#[cfg(test)]
mod tests_postfix;

#[allow(unused_imports)] // the API qmgr calls (issue 4)
pub use route::{postmaster_copy, route, wants_notice, Discard, Route};

use crate::config::{Config, ConfigError};
use crate::mail::dsn::OrigRcpt;
use crate::queue::StoredMessage;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Which notice: the three kinds of bounce(8) service (verify is not built here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnKind {
    /// Undeliverable: bounce_notify_service, "Undelivered Mail Returned to Sender".
    Failure,
    /// Still queued after `delay_warning_time`: bounce_warn_service.
    Delay,
    /// Delivered to a recipient with NOTIFY=SUCCESS: bounce_trace_service.
    Success,
}

/// One recipient to report, as the delivery agent left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    pub address: String,
    /// The address before alias/virtual rewriting; shown as "(expanded from <...>)"
    /// and used for Original-Recipient when there is no ORCPT.
    pub orig_rcpt: Option<String>,
    /// RFC 3461 ORCPT, stored decoded.
    pub orcpt: Option<OrigRcpt>,
    /// RFC 3463 status, e.g. "5.1.1".
    pub status: String,
    /// RFC 3464 section 2.3.3: failed, delayed, delivered, relayed or expanded.
    pub action: &'static str,
    /// `type; text`, e.g. "smtp; 550 5.1.1 user unknown"; text without a type is
    /// reported as Postfix's "X-Postfix; text".
    pub diagnostic: String,
    /// The remote host, "mx.example.com" (or already "dns; mx.example.com").
    pub remote_mta: Option<String>,
}

/// A message for qmgr to queue: envelope and content (CRLF line ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessageParts {
    /// "" (the null sender) for notices to the sender; the `double_bounce_sender`
    /// address for double bounces and postmaster copies.
    pub sender: String,
    pub recipient: String,
    pub content: Vec<u8>,
}

/// Why no notice was built, naming the parameter or file at fault.
#[derive(Debug, Error)]
pub enum BounceError {
    /// Postfix sends nothing in this case; not a failure, do not retry.
    #[error("{0}")]
    NotSent(Discard),
    #[error("no recipients to report")]
    NoRecipients,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("read bounce_template_file {path}: {source}")]
    TemplateRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bounce_template_file {path}, line {line}: {reason}")]
    Template {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// The notice for `recipients` of `msg`, addressed as `route` says.
pub fn build_dsn(
    kind: DsnKind,
    msg: &StoredMessage,
    recipients: &[DsnRecipient],
    cfg: &Config,
) -> Result<NewMessageParts, BounceError> {
    let (sender, recipient, copy) = match route(kind, msg, cfg) {
        Route::Sender { to } => (String::new(), to, compose::Copy::Sender),
        Route::DoubleBounce { to, from } => (from, to, compose::Copy::DoubleBounce),
        Route::Discard(why) => return Err(BounceError::NotSent(why)),
    };
    let content = compose::compose(&compose::Request {
        kind,
        msg,
        recipients,
        cfg,
        to: &recipient,
        copy,
        now: now(),
    })?;
    Ok(NewMessageParts {
        sender,
        recipient,
        content,
    })
}

/// Whether `build_dsn` would write a double bounce (to `2bounce_notice_recipient`,
/// from `double_bounce_sender`) rather than a notice to the original sender.
pub fn is_double_bounce(kind: DsnKind, msg: &StoredMessage, cfg: &Config) -> bool {
    matches!(route(kind, msg, cfg), Route::DoubleBounce { .. })
}

/// The postmaster copy `notify_classes` asks for (`bounce` for failures, `delay`
/// for delays; never for success): the message headers and the report, no
/// boilerplate, from `double_bounce_sender`, as bounce_notify_service.c sends it
/// after the sender's notice. `NotSent` when no copy is wanted.
pub fn build_postmaster_copy(
    kind: DsnKind,
    msg: &StoredMessage,
    recipients: &[DsnRecipient],
    cfg: &Config,
) -> Result<NewMessageParts, BounceError> {
    let Some(to) = postmaster_copy(kind, cfg) else {
        return Err(BounceError::NotSent(Discard::NoPostmasterCopy));
    };
    let content = compose::compose(&compose::Request {
        kind,
        msg,
        recipients,
        cfg,
        to: &to,
        copy: compose::Copy::Postmaster,
        now: now(),
    })?;
    Ok(NewMessageParts {
        sender: route::double_bounce_address(cfg),
        recipient: to,
        content,
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
