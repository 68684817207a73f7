//! The queue manager: one thread owning the active set, which takes queued
//! mail, resolves each recipient to a transport and nexthop, hands delivery
//! jobs to per-transport worker threads within Postfix's concurrency limits,
//! records each outcome, retries with backoff, expires, sends delivery status
//! notices and removes finished messages.
//!
//! Mirrors Postfix qmgr(8) (qmgr_*.c) with trivial-rewrite(8)'s resolver
//! (resolve.c, transport.c) and the discard(8) and error(8) agents. Reads
//! `queue_directory`, `queue_run_delay`, `minimal_backoff_time`,
//! `maximal_backoff_time`, `maximal_queue_lifetime`, `bounce_queue_lifetime`,
//! `delay_warning_time`, `qmgr_message_active_limit`, `default_process_limit`,
//! `<transport>_destination_concurrency_limit`,
//! `<transport>_destination_recipient_limit`, `local_transport`,
//! `virtual_transport`, `relay_transport`, `default_transport`, `relayhost`,
//! `transport_maps`, `recipient_delimiter`, `owner_request_special`, `soft_bounce`,
//! `double_bounce_sender`, `syslog_name`, and the address-class lists of
//! `resolve`. RFC 3461 (NOTIFY) for which notices are sent.
//!
//! Public API: `preload(cfg)`: builds the smtp client contexts while the master
//! is still root (keys readable by root only); `run(cfg, queue, arrivals, reloads)`: the thread body (master
//! starts it supervised with `Store::arrivals()`; it returns when the queue
//! writer stops; a `Config` sent on `reloads` replaces the one in use);
//! `QmgrEvent` (what workers send back); `resolve::{Router, Route}`.
//!
//! What is guaranteed: a message leaves the queue only after every recipient
//! is delivered or bounced (recorded in the queue, or, for the last answer of
//! a message, by the removal itself), and after its notices are queued. The
//! scheduler sends its queue changes (moves to the active queue, records,
//! removals) to the queue writer without waiting; the writer applies one
//! sender's requests in order and commits those waiting together, and the
//! answers come back on a channel (`removed` is logged after the commit).
//! Messages left in the active queue by a crash are rescheduled at the next
//! start, so a delivery interrupted by a crash is retried, never lost.
//! Deliveries to a Maildir (local and virtual) are exactly once: the agent
//! names the file after the message's arrival time, queue ID and job
//! recipient index (`local::Envelope::delivery_key`), and an attempt that
//! finds that name in `new/` or `cur/` (made by an attempt whose result the
//! crash kept from being recorded) reports it delivered without a second
//! copy. Other destinations are at least once, as in Postfix: a crash between
//! an mbox, file or command delivery and the record of it delivers that
//! recipient again, and a crash between queueing a forwarded copy and the
//! record of it queues the copy again. A crash between recording a bounce and
//! queueing its notice loses that notice. Delay warnings are remembered in
//! memory only, so a restart may warn once more.

mod active;
mod backoff;
mod builtin;
mod forward;
mod logline;
mod names;
mod notices;
pub mod resolve;
mod scheduler;
mod transport;
pub mod trigger;
mod waiting;
mod worker;

use std::sync::Arc;

pub use transport::preload;

use crossbeam_channel::Receiver;
use thiserror::Error;

use crate::config::{Config, ConfigError};
use crate::mail::delivery::DeliveryResult;
use crate::queue::{QueueError, QueueHandle, QueueId};

/// What the qmgr thread is told by its workers.
#[derive(Debug)]
pub enum QmgrEvent {
    /// A job is answered.
    Done {
        transport: String,
        /// The destination queue the job was charged to.
        dest: String,
        result: DeliveryResult,
        /// The last job of its batch: the worker and the place at the
        /// destination are free again.
        last: bool,
    },
}

/// Why the queue manager could not start, naming the culprit.
#[derive(Debug, Error)]
pub enum QmgrError {
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Resolve(#[from] resolve::ResolveError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// How long to wait before trying again when the settings are bad, as master(8)
/// throttles a daemon that keeps failing to start.
const RETRY_START: std::time::Duration = std::time::Duration::from_secs(10);

/// The qmgr thread: runs until `arrivals` disconnects (the queue writer
/// stops). A configuration on `reloads` replaces the one in use (postfix
/// reload); a restart after a panic starts from the first one again.
pub fn run(
    cfg: &Arc<Config>,
    queue: &QueueHandle,
    arrivals: &Receiver<QueueId>,
    reloads: &Receiver<Arc<Config>>,
) {
    crate::log::set_service("qmgr");
    loop {
        match scheduler::Scheduler::new(Arc::clone(cfg), queue.clone()) {
            Ok(mut s) => {
                let dir = std::path::PathBuf::from(cfg.get(names::QUEUE_DIRECTORY));
                let wakeups = trigger::watch(&dir).unwrap_or_else(crossbeam_channel::never);
                return s.run(arrivals, reloads, &wakeups);
            }
            Err(e) => {
                ::log::error!("qmgr: {e}; trying again in {}s", RETRY_START.as_secs());
                // Leave when the queue has gone while we wait.
                if let Err(crossbeam_channel::RecvTimeoutError::Disconnected) =
                    arrivals.recv_timeout(RETRY_START)
                {
                    return;
                }
            }
        }
    }
}
