//! The smtp client through the real daemon, delivering to a real Postfix 3.7
//! receiver on loopback, with dnsmasq answering for the test domains:
//! - a `[127.0.0.1]:port` nexthop from transport_maps, plaintext at `may`,
//!   `smtp_bind_address`, `smtp_helo_name`, per-recipient results (a 5xx RCPT bounces with
//!   Postfix's text and the sender gets a bounce), DSN parameters passed on,
//!   the server's SIZE limit, `encrypt` without STARTTLS deferring with 4.7.4,
//!   and `postqueue -j` showing the TLS a deferred attempt reached;
//! - MX order: a refused connection and a 554 greeting each make the client try
//!   the next MX; STARTTLS at `may` (Trusted), `verify` (Verified by MX name,
//!   deferred for a literal), wrapper mode, null MX and NXDOMAIN bounces;
//! - through `relayhost`: a backlog served by one cached connection after
//!   deferrals, and a failed STARTTLS handshake at `may` deferring, then
//!   plaintext once the message has waited `minimal_backoff_time` (Postfix 3.7);
//! - a broken client configuration deferring mail instead of losing it;
//! - mail whose nexthop is Postern itself bounced as a loop.

mod common;

use std::time::Duration;

use common::certs::Pki;
use common::daemon::{free_port, Instance};
use common::postfix::{PostfixInstance, Role};
use common::tools::{DnsRecords, Dnsmasq};

const WAIT: Duration = Duration::from_secs(30);

/// master.cf: Postern's smtpd, the smtp client as `smtp`, client transports
/// whose level is `encrypt` and `verify`, and one speaking TLS from the first
/// byte.
fn master(port: u16) -> String {
    format!(
        "127.0.0.1:{port} inet n - n - - smtpd\n\
         smtp unix - - n - - smtp\n\
         enc unix - - n - - smtp -o smtp_tls_security_level=encrypt\n\
         smtps unix - - n - - smtp -o smtp_tls_wrappermode=yes\n\
         ver unix - - n - - smtp -o smtp_tls_security_level=verify\n"
    )
}

fn postern(extra: &str) -> Instance {
    let port = free_port();
    let main = format!(
        "mynetworks = 127.0.0.0/8\nminimal_backoff_time = 300s\nqueue_run_delay = 300s\n{extra}"
    );
    let inst = Instance::with_master(&main, &master(port), port);
    inst.start();
    inst
}

/// Sends one message into Postern over SMTP; returns its queue ID.
fn send(inst: &Instance, from: &str, to: &[&str], subject: &str) -> String {
    let to: Vec<String> = to.iter().map(|t| format!("<{t}>")).collect();
    send_raw(inst, &format!("<{from}>"), &to, subject)
}

/// As `send`, with the MAIL FROM and RCPT TO arguments given whole (so they
/// can carry DSN parameters).
fn send_raw(inst: &Instance, from: &str, to: &[String], subject: &str) -> String {
    let mut c = inst.connect();
    assert!(c.command("EHLO client.test").starts_with("250"));
    assert!(c.command(&format!("MAIL FROM:{from}")).starts_with("250"));
    for t in to {
        let r = c.command(&format!("RCPT TO:{t}"));
        assert!(r.starts_with("250"), "RCPT {t}: {r}");
    }
    assert!(c.command("DATA").starts_with("354"));
    let r = c.command(&format!(
        "Subject: {subject}\r\n\r\nhello\r\n..leading dot\r\n."
    ));
    assert!(r.starts_with("250"), "{r}");
    c.quit();
    r.rsplit(' ').next().unwrap().to_string()
}

