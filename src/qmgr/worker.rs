//! A delivery worker thread: takes jobs of one transport from its channel, runs
//! the agent, logs one line per recipient under the transport's name
//! (`postfix/local[pid]`), and answers the queue manager.
//!
//! Mirrors the delivery-agent side of Postfix's deliver_request protocol
//! (global/deliver_request.c, deliver_completed) and the logging of
//! global/log_adhoc.c through sent.c/defer.c/bounce.c; `soft_bounce` turns a
//! bounce into a deferral as bounce_append() does. Reads `soft_bounce`,
//! `syslog_name` (the service's, with its `-o` overrides) and whatever the agent
//! reads.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};

use super::builtin;
use super::forward::{self, Origin};
use super::logline::{Line, Times};
use super::names;
// The agents are the colleagues' modules; until they merge, the stand-ins with
// the same signatures (the lead swaps these two lines at merge).
use super::transport::Kind;
use super::QmgrEvent;
use crate::config::Config;
use crate::local::agent as local_agent;
use crate::mail::delivery::{DeliveryJob, DeliveryResult, RecipientResult};
use crate::mail::dsn::{Dsn, Outcome, StatusCode};
use crate::queue::QueueHandle;
use crate::smtp::{SmtpAgent, SmtpContext};
use crate::virtual_::agent as virtual_agent;

/// Jobs of one destination handed to one worker together, delivered one after
/// the other (see `Transport::batch_limit`).
pub type Batch = Vec<Work>;

/// One job and the destination queue it was charged to.
#[derive(Debug)]
pub struct Work {
    pub job: DeliveryJob,
    pub dest: String,
    /// For forwarded copies.
    pub origin: Arc<Origin>,
    /// More jobs for the same transport and destination were waiting when
    /// this one was handed out: the smtp client keeps its connection for them
    /// (Postfix qmgr's DEL_REQ_FLAG_CONN_STORE, `smtp_connection_cache_on_demand`).
    pub backlog: bool,
}

/// Now, Unix seconds with fraction.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// What the workers of one transport share, made once when the transport is
/// built: the smtp client's context (TLS session cache, policy tables), or
/// why it could not be made.
#[derive(Clone)]
pub enum Shared {
    None,
    Smtp(Arc<SmtpContext>),
    Broken(String),
}

impl Shared {
    /// Builds what the workers of a `kind` transport share; an error is logged
    /// and leaves the transport broken (its mail is deferred).
    pub fn open(kind: Kind, cfg: &Config) -> Shared {
        match Shared::build(kind, cfg) {
            Ok(s) => s,
            Err(e) => {
                ::log::error!(
                    "smtp client configuration: {e}; mail for this transport is deferred"
                );
                Shared::Broken(e)
            }
        }
    }

    /// Like `open`, without logging the error.
    pub fn build(kind: Kind, cfg: &Config) -> Result<Shared, String> {
        match kind {
            Kind::Smtp => SmtpContext::new(cfg)
                .map(|c| Shared::Smtp(Arc::new(c)))
                .map_err(|e| e.to_string()),
            _ => Ok(Shared::None),
        }
    }
}

/// An agent with its per-thread context.
enum Agent {
    Discard,
    Error {
        defer: bool,
    },
    Local(local_agent::LocalContext),
    Virtual(virtual_agent::VirtualContext),
    Smtp(SmtpAgent),
    /// The context could not be made (bad settings): every job is deferred.
    Broken(String),
    Unavailable,
}

impl Agent {
    fn open(kind: Kind, shared: Shared, cfg: &Config) -> Agent {
        match kind {
            Kind::Smtp => match shared {
                Shared::Smtp(ctx) => Agent::Smtp(SmtpAgent::new(ctx)),
                Shared::Broken(why) => Agent::Broken(why),
                Shared::None => Agent::Broken("smtp client context missing".into()),
            },
            Kind::Discard => Agent::Discard,
            Kind::Error => Agent::Error { defer: false },
            Kind::Retry => Agent::Error { defer: true },
            Kind::Local => match local_agent::LocalContext::new(cfg) {
                Ok(c) => Agent::Local(c.with_helper(crate::local::helper::installed())),
                Err(e) => Agent::Broken(e.to_string()),
            },
            Kind::Virtual => match virtual_agent::VirtualContext::new(cfg) {
                Ok(c) => Agent::Virtual(c.with_helper(crate::local::helper::installed())),
                Err(e) => Agent::Broken(e.to_string()),
            },
            Kind::Unavailable => Agent::Unavailable,
        }
    }

