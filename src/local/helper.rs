//! The privileged delivery helper: a small process forked by the master while
//! it is still root and still single-threaded, which runs local and virtual
//! delivery jobs for the unprivileged daemon.
//!
//! Postfix runs local(8) and virtual(8) as root processes that qmgr talks to
//! over a socket (master.cf `local unix - n n - - local`); Postern's network
//! threads share one process that drops to `mail_owner`, so this helper keeps
//! the root part apart. Reads `config_directory` (main.cf is loaded again
//! whenever main.cf or master.cf changed, so a reload is seen without
//! restarting the helper).
//!
//! Design:
//! - [`spawn`] (called by the master before any thread starts and before the
//!   privilege drop) makes a Unix socketpair and forks. The child is the helper;
//!   the parent keeps a [`HelperClient`].
//! - Each delivery worker thread gets a session: on its first job the client
//!   makes a socketpair, passes one end to the helper with SCM_RIGHTS over
//!   the control socket, and writes jobs on the other (`wire.rs` format),
//!   one after the other (the jobs of a batch are written while the child
//!   works on the one before: [`HelperClient::deliver_batch`]). The helper
//!   forks one child per session and goes back to waiting, so sessions run
//!   in parallel while the helper stays single-threaded (fork is only safe
//!   in a single-threaded process). Like a Postfix local(8) process, a
//!   session child serves many jobs, and ends
//!   when its worker closes the session.
//! - The session child loads main.cf (again when main.cf or master.cf
//!   changed) and builds its agents from it ([`Handler`]); they live as long
//!   as that configuration, in the child alone (no table or SQLite handle
//!   crosses a fork). It runs each job as root and writes each result.
//!   The agent gives each file delivery the recipient's file-system identity
//!   (privs.rs) and runs commands as the recipient (command.rs).
//! - The helper trusts only what local(8) trusts from qmgr: a message and its
//!   recipients. Paths, uids and commands are derived inside the helper from
//!   root's view of the tables and the password file, never taken from the
//!   unprivileged side.
//! - The helper exits when the control socket reaches end-of-file (the master
//!   is gone). A job child that dies leaves its socket closed: the client
//!   defers the job.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use nix::unistd::{fork, ForkResult};

use crate::config::Config;
use crate::mail::delivery::{DeliveryJob, DeliveryResult, RecipientResult};
use crate::mail::dsn::{Dsn, Outcome, StatusCode};

use super::wire::{self, Agent, WireError};

/// The delivery agents of a session child, built from one configuration and
/// kept for the session's jobs until main.cf or master.cf changes (settings
/// read and tables opened once, as a Postfix local(8) process does).
pub trait Agents {
    /// Runs one job with the local or virtual agent.
    fn deliver(&mut self, agent: Agent, job: &DeliveryJob) -> DeliveryResult;
}

/// Builds a session child's agents from its configuration: the master passes
/// a function that makes the local and virtual agents (this module cannot
/// name virtual_, a module of its own layer that builds on this one).
pub type Handler = fn(Config) -> Box<dyn Agents>;

/// Why the helper could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    #[error("delivery helper: socketpair: {0}")]
    Socket(nix::Error),
    #[error("delivery helper: fork: {0}")]
    Fork(nix::Error),
    #[error("delivery helper: pass socket: {0}")]
    Pass(nix::Error),
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// The daemon's end of the helper: cheap to clone, usable from any thread.
/// Each clone opens its own session (one per delivery worker).
#[derive(Debug)]
pub struct HelperClient {
    control: Arc<Mutex<UnixStream>>,
    session: Mutex<Option<UnixStream>>,
}

impl Clone for HelperClient {
    fn clone(&self) -> HelperClient {
        HelperClient {
            control: Arc::clone(&self.control),
            session: Mutex::new(None),
        }
    }
}

/// The helper the daemon started, for the agents' contexts in the qmgr's
/// worker threads. Set once at start-up, before any worker exists.
static INSTALLED: std::sync::OnceLock<Option<HelperClient>> = std::sync::OnceLock::new();

/// Records the helper the master started (`None` when not running as root).
pub fn install(client: Option<HelperClient>) {
    let _ = INSTALLED.set(client);
}

