//! The active set's entries: a message taken in for delivery, the recipients
//! still out with delivery agents, and what this pass did to the others; and
//! cutting a message into delivery jobs.
//!
//! Mirrors Postfix qmgr_message.c (qmgr_message_alloc: read the queue file,
//! resolve each recipient, sort recipients by transport and nexthop, split at
//! the destination recipient limit) and qmgr_entry.c (one job per "entry").
//! The destination of a transport whose recipient limit is 1 is the recipient
//! itself (per-user concurrency for local(8)), as qmgr_message_resolve() does.
//! Reads nothing itself (limits come from the transport registry).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::forward::Origin;
use super::resolve::{Route, Router};
use super::worker::Work;
use crate::mail::delivery::{ClientInfo, DeliveryJob, JobRecipient, SuccessNotice};
use crate::mail::dsn::{Dsn, StatusCode};
use crate::queue::{QueueName, RcptState, StoredMessage, StoredRecipient};

/// One message in the active set.
pub struct ActiveMessage {
    pub msg: StoredMessage,
    /// Jobs handed out (or waiting for a worker) and not yet answered.
    pub outstanding: usize,
    /// This pass: recipients bounced (for the failure notice).
    pub bounced: Vec<(u32, Dsn, String)>,
    /// This pass: recipients delivered (for NOTIFY=SUCCESS notices).
    pub delivered: Vec<(u32, SuccessNotice)>,
    /// This pass: recipients deferred, with the reason.
    pub deferred: Vec<(u32, Dsn)>,
}

impl ActiveMessage {
    pub fn new(msg: StoredMessage) -> ActiveMessage {
        ActiveMessage {
            msg,
            outstanding: 0,
            bounced: Vec::new(),
            delivered: Vec::new(),
            deferred: Vec::new(),
        }
    }

    pub fn recipient(&self, index: u32) -> Option<&StoredRecipient> {
        self.msg.entry.recipients.iter().find(|r| r.index == index)
    }
}

/// Recipients not yet finished: pending ones and deferred ones (a message taken
/// in is retried whole, as Postfix's qmgr does).
pub fn undone(msg: &StoredMessage) -> impl Iterator<Item = &StoredRecipient> {
    msg.entry
        .recipients
        .iter()
        .filter(|r| matches!(r.state, RcptState::Pending | RcptState::Deferred))
}

/// A recipient whose route could not be looked up: deferred, as Postfix's
/// "address resolver failure".
pub struct Unroutable {
    pub index: u32,
    pub dsn: Dsn,
}

