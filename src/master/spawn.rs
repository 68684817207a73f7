//! Starting threads the way master(8) starts processes: a service thread that
//! panics is logged and started again; a connection thread that panics is
//! logged and ends alone; a connection thread that finished waits for the next
//! connection, as a Postfix daemon process serves `max_use` clients and ends
//! after `max_idle` without one.
//!
//! Mirrors Postfix master_spawn.c (restart of a service that died, with a pause
//! as its throttle), single_server.c (the use count and idle timer) and
//! msg_panic's `panic:` lines. Reads no parameters: the caller passes
//! `max_use` and `max_idle` with each job.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, TrySendError};

/// How long a service thread that panicked waits before it runs again, so a
/// thread that panics at once does not spin (master's `throttle_time` idea).
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// Logs every panic as `panic: ...` with its place, as Postfix's msg_panic(),
/// instead of Rust's message on a stderr nobody reads.
pub fn install_panic_logger() {
    std::panic::set_hook(Box::new(|info| {
        let what = payload_text(info.payload());
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        match info.location() {
            // "panic:" is Postfix's severity prefix; the log module maps it to
            // the syslog severity `crit`.
            Some(l) => ::log::info!("panic: thread {name}: {what} at {}:{}", l.file(), l.line()),
            None => ::log::info!("panic: thread {name}: {what}"),
        }
    }));
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Starts a long-lived service thread named `name` that runs `body` again
/// whenever it panics, until it returns normally.
pub fn supervised<F>(name: &str, body: F) -> io::Result<JoinHandle<()>>
where
    F: Fn() + Send + 'static,
{
    let label = name.to_string();
    std::thread::Builder::new()
        .name(label.clone())
        .spawn(move || loop {
            match catch_unwind(AssertUnwindSafe(&body)) {
                Ok(()) => return,
                Err(_) => {
                    ::log::warn!("thread {label} ended with a panic; restarting it");
                    std::thread::sleep(RESTART_PAUSE);
                }
            }
        })
}

/// How long a job waits for a thread counted idle to take it before a new
/// thread is started for it.
const HANDOVER: Duration = Duration::from_millis(10);

/// How long a pooled thread may live: Postfix's `max_use` (clients served, 0
/// for no limit) and `max_idle` (the wait for the next client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reuse {
    pub max_use: u32,
    pub max_idle: Duration,
}

struct Job {
    body: Box<dyn FnOnce() + Send>,
    reuse: Reuse,
}

/// Threads that run one job at a time and then wait for the next: a job goes
/// to a thread waiting for one, or else to a new thread. Saves the thread
/// set-up and tear-down per connection; nothing else carries over, because
/// each job is a whole connection that sets up its own per-thread state (log
/// service name; the caller also clears OpenSSL's per-thread error queue).
pub struct Pool {
    name: String,
    /// Zero capacity: a send succeeds only into a thread waiting in `recv`.
    jobs: Sender<Job>,
    waiting: Receiver<Job>,
    counts: Arc<Counts>,
}

/// The pool's threads, for tests and diagnostics.
#[derive(Default)]
struct Counts {
    /// Threads running.
    live: AtomicUsize,
    /// Threads waiting for a job.
    idle: AtomicUsize,
}

impl Pool {
    /// An empty pool whose threads are named `name`.
    pub fn new(name: &str) -> Pool {
        let (jobs, waiting) = crossbeam_channel::bounded(0);
        Pool {
            name: name.to_string(),
            jobs,
            waiting,
            counts: Arc::default(),
        }
    }

    /// Runs `body` in a waiting thread, or in a new one when none waits. A panic
    /// in it ends that thread only (the panic logger wrote the `panic:` line).
    pub fn run<F>(&self, reuse: Reuse, body: F) -> io::Result<()>
    where
        F: FnOnce() + Send + 'static,
    {
        let job = Job {
            body: Box::new(body),
            reuse,
        };
        let job = match self.jobs.try_send(job) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => job,
        };
        // A thread counted idle may be a moment away from its wait (or from
        // giving up on it): let it take the job rather than start another.
        let job = if self.idle() > 0 {
            match self.jobs.send_timeout(job, HANDOVER) {
                Ok(()) => return Ok(()),
                Err(SendTimeoutError::Timeout(job)) | Err(SendTimeoutError::Disconnected(job)) => {
                    job
                }
            }
        } else {
            job
        };
        let waiting = self.waiting.clone();
        let counts = Arc::clone(&self.counts);
        counts.live.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || {
                serve(job, &waiting, &counts.idle);
                counts.live.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            self.counts.live.fetch_sub(1, Ordering::SeqCst);
        }
        spawned.map(|_| ())
    }

    /// How many threads wait for a job now.
    pub fn idle(&self) -> usize {
        self.counts.idle.load(Ordering::SeqCst)
    }

    /// How many threads the pool has, busy or waiting.
    #[cfg(test)]
    pub fn live(&self) -> usize {
        self.counts.live.load(Ordering::SeqCst)
    }
}

