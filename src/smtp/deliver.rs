//! One delivery job from start to end: TLS policy, nexthop, the servers in
//! order within the address and session limits, the transaction, and one
//! result per recipient; plus the idle connection kept for the next job to the
//! same destination.
//!
//! Mirrors Postfix smtp_connect.c `smtp_connect_remote()` (the loop over MX
//! addresses, "final server" handling, `smtp_mx_address_limit`,
//! `smtp_mx_session_limit`, the same-address plaintext retry after a failed
//! opportunistic STARTTLS, connection caching per `smtp_connection_cache_on_demand`
//! and `smtp_connection_cache_time_limit`) and smtp_trouble.c (soft errors at a
//! non-final server leave the recipient for the next one). Parameters via
//! `Settings`.

use std::sync::Arc;
use std::time::Instant;

use super::nexthop;
use super::session::{Attempt, OpenFailure, Peer, Session, TlsOutcome};
use super::transaction::{self, RcptStatus};
use super::trouble::{self, Failure};
use super::SmtpContext;
use crate::dns::Resolver;
use crate::mail::delivery::{DeliveryJob, DeliveryResult, RecipientResult};
use crate::mail::dsn::{Outcome, StatusCode};
use crate::tls::TlsLevel;

/// One worker's smtp agent: the shared context, its own resolver and at most
/// one idle connection.
pub struct SmtpAgent {
    ctx: Arc<SmtpContext>,
    resolver: Resolver,
    idle: Option<(Session, Instant)>,
}

/// Where one recipient stands during the job.
struct Slot {
    /// Final outcome, or the last soft failure while servers remain.
    done: Option<Outcome>,
    last: Option<Failure>,
    relay: Option<(Peer, TlsOutcome)>,
    detail: String,
}

impl SmtpAgent {
    pub fn new(ctx: Arc<SmtpContext>) -> SmtpAgent {
        let resolver = Resolver::new(ctx.settings.resolver.clone());
        SmtpAgent {
            ctx,
            resolver,
            idle: None,
        }
    }

    /// When the idle connection (if any) must be closed.
    pub fn idle_deadline(&self) -> Option<Instant> {
        self.idle
            .as_ref()
            .map(|(_, since)| *since + self.ctx.settings.cache_time_limit)
    }

    /// Closes the idle connection when its time is up.
    pub fn expire_idle(&mut self) {
        if self.idle_deadline().is_some_and(|d| d <= Instant::now()) {
            if let Some((s, _)) = self.idle.take() {
                s.quit(&self.ctx.settings);
            }
        }
    }

    /// An idle session for `nexthop`, reset and ready (others are closed).
    fn cached(&mut self, nexthop: &str) -> Option<Session> {
        self.expire_idle();
        let (mut s, _) = self.idle.take()?;
        if s.nexthop != nexthop {
            s.quit(&self.ctx.settings);
            return None;
        }
        if s.reset(&self.ctx.settings) {
            Some(s)
        } else {
            s.quit(&self.ctx.settings);
            None
        }
    }

    fn keep_or_quit(&mut self, session: Session, reusable: bool, backlog: bool) {
        let s = &self.ctx.settings;
        // As Postfix: a TLS connection is cached only with
        // smtp_tls_connection_reuse (smtp_proto.c DONT_CACHE_THIS_SESSION).
        let tls_ok = s.tls_connection_reuse || !session.conn.is_tls();
        // smtp_connection_reuse_count_limit / _time_limit (smtp_reuse.c).
        let fresh = (s.reuse_count_limit == 0 || session.uses < s.reuse_count_limit)
            && (s.reuse_time_limit.is_zero() || session.opened.elapsed() < s.reuse_time_limit);
        if reusable
            && backlog
            && tls_ok
            && fresh
            && s.cache_on_demand
            && !s.cache_time_limit.is_zero()
        {
            if let Some((old, _)) = self.idle.replace((session, Instant::now())) {
                old.quit(&self.ctx.settings);
            }
        } else {
            session.quit(&self.ctx.settings);
        }
    }

    /// Delivers one job. `backlog` (more mail for the destination waits in
    /// qmgr) lets the connection be kept for the next job, as Postfix's
    /// `smtp_connection_cache_on_demand`.
    pub fn deliver(&mut self, job: &DeliveryJob, backlog: bool) -> DeliveryResult {
        let mut slots: Vec<Slot> = job
            .recipients
            .iter()
            .map(|_| Slot {
                done: None,
                last: None,
                relay: None,
                detail: String::new(),
            })
            .collect();
        self.run(job, &mut slots, backlog);
        self.results(job, slots)
    }