/// The first log line containing every part, waiting up to `WAIT`.
fn wait_line(inst: &Instance, parts: &[&str]) -> String {
    let mut found = None;
    common::tools::wait_for(WAIT, || {
        found = inst
            .log()
            .lines()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_string);
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no line with {parts:?} in the log:\n{}", inst.log()))
}

#[test]
fn literal_nexthop_plaintext_per_recipient_results_and_encrypt_defers() {
    let mut rx = PostfixInstance::new(Role::Receiver);
    rx.start();
    let p = rx.port;
    let inst = postern(&format!(
        "smtp_tls_security_level = may\nsmtp_bind_address = 127.0.0.5\n\
         smtp_helo_name = helo.postern.test\n\
         transport_maps = inline:{{ {{test.example=smtp:[127.0.0.1]:{p}}}, \
         {{other.example=smtp:[127.0.0.1]:{p}}}, {{enc.example=enc:[127.0.0.1]:{p}}} }}\n"
    ));
    let id = send(
        &inst,
        "sender@test.example",
        &["good@test.example", "bad@other.example"],
        "plain",
    );
    // The accepted recipient: in the receiver's Maildir, dot-stuffing undone.
    let mail = rx.wait_mail("good@test.example", 1, WAIT);
    assert_eq!(mail[0].header("Subject").as_deref(), Some("plain"));
    assert!(
        mail[0].body().contains("\n.leading dot\n"),
        "{}",
        mail[0].raw
    );
    // smtp_helo_name is what the receiver's Received header names.
    let received = mail[0].header("Received").unwrap_or_default();
    assert!(
        received.starts_with("from helo.postern.test (unknown [127.0.0.5])"),
        "{received}"
    );
    // smtp_bind_address: the receiver saw the connection come from it.
    assert!(
        rx.log().contains("connect from unknown[127.0.0.5]"),
        "{}",
        rx.log()
    );
    let relay = format!("relay=127.0.0.1[127.0.0.1]:{p}, ");
    let sent = wait_line(
        &inst,
        &[&id, "to=<good@test.example>", &relay, "status=sent"],
    );
    assert!(sent.contains("postfix/smtp["), "{sent}");
    assert!(
        sent.contains(", tls=may:none, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as "),
        "{sent}"
    );
    // The rejected one, with Postfix's text, and a bounce to the sender.
    let bounced = wait_line(&inst, &[&id, "to=<bad@other.example>", "status=bounced"]);
    assert!(
        bounced.contains(&format!("{relay}delay=",))
            && bounced.contains(
                ", tls=may:none, dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: \
             554 5.7.1 <bad@other.example>: Relay access denied (in reply to RCPT TO command))"
            ),
        "{bounced}"
    );
    let notice = rx.wait_mail("sender@test.example", 1, WAIT);
    assert!(
        notice[0].raw.contains("Relay access denied"),
        "{}",
        notice[0].raw
    );
    assert!(rx.mailbox("bad@other.example").is_empty());

    // DSN parameters are passed on: Postfix itself reports the delivery to
    // the sender (NOTIFY=SUCCESS), naming our ENVID and ORCPT.
    let dsn_id = send_raw(
        &inst,
        "<sender@test.example> RET=HDRS ENVID=env+2Bpostern",
        &["<dsn@test.example> NOTIFY=SUCCESS ORCPT=rfc822;orig@test.example".to_string()],
        "dsn",
    );
    rx.wait_mail("dsn@test.example", 1, WAIT);
    let report = rx
        .wait_mail_containing(
            "sender@test.example",
            "Reporting-MTA: dns; mx.test.example",
            WAIT,
        )
        .unwrap_or_else(|| panic!("no DSN from the receiver:\n{}", rx.log()));
    assert!(
        report.raw.contains("Original-Envelope-Id: env+postern"),
        "{}",
        report.raw
    );
    assert!(
        report
            .raw
            .contains("Original-Recipient: rfc822;orig@test.example"),
        "{}",
        report.raw
    );
    assert!(report.raw.contains("Action: delivered"), "{}", report.raw);
    // The receiver announced DSN and took NOTIFY over: Postern sends no
    // success notice of its own (RFC 3461 section 4.1), so the sender gets one
    // report, not two. The notice would be queued before the removal.
    wait_line(&inst, &[&dsn_id, "removed"]);
    assert!(
        !inst
            .log()
            .contains(&format!("{dsn_id}: sender delivery status notification")),
        "{}",
        inst.log()
    );
    // A receiver without the DSN extension: the mail was "relayed", and
    // Postern tells the sender so.
    rx.set("smtpd_discard_ehlo_keywords", "dsn");
    rx.reload();
    let relayed_id = send_raw(
        &inst,
        "<sender@test.example>",
        &["<relayed@test.example> NOTIFY=SUCCESS".to_string()],
        "relayed",
    );
    wait_line(&inst, &[&relayed_id, "sender delivery status notification"]);
    let relayed = rx
        .wait_mail_containing("sender@test.example", "Action: relayed", WAIT)
        .unwrap_or_else(|| panic!("no relayed notice:\n{}", inst.log()));
    assert!(
        relayed
            .raw
            .contains("Final-Recipient: rfc822; relayed@test.example"),
        "{}",
        relayed.raw
    );
    rx.set("smtpd_discard_ehlo_keywords", "");
    rx.reload();

    // encrypt, but the server offers no STARTTLS: deferred, never plaintext.
    let id = send(&inst, "sender@test.example", &["x@enc.example"], "encrypt");
    let line = wait_line(&inst, &[&id, "to=<x@enc.example>", "status=deferred"]);
    assert!(
        line.contains(&format!("relay=127.0.0.1[127.0.0.1]:{p}, "))
            && line.contains(
                ", tls=encrypt:none, dsn=4.7.4, status=deferred (TLS is required, but was not \
             offered by host 127.0.0.1[127.0.0.1])"
            ),
        "{line}"
    );
    // SIZE: the server announces a limit smaller than the message, which is
    // then bounced without being sent (smtp_proto.c's text, 5.3.4).
    rx.set("message_size_limit", "300");
    rx.reload();
    let id = send(
        &inst,
        "sender@test.example",
        &["big@test.example"],
        "too big",
    );
    let line = wait_line(&inst, &[&id, "to=<big@test.example>", "status=bounced"]);
    let active = wait_line(&inst, &[&id, "(queue active)"]);
    let size = active
        .split(", size=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    assert!(
        line.contains(&format!(
            "dsn=5.3.4, status=bounced (message size {size} exceeds size limit 300 of server \
             127.0.0.1[127.0.0.1])"
        )),
        "{line}"
    );
    assert!(rx.mailbox("big@test.example").is_empty());

    // postqueue -j shows the TLS the deferred attempt reached (none here).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["postqueue", "-j"])
        .env("MAIL_CONFIG", inst.path())
        .output()
        .expect("run postqueue -j");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains(
            "{\"address\": \"x@enc.example\", \"delay_reason\": \"TLS is required, but was not \
             offered by host 127.0.0.1[127.0.0.1]\", \"tls\": {\"level\": \"none\"}}"
        ),
        "{json}"
    );
}

