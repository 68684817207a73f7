//! `sendmail` into the maildrop and pickup into the queue, against the real
//! binary: with the daemon running (queued once, within a moment, Bcc gone),
//! with it stopped (the files wait, and are queued once at the next start and
//! never again after a restart), `-bs` as an SMTP dialogue on stdin/stdout,
//! and the maildrop's mode 1733.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{Instance, Out};

/// Settings every test here needs on this machine: no alias database to
/// build, Postfix 3.6 defaults (relay restrictions).
const EXTRA: &str = "compatibility_level = 3.6\nalias_maps =\n";

fn postern(inst: &Instance, name: &str, args: &[&str], stdin: &[u8]) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
        .arg(name)
        .args(args)
        .env("MAIL_CONFIG", inst.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run postern");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait").into()
}

fn maildrop_files(inst: &Instance) -> usize {
    std::fs::read_dir(inst.path().join("queue/maildrop"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn json_lines(inst: &Instance) -> Vec<String> {
    let o = postern(inst, "postqueue", &["-j"], b"");
    assert_eq!(o.code, 0, "postqueue -j: {}", o.stderr);
    o.stdout.lines().map(str::to_string).collect()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sendmail_t_with_daemon_running_is_queued_once() {
    let inst = Instance::new(EXTRA);
    inst.start();
    let msg = b"From: Alice <alice@example.org>\nTo: Bob <bob@example.net>, carol@example.net\nBcc: secret@example.net\nSubject: hello\n\nhi there\n";
    let o = postern(
        &inst,
        "sendmail",
        &["-t", "-i", "-f", "alice@example.org"],
        msg,
    );
    assert_eq!(o.code, 0, "sendmail: {}", o.stderr);
    inst.wait_for_log("uid=", 1);
    inst.wait_for_log("message-id=<", 1);
    wait_until("an empty maildrop", || maildrop_files(&inst) == 0);
    let lines = json_lines(&inst);
    assert_eq!(lines.len(), 1, "{lines:?}");
    for rcpt in ["bob@example.net", "carol@example.net", "secret@example.net"] {
        assert!(
            lines[0].contains(&format!("\"address\": \"{rcpt}\"")),
            "{}",
            lines[0]
        );
    }
    assert!(lines[0].contains("\"sender\": \"alice@example.org\""));
    let log = inst.log();
    assert!(log.contains("postfix/pickup["), "{log}");
    assert!(log.contains(": uid=0 from=<alice@example.org>"), "{log}");
    // The Bcc header is gone, the local Received form is there.
    let id = lines[0].split("\"queue_id\": \"").nth(1).unwrap()[..10].to_string();
    let cat = postern(&inst, "postcat", &["-q", &id], b"");
    assert_eq!(cat.code, 0, "{}", cat.stderr);
    assert!(!cat.stdout.contains("Bcc:"), "{}", cat.stdout);
    assert!(
        cat.stdout
            .contains("Received: by mx.postern.test (Postfix, from userid 0)"),
        "{}",
        cat.stdout
    );
    assert!(cat.stdout.contains("Message-Id: <"), "{}", cat.stdout);
    // Still once, a while later.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(json_lines(&inst).len(), 1);
}

#[test]
fn sendmail_with_daemon_stopped_is_picked_up_once_at_start() {
    let inst = Instance::new(EXTRA);
    for n in 0..3 {
        let body = format!("Subject: waiting {n}\n\nbody\n");
        let o = postern(
            &inst,
            "sendmail",
            &[&format!("user{n}@example.net")],
            body.as_bytes(),
        );
        assert_eq!(o.code, 0, "sendmail: {}", o.stderr);
    }
    assert_eq!(maildrop_files(&inst), 3);
    let mode = std::fs::metadata(inst.path().join("queue/maildrop"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o1733, "maildrop mode {mode:o}");
    inst.start();
    wait_until("three pickup lines", || {
        inst.log().matches("uid=0 from=<root>").count() == 3
    });
    wait_until("an empty maildrop", || maildrop_files(&inst) == 0);
    assert_eq!(json_lines(&inst).len(), 3);
    // A restart finds nothing more to pick up.
    assert_eq!(inst.postfix(&["stop"]).code, 0);
    inst.start();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(inst.log().matches("uid=0 from=<root>").count(), 3);
    assert_eq!(json_lines(&inst).len(), 3);
}

#[test]
fn sendmail_bs_speaks_smtp_on_stdin() {
    let inst = Instance::new(EXTRA);
    let dialogue = b"EHLO client\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net> NOTIFY=SUCCESS\r\nDATA\r\nSubject: bs\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
    let o = postern(&inst, "sendmail", &["-bs"], dialogue);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let replies: Vec<&str> = o.stdout.lines().map(|l| l.trim_end()).collect();
    assert_eq!(replies[0], "220 mx.postern.test ESMTP Postfix");
    assert!(replies.contains(&"250 2.1.0 Ok"), "{replies:?}");
    assert!(replies.contains(&"250 2.1.5 Ok"));
    assert!(replies.contains(&"354 End data with <CR><LF>.<CR><LF>"));
    assert!(replies.contains(&"250 2.0.0 Ok: queued"));
    assert_eq!(replies.last(), Some(&"221 2.0.0 Bye"));
    assert_eq!(maildrop_files(&inst), 1);
    inst.start();
    wait_until("an empty maildrop", || maildrop_files(&inst) == 0);
    let lines = json_lines(&inst);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].contains("\"sender\": \"a@example.org\""),
        "{}",
        lines[0]
    );
}

#[test]
fn sendmail_without_recipients_is_refused() {
    let inst = Instance::new(EXTRA);
    let o = postern(&inst, "sendmail", &[], b"Subject: x\n\n");
    assert_eq!(o.code, 64);
    assert!(
        o.stderr
            .contains("sendmail: fatal: Recipient addresses must be specified"),
        "{}",
        o.stderr
    );
    let o = postern(&inst, "sendmail", &["-t"], b"Subject: x\n\n");
    assert_eq!(o.code, 64);
    assert!(
        o.stderr
            .contains("No recipient addresses found in message header"),
        "{}",
        o.stderr
    );
    assert_eq!(maildrop_files(&inst), 0);
}

/// Issue 4's acceptance, through qmgr: one message submitted while the daemon
/// runs and one while it is stopped are each delivered exactly once (to the
/// discard transport), also across a restart.
#[test]
fn sendmail_messages_are_delivered_exactly_once() {
    let port = common::daemon::free_port();
    let master = format!("127.0.0.1:{port} inet n - n - - smtpd\ndiscard unix - - n - - discard\n");
    let main =
        format!("{EXTRA}transport_maps = inline:{{discard.test=discard:}}\nqueue_run_delay = 1s\n");
    let inst = Instance::with_master(&main, &master, port);
    inst.start();
    let o = postern(
        &inst,
        "sendmail",
        &["running@discard.test"],
        b"Subject: 1\n\nx\n",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    inst.wait_for_log("to=<running@discard.test>", 1);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
    let o = postern(
        &inst,
        "sendmail",
        &["stopped@discard.test"],
        b"Subject: 2\n\nx\n",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    inst.start();
    inst.wait_for_log("to=<stopped@discard.test>", 1);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
    inst.start();
    std::thread::sleep(Duration::from_millis(2500));
    let log = inst.log();
    for rcpt in ["running@discard.test", "stopped@discard.test"] {
        let sent = log
            .lines()
            .filter(|l| l.contains(&format!("to=<{rcpt}>")) && l.contains("status=sent"))
            .count();
        assert_eq!(sent, 1, "{rcpt} delivered {sent} times:\n{log}");
    }
    assert_eq!(json_lines(&inst).len(), 0, "queue not empty");
}
