//! Acceptance (issue 3): Postern's maillog is Postfix's to the tools that read
//! it. pflogsumm counts each received message (from smtpd's `ID: client=`
//! line), its bytes (from the `ID: from=<...>, size=N` line) and its sender,
//! and counts a relay refusal as a reject; and its timestamps have the form a
//! real Postfix's maillog_file has (`Dec 01 12:00:00`, day zero-padded).

mod common;

use common::daemon::{queued_as, Instance};
use common::tools::{pflogsumm, RawSmtp};

/// One message over a raw session; returns its queue ID and the logged size.
fn send(inst: &Instance, from: &str, rcpt: &str) -> String {
    let mut c = RawSmtp::connect(inst.port);
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.cmd("EHLO client.test.example").code, 250);
    assert_eq!(c.cmd(&format!("MAIL FROM:<{from}>")).code, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<{rcpt}>")).code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    let r = c.cmd("Subject: for pflogsumm\r\n\r\ncounted\r\n.");
    assert_eq!(c.cmd("QUIT").code, 221);
    queued_as(&r.text())
}

#[test]
fn pflogsumm_counts_received_messages_bytes_senders_and_rejects() {
    let inst = Instance::new(
        "mynetworks = 192.0.2.0/24\nmydestination = $myhostname, localhost\n\
         local_recipient_maps =\nsmtpd_error_sleep_time = 0\n\
         smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n",
    );
    inst.start();
    let ids = [
        send(&inst, "a@one.example", "user@localhost"),
        send(&inst, "b@two.example", "user@localhost"),
        send(&inst, "a@one.example", "other@localhost"),
    ];
    // One relay refusal.
    let mut c = RawSmtp::connect(inst.port);
    c.read_reply().unwrap();
    c.cmd("EHLO client.test.example");
    c.cmd("MAIL FROM:<c@three.example>");
    assert_eq!(c.cmd("RCPT TO:<x@remote.example>").code, 554);
    c.cmd("QUIT");
    for id in &ids {
        inst.wait_for_log(&format!("{id}: from=<"), 1);
    }
    inst.wait_for_log("NOQUEUE: reject: RCPT", 1);
    let bytes: i64 = ids.iter().map(|id| inst.queued_message(id).size).sum();

    let out = pflogsumm(&inst.path().join("maillog"), &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let report = out.stdout;
    let count = |what: &str| -> Option<String> {
        report.lines().find_map(|l| {
            let l = l.trim();
            l.strip_suffix(what)
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty() && n.chars().next().unwrap().is_ascii_digit())
        })
    };
    assert_eq!(count("received").as_deref(), Some("3"), "{report}");
    assert_eq!(count("rejected (100%)").as_deref(), Some("1"), "{report}");
    assert_eq!(count("senders").as_deref(), Some("2"), "{report}");
    assert_eq!(
        count("bytes received").as_deref(),
        Some(&*bytes.to_string()),
        "{report}"
    );
    assert!(report.contains("Relay access denied"), "{report}");
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

/// `Dec 01 12:00:00 ` -> `Aaa dd dd:dd:dd `: the shape of a timestamp.
fn shape(line: &str) -> String {
    line.chars()
        .take(16)
        .map(|c| match c {
            '0'..='9' => 'd',
            'A'..='Z' => 'A',
            'a'..='z' => 'a',
            c => c,
        })
        .collect()
}

#[test]
fn maillog_timestamps_have_the_form_postfix_writes() {
    use common::postfix::{PostfixInstance, Role};
    let mut pf = PostfixInstance::new(Role::Receiver);
    pf.start();
    let inst = Instance::new("");
    inst.start();
    inst.connect().quit();
    inst.wait_for_log("disconnect from", 1);
    let theirs = pf.log();
    let ours = inst.log();
    let theirs = theirs.lines().next().expect("a Postfix maillog line");
    for line in ours.lines() {
        assert_eq!(
            shape(line),
            shape(theirs),
            "Postern: {line}\nPostfix: {theirs}"
        );
    }
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}
