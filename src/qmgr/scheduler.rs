//! The queue manager's loop: one thread owns the active set. It takes in new
//! messages as the queue announces them (and by a scan of the incoming queue
//! every second, should an announcement be missed), deferred messages that are
//! due every `queue_run_delay`, hands their jobs to the transports' workers
//! within the concurrency limits, and records what comes back.
//!
//! Mirrors Postfix qmgr.c (the event loop and its scans), qmgr_active.c
//! (activation, `from=<...>, size=N, nrcpt=N (queue active)`), qmgr_scan.c,
//! qmgr_deliver.c (handing out jobs, per-transport process limits and
//! per-destination concurrency, as fixed limits without slow start; local
//! and virtual jobs go out in batches, see `Transport::batch_limit`) and
//! qmgr_defer.c (deferral with backoff). Reads `qmgr_message_active_limit`,
//! `queue_directory`, and through its parts the routing, timing and transport
//! parameters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, unbounded, Receiver, Sender};

use super::active::{self, ActiveMessage};
use super::backoff::Timing;
use super::builtin;
use super::logline::Times;
use super::names;
use super::resolve::Router;
use super::transport::{Kind, Registry};
use super::waiting::Waiting;
use super::worker::{self, Work};
use super::{QmgrError, QmgrEvent};
use crate::config::Config;
use crate::mail::delivery::DeliveryResult;
use crate::mail::dsn::Outcome;
use crate::queue::{Attempt, Completion, QueueHandle, QueueId, QueueName, Reader, StoredMessage};

/// How often the incoming queue is scanned as a fallback for announcements.
const INCOMING_SCAN: Duration = Duration::from_secs(1);

/// Most announced arrivals taken in at once (their moves to the active queue
/// share one commit).
const ARRIVAL_BATCH: usize = 256;

/// How long a removal may wait for others to share its commit, and how many
/// may wait: removals are not urgent (the delivery is done and recorded in
/// the log), and fewer commits leave the disk to the deliveries' fsyncs.
const REMOVAL_DELAY: Duration = Duration::from_millis(5);
const REMOVAL_BATCH: usize = 128;

/// A queue change sent to the writer without waiting; what to do when its
/// answer comes.
enum Pending {
    /// A message taken in once it is in the active queue.
    Move(Box<StoredMessage>),
    Record(QueueId),
    Delete(QueueId),
}

pub struct Scheduler {
    pub(super) cfg: Arc<Config>,
    pub(super) queue: QueueHandle,
    reader: Reader,
    router: Router,
    pub(super) timing: Timing,
    registry: Registry,
    pub(super) active: HashMap<QueueId, ActiveMessage>,
    /// Jobs waiting for a worker or for room at their destination.
    waiting: Waiting,
    /// Jobs out per (transport, destination).
    dest_busy: HashMap<(String, String), usize>,
    events_tx: Sender<QmgrEvent>,
    events_rx: Receiver<QmgrEvent>,
    active_limit: usize,
    /// Messages that got their delay warning (Postfix keeps this in the queue
    /// file; here it lasts until a restart).
    pub(super) warned: std::collections::HashSet<QueueId>,
    /// Records and removals committed in the background: the loop goes on
    /// handing out work while the writer commits (one fsync for many).
    completions_tx: Sender<Completion>,
    completions_rx: Receiver<Completion>,
    pending: HashMap<u64, Pending>,
    next_tag: u64,
    /// Messages on their way to the active queue (a `Pending::Move`).
    moving: std::collections::HashSet<QueueId>,
    /// Removals waiting to be sent together, and when the oldest is due.
    removals: Vec<QueueId>,
    removals_due: Option<Instant>,
}

/// How many of `waiting` jobs of one destination the next batch takes: an
/// even share of the places still free there (`room`; 0 when the destination
/// has no limit), at most `limit`, at least one.
fn batch_size(waiting: usize, room: usize, limit: usize) -> usize {
    if room == 0 {
        return 1;
    }
    waiting.div_ceil(room).clamp(1, limit.max(1))
}

/// Unix seconds.
pub fn unix_now() -> i64 {
    worker::now() as i64
}

impl Scheduler {
    pub fn new(cfg: Arc<Config>, queue: QueueHandle) -> Result<Scheduler, QmgrError> {
        let dir = std::path::PathBuf::from(cfg.get(names::QUEUE_DIRECTORY));
        let (events_tx, events_rx) = unbounded();
        let (completions_tx, completions_rx) = unbounded();
        Ok(Scheduler {
            reader: Reader::open(&dir)?,
            router: Router::new(&cfg)?,
            timing: Timing::from_config(&cfg)?,
            registry: Registry::new(Arc::clone(&cfg), false),
            active_limit: usize::try_from(cfg.get_int(names::QMGR_MESSAGE_ACTIVE_LIMIT)?)
                .unwrap_or(0)
                .max(1),
            cfg,
            queue,
            active: HashMap::new(),
            waiting: Waiting::default(),
            dest_busy: HashMap::new(),
            events_tx,
            events_rx,
            warned: Default::default(),
            completions_tx,
            completions_rx,
            pending: HashMap::new(),
            next_tag: 0,
            moving: Default::default(),
            removals: Vec::new(),
            removals_due: None,
        })
    }

