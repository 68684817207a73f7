//! The queue writer: one thread owns the write connection; sessions send requests
//! over a channel and get the answer on their own reply channel. All requests
//! waiting when a transaction starts go into it (group commit), so many sessions
//! share one fsync. An insert answers with a `Durable` receipt only after COMMIT.
//!
//! Only transactions somebody waits on are synced (`synchronous=FULL`): new
//! mail and the commands' changes. A transaction of nothing but the queue
//! manager's bookkeeping (moves to active, attempt results, removals, answered
//! on its shared channel) commits with `synchronous=NORMAL`: it survives the
//! process being killed (the WAL is written before COMMIT returns), and the next
//! synced commit or checkpoint makes it durable (WAL frames only count in order).
//! A power loss before that can undo it, and mail is then delivered again, never
//! lost: as Postfix, whose qmgr neither fsyncs a queue file's "done" marks nor
//! the rename into active/ or the unlink of a delivered message.
//!
//! Mirrors what Postfix's cleanup(8) does when it closes a queue file (fsync, then
//! rename into incoming/) and postsuper(1)'s queue moves. Reads `queue_directory`
//! (given by the caller). No RFC; the durability rule is RFC 5321 section 4.1.1.4
//! ("the receiver MUST NOT accept responsibility for the message ... until it is
//! safely stored").

use super::apply::{apply_update, insert, record_origin, Update};
use super::ids::{IdGenerator, QueueId};
use super::record::{Attempt, NewMessage, QueueName};
use super::{schema, QueueError};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Most requests in one transaction; bounds the latency one commit adds for the
/// first session in it.
const MAX_BATCH: usize = 256;

/// Announcements of new mail waiting for the queue manager; when it is full
/// (or nobody listens) they are dropped, and qmgr's scan of the incoming queue
/// finds the message instead.
const ANNOUNCE_BACKLOG: usize = 4096;

/// Proof that a message is committed to disk. Only the queue writer makes one, so
/// code that must not acknowledge mail before it is durable (the 250 after DATA)
/// can demand it by type.
#[derive(Debug)]
#[must_use = "a receipt means the message is on disk; acknowledge it"]
pub struct Durable {
    queue_id: QueueId,
}

impl Durable {
    pub fn queue_id(&self) -> &QueueId {
        &self.queue_id
    }
}

#[derive(Debug)]
enum Request {
    Insert {
        message: Box<NewMessage>,
        /// Recorded in `origins` with the message; an origin already recorded
        /// refuses the insert (`QueueError::AlreadyQueued`).
        origin: Option<String>,
        reply: Sender<Result<Durable, QueueError>>,
    },
    Update {
        update: Update,
        reply: Reply,
    },
    Shutdown,
}

/// The answer to a change of a queued message, after COMMIT.
pub type Completion = (u64, Result<(), QueueError>);

/// Where the answer to an update goes: a caller waiting for it, or (for the
/// queue manager, which must not stop for each commit) a channel shared by
/// many requests, each answer tagged with the number its sender gave.
#[derive(Debug)]
enum Reply {
    Wait(Sender<Result<(), QueueError>>),
    Tagged(u64, Sender<Completion>),
}

impl Reply {
    fn send(self, result: Result<(), QueueError>) {
        // A caller that gave up waiting has dropped its receiver.
        let _ = match self {
            Reply::Wait(tx) => tx.send(result).map_err(drop),
            Reply::Tagged(tag, tx) => tx.send((tag, result)).map_err(drop),
        };
    }
}

/// A cheap, cloneable handle for sessions and the queue manager.
#[derive(Debug, Clone)]
pub struct QueueHandle {
    tx: Sender<Request>,
    ids: Arc<IdGenerator>,
}

impl QueueHandle {
    /// A fresh queue ID, to be used for one `insert`.
    pub fn new_id(&self) -> QueueId {
        self.ids.next_id()
    }

    /// Queues a message and waits until it is durable.
    pub fn insert(&self, message: NewMessage) -> Result<Durable, QueueError> {
        self.insert_from(message, None)
    }

    /// Queues a message taken from an outside source named `origin` (pickup:
    /// `maildrop:FILE`) exactly once: the origin is committed with the message
    /// and outlives it, and a second insert from the same origin fails with
    /// `QueueError::AlreadyQueued`, so a crash between the commit and removing
    /// the source cannot queue the message twice.
    pub fn insert_once(&self, message: NewMessage, origin: &str) -> Result<Durable, QueueError> {
        self.insert_from(message, Some(origin.to_string()))
    }

    /// Forgets an origin once its source is gone for good.
    pub fn forget_origin(&self, origin: &str) -> Result<(), QueueError> {
        self.update(Update::ForgetOrigin {
            origin: origin.to_string(),
        })
    }