#[test]
fn mx_order_next_mx_after_refusal_and_5xx_greeting_starttls_verify_null_mx_wrappermode() {
    let pki = Pki::new();
    let mut rx = PostfixInstance::new(Role::Receiver);
    rx.receiver_tls(&pki);
    // A second listener with TLS from the first byte (port 465 style).
    let sp = free_port();
    // And on 127.0.0.3, the same port, a server whose greeting is a 554
    // (client restrictions evaluated at connect time).
    let p = rx.port;
    rx.append_master_cf(&format!(
        "127.0.0.1:{sp} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n\
         127.0.0.3:{p} inet n - n - - smtpd -o smtpd_delay_reject=no \
         -o smtpd_client_restrictions=reject\n"
    ));
    rx.start();
    assert_eq!(rx.port, p, "the receiver had to move to another port");
    // mx1 (preferred) is an address where nothing listens: refused; mx2 says
    // 554 in its greeting (smtp_skip_5xx_greeting: next MX); mx is good.
    let dns = Dnsmasq::start(
        &DnsRecords::new()
            .mx("test.example", "mx1.test.example", 10)
            .mx("test.example", "mx2.test.example", 15)
            .mx("test.example", "mx.test.example", 20)
            .addr("mx1.test.example", "127.0.0.2")
            .addr("mx2.test.example", "127.0.0.3")
            .addr("mx.test.example", "127.0.0.1")
            .mx("nullmx.test", ".", 0),
    );
    let inst = postern(&format!(
        "dns_nameservers = [127.0.0.1]:{}\nsmtp_tcp_port = {p}\n\
         smtp_tls_security_level = may\nsmtp_tls_loglevel = 2\nsmtp_tls_CAfile = {}\n\
         transport_maps = inline:{{ {{wrapped@test.example=smtps:[127.0.0.1]:{sp}}}, \
         {{verified@test.example=ver:test.example}}, \
         {{unverified@test.example=ver:[127.0.0.1]:{p}}} }}\n",
        dns.port,
        pki.ca.cert_pem.display()
    ));
    let id = send(&inst, "sender@test.example", &["user@test.example"], "mx");
    let mail = rx.wait_mail("user@test.example", 1, WAIT);
    // The receiver saw TLS (its Received header says so).
    let received = mail[0].header("Received").unwrap_or_default();
    assert!(received.contains("(using TLS"), "{received}");
    wait_line(
        &inst,
        &[&format!(
            "connect to mx1.test.example[127.0.0.2]:{p}: Connection refused"
        )],
    );
    wait_line(
        &inst,
        &[&format!(
            "{id}: host mx2.test.example[127.0.0.3] refused to talk to me: 554 5.7.1 "
        )],
    );
    wait_line(
        &inst,
        &[&format!(
        "Trusted TLS connection established to mx.test.example[127.0.0.1]:{p}: TLSv1.3 with cipher"
    )],
    );
    let sent = wait_line(&inst, &[&id, "to=<user@test.example>", "status=sent"]);
    assert!(
        sent.contains(&format!("relay=mx.test.example[127.0.0.1]:{p}, "))
            && sent.contains(", tls=may:trusted, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as "),
        "{sent}"
    );

    // A second message to the same destination, on a new connection, resumes
    // the TLS session of the first (the transport's workers share the cache).
    assert!(
        !inst.log().contains("Reusing old session"),
        "{}",
        inst.log()
    );
    send(
        &inst,
        "sender@test.example",
        &["again@test.example"],
        "again",
    );
    rx.wait_mail("again@test.example", 1, WAIT);
    wait_line(
        &inst,
        &[&format!(
            "mx.test.example[127.0.0.1]:{p}: Reusing old session"
        )],
    );

    // smtp_tls_wrappermode: TLS at connect, no STARTTLS; the level is at
    // least encrypt.
    let id = send(
        &inst,
        "sender@test.example",
        &["wrapped@test.example"],
        "wrapped",
    );
    rx.wait_mail("wrapped@test.example", 1, WAIT);
    let sent = wait_line(&inst, &[&id, "to=<wrapped@test.example>", "status=sent"]);
    assert!(
        sent.contains(&format!("relay=127.0.0.1[127.0.0.1]:{sp}, "))
            && sent.contains(", tls=encrypt:trusted, dsn=2.0.0, status=sent (250 "),
        "{sent}"
    );
    assert!(
        rx.log()
            .contains("disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1"),
        "{}",
        rx.log()
    );

    // verify: the MX host name matches the certificate (Verified); the
    // literal 127.0.0.1 does not, so that mail is deferred, never sent.
    let id = send(
        &inst,
        "sender@test.example",
        &["verified@test.example"],
        "v",
    );
    rx.wait_mail("verified@test.example", 1, WAIT);
    wait_line(
        &inst,
        &[&format!(
            "Verified TLS connection established to mx.test.example[127.0.0.1]:{p}: TLSv1.3"
        )],
    );
    let sent = wait_line(&inst, &[&id, "to=<verified@test.example>", "status=sent"]);
    assert!(
        sent.contains(", tls=verify:verified, dsn=2.0.0, "),
        "{sent}"
    );
    let id = send(
        &inst,
        "sender@test.example",
        &["unverified@test.example"],
        "u",
    );
    let line = wait_line(
        &inst,
        &[&id, "to=<unverified@test.example>", "status=deferred"],
    );
    assert!(
        line.contains(&format!("relay=127.0.0.1[127.0.0.1]:{p}, "))
            && line.contains(
                ", tls=verify:trusted, dsn=4.7.5, status=deferred (Server certificate not verified)"
            ),
        "{line}"
    );
    assert!(rx.mailbox("unverified@test.example").is_empty());

    // Null MX (RFC 7505): bounced at once, no connection.
    let id = send(&inst, "sender@test.example", &["u@nullmx.test"], "null");
    let line = wait_line(&inst, &[&id, "to=<u@nullmx.test>", "status=bounced"]);
    assert!(
        line.contains("relay=none, ")
            && line.contains(
                "dsn=5.1.0, status=bounced (Domain nullmx.test does not accept mail (nullMX))"
            ),
        "{line}"
    );
    // A domain that does not exist: bounced with Postfix's DNS text.
    let id = send(&inst, "sender@test.example", &["u@nowhere.test"], "nx");
    let line = wait_line(&inst, &[&id, "to=<u@nowhere.test>", "status=bounced"]);
    assert!(
        line.contains(
            "dsn=5.4.4, status=bounced (Host or domain name not found. Name service error \
             for name=nowhere.test type=MX: Host not found)"
        ),
        "{line}"
    );
}