/// The helper recorded by `install`, if any.
pub fn installed() -> Option<HelperClient> {
    INSTALLED.get().cloned().flatten()
}

/// Forks the helper when this process is root; `Ok(None)` otherwise (then the
/// agents deliver in-process as the current user). Must be called before any
/// other thread exists.
pub fn spawn(config_dir: &Path, handler: Handler) -> Result<Option<HelperClient>, HelperError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let (ours, theirs) = pair()?;
    // SAFETY: the caller guarantees that no other thread exists yet, so the
    // child may run ordinary Rust code after fork.
    match unsafe { fork() }.map_err(HelperError::Fork)? {
        ForkResult::Parent { .. } => {
            drop(theirs);
            Ok(Some(HelperClient {
                control: Arc::new(Mutex::new(UnixStream::from(ours))),
                session: Mutex::new(None),
            }))
        }
        ForkResult::Child => {
            drop(ours);
            serve(theirs, config_dir.to_path_buf(), handler);
            // The helper is a process of its own: leaving it is ending it.
            std::process::exit(0)
        }
    }
}

fn pair() -> Result<(OwnedFd, OwnedFd), HelperError> {
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(HelperError::Socket)
}

impl HelperClient {
    /// Runs `job` in the helper. Any failure to talk to it defers every
    /// recipient: the mail stays queued.
    pub fn deliver(&self, agent: Agent, job: &DeliveryJob) -> DeliveryResult {
        let mut result = None;
        self.deliver_batch(agent, &[job], &mut |_, r| result = Some(r));
        // deliver_batch answers every job; should it not, the job waits.
        result.unwrap_or_else(|| {
            result_of(
                job,
                defer_all(job, relay_name(agent), "delivery helper failed"),
            )
        })
    }

    /// Runs `jobs` in the helper one after the other on this client's
    /// session and gives each result to `each` with the job's position as
    /// soon as it is read. The requests are written while the helper works
    /// (the session child finds the next job waiting when it has answered
    /// one), and written and read without blocking on either, so neither
    /// side waits for the other to drain its socket. The session is opened
    /// on first use; one whose child is gone before it took anything (not a
    /// byte written) is replaced once. Any other failure defers the jobs not
    /// answered yet (the Maildir names make a retry find what was delivered).
    pub fn deliver_batch(
        &self,
        agent: Agent,
        jobs: &[&DeliveryJob],
        each: &mut dyn FnMut(usize, DeliveryResult),
    ) {
        let mut answered = 0;
        let mut reported = |i: usize, r: Vec<RecipientResult>| {
            answered = i + 1;
            each(i, result_of(jobs[i], checked(agent, jobs[i], r)));
        };
        // The session is taken out while the batch runs and put back only
        // when every answer was read: should `each` panic, it is dropped,
        // not left half-read for the next job.
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let mut fresh = false;
        let failed = loop {
            let mut stream = match session.take() {
                Some(s) => s,
                None => match self.open_session() {
                    Ok(s) => {
                        fresh = true;
                        s
                    }
                    Err(e) => break Some(e),
                },
            };
            match pipeline(&mut stream, agent, jobs, &mut reported) {
                Ok(()) => {
                    session = Some(stream);
                    break None;
                }
                // A session child gone before it took anything is replaced once.
                Err(e) if e.written || fresh => break Some(e.error),
                Err(_) => {}
            }
        };
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = session;
        if let Some(e) = failed {
            log::warn!("{e}");
            for (i, job) in jobs.iter().enumerate().skip(answered) {
                let deferred = defer_all(job, relay_name(agent), "delivery helper failed");
                each(i, result_of(job, deferred));
            }
        }
    }

    /// A client whose session is `stream` and which cannot open another
    /// (tests run a session with `run_job` in a thread).
    #[cfg(test)]
    pub(super) fn with_session(stream: UnixStream) -> Result<HelperClient, HelperError> {
        let (control, _gone) = pair()?;
        Ok(HelperClient {
            control: Arc::new(Mutex::new(UnixStream::from(control))),
            session: Mutex::new(Some(stream)),
        })
    }

