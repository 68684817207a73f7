//! The two delivery agents that need no mailbox: discard(8), which pretends to
//! deliver, and error(8), which bounces (or, as the `retry` service, defers)
//! every recipient with the nexthop text as the reason.
//!
//! Mirrors Postfix discard/discard.c and error/error.c: the nexthop is the
//! reason, optionally prefixed with an RFC 3463 code; error's default code is
//! 5.0.0, retry's 4.0.0, discard's 2.0.0. Reads no parameters.

use crate::mail::delivery::{DeliveryJob, DeliveryResult, RecipientResult};
use crate::mail::dsn::{Dsn, Outcome, StatusCode};

/// Splits `5.1.1 text` into the code and the text (Postfix dsn_split()).
pub fn split_reason(text: &str, default: StatusCode) -> (StatusCode, String) {
    let text = text.trim();
    if let Some((code, rest)) = text.split_once(char::is_whitespace) {
        if let Ok(status) = StatusCode::parse(code) {
            return (status, rest.trim_start().to_string());
        }
    }
    match StatusCode::parse(text) {
        Ok(status) => (status, String::new()),
        Err(_) => (default, text.to_string()),
    }
}

fn each(job: &DeliveryJob, outcome: Outcome, detail: &str) -> DeliveryResult {
    DeliveryResult {
        queue_id: job.queue_id.clone(),
        transport: job.transport.clone(),
        recipients: job
            .recipients
            .iter()
            .map(|r| RecipientResult {
                index: r.index,
                outcome: outcome.clone(),
                relay: "none".into(),
                detail: detail.to_string(),
                forwarded: Vec::new(),
                tls: None,
                parts: Vec::new(),
                success: Default::default(),
            })
            .collect(),
    }
}

/// discard(8): every recipient delivered, the nexthop logged as the reason.
pub fn discard(job: &DeliveryJob) -> DeliveryResult {
    let (_, text) = split_reason(&job.nexthop, StatusCode::OK);
    let text = if text.is_empty() {
        "discarded".to_string()
    } else {
        text
    };
    each(job, Outcome::Delivered, &text)
}

/// error(8): bounce every recipient; as `retry` (`defer`), defer them.
pub fn error(job: &DeliveryJob, defer: bool) -> DeliveryResult {
    let class = if defer { 4 } else { 5 };
    let (status, text) = split_reason(&job.nexthop, StatusCode::new(class, 0, 0));
    // The service decides soft versus hard, whatever class the text carries.
    let dsn = Dsn::new(status.with_class(class), text);
    let outcome = if defer {
        Outcome::Deferred(dsn)
    } else {
        Outcome::Bounced(dsn)
    };
    each(job, outcome, "")
}

/// A transport Postern has no agent for yet (smtp, lmtp, pipe, ...) or that
/// master.cf does not define: deferred, never dropped or bounced.
pub fn unavailable(job: &DeliveryJob) -> DeliveryResult {
    let dsn = Dsn::new(StatusCode::new(4, 3, 0), "mail transport unavailable");
    each(job, Outcome::Deferred(dsn), "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn job(nexthop: &str) -> DeliveryJob {
        DeliveryJob {
            queue_id: "Q".into(),
            transport: "x".into(),
            nexthop: nexthop.into(),
            sender: String::new(),
            arrival: 0,
            active_since: 0.0,
            envid: None,
            ret: None,
            client: Default::default(),
            recipients: vec![crate::mail::delivery::JobRecipient {
                index: 3,
                address: "a@b".into(),
                orig_rcpt: None,
                notify: None,
                orcpt: None,
                retry: false,
            }],
            content: Arc::new(Vec::new()),
        }
    }

    #[test]
    fn reasons_and_codes() {
        let r = error(&job("5.1.1 no such user"), false);
        assert_eq!(
            r.recipients[0].outcome,
            Outcome::Bounced(Dsn::new(StatusCode::new(5, 1, 1), "no such user"))
        );
        let r = error(&job("go away"), false);
        assert_eq!(
            r.recipients[0].outcome,
            Outcome::Bounced(Dsn::new(StatusCode::OTHER_PERM, "go away"))
        );
        let r = error(&job("5.7.1 later"), true);
        assert_eq!(
            r.recipients[0].outcome,
            Outcome::Deferred(Dsn::new(StatusCode::new(4, 7, 1), "later"))
        );
        let r = discard(&job(""));
        assert_eq!(r.recipients[0].detail, "discarded");
        assert_eq!(r.recipients[0].index, 3);
        let r = discard(&job("2.0.0 spam trap"));
        assert_eq!(r.recipients[0].detail, "spam trap");
        let r = unavailable(&job(""));
        assert!(
            matches!(&r.recipients[0].outcome, Outcome::Deferred(d) if d.status.to_string() == "4.3.0")
        );
    }
}