/// Main.cf lines for a fast retry schedule and `relayhost = [127.0.0.1]:port`.
fn retrying(port: u16, extra: &str) -> String {
    format!(
        "minimal_backoff_time = 2s\nmaximal_backoff_time = 2s\nqueue_run_delay = 1s\n\
         relayhost = [127.0.0.1]:{port}\n\
         smtp_tls_security_level = may\nsmtp_tls_loglevel = 1\n{extra}"
    )
}

#[test]
fn refused_connection_defers_then_one_connection_serves_the_backlog() {
    let pki = Pki::new();
    let mut rx = PostfixInstance::new(Role::Receiver);
    rx.receiver_tls(&pki);
    let p = rx.port;
    // Later lines win in main.cf: one delivery at a time to the destination, so
    // the others wait in qmgr and the connection is kept for them.
    let inst = postern(&retrying(
        p,
        "smtp_destination_concurrency_limit = 1\nsmtp_tls_connection_reuse = yes\n",
    ));
    let ids: Vec<String> = (0..3)
        .map(|n| {
            send(
                &inst,
                "sender@test.example",
                &["user@test.example"],
                &format!("m{n}"),
            )
        })
        .collect();
    for id in &ids {
        let line = wait_line(&inst, &[id, "status=deferred"]);
        assert!(
            line.contains("relay=none, delay=") && line.contains(&format!(
                "dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:{p}: Connection refused)"
            )),
            "{line}"
        );
        assert!(
            !line.contains("tls="),
            "no connection, no TLS field: {line}"
        );
    }
    rx.start();
    assert_eq!(rx.port, p, "the receiver had to move to another port");
    rx.wait_mail("user@test.example", 3, WAIT);
    for id in &ids {
        wait_line(
            &inst,
            &[
                id,
                "tls=may:untrusted, dsn=2.0.0, status=sent (250 2.0.0 Ok",
            ],
        );
    }
    // Fewer connections than messages: the idle connection was reused (RSET,
    // then the next transaction), without a new TLS handshake.
    // (The harness's port probe is a connection without commands.)
    let sessions = rx
        .log()
        .matches("disconnect from localhost[127.0.0.1] ehlo=2 starttls=1")
        .count();
    let handshakes = inst.log().matches("TLS connection established to").count();
    assert!(
        (1..3).contains(&sessions),
        "{sessions} sessions for 3 messages:\n{}",
        rx.log()
    );
    assert_eq!(handshakes, sessions, "{}", inst.log());
    // Reuse starts with RSET; the server counts it.
    assert!(rx.log().contains(" rset="), "{}", rx.log());
}

