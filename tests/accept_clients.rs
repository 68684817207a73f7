//! Acceptance (issue 3): real clients deliver into the real daemon. lettre
//! (plain, STARTTLS without and with a client certificate), swaks, `openssl
//! s_client -starttls smtp` (trusted and untrusted client certificates) and a
//! real Postfix relaying with `smtp_tls_security_level = encrypt` and a client
//! certificate. For each message the test reads the queue database (envelope,
//! size, content), the Received header in Postfix's form with its TLS and
//! client-certificate clauses, and the log lines Postfix would write.

mod common;

use std::time::Duration;

use common::certs::{Cert, Pki};
use common::daemon::{queued_as, tls_main_cf, Instance, Queued, HOSTNAME};
use common::postfix::{PostfixInstance, Role};
use common::tools::{lettre_tls, lettre_transport, SClient, Swaks};
use lettre::transport::smtp::client::Tls;
use regex::Regex;

/// The client certificate a session presented, as the server judged it.
enum Ccert<'a> {
    /// No certificate (the server asked: `smtpd_tls_ask_ccert = yes`).
    None,
    /// Chain verified against `smtpd_tls_CAfile`.
    Trusted(&'a Cert),
    /// Presented but not verified.
    Untrusted(&'a Cert),
}

/// Postern on a free port with STARTTLS offered, client certificates asked
/// for, and loopback in mynetworks (so mail to remote.example relays).
fn postern(pki: &Pki) -> Instance {
    let inst = Instance::new(&format!("{}mynetworks = 127.0.0.0/8\n", tls_main_cf(pki)));
    inst.start();
    inst
}

/// Checks what a TLS session left behind for message `id`: the Received
/// header's TLS and certificate clauses, the queue's TLS columns and the
/// `... TLS connection established from ...` log line.
fn check_tls(inst: &Instance, m: &Queued, ccert: Ccert) {
    let received = m.header("Received").expect("Received header");
    let using = Regex::new(
        r"\(using TLSv1\.3 with cipher TLS_[A-Z0-9_]+ \(256/256 bits\) key-exchange [A-Za-z0-9]+ server-signature [A-Z-]+ \(2048 bits\) server-digest SHA256( client-signature [A-Z-]+ \(2048 bits\) client-digest SHA256)?\)",
    )
    .unwrap();
    assert!(using.is_match(&received), "TLS clause: {received}");
    // The TLS clause is folded onto its own lines, as Postfix writes it.
    let raw = m.text();
    assert!(
        raw.contains("\r\n\t(using TLSv1.3 with cipher ") && raw.contains("\r\n\t key-exchange "),
        "folding: {raw}"
    );
    let (word, clause) = match ccert {
        Ccert::None => (
            "Anonymous",
            "(Client did not present a certificate)".to_string(),
        ),
        Ccert::Trusted(c) => (
            "Trusted",
            format!(
                "(Client CN \"{}\", Issuer \"Postern Test CA\" (verified OK))",
                c.cn
            ),
        ),
        Ccert::Untrusted(c) => (
            "Untrusted",
            format!(
                "(Client CN \"{}\", Issuer \"Untrusted Test CA\" (not verified))",
                c.cn
            ),
        ),
    };
    assert!(received.contains(&clause), "want {clause} in: {received}");
    assert!(
        received.contains(&format!("with ESMTPS id {}", m.queue_id)),
        "{received}"
    );
    assert_eq!(m.protocol, "ESMTPS");
    assert_eq!(m.tls_protocol.as_deref(), Some("TLSv1.3"));
    match ccert {
        Ccert::None => assert_eq!(m.tls_ccert_fingerprint, None),
        Ccert::Trusted(c) | Ccert::Untrusted(c) => assert_eq!(
            m.tls_ccert_fingerprint.as_deref(),
            Some(c.fingerprints.cert_sha256.as_str())
        ),
    }
    let line = Regex::new(&format!(
        r"postfix/smtpd\[\d+\]: {word} TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.3 with cipher \S+ \(256/256 bits\) key-exchange \S+ server-signature \S+ \(2048 bits\) server-digest SHA256"
    ))
    .unwrap();
    assert!(
        line.is_match(&inst.log()),
        "no {word} TLS line:\n{}",
        inst.log()
    );
}

/// Checks the queued message `id`: envelope, size, content, the Received
/// header's first and last parts, and the log lines of its transaction in
/// Postfix's order. Returns the queue entry for further checks.
fn check_message(
    inst: &Instance,
    id: &str,
    helo: &str,
    from: &str,
    to: &[&str],
    marker: &str,
) -> Queued {
    let m = inst.queued_message(id);
    assert_eq!(m.sender, from);
    assert_eq!(m.recipients, to);
    assert_eq!(m.size, m.content.len() as i64, "size column vs content");
    assert!(m.text().contains(marker), "{marker:?} not in {}", m.text());
    assert!(
        m.text().starts_with(&format!(
            "Received: from {helo} (localhost [127.0.0.1])\r\n"
        )),
        "{}",
        m.text()
    );
    let received = m.header("Received").unwrap();
    let by = if to.len() == 1 {
        format!(" id {id} for <{}>; ", to[0])
    } else {
        format!(" id {id}; ")
    };
    assert!(
        received.contains(&format!("by {HOSTNAME} (Postfix) with ESMTP")) && received.contains(&by),
        "{received}"
    );

    let msgid = m.header("Message-ID").expect("a Message-ID header");
    let connect = r"postfix/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]\n".to_string();
    let client = format!(r"postfix/smtpd\[\d+\]: {id}: client=localhost\[127\.0\.0\.1\]\n");
    let message_id = format!(
        r"postfix/cleanup\[\d+\]: {id}: message-id={}\n",
        regex::escape(&msgid)
    );
    let queued = format!(
        r"postfix/qmgr\[\d+\]: {id}: from=<{}>, size={}, nrcpt={} \(queue active\)\n",
        regex::escape(from),
        m.size,
        to.len()
    );
    let disconnect =
        r"postfix/smtpd\[\d+\]: disconnect from localhost\[127\.0\.0\.1\] .*commands=\d+\n"
            .to_string();
    // The session's lines in order; qmgr's line comes after cleanup's, but
    // (as in Postfix, where qmgr is another process) before or after the
    // session ends.
    let chains: Vec<Vec<Regex>> = [
        vec![connect, client.clone(), message_id.clone(), disconnect],
        vec![client, message_id, queued],
    ]
    .iter()
    .map(|c| c.iter().map(|w| Regex::new(w).unwrap()).collect())
    .collect();
    let in_order = |log: &str| {
        for chain in &chains {
            let mut at = 0;
            for w in chain {
                match w.find(&log[at..]) {
                    Some(found) => at += found.end(),
                    None => return Err(w.as_str().to_string()),
                }
            }
        }
        Ok(())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while let Err(missing) = in_order(&inst.log()) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {missing:?} in order in the log:\n{}",
            inst.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    m
}

fn lettre_message(from: &str, to: &str, subject: &str, body: &str) -> lettre::Message {
    lettre::Message::builder()
        .from(from.parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .body(body.to_string())
        .unwrap()
}

/// Sends with lettre and returns the queue ID from the 250 reply.
fn lettre_send(port: u16, tls: Tls, msg: &lettre::Message) -> String {
    use lettre::Transport;
    let resp = lettre_transport(port, tls).send(msg).expect("lettre send");
    let text: Vec<&str> = resp.message().collect();
    assert!(resp.is_positive(), "{text:?}");
    queued_as(&text.join(" "))
}

#[test]
fn lettre_plain_message_is_queued_with_received_header_and_log_lines() {
    let pki = Pki::new();
    let inst = postern(&pki);
    let msg = lettre_message(
        "alice@client.example",
        "bob@remote.example",
        "plain lettre",
        "body via lettre, no TLS\n",
    );
    let id = lettre_send(inst.port, Tls::None, &msg);
    let m = check_message(
        &inst,
        &id,
        "client.test.example",
        "alice@client.example",
        &["bob@remote.example"],
        "body via lettre, no TLS",
    );
    assert_eq!(m.protocol, "ESMTP");
    assert_eq!(m.tls_protocol, None);
    let received = m.header("Received").unwrap();
    assert!(!received.contains("(using "), "{received}");
    assert!(
        received.contains(&format!("with ESMTP id {id}")),
        "{received}"
    );
    assert!(!inst.log().contains("TLS connection established"));
    assert!(
        inst.log().contains(
            "disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
        ),
        "{}",
        inst.log()
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn lettre_starttls_without_client_certificate_is_anonymous_tls() {
    let pki = Pki::new();
    let inst = postern(&pki);
    let msg = lettre_message(
        "alice@client.example",
        "bob@remote.example",
        "lettre starttls",
        "body via lettre over STARTTLS\n",
    );
    let tls = Tls::Required(lettre_tls(&pki.ca, None, "mx.test.example"));
    let id = lettre_send(inst.port, tls, &msg);
    let m = check_message(
        &inst,
        &id,
        "client.test.example",
        "alice@client.example",
        &["bob@remote.example"],
        "body via lettre over STARTTLS",
    );
    check_tls(&inst, &m, Ccert::None);
    assert!(
        inst.log().contains(
            "disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"
        ),
        "{}",
        inst.log()
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn lettre_starttls_with_client_certificate_is_trusted_tls() {
    let pki = Pki::new();
    let inst = postern(&pki);
    let msg = lettre_message(
        "carol@client.example",
        "dave@remote.example",
        "lettre starttls ccert",
        "body via lettre with a client certificate\n",
    );
    let tls = Tls::Required(lettre_tls(&pki.ca, Some(&pki.client), "mx.test.example"));
    let id = lettre_send(inst.port, tls, &msg);
    let m = check_message(
        &inst,
        &id,
        "client.test.example",
        "carol@client.example",
        &["dave@remote.example"],
        "body via lettre with a client certificate",
    );
    check_tls(&inst, &m, Ccert::Trusted(&pki.client));
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn swaks_plain_and_starttls_with_client_certificate() {
    let pki = Pki::new();
    let inst = postern(&pki);
    let r = Swaks::new(inst.port)
        .from("erin@client.example")
        .to("frank@remote.example")
        .ehlo("swaks.test.example")
        .body("plain swaks body")
        .run();
    assert_eq!(r.code, 0, "{}", r.transcript);
    let id = queued_as(
        r.transcript
            .lines()
            .find(|l| l.contains("queued as"))
            .expect("queued reply"),
    );
    let m = check_message(
        &inst,
        &id,
        "swaks.test.example",
        "erin@client.example",
        &["frank@remote.example"],
        "plain swaks body",
    );
    assert_eq!(m.protocol, "ESMTP");

    let r = Swaks::new(inst.port)
        .from("erin@client.example")
        .to("frank@remote.example,grace@remote.example")
        .ehlo("swaks.test.example")
        .starttls()
        .verify_with(&pki.ca.cert_pem)
        .client_cert(&pki.client.cert_pem, &pki.client.key_pem)
        .body("swaks body over STARTTLS")
        .run();
    assert_eq!(r.code, 0, "{}", r.transcript);
    let id = queued_as(
        r.transcript
            .lines()
            .find(|l| l.contains("queued as"))
            .expect("queued reply"),
    );
    let m = check_message(
        &inst,
        &id,
        "swaks.test.example",
        "erin@client.example",
        &["frank@remote.example", "grace@remote.example"],
        "swaks body over STARTTLS",
    );
    check_tls(&inst, &m, Ccert::Trusted(&pki.client));
    assert!(
        inst.log().contains(
            "disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 mail=1 rcpt=2 data=1 quit=1 commands=8"
        ),
        "{}",
        inst.log()
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

/// Runs one s_client transaction and returns the queue ID.
fn s_client_send(inst: &Instance, pki: &Pki, cert: Option<&Cert>, marker: &str) -> String {
    let mut c = SClient::new(inst.port)
        .ca_file(&pki.ca.cert_pem)
        .verify_return_error();
    if let Some(cert) = cert {
        c = c.cert(&cert.cert_pem, &cert.key_pem);
    }
    let subject = format!("Subject: {marker}");
    let body = format!("{marker} body");
    let r = c.run(&[
        "EHLO sclient.test.example",
        "MAIL FROM:<heidi@client.example>",
        "RCPT TO:<ivan@remote.example>",
        "DATA",
        &subject,
        "",
        &body,
        ".",
        "QUIT",
    ]);
    let queued = r
        .replies
        .iter()
        .find(|l| l.contains("queued as"))
        .unwrap_or_else(|| panic!("no 250 queued: {:?}\n{}", r.replies, r.stderr));
    queued_as(queued)
}

#[test]
fn openssl_s_client_starttls_anonymous_and_untrusted_certificate() {
    let pki = Pki::new();
    let inst = postern(&pki);
    let id = s_client_send(&inst, &pki, None, "s_client anonymous");
    let m = check_message(
        &inst,
        &id,
        "sclient.test.example",
        "heidi@client.example",
        &["ivan@remote.example"],
        "s_client anonymous body",
    );
    check_tls(&inst, &m, Ccert::None);
    // s_client says its own EHLO before STARTTLS.
    inst.wait_for_log(
        "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7",
        1,
    );

    let id = s_client_send(
        &inst,
        &pki,
        Some(&pki.client_untrusted),
        "s_client untrusted",
    );
    let m = check_message(
        &inst,
        &id,
        "sclient.test.example",
        "heidi@client.example",
        &["ivan@remote.example"],
        "s_client untrusted body",
    );
    check_tls(&inst, &m, Ccert::Untrusted(&pki.client_untrusted));
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn postfix_relaying_with_encrypt_and_client_certificate() {
    let pki = Pki::new();
    let inst = postern(&pki);
    let mut tx = PostfixInstance::new(Role::sender_to(inst.port));
    tx.client_tls(&pki, "encrypt", true);
    tx.start();
    let id = tx.send(
        "judy@test.example",
        &["mallory@remote.example"],
        "From: judy@test.example\nTo: mallory@remote.example\nSubject: from Postfix\n\nrelayed by a real Postfix\n",
    );
    let d = tx.wait_delivered(&id, Duration::from_secs(60));
    assert_eq!(d.status, "sent", "{}\nPostern log:\n{}", d.line, inst.log());
    assert!(
        tx.log().contains(&format!(
            "TLS connection established to 127.0.0.1[127.0.0.1]:{}: TLSv1.3",
            inst.port
        )),
        "{}",
        tx.log()
    );
    let ours = queued_as(&d.reason);
    let m = check_message(
        &inst,
        &ours,
        "tx.test.example",
        "judy@test.example",
        &["mallory@remote.example"],
        "relayed by a real Postfix",
    );
    check_tls(&inst, &m, Ccert::Trusted(&pki.client));
    // Postfix's own trace header survives below ours.
    assert!(
        m.text().contains("by tx.test.example (Postfix"),
        "{}",
        m.text()
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}
