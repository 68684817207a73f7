//! Tests of the harness's receiving Postfix (tests/common/postfix.rs) with real
//! clients: swaks over STARTTLS into a Maildir with Postfix's TLS Received
//! header, `openssl s_client` seeing the certificate whose fingerprint the test
//! PKI computed (and resuming its session), lettre with a client certificate,
//! and the raw SMTP client's STARTTLS and transcript.

mod common;

use std::time::Duration;

use common::certs::Pki;
use common::postfix::{PostfixInstance, Role};
use common::tools::{lettre_tls, lettre_transport, RawSmtp, SClient, Swaks};

fn receiver(pki: &Pki) -> PostfixInstance {
    let mut rx = PostfixInstance::new(Role::Receiver);
    rx.receiver_tls(pki);
    rx.start();
    rx
}

#[test]
fn swaks_starttls_lands_in_maildir_with_tls_received_header() {
    let pki = Pki::new();
    let rx = receiver(&pki);
    let r = Swaks::new(rx.port)
        .from("alice@sender.example")
        .to("bob@test.example")
        .ehlo("client.test.example")
        .starttls()
        .verify_with(&pki.ca.cert_pem)
        .header("Subject", "harness swaks")
        .body("hello from swaks")
        .run();
    assert_eq!(r.code, 0, "swaks failed:\n{}", r.transcript);
    assert!(
        r.transcript.contains("220 2.0.0 Ready to start TLS"),
        "{}",
        r.transcript
    );
    let mail = rx.wait_mail("bob@test.example", 1, Duration::from_secs(20));
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    assert_eq!(m.header("Subject").as_deref(), Some("harness swaks"));
    assert!(m.body().contains("hello from swaks"));
    let received = m.header("Received").expect("Received header");
    assert!(
        received.contains("by mx.test.example (Postfix)"),
        "{received}"
    );
    assert!(received.contains("(using TLSv1."), "{received}");
    assert!(received.contains("with cipher"), "{received}");
    let d = rx.wait_delivered("bob@test.example", Duration::from_secs(10));
    assert_eq!(d.status, "sent", "{}", d.line);
    assert_eq!(d.relay, "virtual");
    assert!(
        rx.log()
            .contains("Anonymous TLS connection established from localhost[127.0.0.1]"),
        "{}",
        rx.log()
    );
}

#[test]
fn s_client_sees_the_pki_server_certificate_and_resumes() {
    let pki = Pki::new();
    let rx = receiver(&pki);
    let sess = pki.dir().join("s_client.sess");
    let first = SClient::new(rx.port)
        .ca_file(&pki.ca.cert_pem)
        .verify_return_error()
        .servername("mx.test.example")
        .sess_out(&sess)
        .run(&["EHLO client.test.example", "NOOP", "QUIT"]);
    assert_eq!(
        first.verify_code(),
        Some(0),
        "{}\n{}",
        first.stdout,
        first.stderr
    );
    let pem = first.peer_cert_pem().expect("server certificate printed");
    let cert = openssl::x509::X509::from_pem(pem.as_bytes()).unwrap();
    let fp =
        common::certs::postfix_hex(&cert.digest(openssl::hash::MessageDigest::sha256()).unwrap());
    assert_eq!(fp, pki.server.fingerprints.cert_sha256);
    assert!(
        first.replies.iter().any(|l| l.starts_with("250 ")),
        "{:?}",
        first.replies
    );
    assert!(
        !first.replies.iter().any(|l| l.contains("STARTTLS")),
        "STARTTLS offered again inside TLS: {:?}",
        first.replies
    );
    assert!(
        first.replies.iter().any(|l| l.starts_with("221 ")),
        "{:?}",
        first.replies
    );

    let second = SClient::new(rx.port)
        .ca_file(&pki.ca.cert_pem)
        .servername("mx.test.example")
        .sess_in(&sess)
        .run(&["EHLO client.test.example", "QUIT"]);
    assert!(second.reused(), "session not resumed:\n{}", second.stdout);

    // A whole transaction through s_client, message lines sent after the 354.
    let t = SClient::new(rx.port).ca_file(&pki.ca.cert_pem).run(&[
        "EHLO client.test.example",
        "MAIL FROM:<ivan@sender.example>",
        "RCPT TO:<judy@test.example>",
        "DATA",
        "Subject: via s_client",
        "",
        "s_client body",
        ".",
        "QUIT",
    ]);
    let codes: Vec<&str> = t
        .replies
        .iter()
        .filter(|l| l.as_bytes()[3] == b' ')
        .map(|l| &l[..3])
        .collect();
    assert_eq!(
        codes,
        ["250", "250", "250", "354", "250", "221"],
        "{:?}",
        t.replies
    );
    let m = rx.wait_mail("judy@test.example", 1, Duration::from_secs(20));
    assert_eq!(m[0].header("Subject").as_deref(), Some("via s_client"));

    // The same server checked against the untrusted CA fails the handshake.
    let bad = SClient::new(rx.port)
        .ca_file(&pki.untrusted_ca.cert_pem)
        .verify_return_error()
        .run(&["EHLO client.test.example", "QUIT"]);
    assert_ne!(bad.code, 0, "{}", bad.stdout);
    assert!(bad.replies.is_empty(), "{:?}", bad.replies);
}