/// One pooled thread: runs jobs until its use count is reached, a wait for the
/// next job times out, or a job panics.
fn serve(first: Job, waiting: &Receiver<Job>, idle: &AtomicUsize) {
    let mut job = first;
    let mut used: u32 = 0;
    loop {
        let reuse = job.reuse;
        if catch_unwind(AssertUnwindSafe(job.body)).is_err() {
            return;
        }
        used = used.saturating_add(1);
        if reuse.max_use > 0 && used >= reuse.max_use {
            return;
        }
        idle.fetch_add(1, Ordering::SeqCst);
        let next = waiting.recv_timeout(reuse.max_idle);
        idle.fetch_sub(1, Ordering::SeqCst);
        match next {
            Ok(j) => job = j,
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::thread::ThreadId;
    use std::time::Instant;

    const LONG: Reuse = Reuse {
        max_use: 0,
        max_idle: Duration::from_secs(60),
    };

    /// Runs a job that reports its thread and waits until it has ended.
    fn thread_of(pool: &Pool, reuse: Reuse) -> ThreadId {
        let (tx, rx) = crossbeam_channel::bounded(1);
        pool.run(reuse, move || {
            let _ = tx.send(std::thread::current().id());
        })
        .unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap()
    }

    /// Waits until `n` threads wait for a job (a finished job's thread gets
    /// there a moment after the job's last statement).
    fn until_idle(pool: &Pool, n: usize) {
        until(|| pool.idle() == n, "idle");
    }

    /// Waits until the pool has no thread left.
    fn until_empty(pool: &Pool) {
        until(|| pool.live() == 0, "threads ended");
    }

    fn until(done: impl Fn() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_finished_thread_takes_the_next_job() {
        let pool = Pool::new("pooled");
        let first = thread_of(&pool, LONG);
        until_idle(&pool, 1);
        let second = thread_of(&pool, LONG);
        assert_eq!(first, second);
        until_idle(&pool, 1);
    }

    #[test]
    fn a_busy_pool_starts_another_thread() {
        let pool = Pool::new("pooled");
        let (release, blocked) = crossbeam_channel::bounded::<()>(0);
        let (tx, started) = crossbeam_channel::bounded(1);
        pool.run(LONG, move || {
            let _ = tx.send(std::thread::current().id());
            let _ = blocked.recv();
        })
        .unwrap();
        let busy = started.recv_timeout(Duration::from_secs(10)).unwrap();
        let other = thread_of(&pool, LONG);
        assert_ne!(busy, other);
        release.send(()).unwrap();
        until_idle(&pool, 2);
    }

    #[test]
    fn max_use_ends_the_thread() {
        let pool = Pool::new("pooled");
        let twice = Reuse { max_use: 2, ..LONG };
        let first = thread_of(&pool, twice);
        until_idle(&pool, 1);
        assert_eq!(thread_of(&pool, twice), first);
        // The second job was its last: the thread ends instead of waiting.
        until_empty(&pool);
        assert_eq!(pool.idle(), 0);
        assert_ne!(thread_of(&pool, twice), first);
    }

    #[test]
    fn max_idle_ends_the_thread() {
        let pool = Pool::new("pooled");
        let short = Reuse {
            max_use: 0,
            max_idle: Duration::from_millis(50),
        };
        let first = thread_of(&pool, short);
        until_empty(&pool);
        assert_eq!(pool.idle(), 0);
        assert_ne!(thread_of(&pool, LONG), first);
    }

    #[test]
    fn a_panic_ends_only_its_thread() {
        let pool = Pool::new("pooled");
        let (tx, rx) = crossbeam_channel::bounded(1);
        pool.run(LONG, move || {
            let _ = tx.send(std::thread::current().id());
            panic!("connection went wrong");
        })
        .unwrap();
        let panicked = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // Its thread ends instead of waiting for more work.
        until_empty(&pool);
        assert_eq!(pool.idle(), 0);
        assert_ne!(thread_of(&pool, LONG), panicked);
    }

    #[test]
    fn supervised_thread_is_restarted_after_a_panic() {
        let runs = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&runs);
        let t = supervised("flaky", move || {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("first run fails");
            }
        })
        .unwrap();
        t.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