    /// Runs until the queue stops announcing (the queue writer has gone).
    /// `wakeups` (the `public/qmgr` FIFO, `postqueue -f`) asks for a scan of
    /// the deferred queue now.
    pub fn run(
        &mut self,
        arrivals: &Receiver<QueueId>,
        reloads: &Receiver<Arc<Config>>,
        wakeups: &Receiver<()>,
    ) {
        // Crash recovery: whatever was active when the last run ended is simply
        // delivered again (at-least-once; see mod.rs).
        self.scan(QueueName::Active);
        self.scan(QueueName::Incoming);
        self.scan_deferred();
        let mut next_incoming = Instant::now() + INCOMING_SCAN;
        let mut next_deferred = Instant::now() + self.timing.queue_run_delay;
        loop {
            let wait = next_incoming
                .min(next_deferred)
                .min(self.removals_due.unwrap_or(next_deferred))
                .saturating_duration_since(Instant::now());
            select! {
                recv(arrivals) -> id => match id {
                    Ok(id) => {
                        let mut ids = vec![id];
                        ids.extend(arrivals.try_iter().take(ARRIVAL_BATCH - 1));
                        self.activate_all(&ids, QueueName::Incoming);
                    }
                    Err(_) => return,
                },
                recv(self.completions_rx) -> c => {
                    if let Ok((tag, result)) = c {
                        self.completed(tag, result);
                    }
                }
                recv(self.events_rx) -> ev => {
                    if let Ok(ev) = ev {
                        self.event(ev);
                        // Every answer waiting now, so that their removals
                        // go to the writer together.
                        while let Ok(ev) = self.events_rx.try_recv() {
                            self.event(ev);
                        }
                    }
                }
                recv(reloads) -> cfg => {
                    if let Ok(cfg) = cfg {
                        self.reload(cfg);
                    }
                }
                recv(wakeups) -> _ => next_deferred = Instant::now(),
                default(wait) => {}
            }
            let now = Instant::now();
            if self.removals_due.is_some_and(|due| now >= due) {
                self.send_removals();
            }
            if now >= next_incoming {
                self.scan(QueueName::Incoming);
                next_incoming = now + INCOMING_SCAN;
            }
            if now >= next_deferred {
                self.scan_deferred();
                next_deferred = now + self.timing.queue_run_delay;
            }
            self.dispatch();
        }
    }

    /// postfix reload: new routing, timing and transports. Workers of the old
    /// transports finish the jobs they were given and end; their answers are
    /// counted against the new transports of the same name (saturating).
    fn reload(&mut self, cfg: Arc<Config>) {
        let built = Router::new(&cfg)
            .map_err(QmgrError::from)
            .and_then(|router| Ok((router, Timing::from_config(&cfg)?)));
        match built {
            Ok((router, timing)) => {
                self.router = router;
                self.timing = timing;
                self.registry = Registry::new(Arc::clone(&cfg), true);
                self.cfg = cfg;
            }
            Err(e) => ::log::error!("reload: {e}; keeping the configuration in use"),
        }
    }

    fn scan(&mut self, queue: QueueName) {
        match self.reader.list_queue(queue) {
            Ok(entries) => {
                let ids: Vec<QueueId> = entries.into_iter().map(|e| e.queue_id).collect();
                for chunk in ids.chunks(ARRIVAL_BATCH) {
                    self.activate_all(chunk, queue);
                }
            }
            Err(e) => ::log::warn!("scan of the {} queue: {e}", queue.as_str()),
        }
        self.dispatch();
    }

    fn scan_deferred(&mut self) {
        match self.reader.due_for_retry(unix_now()) {
            Ok(ids) => {
                for chunk in ids.chunks(ARRIVAL_BATCH) {
                    self.activate_all(chunk, QueueName::Deferred);
                }
            }
            Err(e) => ::log::warn!("scan of the deferred queue: {e}"),
        }
        self.dispatch();
    }

