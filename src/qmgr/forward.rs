//! Mail a delivery agent forwards (alias or `.forward` expansion to other
//! addresses) is queued as a new message from the same sender, before the
//! recipient is logged `status=sent (forwarded as NEWID)`; if it cannot be
//! queued, the recipient is deferred instead, so nothing is lost.
//!
//! Mirrors Postfix local(8) forward.c (forward_append/forward_finish: a new
//! queue file through cleanup, `forwarded as ID`, a cleanup failure defers the
//! original recipient). Reads no parameters.

use crate::cleanup::date::mail_date;
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

/// Queues the forwarded copies of `result`'s recipients: one new message
/// per (Delivered-To, sender) pair, as forward_finish() sends one per pair,
/// each starting with `Received: by $myhostname (Postfix) id NEWID; date`
/// and its `Delivered-To:` header (when the agent asked for one).
pub fn resubmit(
    queue: &QueueHandle,
    job: &DeliveryJob,
    origin: &Origin,
    myhostname: &str,
    result: &mut DeliveryResult,
) {
    for r in &mut result.recipients {
        if r.forwarded.is_empty() || r.outcome != Outcome::Delivered {
            continue;
        }
        let mut groups: Vec<(&str, Option<&str>, Vec<&str>)> = Vec::new();
        for f in &r.forwarded {
            let key = (f.sender.as_str(), f.delivered_to.as_deref());
            match groups.iter_mut().find(|g| (g.0, g.1) == key) {
                Some(g) => g.2.push(&f.address),
                None => groups.push((key.0, key.1, vec![&f.address])),
            }
        }
        let mut parts = Vec::new();
        let mut failed = None;
        for (sender, delivered_to, addresses) in &groups {
            let new_id = queue.new_id();
            let now = super::scheduler::unix_now();
            let mut content = format!(
                "Received: by {myhostname} (Postfix)\r\n\tid {new_id}; {}\r\n",
                mail_date(now)
            );
            if let Some(d) = delivered_to {
                content.push_str(&format!("Delivered-To: {d}\r\n"));
            }
            let mut content = content.into_bytes();
            content.extend_from_slice(job.content.as_ref());
            let message = NewMessage {
                queue_id: new_id.clone(),
                queue: QueueName::Incoming,
                arrival: now,
                sender: sender.to_string(),
                client_name: job.client.name.clone(),
                client_addr: job.client.addr.clone(),
                helo: job.client.helo.clone(),
                protocol: job.client.protocol.clone(),
                tls: origin.tls.clone(),
                envid: job.envid.clone(),
                ret: job.ret,
                body: origin.body,
                smtputf8: origin.smtputf8,
                recipients: addresses
                    .iter()
                    .map(|a| NewRecipient {
                        address: a.to_string(),
                        orig_rcpt: None,
                        notify: None,
                        orcpt: None,
                    })
                    .collect(),
                content,
            };
            match queue.insert(message) {
                Ok(_) => {
                    let text = format!("forwarded as {new_id}");
                    for a in addresses {
                        parts.push(DeliveredPart {
                            address: a.to_string(),
                            detail: text.clone(),
                        });
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            r.outcome = Outcome::Deferred(Dsn::new(
                StatusCode::new(4, 3, 0),
                format!("cannot queue forwarded mail: {e}"),
            ));
            continue;
        }
        if r.detail.is_empty() || r.detail == "forwarded" {
            r.detail = parts.first().map(|p| p.detail.clone()).unwrap_or_default();
        }
        // An agent that logs its parts logs each forwarded address too.
        if !r.parts.is_empty() || r.detail.starts_with("forwarded as ") {
            r.parts.extend(parts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::delivery::{Forwarded, JobRecipient, RecipientResult};
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
                retry: false,
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
                forwarded: vec![
                    Forwarded::plain("a@elsewhere", "s@example.com"),
                    Forwarded {
                        address: "b@elsewhere".into(),
                        sender: "s@example.com".into(),
                        delivered_to: None,
                    },
                ],
                tls: None,
                parts: Vec::new(),
                success: Default::default(),
            }],
        };
        resubmit(
            &store.handle(),
            &job,
            &Origin::default(),
            "mx.example",
            &mut result,
        );
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