    fn deliver(&mut self, job: &DeliveryJob, backlog: bool) -> DeliveryResult {
        match self {
            Agent::Discard => builtin::discard(job),
            Agent::Error { defer } => builtin::error(job, *defer),
            Agent::Local(c) => local_agent::deliver(job, c),
            Agent::Virtual(c) => virtual_agent::deliver(job, c),
            Agent::Smtp(a) => a.deliver(job, backlog),
            Agent::Broken(why) => {
                let mut r = builtin::unavailable(job);
                for rr in &mut r.recipients {
                    rr.outcome = Outcome::Deferred(Dsn::new(
                        StatusCode::new(4, 3, 0),
                        format!("mail system configuration error: {why}"),
                    ));
                }
                r
            }
            Agent::Unavailable => builtin::unavailable(job),
        }
    }

    /// Delivers the jobs of a batch in order, giving each result to `each`
    /// with the job's position as soon as it is known.
    fn deliver_batch(&mut self, batch: &[Work], each: &mut dyn FnMut(usize, DeliveryResult)) {
        let jobs = || batch.iter().map(|w| &w.job).collect::<Vec<_>>();
        match self {
            Agent::Local(c) => local_agent::deliver_batch(&jobs(), c, each),
            Agent::Virtual(c) => virtual_agent::deliver_batch(&jobs(), c, each),
            _ => {
                for (i, w) in batch.iter().enumerate() {
                    each(i, self.deliver(&w.job, w.backlog));
                }
            }
        }
    }
}

/// Starts one worker of transport `name`.
pub fn spawn(
    name: &str,
    kind: Kind,
    shared: Shared,
    cfg: Arc<Config>,
    queue: QueueHandle,
    jobs: Receiver<Batch>,
    done: Sender<QmgrEvent>,
) -> std::io::Result<()> {
    let name = name.to_string();
    std::thread::Builder::new()
        .name(format!("{name} worker"))
        .spawn(move || run(&name, kind, shared, &cfg, &queue, &jobs, &done))
        .map(|_| ())
}

fn run(
    name: &str,
    kind: Kind,
    shared: Shared,
    cfg: &Config,
    queue: &QueueHandle,
    jobs: &Receiver<Batch>,
    done: &Sender<QmgrEvent>,
) {
    crate::log::set_thread_tag(&cfg.get(names::SYSLOG_NAME), name);
    let mut reporter = Reporter {
        name,
        queue,
        done,
        soft_bounce: cfg.get_bool(names::SOFT_BOUNCE).unwrap_or(false),
        myhostname: cfg.get(names::MYHOSTNAME),
        answered: Vec::new(),
        count: 0,
        start: 0.0,
        gone: false,
    };
    let mut agent = Agent::open(kind, shared, cfg);
    while let Some(batch) = next_batch(&mut agent, jobs) {
        reporter.begin(batch.len());
        // A panicking agent must not lose the jobs: those it did not answer
        // are deferred.
        let delivered = catch_unwind(AssertUnwindSafe(|| {
            agent.deliver_batch(&batch, &mut |i, result| reporter.report(&batch, i, result))
        }));
        if delivered.is_err() {
            ::log::warn!("{name}: delivery agent failed; its jobs are deferred");
        }
        for (i, w) in batch.iter().enumerate() {
            if !reporter.answered[i] {
                reporter.report(&batch, i, crashed(&w.job));
            }
        }
        if reporter.gone {
            return;
        }
    }
}

/// Completes, logs and answers the jobs of one batch as their results come.
struct Reporter<'a> {
    name: &'a str,
    queue: &'a QueueHandle,
    done: &'a Sender<QmgrEvent>,
    soft_bounce: bool,
    myhostname: String,
    /// Which jobs of the batch have been answered, and how many.
    answered: Vec<bool>,
    count: usize,
    /// When the current job started: the batch's start, then the end of
    /// the job before it.
    start: f64,
    /// The queue manager has gone.
    gone: bool,
}

