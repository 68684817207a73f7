//! The privileged helper for real: a fresh, single-threaded copy of this test
//! binary forks the helper as root, sends it jobs over the socket and checks
//! the results; the parent test then reads the mailboxes it wrote.
//!
//! Exercises src/local/helper.rs and wire.rs. Only meaningful as root (the
//! helper is not started otherwise); as another user the test checks that
//! `spawn` declines.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;

use crate::config::Config;
use crate::local::helper::{run_job, spawn, Agents, HelperClient};
use crate::local::tests::agent::{job, maildir_messages, site, HOST, MESSAGE};
use crate::local::wire::Agent;
use crate::mail::delivery::{DeliveryJob, DeliveryResult, RecipientResult};
use crate::mail::dsn::Outcome;
use crate::master::delivery_agents;

const DIR_VAR: &str = "POSTERN_HELPER_TEST_DIR";

#[test]
fn helper_delivers_jobs_as_root() {
    if !nix::unistd::geteuid().is_root() {
        assert!(spawn(Path::new("/nonexistent"), delivery_agents)
            .unwrap()
            .is_none());
        return;
    }
    let (site, _ctx) = site("", "team: ME, nobody\n");
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "local::tests::helper::helper_child",
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(DIR_VAR, site.dir.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
    // One message from `deliver`, three from `deliver_batch`.
    assert_eq!(
        maildir_messages(&site.path(&format!("maildirs/{}", site.me))).len(),
        4
    );
    assert_eq!(maildir_messages(&site.path("maildirs/nobody")).len(), 4);
}

/// Runs in the single-threaded child process started above.
#[test]
#[ignore = "started by helper_delivers_jobs_as_root in a fresh process"]
fn helper_child() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    // fork() needs a process whose other threads hold no locks: here the only
    // other thread is libtest's main thread, parked waiting for this test.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("Threads:")) {
        let n: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(n <= 2, "{line}");
    }
    let client = spawn(Path::new(&dir), delivery_agents).unwrap().unwrap();
    let j = job(
        &[&format!("team@{HOST}"), &format!("nosuch-4x@{HOST}")],
        MESSAGE,
    );
    let r = client.deliver(Agent::Local, &j);
    assert_eq!(r.recipients.len(), 2);
    assert_eq!(r.recipients[0].outcome, Outcome::Delivered, "{r:?}");
    assert_eq!(r.recipients[0].detail, "delivered to maildir");
    assert!(
        matches!(&r.recipients[1].outcome, Outcome::Bounced(d) if d.reason == "unknown user: \"nosuch-4x\""),
        "{r:?}"
    );
    // Two clients in parallel threads (the helper itself stays single-threaded).
    let c2 = client.clone();
    let t = std::thread::spawn(move || c2.deliver(Agent::Local, &job(&["nosuch-5x"], MESSAGE)));
    let r1 = client.deliver(Agent::Local, &job(&["nosuch-6x"], MESSAGE));
    let r2 = t.join().unwrap();
    assert!(matches!(r1.recipients[0].outcome, Outcome::Bounced(_)));
    assert!(matches!(r2.recipients[0].outcome, Outcome::Bounced(_)));
    // A batch through the same session child, pipelined.
    let batch: Vec<_> = (0..3)
        .map(|_| job(&[&format!("team@{HOST}"), "nosuch-7x"], MESSAGE))
        .collect();
    let refs: Vec<_> = batch.iter().collect();
    let mut answered = Vec::new();
    client.deliver_batch(Agent::Local, &refs, &mut |i, r| {
        assert_eq!(r.queue_id, batch[i].queue_id);
        assert_eq!(r.recipients[0].outcome, Outcome::Delivered, "{r:?}");
        assert!(matches!(r.recipients[1].outcome, Outcome::Bounced(_)));
        answered.push(i);
    });
    assert_eq!(answered, [0, 1, 2]);
    // The handler chooses the agent: virtual_mailbox_maps is empty here.
    let r = client.deliver(Agent::Virtual, &job(&["x@hosted.example"], MESSAGE));
    assert_eq!(r.recipients[0].relay, "virtual");
    assert!(
        matches!(&r.recipients[0].outcome, Outcome::Bounced(d) if d.status.to_string() == "5.1.1"),
        "{r:?}"
    );
}

/// A session child's agents for the pipelining tests: every recipient is
/// delivered, with the content length and a long text (so that answers, like
/// requests, overfill the socket); the sender `crash@example` kills the session.
struct Echo;

const ECHO_TEXT: usize = 300_000;

