//! Acceptance (issue 4), crash safety of delivery: while a client streams
//! messages into the real daemon (until just after the last restart), the
//! master is killed with SIGKILL three times at varying moments and started
//! again. In the end every message the
//! client saw acknowledged with 250 is in the recipient's Maildir exactly once
//! (counted by Message-ID), and no message is there twice, acknowledged or not
//! (a message whose 250 was lost to the kill may or may not have arrived).
//!
//! The recipient is `nobody`, with its Maildir under `mail_spool_directory` in
//! the test's directory (written with nobody's rights when run as root).

mod common;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::daemon::{free_port, Instance, HOSTNAME};
use common::tools::{wait_for, RawSmtp};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Messages the client sends at most (it stops earlier once the kills are over).
const MESSAGES: usize = 2000;

/// One SMTP transaction; true when the 250 for the message arrived.
fn send_one(port: u16, n: usize) -> bool {
    // Down between a kill and the restart (RawSmtp panics on a refused connect).
    if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        return false;
    }
    let Ok(mut c) = std::panic::catch_unwind(|| RawSmtp::connect(port)) else {
        return false;
    };
    c.set_read_timeout(Duration::from_secs(5));
    let ok = |r: std::io::Result<common::tools::Reply>, code: u16| {
        r.map(|r| r.code == code).unwrap_or(false)
    };
    if !ok(c.read_reply(), 220) {
        return false;
    }
    let mut step = |line: &str, code: u16| {
        if c.send(format!("{line}\r\n").as_bytes()).is_err() {
            return false;
        }
        ok(c.read_reply(), code)
    };
    step("EHLO client.test", 250)
        && step("MAIL FROM:<root@client.test>", 250)
        && step(&format!("RCPT TO:<nobody@{HOSTNAME}>"), 250)
        && step("DATA", 354)
        && step(
            &format!(
                "Message-ID: <crash-{n}@client.test>\r\nSubject: crash {n}\r\n\r\nmessage {n}\r\n."
            ),
            250,
        )
}

#[test]
fn every_acknowledged_message_is_delivered_exactly_once_across_kill_9() {
    let port = free_port();
    let master = format!("127.0.0.1:{port} inet n - n - - smtpd\nlocal unix - n n - - local\n");
    let inst = Instance::with_master("", &master, port);
    let d = inst.path().display().to_string();
    let spool = inst.path().join("spool");
    fs::create_dir_all(&spool).unwrap();
    fs::set_permissions(&spool, fs::Permissions::from_mode(0o1777)).unwrap();
    inst.write_main(&format!(
        "mydestination = $myhostname\nmail_spool_directory = {d}/spool/\n\
         minimal_backoff_time = 1s\nmaximal_backoff_time = 2s\nqueue_run_delay = 1s\n"
    ));
    inst.start();

    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let acked = Arc::clone(&acked);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for n in 0..MESSAGES {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                if send_one(port, n) {
                    acked.lock().unwrap().push(n);
                } else {
                    // The daemon is down: wait a little for the restart.
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        })
    };

    // Three kills, each after a varying pause (the clock's nanoseconds).
    for _ in 0..3 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        std::thread::sleep(Duration::from_millis(400 + u64::from(nanos % 600)));
        let pid = inst.pid();
        kill(Pid::from_raw(pid), Signal::SIGKILL).expect("SIGKILL the master");
        assert!(
            wait_for(Duration::from_secs(10), || kill(Pid::from_raw(pid), None)
                .is_err()),
            "master {pid} survived SIGKILL"
        );
        inst.start();
    }
    // The stream goes on a little after the last restart, then stops.
    std::thread::sleep(Duration::from_millis(500));
    done.store(true, Ordering::SeqCst);
    sender.join().expect("sender thread");
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 20, "only {} acknowledged", acked.len());

    // Everything acknowledged arrives (retries after the crashes included).
    let count_ids = || -> HashMap<usize, usize> {
        let mut seen = HashMap::new();
        for sub in ["new", "cur"] {
            let Ok(rd) = fs::read_dir(spool.join("nobody").join(sub)) else {
                continue;
            };
            for e in rd.flatten() {
                let text = fs::read_to_string(e.path()).unwrap_or_default();
                if let Some(n) = text
                    .split("Message-ID: <crash-")
                    .nth(1)
                    .and_then(|t| t.split('@').next())
                    .and_then(|n| n.parse().ok())
                {
                    *seen.entry(n).or_insert(0) += 1;
                }
            }
        }
        seen
    };
    let until = Instant::now() + Duration::from_secs(30);
    while acked.iter().any(|n| !count_ids().contains_key(n)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let any duplicate that is still on its way arrive.
    std::thread::sleep(Duration::from_secs(2));
    let seen = count_ids();
    let missing: Vec<&usize> = acked.iter().filter(|n| !seen.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not delivered: {missing:?}\nlog:\n{}",
        inst.log()
    );
    let twice: Vec<(&usize, &usize)> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        twice.is_empty(),
        "delivered more than once (message, copies): {twice:?}\nlog:\n{}",
        inst.log()
    );
    // The queue is empty: nothing is stuck.
    assert!(
        wait_for(Duration::from_secs(10), || inst.queued().is_empty()),
        "left in the queue: {:?}",
        inst.queued()
            .iter()
            .map(|m| (&m.queue_id, &m.queue_name))
            .collect::<Vec<_>>()
    );
    eprintln!("{} acknowledged, {} delivered", acked.len(), seen.len());
}