impl Reporter<'_> {
    fn begin(&mut self, len: usize) {
        self.answered = vec![false; len];
        self.count = 0;
        self.start = now();
    }

    /// Job `i` of `batch` has its result: complete it, resubmit forwarded
    /// copies, log it and tell the queue manager (the last answer of the
    /// batch frees its place). A second result for the same job is ignored.
    fn report(&mut self, batch: &[Work], i: usize, result: DeliveryResult) {
        let Some(Work {
            job, dest, origin, ..
        }) = batch.get(i)
        else {
            return;
        };
        if self.answered[i] {
            return;
        }
        let mut result = complete(job, result, self.soft_bounce);
        forward::resubmit(self.queue, job, origin, &self.myhostname, &mut result);
        let end = now();
        let times = Times {
            arrival: job.arrival as f64,
            active: job.active_since,
            start: self.start.max(job.active_since),
            end,
        };
        self.start = end;
        log_result(job, &result, times);
        // Counted only now: a panic above leaves the job to be deferred
        // (`crashed`), and its answer still frees the batch's place.
        self.answered[i] = true;
        self.count += 1;
        let event = QmgrEvent::Done {
            transport: self.name.to_string(),
            dest: dest.clone(),
            result,
            last: self.count == batch.len(),
        };
        if self.done.send(event).is_err() {
            self.gone = true;
        }
    }
}

/// The next batch; while the smtp agent keeps an idle connection, wakes up to
/// close it when `smtp_connection_cache_time_limit` runs out.
fn next_batch(agent: &mut Agent, jobs: &Receiver<Batch>) -> Option<Batch> {
    loop {
        let deadline = match agent {
            Agent::Smtp(a) => a.idle_deadline(),
            _ => None,
        };
        let Some(deadline) = deadline else {
            return jobs.recv().ok();
        };
        match jobs.recv_deadline(deadline) {
            Ok(work) => return Some(work),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if let Agent::Smtp(a) = agent {
                    a.expire_idle();
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// A result for every recipient of the job (an agent that forgot one defers
/// it), with soft_bounce applied.
fn complete(job: &DeliveryJob, mut result: DeliveryResult, soft_bounce: bool) -> DeliveryResult {
    for r in &job.recipients {
        if !result.recipients.iter().any(|x| x.index == r.index) {
            result.recipients.push(RecipientResult {
                index: r.index,
                outcome: Outcome::Deferred(Dsn::new(
                    StatusCode::new(4, 3, 0),
                    "delivery agent gave no status",
                )),
                relay: "none".into(),
                detail: String::new(),
                forwarded: Vec::new(),
                tls: None,
                parts: Vec::new(),
                success: Default::default(),
            });
        }
    }
    if soft_bounce {
        for r in &mut result.recipients {
            if let Outcome::Bounced(d) = &r.outcome {
                r.outcome = Outcome::Deferred(Dsn::new(d.status.with_class(4), d.reason.clone()));
            }
        }
    }
    result
}

fn crashed(job: &DeliveryJob) -> DeliveryResult {
    let mut r = builtin::unavailable(job);
    for rr in &mut r.recipients {
        rr.outcome = Outcome::Deferred(Dsn::new(
            StatusCode::new(4, 3, 0),
            "unknown mail transport error",
        ));
    }
    r
}

/// One log line per recipient, as the agent would write it; a recipient an
/// alias or `.forward` expanded gets one line per final delivery, with the
/// recipient as `orig_to` (Postfix local(8)).
pub fn log_result(job: &DeliveryJob, result: &DeliveryResult, times: Times) {
    for r in &result.recipients {
        let Some(jr) = job.recipients.iter().find(|x| x.index == r.index) else {
            continue;
        };
        let relay = if r.relay.is_empty() { "none" } else { &r.relay };
        let line = Line {
            queue_id: &job.queue_id,
            rcpt: &jr.address,
            orig_rcpt: jr.orig_rcpt.as_deref(),
            relay,
            times,
            outcome: &r.outcome,
            detail: &r.detail,
            expired: false,
            tls: r.tls.as_ref().map(|t| t.feature.as_str()),
        };
        if r.parts.is_empty() || r.outcome != Outcome::Delivered {
            ::log::info!("{}", line.render());
            continue;
        }
        let orig = jr
            .orig_rcpt
            .as_deref()
            .filter(|o| !o.is_empty())
            .unwrap_or(&jr.address);
        for part in &r.parts {
            let line = Line {
                rcpt: &part.address,
                orig_rcpt: Some(orig),
                detail: &part.detail,
                ..line
            };
            ::log::info!("{}", line.render());
        }
    }
}
