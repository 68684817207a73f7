//! The privileged helper for real: a fresh, single-threaded copy of this test
//! binary forks the helper as root, sends it jobs over the socket and checks
//! the results; the parent test then reads the mailboxes it wrote.
//!
//! Exercises src/local/helper.rs and wire.rs. Only meaningful as root (the
//! helper is not started otherwise); as another user the test checks that
//! `spawn` declines.

use std::path::Path;
use std::process::Command;

use crate::local::helper::spawn;
use crate::local::tests::agent::{job, maildir_messages, site, HOST, MESSAGE};
use crate::local::wire::Agent;
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
    assert_eq!(
        maildir_messages(&site.path(&format!("maildirs/{}", site.me))).len(),
        1
    );
    assert_eq!(maildir_messages(&site.path("maildirs/nobody")).len(), 1);
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
    // The handler chooses the agent: virtual_mailbox_maps is empty here.
    let r = client.deliver(Agent::Virtual, &job(&["x@hosted.example"], MESSAGE));
    assert_eq!(r.recipients[0].relay, "virtual");
    assert!(
        matches!(&r.recipients[0].outcome, Outcome::Bounced(d) if d.status.to_string() == "5.1.1"),
        "{r:?}"
    );
}