    /// Asks the helper for a session child.
    fn open_session(&self) -> Result<UnixStream, HelperError> {
        let (ours, theirs) = pair()?;
        let control = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let fds = [theirs.as_raw_fd()];
        let iov = [io::IoSlice::new(b"S")];
        sendmsg::<()>(
            control.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map_err(HelperError::Pass)?;
        Ok(UnixStream::from(ours))
    }
}

/// Runs `jobs` through `helper` when the daemon has one (pipelined, see
/// [`HelperClient::deliver_batch`]), else one after the other in this process
/// with `deliver`; each result goes to `each` with the job's position.
pub fn deliver_batch_via(
    helper: Option<&HelperClient>,
    agent: Agent,
    jobs: &[&DeliveryJob],
    each: &mut dyn FnMut(usize, DeliveryResult),
    deliver: impl Fn(&DeliveryJob) -> DeliveryResult,
) {
    match helper {
        Some(helper) => helper.deliver_batch(agent, jobs, each),
        None => {
            for (i, job) in jobs.iter().enumerate() {
                each(i, deliver(job));
            }
        }
    }
}

/// The relay name the results of `agent` carry.
fn relay_name(agent: Agent) -> &'static str {
    match agent {
        Agent::Local => "local",
        Agent::Virtual => "virtual",
    }
}

/// The helper's answer for `job`, or a deferral of every recipient when it
/// does not have one result per recipient.
fn checked(agent: Agent, job: &DeliveryJob, r: Vec<RecipientResult>) -> Vec<RecipientResult> {
    if r.len() == job.recipients.len() {
        return r;
    }
    defer_all(
        job,
        relay_name(agent),
        "delivery helper returned a wrong result count",
    )
}

fn result_of(job: &DeliveryJob, recipients: Vec<RecipientResult>) -> DeliveryResult {
    DeliveryResult {
        queue_id: job.queue_id.clone(),
        transport: job.transport.clone(),
        recipients,
    }
}

/// Why a pipelined exchange stopped, and whether any of it reached the helper.
struct PipelineError {
    error: HelperError,
    written: bool,
}

/// Writes the requests of `jobs` and reads their responses on a non-blocking
/// session, giving each response to `each` in order. The session is blocking
/// again when it returns `Ok`.
fn pipeline(
    stream: &mut UnixStream,
    agent: Agent,
    jobs: &[&DeliveryJob],
    each: &mut dyn FnMut(usize, Vec<RecipientResult>),
) -> Result<(), PipelineError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    let mut written = false;
    let fail = |written: bool, e: HelperError| PipelineError { error: e, written };
    let io_fail = |written: bool, e: io::Error| fail(written, WireError::Io(e).into());
    stream
        .set_nonblocking(true)
        .map_err(|e| io_fail(false, e))?;
    let (mut out, mut sent, mut requested) = (Vec::new(), 0, 0);
    let (mut input, mut answered) = (Vec::new(), 0);
    let mut chunk = vec![0u8; 64 * 1024];
    while answered < jobs.len() {
        if sent == out.len() && requested < jobs.len() {
            out.clear();
            sent = 0;
            wire::write_request(&mut out, agent, jobs[requested])
                .map_err(|e| fail(written, e.into()))?;
            requested += 1;
        }
        let mut flags = PollFlags::POLLIN;
        if sent < out.len() {
            flags |= PollFlags::POLLOUT;
        }
        let mut fds = [PollFd::new(stream.as_fd(), flags)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(io_fail(written, e.into())),
        }
        let ready = fds[0].revents().unwrap_or(PollFlags::empty());
        if sent < out.len() && ready.intersects(PollFlags::POLLOUT | PollFlags::POLLERR) {
            match stream.write(&out[sent..]) {
                Ok(n) => {
                    sent += n;
                    written = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(io_fail(written, e)),
            }
        }
        if ready.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match stream.read(&mut chunk) {
                Ok(0) => {
                    let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
                    return Err(io_fail(written, eof));
                }
                Ok(n) => input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(io_fail(written, e)),
            }
        }
        while let Some(len) = wire::complete_frame(&input).map_err(|e| fail(written, e.into()))? {
            let results =
                wire::read_response(&mut &input[..len]).map_err(|e| fail(written, e.into()))?;
            input.drain(..len);
            each(answered, results);
            answered += 1;
        }
    }
    stream
        .set_nonblocking(false)
        .map_err(|e| io_fail(written, e))?;
    Ok(())
}

