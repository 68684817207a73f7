//! Acceptance (issue 3): SMTP smuggling and robustness through the real daemon,
//! with byte-exact clients. The end-of-data look-alikes `<LF>.<LF>`,
//! `<LF>.<CR><LF>`, `<CR>.<CR><LF>` and `<CR><LF>.<LF>` never end a message and
//! so never let a second, smuggled message into the queue (neither for a
//! client outside mynetworks, where bare newlines are refused, nor for one
//! inside, where Postfix 3.9's exclusion applies); plaintext pipelined after
//! STARTTLS is not executed; a bare LF or a NUL in a command, an over-long
//! line, MAIL before HELO with `smtpd_helo_required`, a silent or trickling
//! client and a client vanishing in the middle of DATA are each handled, and the
//! last leaves nothing in the queue.

mod common;

use std::time::Duration;

use common::certs::Pki;
use common::daemon::{queued_as, tls_main_cf, Instance, HOSTNAME};
use common::tools::{RawSmtp, Reply};

/// Postern whose mynetworks is `mynetworks`; mail to localhost is local and
/// needs no recipient table.
fn postern(mynetworks: &str, extra: &str) -> Instance {
    let inst = Instance::new(&format!(
        "mynetworks = {mynetworks}\nmydestination = $myhostname, localhost\n\
         local_recipient_maps =\nsmtpd_error_sleep_time = 0\n{extra}"
    ));
    inst.start();
    inst
}

/// Greeting and EHLO done.
fn ehlo(inst: &Instance) -> RawSmtp {
    let mut c = RawSmtp::connect(inst.port);
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.cmd("EHLO client.test.example").code, 250);
    c
}

/// Every reply until the server closes the connection or stays silent.
fn replies_until_close(c: &mut RawSmtp) -> Vec<Reply> {
    c.set_read_timeout(Duration::from_secs(5));
    let mut out = Vec::new();
    while let Ok(r) = c.read_reply() {
        out.push(r);
    }
    out
}