    /// Takes messages into the active set and queues their jobs, those still
    /// in the queue they were found in (an announcement may come after the
    /// incoming scan has already delivered and deferred the message). Their
    /// moves to the active queue go to the writer without waiting (they share
    /// a commit); each message is taken in when its move is committed, while
    /// the loop goes on handing out work.
    fn activate_all(&mut self, ids: &[QueueId], found_in: QueueName) {
        for id in ids {
            if self.active.len() + self.moving.len() >= self.active_limit {
                break;
            }
            if self.active.contains_key(id) || self.moving.contains(id) {
                continue;
            }
            let msg = match self.reader.load(id) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => {
                    ::log::warn!("{id}: cannot read the message: {e}");
                    continue;
                }
            };
            // The hold queue is the administrator's: never scheduled.
            if msg.entry.queue != found_in || msg.entry.queue == QueueName::Hold {
                continue;
            }
            if msg.entry.queue == QueueName::Active {
                self.take_in(msg);
                continue;
            }
            self.moving.insert(id.clone());
            let tag = self.tag(Pending::Move(Box::new(msg)));
            let sent = self
                .queue
                .move_tagged(id, QueueName::Active, tag, &self.completions_tx);
            if let Err(e) = sent {
                self.completed(tag, Err(e));
            }
        }
    }

    /// Logs a message as active and queues its jobs.
    fn take_in(&mut self, msg: StoredMessage) {
        let id = &msg.entry.queue_id.clone();
        ::log::info!(
            "{id}: from=<{}>, size={}, nrcpt={} (queue active)",
            msg.entry.sender,
            msg.entry.size,
            msg.entry.recipients.len()
        );
        let since = worker::now();
        let registry = &mut self.registry;
        let (jobs, unroutable) = active::jobs(&msg, since, &self.router, &mut |t| {
            registry.get(t).recipient_limit
        });
        let mut entry = ActiveMessage::new(msg);
        entry.outstanding = jobs.len();
        let attempts: Vec<Attempt> = unroutable
            .into_iter()
            .map(|u| {
                entry.deferred.push((u.index, u.dsn.clone()));
                self.deferral(&entry, u.index, Outcome::Deferred(u.dsn))
            })
            .collect();
        self.record(id, attempts);
        self.active.insert(id.clone(), entry);
        let mut inline: Vec<Work> = Vec::new();
        for w in jobs {
            if self.registry.get(&w.job.transport).kind == Kind::Unavailable {
                inline.push(w);
            } else {
                self.waiting.push_back(w);
            }
        }
        // No agent: answered here, logged as qmgr, as Postfix's qmgr does when a
        // transport cannot be reached.
        for w in inline {
            let result = builtin::unavailable(&w.job);
            let t = worker::now();
            let times = Times {
                arrival: w.job.arrival as f64,
                active: since,
                start: t,
                end: t,
            };
            worker::log_result(&w.job, &result, times);
            self.results(result);
        }
        if self.active.get(id).is_some_and(|m| m.outstanding == 0) {
            self.finish(id);
        }
    }

    /// Hands out waiting jobs while their transport and destination have room.
    fn dispatch(&mut self) {
        if self.waiting.len() == 0 {
            return;
        }
        for key in self.waiting.keys() {
            let t = self.registry.get(&key.0);
            loop {
                let busy = self.dest_busy.get(&key).copied().unwrap_or(0);
                let dest_room = t.concurrency_limit == 0 || busy < t.concurrency_limit;
                if !(t.has_room() && dest_room) {
                    break;
                }
                let size = batch_size(
                    self.waiting.remaining(&key),
                    t.concurrency_limit.saturating_sub(busy),
                    t.batch_limit(),
                );
                let mut batch = Vec::with_capacity(size);
                while batch.len() < size {
                    let Some(mut w) = self.waiting.pop(&key) else {
                        break;
                    };
                    // More jobs for this destination behind it: the smtp client
                    // keeps its connection (connection caching).
                    w.backlog = self.waiting.remaining(&key) > 0;
                    batch.push(w);
                }
                if batch.is_empty() {
                    break;
                }
                match t.submit(batch, &self.queue, &self.events_tx) {
                    Ok(()) => *self.dest_busy.entry(key.clone()).or_insert(0) += 1,
                    Err(batch) => {
                        for w in batch.into_iter().rev() {
                            self.waiting.push_front(w);
                        }
                        break;
                    }
                }
            }
        }
    }

    fn event(&mut self, ev: QmgrEvent) {
        match ev {
            QmgrEvent::Done {
                transport,
                dest,
                result,
                last,
            } => {
                if last {
                    self.registry.get(&transport).finished();
                    let key = (transport, dest);
                    if let Some(n) = self.dest_busy.get_mut(&key) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.dest_busy.remove(&key);
                        }
                    }
                }
                self.results(result);
            }
        }
    }

    /// Records one job's results; finishes the message when it was the last.
    fn results(&mut self, result: DeliveryResult) {
        let Some(id) = QueueId::parse(&result.queue_id) else {
            return;
        };
        let Some(mut entry) = self.active.remove(&id) else {
            return;
        };
        let mut attempts = Vec::new();
        for r in result.recipients {
            match &r.outcome {
                Outcome::Delivered => entry.delivered.push((r.index, r.success)),
                Outcome::Deferred(d) => entry.deferred.push((r.index, d.clone())),
                Outcome::Bounced(d) => entry.bounced.push((r.index, d.clone(), r.relay.clone())),
            }
            let tls = r.tls.clone();
            let mut attempt = self.deferral(&entry, r.index, r.outcome);
            attempt.tls = tls;
            attempts.push(attempt);
        }
        entry.outstanding = entry.outstanding.saturating_sub(1);
        let done = entry.outstanding == 0;
        // The last answer of a message with nothing deferred: finish() removes
        // the message next, so recording the outcomes first would only cost a
        // commit (a crash in between delivers again, as it would after the
        // delivery and before any record).
        if !(done && entry.deferred.is_empty()) {
            self.record(&id, attempts);
        }
        self.active.insert(id.clone(), entry);
        if done {
            self.finish(&id);
        }
    }

    /// The attempt to record, with the next try of a deferral.
    fn deferral(&self, entry: &ActiveMessage, index: u32, outcome: Outcome) -> Attempt {
        let next_attempt = match outcome {
            Outcome::Deferred(_) => {
                let tries = entry.recipient(index).map_or(0, |r| r.attempts) + 1;
                Some(unix_now() + self.timing.backoff(tries))
            }
            _ => None,
        };
        Attempt {
            rcpt_index: index,
            outcome,
            next_attempt,
            tls: None,
        }
    }

    /// Records attempts in the background: requests are applied in the
    /// order sent, so a later removal or move of the message comes after.
    pub(super) fn record(&mut self, id: &QueueId, attempts: Vec<Attempt>) {
        if attempts.is_empty() {
            return;
        }
        let tag = self.tag(Pending::Record(id.clone()));
        if let Err(e) = self
            .queue
            .record_tagged(id, attempts, tag, &self.completions_tx)
        {
            self.completed(tag, Err(e));
        }
    }

    /// Removes a message in the background; `ID: removed` is logged once
    /// the removal is committed.
    /// Removals wait up to REMOVAL_DELAY to share a commit.
    pub(super) fn delete(&mut self, id: &QueueId) {
        self.removals.push(id.clone());
        if self.removals.len() >= REMOVAL_BATCH {
            self.send_removals();
        } else if self.removals_due.is_none() {
            self.removals_due = Some(Instant::now() + REMOVAL_DELAY);
        }
    }

    fn send_removals(&mut self) {
        self.removals_due = None;
        for id in std::mem::take(&mut self.removals) {
            let tag = self.tag(Pending::Delete(id.clone()));
            if let Err(e) = self.queue.delete_tagged(&id, tag, &self.completions_tx) {
                self.completed(tag, Err(e));
            }
        }
    }

    fn tag(&mut self, what: Pending) -> u64 {
        self.next_tag = self.next_tag.wrapping_add(1);
        self.pending.insert(self.next_tag, what);
        self.next_tag
    }

    /// The writer's answer to a background request.
    fn completed(&mut self, tag: u64, result: Result<(), crate::queue::QueueError>) {
        match (self.pending.remove(&tag), result) {
            (Some(Pending::Move(msg)), result) => {
                self.moving.remove(&msg.entry.queue_id);
                match result {
                    Ok(()) => self.take_in(*msg),
                    Err(e) => ::log::warn!(
                        "{}: cannot move the message to the active queue: {e}",
                        msg.entry.queue_id
                    ),
                }
            }
            (Some(Pending::Delete(id)), Ok(())) => ::log::info!("{id}: removed"),
            (Some(Pending::Delete(id)), Err(e)) => {
                ::log::warn!("{id}: cannot remove the message: {e}")
            }
            // postsuper -d while delivering, or a queue write error: the
            // recipients stay as they were and are tried again.
            (Some(Pending::Record(id)), Err(e)) => {
                ::log::warn!("{id}: cannot record delivery status: {e}")
            }
            (Some(Pending::Record(_)), Ok(())) | (None, _) => {}
        }
    }

    /// The queue a message is in now (the administrator may have held it
    /// while it was being delivered).
    pub(super) fn current_queue(&self, id: &QueueId) -> Option<QueueName> {
        match self.reader.load(id) {
            Ok(m) => m.map(|m| m.entry.queue),
            Err(e) => {
                ::log::warn!("{id}: cannot read the message: {e}");
                None
            }
        }
    }

    /// Every job of the message is answered: notices, then removal or back to
    /// the deferred queue.
    fn finish(&mut self, id: &QueueId) {
        if let Some(entry) = self.active.remove(id) {
            super::notices::finish(self, id, entry);
        }
    }
}

#[cfg(test)]
mod tests;
