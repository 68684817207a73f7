//! Tests of the harness's sending Postfix (tests/common/postfix.rs): a message
//! put in with its own `sendmail` is relayed over TLS to the receiving Postfix,
//! which lets it relay to a foreign domain only for a client certificate whose
//! fingerprint is in `relay_clientcerts`; and a plain relay into `smtp-sink`.

mod common;

use std::time::Duration;

use common::certs::Pki;
use common::postfix::{PostfixInstance, Role};
use common::tools::SmtpSink;

const MSG: &str = "From: sender@test.example\nTo: someone@elsewhere.example\nSubject: relay by certificate\n\nrelayed body\n";

#[test]
fn client_certificate_in_relay_clientcerts_relays_and_no_certificate_is_refused() {
    let pki = Pki::new();
    let mut rx = PostfixInstance::new(Role::Receiver);
    rx.receiver_tls(&pki);
    rx.trust_client_cert(&pki.client.fingerprints.cert_sha256);
    // Level 2 logs the client certificate's CN, issuer and fingerprints.
    rx.set("smtpd_tls_loglevel", "2");
    rx.start();

    // With the listed certificate: relayed, over TLS, certificate verified.
    let mut tx = PostfixInstance::new(Role::sender_to(rx.port));
    tx.client_tls(&pki, "encrypt", true);
    tx.start();
    let id = tx.send("sender@test.example", &["someone@elsewhere.example"], MSG);
    let d = tx.wait_delivered(&id, Duration::from_secs(30));
    assert_eq!(d.status, "sent", "{}\n{}", d.line, rx.log());
    assert_eq!(d.to, "someone@elsewhere.example");
    assert!(
        d.relay
            .starts_with(&format!("127.0.0.1[127.0.0.1]:{}", rx.port)),
        "{}",
        d.relay
    );
    assert!(
        tx.log().contains(&format!(
            "TLS connection established to 127.0.0.1[127.0.0.1]:{}: TLSv1.",
            rx.port
        )),
        "{}",
        tx.log()
    );
    let got = rx.wait_mail("someone@elsewhere.example", 1, Duration::from_secs(20));
    let received = got[0].header("Received").unwrap();
    assert!(
        received.contains(
            "(Client CN \"client.test.example\", Issuer \"Postern Test CA\" (verified OK))"
        ),
        "{received}"
    );
    assert!(got[0].body().contains("relayed body"));
    assert!(
        rx.log()
            .contains("Trusted TLS connection established from localhost[127.0.0.1]"),
        "{}",
        rx.log()
    );

    let fp = &pki.client.fingerprints;
    let expected = format!(
        "localhost[127.0.0.1]: subject_CN=client.test.example, issuer=Postern Test CA, fingerprint={}, pkey_fingerprint={}",
        fp.cert_sha256, fp.pkey_sha256
    );
    assert!(rx.log().contains(&expected), "{expected}\n{}", rx.log());

    // Without a client certificate: 554 5.7.1 Relay access denied, bounced.
    let mut anon = PostfixInstance::new(Role::sender_to(rx.port));
    anon.client_tls(&pki, "encrypt", false);
    anon.start();
    let id = anon.send("sender@test.example", &["other@elsewhere.example"], MSG);
    let d = anon.wait_delivered(&id, Duration::from_secs(30));
    assert_eq!(d.status, "bounced", "{}", d.line);
    assert_eq!(d.dsn, "5.7.1");
    assert!(
        d.reason
            .contains("554 5.7.1 <other@elsewhere.example>: Relay access denied"),
        "{}",
        d.reason
    );
    assert!(rx
        .log()
        .contains("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <other@elsewhere.example>: Relay access denied"));
    assert!(rx.mailbox("other@elsewhere.example").is_empty());

    // A certificate from the untrusted CA, not listed: refused as well.
    let mut rogue = PostfixInstance::new(Role::sender_to(rx.port));
    rogue.client_tls(&pki, "encrypt", false);
    rogue.set(
        "smtp_tls_cert_file",
        pki.client_untrusted.cert_pem.to_str().unwrap(),
    );
    rogue.set(
        "smtp_tls_key_file",
        pki.client_untrusted.key_pem.to_str().unwrap(),
    );
    rogue.start();
    let id = rogue.send("sender@test.example", &["third@elsewhere.example"], MSG);
    let d = rogue.wait_delivered(&id, Duration::from_secs(30));
    assert_eq!(d.status, "bounced", "{}", d.line);
    assert!(d.reason.contains("Relay access denied"), "{}", d.reason);
    assert!(
        rx.log()
            .contains("Untrusted TLS connection established from localhost[127.0.0.1]"),
        "{}",
        rx.log()
    );
}

#[test]
fn sender_relays_to_smtp_sink() {
    let sink = SmtpSink::start(&[]);
    let mut tx = PostfixInstance::new(Role::sender_to(sink.port));
    tx.start();
    let id = tx.send(
        "a@test.example",
        &["b@sink.test.example", "c@sink.test.example"],
        "Subject: to the sink\n\nsink body\n",
    );
    let d = tx.wait_delivered(&id, Duration::from_secs(30));
    assert_eq!(d.status, "sent", "{}", d.line);
    assert!(common::tools::wait_for(Duration::from_secs(10), || !sink
        .messages()
        .is_empty()));
    let dumped = sink.messages();
    assert_eq!(dumped.len(), 1, "{dumped:?}");
    assert!(dumped[0].contains("Subject: to the sink"), "{}", dumped[0]);
    assert!(dumped[0].contains("sink body"));
    assert!(
        dumped[0].contains("b@sink.test.example") && dumped[0].contains("c@sink.test.example"),
        "{}",
        dumped[0]
    );
}

#[test]
fn deferred_while_receiver_is_down_then_sent() {
    let mut rx = PostfixInstance::new(Role::Receiver);
    let mut tx = PostfixInstance::new(Role::sender_to(rx.port));
    tx.start();
    let id = tx.send(
        "sender@test.example",
        &["later@test.example"],
        "Subject: retry\n\nretried body\n",
    );
    let first = tx.wait_delivered(&id, Duration::from_secs(30));
    assert_eq!(first.status, "deferred", "{}", first.line);
    assert!(
        first.reason.contains("Connection refused"),
        "{}",
        first.reason
    );
    rx.start();
    let sent = tx.wait_status(&id, "sent", Duration::from_secs(60));
    assert_eq!(sent.to, "later@test.example");
    let m = rx.wait_mail("later@test.example", 1, Duration::from_secs(20));
    assert!(m[0].body().contains("retried body"));
}
