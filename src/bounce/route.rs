//! Who receives a notice: the original sender, the postmaster (a double bounce),
//! or nobody; and whether `notify_classes` wants a postmaster copy.
//!
//! Mirrors the recipient choice at the top of Postfix's bounce_notify_service.c,
//! bounce_warn_service.c and bounce_trace_service.c, and mail_addr.c
//! (`mail_addr_double_bounce()`). Parameters read: `notify_classes`,
//! `2bounce_notice_recipient`, `bounce_notice_recipient`,
//! `delay_notice_recipient`, `double_bounce_sender`, `myorigin`. RFC 5321 section
//! 4.5.5 (notices go out with the null sender and are never answered).

use super::{names, DsnKind};
use crate::config::Config;
use crate::mail::dsn::Notify;
use crate::queue::StoredMessage;
use std::fmt;

/// Where a notice goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To the original sender, from the null sender.
    Sender { to: String },
    /// The message was itself a bounce (null sender): to
    /// `2bounce_notice_recipient`, from the `double_bounce_sender` address.
    DoubleBounce { to: String, from: String },
    /// Postfix sends nothing.
    Discard(Discard),
}

/// Why Postfix sends no notice; `Display` is the text to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// The sender is the `double_bounce_sender` address: a notice about a failed
    /// double bounce would be a triple bounce (bounce_notify_service.c).
    TripleBounce,
    /// A null-sender message failed and `notify_classes` has neither `bounce`
    /// nor `2bounce` (Postfix's default): the double bounce is dropped.
    DoubleBounceNotWanted,
    /// NOTIFY=SUCCESS on a bounce: bounce_trace_service.c sends nothing.
    SuccessForBounce,
    /// `notify_classes` asks for no postmaster copy of this kind of notice.
    NoPostmasterCopy,
}

impl fmt::Display for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Discard::TripleBounce => "undeliverable postmaster notification discarded",
            Discard::DoubleBounceNotWanted => {
                "undeliverable bounce discarded (notify_classes has no 2bounce)"
            }
            Discard::SuccessForBounce => {
                "not sending trace/success notification for single-bounce message"
            }
            Discard::NoPostmasterCopy => "no postmaster copy wanted by notify_classes",
        })
    }
}

/// Who gets the `kind` notice about `msg`.
pub fn route(kind: DsnKind, msg: &StoredMessage, cfg: &Config) -> Route {
    let sender = msg.entry.sender.as_str();
    if is_double_bounce_sender(sender, cfg) {
        return Route::Discard(Discard::TripleBounce);
    }
    if !sender.is_empty() {
        return Route::Sender {
            to: sender.to_string(),
        };
    }
    match kind {
        DsnKind::Success => Route::Discard(Discard::SuccessForBounce),
        // "bounce (also implies 2bounce)" (postconf(5) notify_classes).
        DsnKind::Failure | DsnKind::Delay
            if has_class(cfg, "2bounce") || has_class(cfg, "bounce") =>
        {
            Route::DoubleBounce {
                to: qualify(&cfg.get(names::DOUBLE_BOUNCE_NOTICE_RECIPIENT), cfg),
                from: double_bounce_address(cfg),
            }
        }
        DsnKind::Failure | DsnKind::Delay => Route::Discard(Discard::DoubleBounceNotWanted),
    }
}

/// The recipient of the postmaster copy of a `kind` notice, when `notify_classes`
/// asks for one: `bounce` -> `bounce_notice_recipient`, `delay` ->
/// `delay_notice_recipient`. Success notices have no postmaster copy.
pub fn postmaster_copy(kind: DsnKind, cfg: &Config) -> Option<String> {
    let (class, param) = match kind {
        DsnKind::Failure => ("bounce", names::BOUNCE_NOTICE_RECIPIENT),
        DsnKind::Delay => ("delay", names::DELAY_NOTICE_RECIPIENT),
        DsnKind::Success => return None,
    };
    has_class(cfg, class).then(|| qualify(&cfg.get(param), cfg))
}

/// Whether a recipient's NOTIFY asks for a `kind` notice (RFC 3461 section
/// 4.1). Without NOTIFY, failures and delays are reported and success is not,
/// as Postfix does (its DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY default);
/// NOTIFY=NEVER asks for nothing. qmgr leaves unwanted recipients out of the
/// list it hands to `build_dsn`, and sends no notice when none is left.
pub fn wants_notice(kind: DsnKind, notify: Option<Notify>) -> bool {
    match (kind, notify) {
        (DsnKind::Success, None) => false,
        (DsnKind::Failure | DsnKind::Delay, None) => true,
        (DsnKind::Failure, Some(n)) => n.failure,
        (DsnKind::Delay, Some(n)) => n.delay,
        (DsnKind::Success, Some(n)) => n.success,
    }
}

/// `double_bounce_sender`, qualified with `@$myorigin` as mail_addr.c does.
pub fn double_bounce_address(cfg: &Config) -> String {
    qualify(&cfg.get(names::DOUBLE_BOUNCE_SENDER), cfg)
}

fn is_double_bounce_sender(sender: &str, cfg: &Config) -> bool {
    let bare = cfg.get(names::DOUBLE_BOUNCE_SENDER);
    !sender.is_empty()
        && (sender.eq_ignore_ascii_case(&double_bounce_address(cfg))
            || sender.eq_ignore_ascii_case(&bare))
}

fn has_class(cfg: &Config, class: &str) -> bool {
    cfg.get_list(names::NOTIFY_CLASSES)
        .iter()
        .any(|c| c.eq_ignore_ascii_case(class))
}

/// `user` -> `user@$myorigin`, as Postfix's cleanup qualifies the postmaster
/// addresses of its own notices (append_at_myorigin).
fn qualify(address: &str, cfg: &Config) -> String {
    if address.contains('@') || address.is_empty() {
        address.to_string()
    } else {
        format!("{address}@{}", cfg.get(names::MYORIGIN))
    }
}