impl Agents for Echo {
    fn deliver(&mut self, _agent: Agent, job: &DeliveryJob) -> DeliveryResult {
        assert!(job.sender != "crash@example", "session child crashes");
        let recipients = job
            .recipients
            .iter()
            .map(|r| RecipientResult {
                index: r.index,
                outcome: Outcome::Delivered,
                relay: "local".into(),
                detail: format!("{} {}", job.content.len(), "x".repeat(ECHO_TEXT)),
                forwarded: Vec::new(),
                tls: None,
                parts: Vec::new(),
                success: Default::default(),
            })
            .collect();
        DeliveryResult {
            queue_id: job.queue_id.clone(),
            transport: job.transport.clone(),
            recipients,
        }
    }
}

fn echo(_: Config) -> Box<dyn Agents> {
    Box::new(Echo)
}

/// A client whose session is served by `run_job` in a thread.
fn echo_session() -> (HelperClient, tempfile::TempDir, std::thread::JoinHandle<()>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.cf"), "").unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let config_dir = dir.path().to_path_buf();
    let child = std::thread::spawn(move || run_job(OwnedFd::from(theirs), &config_dir, echo));
    (HelperClient::with_session(ours).unwrap(), dir, child)
}

/// A batch goes through one session with requests and answers both larger
/// than the socket buffers: neither side may block writing while the other
/// does (a 2 MB request is being written while a 300 KB answer waits).
/// Results come in order, one per job.
#[test]
fn batch_is_pipelined_through_full_sockets() {
    let (client, _dir, child) = echo_session();
    let sizes = [2_000_000, 10, 3_000_000, 500_000, 1, 2_500_000];
    let jobs: Vec<DeliveryJob> = sizes
        .iter()
        .map(|&n| job(&["a", "b"], &vec![b'm'; n]))
        .collect();
    let refs: Vec<&DeliveryJob> = jobs.iter().collect();
    let mut seen = Vec::new();
    client.deliver_batch(Agent::Local, &refs, &mut |i, r| {
        assert_eq!(r.queue_id, jobs[i].queue_id);
        assert_eq!(r.recipients.len(), 2);
        for rr in &r.recipients {
            assert_eq!(rr.outcome, Outcome::Delivered, "{i}");
            let len = rr.detail.split(' ').next().unwrap();
            assert_eq!(len, sizes[i].to_string());
            assert_eq!(rr.detail.len(), len.len() + 1 + ECHO_TEXT);
        }
        seen.push(i);
    });
    assert_eq!(seen, (0..sizes.len()).collect::<Vec<_>>());
    // The session is still good for single jobs.
    let r = client.deliver(Agent::Local, &job(&["c"], b"x"));
    assert_eq!(r.recipients[0].outcome, Outcome::Delivered);
    drop(client);
    child.join().unwrap();
}

/// When the session child dies in the middle of a batch, the jobs it
/// answered keep their results and every later one is deferred.
#[test]
fn session_lost_in_a_batch_defers_the_rest() {
    let (client, _dir, child) = echo_session();
    let mut jobs: Vec<DeliveryJob> = (0..5).map(|_| job(&["a"], MESSAGE)).collect();
    jobs[2].sender = "crash@example".into();
    let refs: Vec<&DeliveryJob> = jobs.iter().collect();
    let mut outcomes = Vec::new();
    client.deliver_batch(Agent::Virtual, &refs, &mut |i, r| {
        assert_eq!(r.queue_id, jobs[i].queue_id);
        outcomes.push((
            i,
            r.recipients[0].outcome.clone(),
            r.recipients[0].relay.clone(),
        ));
    });
    assert!(child.join().is_err(), "the session child crashed");
    assert_eq!(outcomes.len(), 5, "{outcomes:?}");
    for (n, (i, outcome, relay)) in outcomes.iter().enumerate() {
        assert_eq!(*i, n);
        if n < 2 {
            assert_eq!(*outcome, Outcome::Delivered);
        } else {
            assert!(
                matches!(outcome, Outcome::Deferred(d) if d.reason == "delivery helper failed"),
                "{n}: {outcome:?}"
            );
            assert_eq!(relay, "virtual");
        }
    }
}

/// A panic while a result is reported (in the worker, after the helper
/// answered) must not leave the half-read session for the next job: it is
/// dropped, and the next job needs a new session (here none can be opened,
/// so it is deferred instead of reading the old batch's answers).
#[test]
fn panic_in_a_batch_drops_the_session() {
    let (client, _dir, child) = echo_session();
    let jobs: Vec<DeliveryJob> = (0..4).map(|_| job(&["a"], MESSAGE)).collect();
    let refs: Vec<&DeliveryJob> = jobs.iter().collect();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client.deliver_batch(Agent::Local, &refs, &mut |i, _| {
            assert!(i < 1, "worker fails reporting job {i}");
        })
    }));
    assert!(caught.is_err());
    let r = client.deliver(Agent::Local, &job(&["b"], MESSAGE));
    assert!(
        matches!(&r.recipients[0].outcome, Outcome::Deferred(d) if d.reason == "delivery helper failed"),
        "{r:?}"
    );
    // The session child saw its session closed.
    child.join().unwrap();
}