/// Cuts a message into jobs: recipients grouped by route, then by destination
/// queue, each group split at `recipient_limit(transport)` (0: no limit).
pub fn jobs(
    msg: &StoredMessage,
    active_since: f64,
    router: &Router,
    recipient_limit: &mut dyn FnMut(&str) -> usize,
) -> (Vec<Work>, Vec<Unroutable>) {
    let mut groups: BTreeMap<(String, String, String), Vec<&StoredRecipient>> = BTreeMap::new();
    let mut failed = Vec::new();
    for r in undone(msg) {
        match router.route(&r.address) {
            Ok(Route { transport, nexthop }) => {
                let limit = recipient_limit(&transport);
                let dest = if limit == 1 {
                    r.address.to_lowercase()
                } else {
                    nexthop.to_lowercase()
                };
                groups
                    .entry((transport, nexthop, dest))
                    .or_default()
                    .push(r);
            }
            Err(e) => {
                ::log::warn!(
                    "{}: transport_maps lookup for {}: {e}",
                    msg.entry.queue_id,
                    r.address
                );
                failed.push(Unroutable {
                    index: r.index,
                    dsn: Dsn::new(StatusCode::new(4, 3, 0), "address resolver failure"),
                });
            }
        }
    }
    // Moved to the active queue only by this run of the queue manager, which
    // loaded it before the move: found there, it was being delivered before.
    let interrupted = msg.entry.queue == QueueName::Active;
    let content = Arc::clone(&msg.content);
    let origin = Arc::new(Origin {
        tls: msg.tls.clone(),
        body: msg.body,
        smtputf8: msg.smtputf8,
    });
    let mut out = Vec::new();
    for ((transport, nexthop, dest), rcpts) in groups {
        let limit = match recipient_limit(&transport) {
            0 => usize::MAX,
            n => n,
        };
        for chunk in rcpts.chunks(limit) {
            out.push(Work {
                job: DeliveryJob {
                    queue_id: msg.entry.queue_id.to_string(),
                    transport: transport.clone(),
                    nexthop: nexthop.clone(),
                    sender: msg.entry.sender.clone(),
                    arrival: msg.entry.arrival,
                    active_since,
                    envid: msg.envid.clone(),
                    ret: msg.ret,
                    client: ClientInfo {
                        name: msg.client_name.clone(),
                        addr: msg.client_addr.clone(),
                        helo: msg.helo.clone(),
                        protocol: msg.protocol.clone(),
                    },
                    recipients: chunk
                        .iter()
                        .map(|r| JobRecipient {
                            index: r.index,
                            address: r.address.clone(),
                            orig_rcpt: r.orig_rcpt.clone(),
                            notify: r.notify,
                            orcpt: r.orcpt.clone(),
                            retry: interrupted || r.attempts > 0,
                        })
                        .collect(),
                    content: Arc::clone(&content),
                },
                dest: dest.clone(),
                origin: Arc::clone(&origin),
                backlog: false,
            });
        }
    }
    (out, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, MainCf};
    use crate::queue::{QueueEntry, QueueId, QueueName};
    use std::path::Path;

    fn rcpt(index: u32, address: &str, state: RcptState) -> StoredRecipient {
        StoredRecipient {
            index,
            address: address.into(),
            orig_rcpt: None,
            notify: None,
            orcpt: None,
            state,
            attempts: 0,
            next_attempt: None,
            last_reason: None,
            last_dsn: None,
            tls: None,
        }
    }

    fn message(queue: QueueName, recipients: Vec<StoredRecipient>) -> StoredMessage {
        StoredMessage {
            entry: QueueEntry {
                queue_id: QueueId::parse("5BTFLw54r6").unwrap(),
                queue,
                arrival: 1,
                size: 1,
                sender: "s@x".into(),
                recipients,
            },
            client_name: String::new(),
            client_addr: String::new(),
            helo: String::new(),
            protocol: "ESMTP".into(),
            tls: None,
            envid: None,
            ret: None,
            body: None,
            smtputf8: false,
            content: b"x".to_vec().into(),
        }
    }

    #[test]
    fn grouped_by_route_and_split_at_the_recipient_limit() {
        let text = "myhostname = mx.example.com\ninet_interfaces = 127.0.0.1\n\
                    transport_maps = inline:{ {a.example=discard:}, {b.example=error:x} }\n";
        let main = MainCf::parse(Path::new("main.cf"), text.as_bytes()).unwrap();
        let cfg = Config::from_main(Path::new("/nonexistent"), main).unwrap();
        let router = Router::new(&cfg).unwrap();
        let msg = message(
            QueueName::Incoming,
            vec![
                rcpt(0, "1@a.example", RcptState::Pending),
                rcpt(1, "2@b.example", RcptState::Deferred),
                rcpt(2, "3@a.example", RcptState::Pending),
                rcpt(3, "4@a.example", RcptState::Delivered),
                rcpt(4, "5@a.example", RcptState::Pending),
                rcpt(5, "6@localhost", RcptState::Bounced),
                rcpt(6, "7@localhost", RcptState::Pending),
                rcpt(7, "8@localhost", RcptState::Pending),
            ],
        );
        let mut limit = |t: &str| if t == "local" { 1 } else { 2 };
        let (jobs, failed) = jobs(&msg, 2.0, &router, &mut limit);
        assert!(failed.is_empty());
        let got: Vec<(String, String, Vec<u32>)> = jobs
            .iter()
            .map(|w| {
                let idx = w.job.recipients.iter().map(|r| r.index).collect();
                (w.job.transport.clone(), w.dest.clone(), idx)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("discard".into(), "a.example".into(), vec![0, 2]),
                ("discard".into(), "a.example".into(), vec![4]),
                ("error".into(), "x".into(), vec![1]),
                ("local".into(), "7@localhost".into(), vec![6]),
                ("local".into(), "8@localhost".into(), vec![7]),
            ]
        );
        assert_eq!(jobs[0].job.nexthop, "a.example");
        assert_eq!(jobs[0].job.active_since, 2.0);
    }

    #[test]
    fn a_recipient_is_a_retry_when_tried_before_or_found_active() {
        let main =
            MainCf::parse(Path::new("main.cf"), &b"myhostname = mx.example.com\n"[..]).unwrap();
        let cfg = Config::from_main(Path::new("/nonexistent"), main).unwrap();
        let router = Router::new(&cfg).unwrap();
        let mut tried = rcpt(1, "b@localhost", RcptState::Deferred);
        tried.attempts = 1;
        let recipients = vec![rcpt(0, "a@localhost", RcptState::Pending), tried];
        let retries = |queue| {
            let msg = message(queue, recipients.clone());
            let (jobs, _) = jobs(&msg, 2.0, &router, &mut |_| 0);
            let mut flags: Vec<(u32, bool)> = jobs
                .iter()
                .flat_map(|w| w.job.recipients.iter().map(|r| (r.index, r.retry)))
                .collect();
            flags.sort();
            flags
        };
        assert_eq!(retries(QueueName::Incoming), [(0, false), (1, true)]);
        assert_eq!(retries(QueueName::Deferred), [(0, false), (1, true)]);
        // Loaded from the active queue: its delivery was interrupted.
        assert_eq!(retries(QueueName::Active), [(0, true), (1, true)]);
    }
}