#[test]
fn may_handshake_failure_defers_then_goes_plaintext_after_minimal_backoff() {
    let pki = Pki::new();
    let mut rx = PostfixInstance::new(Role::Receiver);
    rx.receiver_tls(&pki);
    rx.set("smtpd_tls_protocols", ">=TLSv1.3");
    rx.start();
    let p = rx.port;
    let inst = postern(&retrying(p, "smtp_tls_protocols = <=TLSv1.2\n"));
    let id = send(
        &inst,
        "sender@test.example",
        &["user@test.example"],
        "fallback",
    );
    // First attempt: the message has not waited minimal_backoff_time yet.
    let line = wait_line(&inst, &[&id, "status=deferred"]);
    assert!(
        line.contains(&format!("relay=127.0.0.1[127.0.0.1]:{p}, "))
            && line.contains("dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)"),
        "{line}"
    );
    // A later attempt retries the same server in plaintext (Postfix 3.7).
    let mail = rx.wait_mail("user@test.example", 1, WAIT);
    let received = mail[0].header("Received").unwrap_or_default();
    assert!(!received.contains("(using TLS"), "{received}");
    let sent = wait_line(&inst, &[&id, "status=sent"]);
    assert!(sent.contains(", tls=may:none, dsn=2.0.0, "), "{sent}");
    // The handshake failed again first, logged as a non-final error.
    let retried = format!("{id}: Cannot start TLS: handshake failure");
    assert!(inst.log().contains(&retried), "{}", inst.log());
}