    /// Makes deferred recipients due at once: all (`postqueue -f`), one
    /// message's (`-i ID`) or those at one domain (`-s site`).
    pub fn flush(&self, id: Option<&QueueId>, domain: Option<&str>) -> Result<(), QueueError> {
        self.update(Update::Flush {
            id: id.cloned(),
            domain: domain.map(str::to_string),
        })
    }

    fn insert_from(
        &self,
        message: NewMessage,
        origin: Option<String>,
    ) -> Result<Durable, QueueError> {
        let (reply, answer) = bounded(1);
        let request = Request::Insert {
            message: Box::new(message),
            origin,
            reply,
        };
        self.tx.send(request).map_err(|_| QueueError::WriterGone)?;
        answer.recv().map_err(|_| QueueError::WriterGone)?
    }

    /// Records delivery attempts for recipients of `id`.
    pub fn record(&self, id: &QueueId, attempts: Vec<Attempt>) -> Result<(), QueueError> {
        self.update(Update::Record {
            id: id.clone(),
            attempts,
        })
    }

    /// Moves a message to another queue: `Hold` (postsuper -h), `Deferred`
    /// (release, postsuper -H), `Active`; `Incoming` requeues it (postsuper -r):
    /// deferred recipients become pending and due at once.
    pub fn move_to(&self, id: &QueueId, to: QueueName) -> Result<(), QueueError> {
        self.update(Update::Move { id: id.clone(), to })
    }

    /// Removes a message and its recipients (postsuper -d, or all recipients done).
    pub fn delete(&self, id: &QueueId) -> Result<(), QueueError> {
        self.update(Update::Delete { id: id.clone() })
    }

    /// `record` without waiting: the answer comes on `to`, tagged `tag`.
    /// Requests from one handle are applied in the order sent.
    pub fn record_tagged(
        &self,
        id: &QueueId,
        attempts: Vec<Attempt>,
        tag: u64,
        to: &Sender<Completion>,
    ) -> Result<(), QueueError> {
        let update = Update::Record {
            id: id.clone(),
            attempts,
        };
        self.send(update, Reply::Tagged(tag, to.clone()))
    }

    /// `move_to` without waiting (see `record_tagged`).
    pub fn move_tagged(
        &self,
        id: &QueueId,
        to_queue: QueueName,
        tag: u64,
        to: &Sender<Completion>,
    ) -> Result<(), QueueError> {
        let update = Update::Move {
            id: id.clone(),
            to: to_queue,
        };
        self.send(update, Reply::Tagged(tag, to.clone()))
    }

    /// `delete` without waiting (see `record_tagged`).
    pub fn delete_tagged(
        &self,
        id: &QueueId,
        tag: u64,
        to: &Sender<Completion>,
    ) -> Result<(), QueueError> {
        let update = Update::Delete { id: id.clone() };
        self.send(update, Reply::Tagged(tag, to.clone()))
    }

    fn send(&self, update: Update, reply: Reply) -> Result<(), QueueError> {
        self.tx
            .send(Request::Update { update, reply })
            .map_err(|_| QueueError::WriterGone)
    }

    fn update(&self, update: Update) -> Result<(), QueueError> {
        let (reply, answer) = bounded(1);
        self.send(update, Reply::Wait(reply))?;
        answer.recv().map_err(|_| QueueError::WriterGone)?
    }
}

/// The open queue: owns the writer thread. Dropping it stops the writer after the
/// transaction in progress; later requests fail with `WriterGone`.
#[derive(Debug)]
pub struct Store {
    handle: QueueHandle,
    thread: Option<JoinHandle<()>>,
    directory: PathBuf,
    /// Transactions committed so far (for the benchmark and the tests).
    commits: Arc<CommitCounts>,
    /// IDs of messages committed to the incoming queue, for the queue manager.
    arrivals: Receiver<QueueId>,
}

impl Store {
    /// Opens or creates `queue.db` in `queue_directory` and starts the writer.
    /// The connection is opened here, so an unwritable queue is reported to the
    /// caller at once.
    pub fn open(queue_directory: &Path) -> Result<Store, QueueError> {
        let conn = schema::open_writer(queue_directory)?;
        let newest = super::query::newest_id(&conn)?;
        let ids = Arc::new(IdGenerator::starting_after(newest.as_ref()));
        let (tx, rx) = unbounded();
        let commits = Arc::new(CommitCounts::default());
        let counter = Arc::clone(&commits);
        let (announce, arrivals) = bounded(ANNOUNCE_BACKLOG);
        let thread = std::thread::Builder::new()
            .name("queue-writer".into())
            .spawn(move || run(conn, rx, &counter, &announce))
            .map_err(QueueError::Spawn)?;
        Ok(Store {
            handle: QueueHandle { tx, ids },
            thread: Some(thread),
            directory: queue_directory.to_path_buf(),
            commits,
            arrivals,
        })
    }