/// Sends one transaction whose content ends in `fake_end` followed by a whole
/// second transaction from another sender, then a real `<CR><LF>.<CR><LF>`.
/// Returns every reply the server gave.
fn smuggle(inst: &Instance, fake_end: &[u8]) -> Vec<Reply> {
    let mut c = ehlo(inst);
    assert_eq!(c.cmd("MAIL FROM:<honest@client.example>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<user@localhost>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354, "{}", c.transcript());
    let mut bytes = b"Subject: first\r\n\r\nfirst message".to_vec();
    bytes.extend_from_slice(fake_end);
    bytes.extend_from_slice(
        b"MAIL FROM:<smuggler@evil.example>\r\nRCPT TO:<victim@localhost>\r\nDATA\r\n\
          From: ceo@bank.example\r\nSubject: smuggled\r\n\r\nsmuggled message\r\n.\r\nQUIT\r\n",
    );
    // Sending may fail once the server has refused and closed.
    let _ = c.send(&bytes);
    let mut all = replies_until_close(&mut c);
    // If the server is still reading DATA, end it properly.
    if !all.iter().any(|r| r.code == 221 || r.code >= 500) {
        let _ = c.send(b"\r\n.\r\nQUIT\r\n");
        all.extend(replies_until_close(&mut c));
    }
    all
}

/// Whatever the server did, no message from the smuggler is queued, at most
/// one message is, and at most one 250 "queued as" was sent.
fn assert_not_smuggled(inst: &Instance, vector: &str, replies: &[Reply]) {
    let queued_replies = replies
        .iter()
        .filter(|r| r.text().contains("queued as"))
        .count();
    assert!(queued_replies <= 1, "{vector}: {replies:?}");
    let q = inst.queued();
    assert!(q.len() <= 1, "{vector}: {q:?}");
    for m in &q {
        assert_eq!(m.sender, "honest@client.example", "{vector}");
        assert_eq!(m.recipients, ["user@localhost"], "{vector}");
    }
    assert!(
        !inst.log().contains("smuggler@evil.example"),
        "{vector}:\n{}",
        inst.log()
    );
}

const VECTORS: [(&str, &[u8]); 4] = [
    ("<LF>.<LF>", b"\n.\n"),
    ("<LF>.<CR><LF>", b"\n.\r\n"),
    ("<CR>.<CR><LF>", b"\r.\r\n"),
    ("<CR><LF>.<LF>", b"\r\n.\n"),
];

#[test]
fn smuggling_vectors_from_outside_mynetworks_are_refused() {
    for (name, end) in VECTORS {
        let inst = postern("192.0.2.0/24", "");
        let replies = smuggle(&inst, end);
        assert_not_smuggled(&inst, name, &replies);
        // Refused outright: bare newlines (and bare CRs) are rejected by default.
        assert!(
            replies.iter().any(|r| {
                let t = r.text();
                t == "550 5.5.2 Error: bare <LF> received"
                    || t == "550 5.5.2 Error: bare <CR> received"
            }),
            "{name}: {replies:?}"
        );
        assert!(inst.queued().is_empty(), "{name}: {:?}", inst.queued());
        assert_eq!(inst.postfix(&["stop"]).code, 0);
    }
}

#[test]
fn smuggling_vectors_from_mynetworks_never_make_a_second_message() {
    for (name, end) in VECTORS {
        let inst = postern("127.0.0.0/8", "");
        let replies = smuggle(&inst, end);
        assert_not_smuggled(&inst, name, &replies);
        assert_eq!(inst.postfix(&["stop"]).code, 0);
    }
}

#[test]
fn plaintext_pipelined_after_starttls_is_not_executed() {
    let pki = Pki::new();
    let inst = postern("192.0.2.0/24", &tls_main_cf(&pki));
    let mut c = ehlo(&inst);
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\nRCPT TO:<user@localhost>\r\n")
        .unwrap();
    let r = c.read_reply().unwrap();
    assert_eq!(r.code, 220, "{}", c.transcript());
    // starttls() fails the test if the server answered the injected commands
    // in plaintext before the handshake.
    c.starttls(&pki.ca.cert_pem, None);
    assert_eq!(c.cmd("EHLO client.test.example").code, 250);
    // The injected MAIL was discarded: there is no transaction to add to.
    let r = c.cmd("RCPT TO:<user@localhost>");
    assert_eq!(r.code, 503, "{}", c.transcript());
    assert_eq!(r.text(), "503 5.5.1 Error: need MAIL command");
    assert_eq!(c.cmd("MAIL FROM:<honest@client.example>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<user@localhost>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    let r = c.cmd("Subject: after STARTTLS\r\n\r\nok\r\n.");
    let id = queued_as(&r.text());
    assert_eq!(c.cmd("QUIT").code, 221);
    let q = inst.queued();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].queue_id, id);
    assert_eq!(q[0].sender, "honest@client.example");
    // Logged as Postfix does, never executed.
    assert!(
        inst.log().contains(
            "improper command pipelining after STARTTLS from localhost[127.0.0.1]: MAIL FROM:<injected@evil.example>"
        ),
        "{}",
        inst.log()
    );
    assert!(
        !inst.log().contains("from=<injected@evil.example>"),
        "{}",
        inst.log()
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn bare_lf_in_a_command_is_refused_and_ends_the_session() {
    let inst = postern("192.0.2.0/24", "");
    let mut c = ehlo(&inst);
    c.send(b"MAIL FROM:<a@client.example>\nRCPT TO:<user@localhost>\r\n")
        .unwrap();
    let replies = replies_until_close(&mut c);
    assert_eq!(
        replies.first().map(Reply::text).as_deref(),
        Some("550 5.5.2 Error: bare <LF> received"),
        "{}",
        c.transcript()
    );
    assert!(replies.iter().all(|r| r.code != 250), "{}", c.transcript());
    assert!(c.is_closed(), "{}", c.transcript());
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn nul_in_a_command_and_in_content_is_refused() {
    let inst = postern("192.0.2.0/24", "");
    let mut c = ehlo(&inst);
    c.send(b"MAIL FROM:<a@client\0.example>\r\n").unwrap();
    let r = c.read_reply().unwrap();
    assert_eq!(r.text(), "500 5.5.2 Error: NUL character in command");
    // The session goes on; a NUL in the content refuses the message.
    assert_eq!(c.cmd("MAIL FROM:<a@client.example>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<user@localhost>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    c.send(b"Subject: nul\r\n\r\nbefore\0after\r\n.\r\n")
        .unwrap();
    let r = c.read_reply().unwrap();
    assert_eq!(
        r.text(),
        "550 5.6.0 Error: NUL character in message content",
        "{}",
        c.transcript()
    );
    assert!(inst.queued().is_empty(), "{:?}", inst.queued());
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn over_long_command_line_is_refused_and_the_session_recovers() {
    let inst = postern("192.0.2.0/24", "line_length_limit = 2048");
    let mut c = ehlo(&inst);
    let long = format!("MAIL FROM:<{}@client.example>", "a".repeat(100_000));
    let r = c.cmd(&long);
    assert_eq!(r.text(), "500 5.5.0 Error: line too long", "{}", r.text());
    assert_eq!(c.cmd("NOOP").code, 250, "{}", c.transcript());
    assert_eq!(c.cmd("QUIT").code, 221);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn long_content_lines_are_stored_whole() {
    let inst = postern("192.0.2.0/24", "line_length_limit = 2048");
    let mut c = ehlo(&inst);
    assert_eq!(c.cmd("MAIL FROM:<a@client.example>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<user@localhost>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    let line = "x".repeat(50_000);
    let r = c.cmd(&format!("Subject: long\r\n\r\n{line}\r\nend\r\n."));
    let id = queued_as(&r.text());
    let m = inst.queued_message(&id);
    assert!(m.text().contains(&line), "the long line was cut or lost");
    assert!(
        m.text().ends_with("\r\nend\r\n"),
        "{:?}",
        &m.text()[m.text().len() - 20..]
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn helo_required_refuses_mail_before_helo() {
    let inst = postern("192.0.2.0/24", "smtpd_helo_required = yes");
    let mut c = RawSmtp::connect(inst.port);
    assert_eq!(c.read_reply().unwrap().code, 220);
    let r = c.cmd("MAIL FROM:<a@client.example>");
    assert_eq!(r.text(), "503 5.5.1 Error: send HELO/EHLO first");
    assert_eq!(c.cmd("HELO client.test.example").code, 250);
    assert_eq!(c.cmd("MAIL FROM:<a@client.example>").code, 250);
    assert_eq!(c.cmd("QUIT").code, 221);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn silent_client_is_cut_off_after_smtpd_timeout() {
    let inst = postern("192.0.2.0/24", "smtpd_timeout = 2s");
    let mut c = ehlo(&inst);
    c.set_read_timeout(Duration::from_secs(30));
    let r = c.read_reply().expect("a 421 before the server closes");
    assert_eq!(
        r.text(),
        format!("421 4.4.2 {HOSTNAME} Error: timeout exceeded")
    );
    assert!(c.is_closed());
    inst.wait_for_log("timeout after EHLO from localhost[127.0.0.1]", 1);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn trickling_client_is_cut_off_before_its_command_ends() {
    // A per-read timeout alone would never fire: a byte comes every 300 ms.
    let inst = postern("192.0.2.0/24", "smtpd_timeout = 2s");
    let mut c = ehlo(&inst);
    let command = format!("NOOP {}\r\n", "x".repeat(100));
    let mut reply = None;
    for b in command.as_bytes() {
        if c.send(&[*b]).is_err() {
            break;
        }
        c.set_read_timeout(Duration::from_millis(300));
        if let Ok(r) = c.read_reply() {
            reply = Some(r);
            break;
        }
    }
    let r = reply.unwrap_or_else(|| {
        c.set_read_timeout(Duration::from_secs(5));
        c.read_reply()
            .unwrap_or_else(|e| panic!("no reply: {e}\n{}", c.transcript()))
    });
    assert_eq!(
        r.text(),
        format!("421 4.4.2 {HOSTNAME} Error: timeout exceeded"),
        "{}",
        c.transcript()
    );
    assert!(c.is_closed(), "{}", c.transcript());
    inst.wait_for_log("timeout after EHLO from localhost[127.0.0.1]", 1);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn client_disconnecting_mid_data_leaves_nothing_queued() {
    let inst = postern("192.0.2.0/24", "");
    let mut c = ehlo(&inst);
    assert_eq!(c.cmd("MAIL FROM:<a@client.example>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<user@localhost>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    c.send(b"Subject: cut\r\n\r\nhalf a message\r\nand then nothing")
        .unwrap();
    drop(c);
    inst.wait_for_log("lost connection after DATA", 1);
    inst.wait_for_log("disconnect from localhost[127.0.0.1]", 1);
    assert!(inst.queued().is_empty(), "{:?}", inst.queued());
    // The daemon is still serving.
    let mut c = ehlo(&inst);
    assert_eq!(c.cmd("QUIT").code, 221);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}
