//! Acceptance (issue 3): a `250 ... queued as ID` means the message is on
//! disk. The master is killed with SIGKILL the moment the 250 arrives (no
//! shutdown, no chance to flush anything), restarted with `postfix start`, and
//! the message is in the queue with its envelope and content, as the queue
//! database, `postqueue -j` and `postcat -q` show it.

mod common;

use std::time::Duration;

use common::daemon::{queued_as, Instance};
use common::tools::{wait_for, RawSmtp};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[test]
fn message_acknowledged_before_kill_9_is_in_the_queue_after_restart() {
    let inst = Instance::new("mynetworks = 127.0.0.0/8\n");
    inst.start();
    let pid = inst.pid();
    let mut c = RawSmtp::connect(inst.port);
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.cmd("EHLO client.test.example").code, 250);
    assert_eq!(c.cmd("MAIL FROM:<durable@client.example>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<one@remote.example>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<two@remote.example>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    let body = "Subject: survive kill -9\r\n\r\nthis line must survive\r\n";
    let mut content = body.to_string();
    // Enough content that it cannot hide in one small buffer.
    for i in 0..2000 {
        content.push_str(&format!("line {i} of the durable message\r\n"));
    }
    c.send(format!("{content}.\r\n").as_bytes()).unwrap();
    let r = c.read_reply().unwrap();
    // Kill first, look later: nothing may run between the 250 and the kill.
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("SIGKILL the master");
    assert_eq!(r.code, 250, "{}", c.transcript());
    let id = queued_as(&r.text());
    assert!(
        wait_for(Duration::from_secs(10), || kill(Pid::from_raw(pid), None)
            .is_err()),
        "master {pid} still alive after SIGKILL"
    );
    drop(c);

    // `postfix start` must see the stale pid file for what it is.
    inst.start();
    assert_ne!(inst.pid(), pid);
    let m = inst.queued_message(&id);
    assert_eq!(m.sender, "durable@client.example");
    assert_eq!(m.recipients, ["one@remote.example", "two@remote.example"]);
    // The header section may have gained Message-ID/Date (a mynetworks
    // client); the body must be there to the last byte.
    let sent_body = content.split_once("\r\n\r\n").unwrap().1;
    assert!(m.text().contains("\r\nSubject: survive kill -9\r\n"));
    assert!(
        m.text().ends_with(&format!("\r\n\r\n{sent_body}")),
        "content differs after restart ({} bytes stored)",
        m.content.len()
    );
    assert_eq!(m.size, m.content.len() as i64);
    // The administrator's view through the commands: mailq's JSON and postcat.
    let cli = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_postern"))
            .args(args)
            .env_remove("MAIL_CONFIG")
            .output()
            .expect("run postern");
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let dir = inst.path().to_str().unwrap();
    let json = cli(&["postqueue", "-c", dir, "-j"]);
    let entry = json
        .lines()
        .find(|l| l.contains(&format!("\"queue_id\": \"{id}\"")))
        .unwrap_or_else(|| panic!("{id} not in postqueue -j:\n{json}"));
    assert!(
        entry.contains("\"sender\": \"durable@client.example\""),
        "{entry}"
    );
    assert!(
        entry.contains("\"address\": \"two@remote.example\""),
        "{entry}"
    );
    let cat = cli(&["postcat", "-c", dir, "-q", &id]);
    assert!(cat.contains("line 1999 of the durable message"), "{cat}");
    // And the restarted daemon accepts mail again.
    let mut c = RawSmtp::connect(inst.port);
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.cmd("QUIT").code, 221);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}