    fn run(&mut self, job: &DeliveryJob, slots: &mut [Slot], backlog: bool) {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.settings;
        let policy = match ctx.policies.lookup(&job.nexthop) {
            Ok(p) => p,
            Err(_) => return fail_all(slots, &trouble::tls_policy()),
        };
        if policy.level.is_dane() {
            ::log::warn!(
                "{}: DANE is not built yet; TLS policy \"{}\" acts as \"encrypt\"",
                job.nexthop,
                policy.level.name()
            );
        }
        if let Some(mut session) = self.cached(&job.nexthop) {
            let reusable = transact(&mut session, s, job, slots, false);
            self.keep_or_quit(session, reusable, backlog);
            if slots.iter().all(|x| x.done.is_some()) {
                return;
            }
        }
        let dest = match nexthop::parse(&job.nexthop, s.default_port) {
            Ok(d) => d,
            Err(e) => return fail_all(slots, &trouble::nexthop(&e)),
        };
        let targets =
            match nexthop::targets(&mut self.resolver, &dest, s.family, s.mx_address_limit) {
                Ok(t) if !t.is_empty() => t,
                Ok(_) => {
                    let f = Failure::new(
                        StatusCode::new(4, 4, 3),
                        format!("No address for {}", dest.domain),
                    );
                    return fail_all(slots, &f);
                }
                Err(e) => return fail_all(slots, &trouble::nexthop(&e)),
            };
        // Postfix 3.7 smtp_proto.c PLAINTEXT_FALLBACK_OK_AFTER_STARTTLS_FAILURE:
        // the message waited at least minimal_backoff_time before this attempt.
        let waited = job.active_since - job.arrival as f64;
        let plaintext_fallback = waited >= s.minimal_backoff_time.as_secs_f64();
        let mut sessions = 0usize;
        let count = targets.len();
        let best = targets.first().map_or(0, |t| t.preference);
        for (i, target) in targets.into_iter().enumerate() {
            let last_target =
                i + 1 == count || (s.mx_session_limit > 0 && sessions + 1 >= s.mx_session_limit);
            let attempt = Attempt {
                settings: s,
                tls: &ctx.tls,
                policy: &policy,
                nexthop: &dest.domain,
                peer: Peer {
                    host: target.host.clone(),
                    addr: target.addr,
                    port: dest.port,
                },
                plaintext_fallback,
                best_mx: target.preference == best,
                job_nexthop: &job.nexthop,
                tls_loglevel: ctx.tls_loglevel,
            };
            let opened = match attempt.open(policy.level) {
                Err(f) if f.retry_plain => {
                    // Logged as a non-final soft error (smtp_trouble.c), then
                    // the same server again without TLS.
                    ::log::info!("{}: {}", job.queue_id, f.failure.dsn.reason);
                    sessions += 1;
                    attempt.open(TlsLevel::None)
                }
                other => other,
            };
            match opened {
                Ok(mut session) => {
                    sessions += 1;
                    // The cache key is the nexthop as qmgr gives it.
                    session.nexthop = job.nexthop.clone();
                    let reusable = transact(&mut session, s, job, slots, last_target);
                    self.keep_or_quit(session, reusable, backlog);
                }
                Err(OpenFailure {
                    failure, reached, ..
                }) => {
                    if reached.is_some() {
                        sessions += 1;
                    }
                    record_site_failure(job, slots, &failure, reached, last_target);
                }
            }
            if slots.iter().all(|x| x.done.is_some())
                || (s.mx_session_limit > 0 && sessions >= s.mx_session_limit)
            {
                break;
            }
        }
    }

    fn results(&self, job: &DeliveryJob, slots: Vec<Slot>) -> DeliveryResult {
        let log_feature = self.ctx.settings.log_tls_feature_status;
        let recipients = job
            .recipients
            .iter()
            .zip(slots)
            .map(|(r, slot)| {
                let outcome = match (slot.done, slot.last) {
                    (Some(o), _) => o,
                    (None, Some(f)) => Outcome::Deferred(f.dsn),
                    (None, None) => Outcome::Deferred(crate::mail::dsn::Dsn::new(
                        StatusCode::new(4, 4, 1),
                        "delivery was not attempted",
                    )),
                };
                let (relay, tls) = match slot.relay {
                    Some((peer, t)) => {
                        let mut rec = t.record();
                        if log_feature {
                            rec.feature = t.feature();
                        }
                        (peer.namaddrport(), Some(rec))
                    }
                    None => ("none".to_string(), None),
                };
                RecipientResult {
                    index: r.index,
                    outcome,
                    relay,
                    detail: slot.detail,
                    forwarded: Vec::new(),
                    parts: Vec::new(),
                    tls,
                }
            })
            .collect();
        DeliveryResult {
            queue_id: job.queue_id.clone(),
            transport: job.transport.clone(),
            recipients,
        }
    }
}