    pub fn handle(&self) -> QueueHandle {
        self.handle.clone()
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The IDs of messages committed to the incoming queue, announced after
    /// COMMIT (the queue manager's "new mail" trigger). The channel ends when
    /// the writer stops.
    pub fn arrivals(&self) -> Receiver<QueueId> {
        self.arrivals.clone()
    }

    /// How many transactions the writer has committed since `open`.
    pub fn commits(&self) -> u64 {
        self.commits.all.load(Ordering::Relaxed)
    }

    /// How many of those were synced (`synchronous=FULL`).
    pub fn synced_commits(&self) -> u64 {
        self.commits.synced.load(Ordering::Relaxed)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.handle.tx.send(Request::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Transactions committed, all and those synced.
#[derive(Debug, Default)]
struct CommitCounts {
    all: AtomicU64,
    synced: AtomicU64,
}

/// The writer loop: wait for one request, take every other one already waiting,
/// apply them in one transaction.
fn run(
    mut conn: Connection,
    rx: Receiver<Request>,
    commits: &CommitCounts,
    announce: &Sender<QueueId>,
) {
    let mut synced = true;
    loop {
        let first = match rx.recv() {
            Ok(Request::Shutdown) | Err(_) => return,
            Ok(r) => r,
        };
        let mut batch = vec![first];
        let mut stop = false;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Request::Shutdown) => {
                    stop = true;
                    break;
                }
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let sync = batch.iter().any(needs_sync);
        if sync != synced {
            let level = if sync { "FULL" } else { "NORMAL" };
            match conn.pragma_update(None, "synchronous", level) {
                Ok(()) => synced = sync,
                // Left as it was: FULL is safe, NORMAL answers nobody waiting.
                Err(e) => log::warn!("queue: cannot set synchronous={level}: {e}"),
            }
        }
        // Counted before anybody is answered, so that an answer sees its commit.
        commit_batch(&mut conn, batch, announce, || {
            commits.all.fetch_add(1, Ordering::Relaxed);
            if synced {
                commits.synced.fetch_add(1, Ordering::Relaxed);
            }
        });
        if stop {
            return;
        }
    }
}

/// Must the transaction holding `request` be on disk before COMMIT returns?
/// Everything but the queue manager's tagged bookkeeping (see the module doc).
fn needs_sync(request: &Request) -> bool {
    !matches!(
        request,
        Request::Update {
            reply: Reply::Tagged(..),
            ..
        }
    )
}

/// Applies each request under its own savepoint (one bad request does not sink
/// the others), commits once, calls `committed`, then answers. Nobody hears
/// success before COMMIT.
fn commit_batch(
    conn: &mut Connection,
    batch: Vec<Request>,
    announce: &Sender<QueueId>,
    committed: impl FnOnce(),
) {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            return fail_all(batch, Arc::new(e));
        }
    };
    let mut applied = Vec::with_capacity(batch.len());
    for request in batch {
        match apply_in_savepoint(&mut tx, &request) {
            Ok(()) => applied.push(request),
            Err(e) => answer_err(request, e),
        }
    }
    match tx.commit() {
        Ok(()) => {
            log::debug!("queue: committed {} requests", applied.len());
            committed();
            for request in &applied {
                if let Request::Insert { message, .. } = request {
                    if message.queue == QueueName::Incoming {
                        let _ = announce.try_send(message.queue_id.clone());
                    }
                }
            }
            applied.into_iter().for_each(answer_ok);
        }
        Err(e) => fail_all(applied, Arc::new(e)),
    }
}

fn apply_in_savepoint(tx: &mut Transaction<'_>, request: &Request) -> Result<(), QueueError> {
    let sp = tx.savepoint().map_err(|source| QueueError::Commit {
        source: Arc::new(source),
    })?;
    match request {
        Request::Insert {
            message, origin, ..
        } => {
            if let Some(origin) = origin {
                record_origin(&sp, origin, &message.queue_id)?;
            }
            insert(&sp, message)?
        }
        Request::Update { update, .. } => apply_update(&sp, update)?,
        Request::Shutdown => {}
    }
    sp.commit().map_err(|source| QueueError::Commit {
        source: Arc::new(source),
    })
}

fn answer_ok(request: Request) {
    // A session that gave up waiting has dropped its receiver; nothing to tell.
    match request {
        Request::Insert { message, reply, .. } => {
            let _ = reply.send(Ok(Durable {
                queue_id: message.queue_id,
            }));
        }
        Request::Update { reply, .. } => reply.send(Ok(())),
        Request::Shutdown => {}
    }
}

fn answer_err(request: Request, error: QueueError) {
    match request {
        Request::Insert { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Request::Update { reply, .. } => reply.send(Err(error)),
        Request::Shutdown => {}
    }
}

fn fail_all(batch: Vec<Request>, source: Arc<rusqlite::Error>) {
    log::warn!("queue: transaction failed: {source}");
    for request in batch {
        answer_err(
            request,
            QueueError::Commit {
                source: Arc::clone(&source),
            },
        );
    }
}