#[test]
fn lettre_starttls_with_client_certificate() {
    use lettre::message::Message;
    use lettre::transport::smtp::client::Tls;
    use lettre::Transport;
    let pki = Pki::new();
    let rx = receiver(&pki);
    let tls = lettre_tls(&pki.ca, Some(&pki.client), "mx.test.example");
    let email = Message::builder()
        .from("Carol <carol@sender.example>".parse().unwrap())
        .to("dave@test.example".parse().unwrap())
        .subject("harness lettre")
        .body(String::from("hello from lettre\r\n"))
        .unwrap();
    let resp = lettre_transport(rx.port, Tls::Required(tls))
        .send(&email)
        .expect("lettre send");
    assert!(resp.is_positive(), "{resp:?}");
    let m = rx.wait_mail("dave@test.example", 1, Duration::from_secs(20));
    let received = m[0].header("Received").unwrap();
    assert!(received.contains("(using TLSv1."), "{received}");
    assert!(
        received.contains(
            "(Client CN \"client.test.example\", Issuer \"Postern Test CA\" (verified OK))"
        ),
        "{received}"
    );
    let line = rx
        .wait_log(
            "Trusted TLS connection established from",
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("no Trusted line:\n{}", rx.log()));
    assert!(line.contains("localhost[127.0.0.1]"), "{line}");

    // Without a client certificate the same send works, anonymously.
    let tls = lettre_tls(&pki.ca, None, "mx.test.example");
    let email = Message::builder()
        .from("carol@sender.example".parse().unwrap())
        .to("erin@test.example".parse().unwrap())
        .subject("no cert")
        .body(String::from("x\r\n"))
        .unwrap();
    lettre_transport(rx.port, Tls::Required(tls))
        .send(&email)
        .expect("lettre send without client cert");
    let m = rx.wait_mail("erin@test.example", 1, Duration::from_secs(20));
    assert!(!m[0].header("Received").unwrap().contains("Client CN"));
}

#[test]
fn raw_smtp_starttls_dialogue_and_transcript() {
    let pki = Pki::new();
    let rx = receiver(&pki);
    let mut c = RawSmtp::connect(rx.port);
    assert_eq!(c.read_reply().unwrap().code, 220);
    let ehlo = c.cmd("EHLO client.test.example");
    assert_eq!(ehlo.code, 250);
    assert!(
        ehlo.lines.iter().any(|l| l.contains("STARTTLS")),
        "{ehlo:?}"
    );
    assert_eq!(c.cmd("STARTTLS").code, 220);
    c.starttls(
        &pki.ca.cert_pem,
        Some((&pki.client.cert_pem, &pki.client.key_pem)),
    );
    assert_eq!(c.cmd("EHLO client.test.example").code, 250);
    // Relaying to a foreign domain is refused: this client's fingerprint is not listed.
    assert_eq!(c.cmd("MAIL FROM:<frank@sender.example>").code, 250);
    let r = c.cmd("RCPT TO:<someone@elsewhere.example>");
    assert_eq!(r.code, 554, "{}", c.transcript());
    assert!(r.text().contains("5.7.1") && r.text().contains("Relay access denied"));
    assert_eq!(c.cmd("RCPT TO:<grace@test.example>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    c.send(b"Subject: raw\r\n\r\nraw body\r\n.\r\n").unwrap();
    let r = c.read_reply().unwrap();
    assert_eq!(r.code, 250, "{}", c.transcript());
    assert_eq!(c.cmd("QUIT").code, 221);
    let t = c.transcript();
    assert!(t.contains("c -> EHLO client.test.example\\r\\n"), "{t}");
    assert!(t.contains("s <- 250-mx.test.example"), "{t}");
    assert!(t.contains("-- TLS TLSv1."), "{t}");
    let m = rx.wait_mail("grace@test.example", 1, Duration::from_secs(20));
    assert!(m[0]
        .header("Received")
        .unwrap()
        .contains("Client CN \"client.test.example\""));
    assert!(rx.log().contains("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <someone@elsewhere.example>: Relay access denied"), "{}", rx.log());
}

#[test]
fn start_moves_off_a_port_taken_meanwhile() {
    let mut rx = PostfixInstance::new(Role::Receiver);
    let squatter = std::net::TcpListener::bind(("127.0.0.1", rx.port)).unwrap();
    let taken = rx.port;
    rx.start();
    assert_ne!(rx.port, taken);
    let mut c = RawSmtp::connect(rx.port);
    let greeting = c.read_reply().unwrap();
    assert!(
        greeting
            .text()
            .starts_with("220 mx.test.example ESMTP Postfix"),
        "{greeting:?}"
    );
    drop(squatter);
}
