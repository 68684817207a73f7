//! Mailbox locks (Postfix dot_lockfile.c, deliver_flock.c): a lock held by another
//! process or thread makes delivery wait, then give up with a deferral.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{envelope, quick_locks, CONTENT};
use crate::local::lock::{dot_lock, lock_mailbox, LockError, LockStyle};
use crate::local::mbox::{deliver_mbox, MboxError, MboxSettings};
use crate::local::Severity;

/// Starts a process that takes a POSIX fcntl lock (lockf) on `path`, holds it for
/// `hold` seconds, and says "locked" once it has it.
fn fcntl_holder(path: &Path, hold: f64) -> Child {
    let script = "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(float(sys.argv[2]))\n";
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .arg(hold.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    child
}

fn settings(style: &str, attempts: u32) -> MboxSettings {
    MboxSettings {
        lock: quick_locks(style, attempts),
        ..Default::default()
    }
}

#[test]
fn fcntl_lock_held_by_another_process_times_out_with_a_deferral() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let mut holder = fcntl_holder(&mbox, 30.0);
    let started = Instant::now();
    let err = deliver_mbox(
        &mbox,
        "bob",
        &envelope(),
        CONTENT,
        &settings("fcntl", 4),
        None,
    )
    .unwrap_err();
    let waited = started.elapsed();
    holder.kill().unwrap();
    holder.wait().unwrap();

    assert!(
        matches!(err.source, MboxError::Lock(LockError::Kernel { .. })),
        "{err}"
    );
    assert_eq!(err.dsn(), "4.2.0");
    assert_eq!(err.severity(), Severity::Temporary);
    assert!(err.to_string().contains(mbox.to_str().unwrap()), "{err}");
    // Four attempts, three pauses of 100 ms.
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert_eq!(fs::metadata(&mbox).unwrap().len(), 0, "nothing written");
}

#[test]
fn fcntl_lock_released_during_retries_lets_delivery_through() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let mut holder = fcntl_holder(&mbox, 0.4);
    let started = Instant::now();
    let done = deliver_mbox(
        &mbox,
        "bob",
        &envelope(),
        CONTENT,
        &settings("fcntl, dotlock", 20),
        None,
    )
    .unwrap();
    holder.wait().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(done.offset, 0);
    assert!(fs::read_to_string(&mbox)
        .unwrap()
        .starts_with("From alice@example.org  "));
    assert!(!dir.path().join("bob.lock").exists(), "dotlock removed");
}

#[test]
fn a_thread_holding_the_lock_makes_another_thread_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let s = settings("fcntl", 20);
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&mbox)
        .unwrap();
    let held = lock_mailbox(&file, &mbox, &s.lock, false).unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let path = mbox.clone();
    let s2 = s.clone();
    let worker = std::thread::spawn(move || {
        let r = deliver_mbox(&path, "bob", &envelope(), CONTENT, &s2, None);
        tx.send(()).unwrap();
        r
    });
    // Still blocked while we hold the lock.
    assert!(rx.recv_timeout(Duration::from_millis(350)).is_err());
    drop(held);
    drop(file);
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    worker.join().unwrap().unwrap();
}

#[test]
fn flock_style_waits_for_flock_holder() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    fs::write(&mbox, b"").unwrap();
    let mut holder = Command::new("flock")
        .arg("-x")
        .arg(&mbox)
        .arg("-c")
        .arg("echo locked; sleep 30")
        .stdout(Stdio::piped())
        .spawn()
        .expect("flock(1) runs");
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let err = deliver_mbox(
        &mbox,
        "bob",
        &envelope(),
        CONTENT,
        &settings("flock", 3),
        None,
    )
    .unwrap_err();
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(holder.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(err.severity(), Severity::Temporary, "{err}");
}

#[test]
fn fresh_dotlock_defers_and_stale_dotlock_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let lock_file = dir.path().join("bob.lock");
    fs::write(&lock_file, b"").unwrap();

    let err = deliver_mbox(
        &mbox,
        "bob",
        &envelope(),
        CONTENT,
        &settings("dotlock", 3),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err.source, MboxError::Lock(LockError::DotLock { .. })),
        "{err}"
    );
    assert_eq!(err.severity(), Severity::Temporary);
    assert!(err.to_string().contains("bob.lock"), "{err}");
    assert!(lock_file.exists(), "someone else's lock is left alone");

    // stale_lock_time = 0: once a second has passed, the lock counts as stale.
    let mut s = settings("dotlock", 30);
    s.lock.stale_lock_time = Duration::ZERO;
    deliver_mbox(&mbox, "bob", &envelope(), CONTENT, &s, None).unwrap();
    assert!(!lock_file.exists());
}

#[test]
fn dotlock_is_exclusive_and_named_after_the_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("carol");
    let s = quick_locks("dotlock", 1);
    let lock_file = dot_lock(&mbox, &s).unwrap();
    assert_eq!(lock_file, dir.path().join("carol.lock"));
    assert!(dot_lock(&mbox, &s).is_err());
}

#[test]
fn lock_styles_parse_like_postconf() {
    let s = LockStyle::parse("fcntl, dotlock").unwrap();
    assert!(s.fcntl && s.dotlock && !s.flock);
    if cfg!(target_os = "linux") {
        assert_eq!(LockStyle::default(), s, "Linux default is fcntl, dotlock");
    }
    assert!(LockStyle::parse("fcntl, nfs").is_err());
}

/// Many delivery threads appending to one mailbox must never interleave: each
/// lock style alone has to exclude the other threads of this process.
#[test]
fn concurrent_threads_never_interleave_in_one_mailbox() {
    for style in ["fcntl", "dotlock", "flock", "fcntl, dotlock"] {
        let dir = tempfile::tempdir().unwrap();
        let mbox = dir.path().join("bob");
        let mut s = settings(style, 4000);
        // 4000 tries 5 ms apart: each holder fsyncs 160 kB, and on a loaded
        // two-core machine six writers can keep one waiting for seconds.
        s.lock.deliver_lock_delay = Duration::from_millis(5);
        let workers: Vec<_> = (0..6)
            .map(|t| {
                let (mbox, s) = (mbox.clone(), s.clone());
                std::thread::spawn(move || {
                    for i in 0..15 {
                        // Big enough that one write could be split.
                        let body = format!(
                            "Subject: {t}/{i}\n\n{}\n",
                            format!("{t}.{i} ").repeat(20_000)
                        );
                        deliver_mbox(&mbox, "bob", &envelope(), body.as_bytes(), &s, None).unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let text = fs::read_to_string(&mbox).unwrap();
        let messages: Vec<&str> = text.split("\nFrom alice@example.org  ").collect();
        assert_eq!(messages.len(), 90, "{style}");
        for m in messages {
            let subject = m.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap();
            let tag = format!("{} ", subject.replace('/', "."));
            let body = m.split("\n\n").nth(1).unwrap().trim_end();
            // No body in the failure text: it is 80 kB.
            assert!(
                body == tag.repeat(20_000).trim_end(),
                "{style}: message {subject} was mixed"
            );
        }
        assert!(!dir.path().join("bob.lock").exists());
    }
}