#[test]
fn broken_client_configuration_defers_the_mail() {
    let inst = postern(
        "dns_nameservers = not-an-address\n\
         transport_maps = inline:{ {test.example=smtp:[127.0.0.1]:9} }\n",
    );
    let id = send(
        &inst,
        "sender@test.example",
        &["user@test.example"],
        "broken",
    );
    let line = wait_line(&inst, &[&id, "status=deferred"]);
    assert!(
        line.contains(
            "dsn=4.3.0, status=deferred (mail system configuration error: invalid \
             dns_nameservers value \"not-an-address\")"
        ),
        "{line}"
    );
    wait_line(
        &inst,
        &["smtp client configuration: invalid dns_nameservers value"],
    );
    // The delivery line is logged before the queue manager's move of the
    // message to the deferred queue is committed (as in Postfix, whose smtp
    // logs before qmgr renames the queue file): wait for the move.
    let deferred =
        common::tools::wait_for(WAIT, || inst.queued_message(&id).queue_name == "deferred");
    assert!(
        deferred,
        "{id} is in the {} queue",
        inst.queued_message(&id).queue_name
    );
}

#[test]
fn mail_to_ourselves_is_a_loop_and_bounces() {
    // The nexthop is Postern's own smtpd: its EHLO reply names our myhostname.
    let port = free_port();
    let main = format!(
        "mynetworks = 127.0.0.0/8\n\
         transport_maps = inline:{{ {{loop.test=smtp:[127.0.0.1]:{port}}} }}\n"
    );
    let inst = Instance::with_master(&main, &master(port), port);
    inst.start();
    let id = send(&inst, "", &["u@loop.test"], "loop");
    let line = wait_line(&inst, &[&id, "to=<u@loop.test>", "status=bounced"]);
    assert!(
        line.contains(&format!("relay=127.0.0.1[127.0.0.1]:{port}, ")),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "dsn=5.4.6, status=bounced (mail for [127.0.0.1]:{port} loops back to myself)"
        )),
        "{line}"
    );
    wait_line(
        &inst,
        &[&format!(
            "warning: host 127.0.0.1[127.0.0.1]:{port} replied to HELO/EHLO with my own \
             hostname mx.postern.test"
        )],
    );
}
