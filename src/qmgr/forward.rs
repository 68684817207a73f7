//! Mail a delivery agent forwards (alias or `.forward` expansion to other
//! addresses) is queued as a new message from the same sender, before the
//! recipient is logged `status=sent (forwarded as NEWID)`; if it cannot be
//! queued, the recipient is deferred instead, so nothing is lost.
//!
//! Mirrors Postfix local(8) forward.c (forward_append/forward_finish: a new
//! queue file through cleanup, `forwarded as ID`, a cleanup failure defers the
//! original recipient). Reads no parameters.

use crate::mail::delivery::{DeliveredPart, DeliveryJob, DeliveryResult};
use crate::mail::dsn::{Dsn, Outcome, StatusCode};
use crate::mail::envelope::Body;
use crate::queue::{NewMessage, NewRecipient, QueueHandle, QueueName, SessionTls};

/// What a forwarded copy keeps of the original that a `DeliveryJob` lacks.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub tls: Option<SessionTls>,
    pub body: Option<Body>,
    pub smtputf8: bool,
}

/// Queues the forwarded copies of `result`'s recipients.
pub fn resubmit(
    queue: &QueueHandle,
    job: &DeliveryJob,
    origin: &Origin,
    result: &mut DeliveryResult,
) {
    for r in &mut result.recipients {
        if r.forwarded.is_empty() || r.outcome != Outcome::Delivered {
            continue;
        }
        let new_id = queue.new_id();
        let message = NewMessage {
            queue_id: new_id.clone(),
            queue: QueueName::Incoming,
            arrival: super::scheduler::unix_now(),
            sender: job.sender.clone(),
            client_name: job.client.name.clone(),
            client_addr: job.client.addr.clone(),
            helo: job.client.helo.clone(),
            protocol: job.client.protocol.clone(),
            tls: origin.tls.clone(),
            envid: job.envid.clone(),
            ret: job.ret,
            body: origin.body,
            smtputf8: origin.smtputf8,
            recipients: r
                .forwarded
                .iter()
                .map(|a| NewRecipient {
                    address: a.clone(),
                    orig_rcpt: None,
                    notify: None,
                    orcpt: None,
                })
                .collect(),
            content: job.content.as_ref().clone(),
        };
        match queue.insert(message) {
            Ok(_) => {
                let text = format!("forwarded as {new_id}");
                if r.detail.is_empty() || r.detail == "forwarded" {
                    r.detail = text.clone();
                }
                // An agent that logs its parts logs each forwarded address too.
                if !r.parts.is_empty() || r.detail == text {
                    for a in &r.forwarded {
                        r.parts.push(DeliveredPart {
                            address: a.clone(),
                            detail: text.clone(),
                        });
                    }
                }
            }
            Err(e) => {
                r.outcome = Outcome::Deferred(Dsn::new(
                    StatusCode::new(4, 3, 0),
                    format!("cannot queue forwarded mail: {e}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::delivery::{JobRecipient, RecipientResult};
    use crate::queue::{Reader, Store};
    use std::sync::Arc;

    #[test]
    fn forwarded_copy_is_queued_before_the_line_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let job = DeliveryJob {
            queue_id: "Q".into(),
            transport: "local".into(),
            nexthop: "x".into(),
            sender: "s@example.com".into(),
            arrival: 1,
            active_since: 1.0,
            envid: Some("E1".into()),
            ret: None,
            client: Default::default(),
            recipients: vec![JobRecipient {
                index: 0,
                address: "alias@x".into(),
                orig_rcpt: None,
                notify: None,
                orcpt: None,
            }],
            content: Arc::new(b"Subject: x\r\n\r\nbody\r\n".to_vec()),
        };
        let mut result = DeliveryResult {
            queue_id: "Q".into(),
            transport: "local".into(),
            recipients: vec![RecipientResult {
                index: 0,
                outcome: Outcome::Delivered,
                relay: "local".into(),
                detail: String::new(),
                forwarded: vec!["a@elsewhere".into(), "b@elsewhere".into()],
                tls: None,
                parts: Vec::new(),
            }],
        };
        resubmit(&store.handle(), &job, &Origin::default(), &mut result);
        let detail = &result.recipients[0].detail;
        let id = detail.strip_prefix("forwarded as ").unwrap();
        let reader = Reader::open(dir.path()).unwrap();
        let list = reader.list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].queue_id.to_string(), id);
        assert_eq!(list[0].sender, "s@example.com");
        let to: Vec<&str> = list[0]
            .recipients
            .iter()
            .map(|r| r.address.as_str())
            .collect();
        assert_eq!(to, ["a@elsewhere", "b@elsewhere"]);
        assert_eq!(result.recipients[0].outcome, Outcome::Delivered);
    }
}