/// Every recipient fails the same way before any connection (relay=none).
fn fail_all(slots: &mut [Slot], f: &Failure) {
    for slot in slots.iter_mut() {
        slot.done = Some(final_outcome(f));
    }
}

fn final_outcome(f: &Failure) -> Outcome {
    if f.dsn.status.is_permanent() {
        Outcome::Bounced(f.dsn.clone())
    } else {
        Outcome::Deferred(f.dsn.clone())
    }
}

/// A session could not be opened: hard errors and the last server are final;
/// soft errors at other servers are logged and the next server is tried.
fn record_site_failure(
    job: &DeliveryJob,
    slots: &mut [Slot],
    f: &Failure,
    reached: Option<(Peer, TlsOutcome)>,
    last_target: bool,
) {
    if !last_target && f.try_next() {
        if reached.is_some() {
            ::log::info!("{}: {}", job.queue_id, f.dsn.reason);
        } else {
            ::log::info!("{}", f.dsn.reason);
        }
    }
    for slot in slots.iter_mut().filter(|x| x.done.is_none()) {
        slot.relay = reached.clone();
        if f.try_next() {
            slot.last = Some(f.clone());
        } else {
            slot.done = Some(final_outcome(f));
        }
    }
}

/// Runs the transaction for the recipients still open; returns whether the
/// connection may be reused.
fn transact(
    session: &mut Session,
    s: &super::Settings,
    job: &DeliveryJob,
    slots: &mut [Slot],
    last_target: bool,
) -> bool {
    let open: Vec<usize> = (0..slots.len())
        .filter(|i| slots[*i].done.is_none())
        .collect();
    let rcpts: Vec<_> = open.iter().map(|i| &job.recipients[*i]).collect();
    let outcome = transaction::run(session, s, job, &rcpts);
    session.uses += 1;
    let reached = Some((session.peer.clone(), session.tls.clone()));
    for (i, status) in open.into_iter().zip(outcome.results) {
        let slot = &mut slots[i];
        slot.relay = reached.clone();
        match status {
            RcptStatus::Sent(text) => {
                slot.done = Some(Outcome::Delivered);
                slot.detail = text;
            }
            RcptStatus::Failed(f) if f.try_next() => {
                // smtp_trouble.c: a soft error at a server other than the
                // last is logged, and the recipient kept for the next one.
                if !last_target {
                    ::log::info!("{}: {}", job.queue_id, f.dsn.reason);
                }
                slot.last = Some(f);
            }
            RcptStatus::Failed(f) => slot.done = Some(final_outcome(&f)),
        }
    }
    outcome.reusable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: usize) -> Vec<Slot> {
        (0..n)
            .map(|_| Slot {
                done: None,
                last: None,
                relay: None,
                detail: String::new(),
            })
            .collect()
    }

    fn job() -> DeliveryJob {
        DeliveryJob {
            queue_id: "5BTQ".into(),
            transport: "smtp".into(),
            nexthop: "example.com".into(),
            sender: String::new(),
            arrival: 0,
            active_since: 0.0,
            envid: None,
            ret: None,
            client: Default::default(),
            recipients: Vec::new(),
            content: Arc::new(Vec::new()),
        }
    }

    #[test]
    fn soft_failures_wait_for_the_next_server_hard_ones_are_final() {
        let mut s = slots(2);
        s[1].done = Some(Outcome::Delivered);
        let refused = trouble::connect("mx1[192.0.2.1]:25", "Connection refused");
        record_site_failure(&job(), &mut s, &refused, None, false);
        assert!(s[0].done.is_none(), "soft: try the next server");
        assert_eq!(s[0].last, Some(refused));
        assert_eq!(s[1].done, Some(Outcome::Delivered), "finished ones stay");

        let hard = Failure::new(StatusCode::new(5, 7, 1), "host said no");
        record_site_failure(&job(), &mut s, &hard, None, false);
        assert_eq!(s[0].done, Some(Outcome::Bounced(hard.dsn.clone())));
    }

    #[test]
    fn policy_failure_defers_everyone_without_a_relay() {
        let mut s = slots(3);
        fail_all(&mut s, &trouble::tls_policy());
        for slot in &s {
            match &slot.done {
                Some(Outcome::Deferred(d)) => {
                    assert_eq!(d.status, StatusCode::new(4, 7, 5));
                    assert_eq!(d.reason, "client TLS configuration problem");
                }
                other => panic!("{other:?}"),
            }
            assert!(slot.relay.is_none());
        }
    }
}