/// A result that defers every recipient of `job` with `reason` (4.3.0).
pub fn defer_job(job: &DeliveryJob, reason: &str) -> DeliveryResult {
    DeliveryResult {
        queue_id: job.queue_id.clone(),
        transport: job.transport.clone(),
        recipients: defer_all(job, &job.transport, reason),
    }
}

fn defer_all(job: &DeliveryJob, relay: &str, reason: &str) -> Vec<RecipientResult> {
    job.recipients
        .iter()
        .map(|r| RecipientResult {
            index: r.index,
            outcome: Outcome::Deferred(Dsn::new(StatusCode::new(4, 3, 0), reason)),
            relay: relay.to_string(),
            detail: reason.to_string(),
            forwarded: Vec::new(),
            tls: None,
            parts: Vec::new(),
            success: Default::default(),
        })
        .collect()
}

/// The helper's loop: receive a job socket, fork a child for it, repeat until
/// the master closes the control socket.
fn serve(control: OwnedFd, config_dir: PathBuf, handler: Handler) {
    // Job children are reaped by the kernel.
    // SAFETY: installs SIG_IGN, no handler code runs.
    if let Err(e) = unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) } {
        log::warn!("delivery helper: SIGCHLD: {e}");
    }
    loop {
        let job_fd = match receive_fd(control.as_raw_fd()) {
            Ok(Some(fd)) => fd,
            Ok(None) => return,
            Err(e) => {
                log::warn!("delivery helper: receive: {e}");
                return;
            }
        };
        // SAFETY: the helper is single-threaded, so the child may run any code.
        match unsafe { fork() } {
            Ok(ForkResult::Parent { .. }) => drop(job_fd),
            Ok(ForkResult::Child) => {
                drop(control);
                // Commands run by the agent must be waited for again.
                // SAFETY: restores the default disposition, no handler code.
                let _ = unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) };
                run_job(job_fd, &config_dir, handler);
                std::process::exit(0)
            }
            Err(e) => log::warn!("delivery helper: fork: {e}"),
        }
    }
}

/// Receives one passed descriptor; `None` at end of file.
fn receive_fd(control: RawFd) -> Result<Option<OwnedFd>, nix::Error> {
    let mut byte = [0u8; 1];
    let mut iov = [io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        control,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    if msg.bytes == 0 {
        return Ok(None);
    }
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just gave us this descriptor; we own it.
                return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
    }
    Err(nix::Error::EBADMSG)
}

/// A session in a child of the helper: jobs read, delivered and answered one
/// after the other until the worker closes the session.
pub(super) fn run_job(fd: OwnedFd, config_dir: &Path, handler: Handler) {
    let mut stream = UnixStream::from(fd);
    let mut loaded: Option<(Stamp, Box<dyn Agents>)> = None;
    loop {
        let (agent, job) = match wire::read_request(&mut stream) {
            Ok(j) => j,
            Err(WireError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return,
            Err(e) => return log::warn!("delivery helper: {e}"),
        };
        let stamp = stamp(config_dir);
        if loaded.as_ref().is_none_or(|(s, _)| *s != stamp) {
            loaded = match Config::load(config_dir) {
                Ok(cfg) => Some((stamp, handler(cfg))),
                Err(e) => {
                    log::warn!("delivery helper: {e}");
                    None
                }
            };
        }
        let result = match &mut loaded {
            Some((_, agents)) => agents.deliver(agent, &job),
            None => defer_job(&job, "mail system configuration error"),
        };
        if let Err(e) = wire::write_response(&mut stream, &result.recipients) {
            return log::warn!("delivery helper: {e}");
        }
    }
}

/// What identifies the configuration files' contents cheaply: size and
/// modification time (nanoseconds) of main.cf and master.cf.
type Stamp = [Option<(u64, i64, i64)>; 2];

fn stamp(config_dir: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let of = |name: &str| {
        std::fs::metadata(config_dir.join(name))
            .ok()
            .map(|m| (m.size(), m.mtime(), m.mtime_nsec()))
    };
    [of("main.cf"), of("master.cf")]
}
