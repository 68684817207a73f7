//! Acceptance (issue 3): relay control in the real daemon. Loopback is outside
//! `mynetworks`; `smtpd_relay_restrictions = permit_mynetworks,
//! permit_tls_clientcerts, reject_unauth_destination`. Without a certificate,
//! or with one whose fingerprint is not in `relay_clientcerts`, mail to a
//! foreign domain is refused with Postfix's reply and `NOQUEUE: reject` line;
//! a listed certificate relays (even from a CA nobody trusts, as in Postfix);
//! and address tricks (`%`, `!`, source routes, quoted local parts, `@[ip]`,
//! double `@`) never relay. A real Postfix relaying through Postern shows the
//! same end to end: sent with the listed certificate, bounced 5.7.1 without.

mod common;

use common::certs::{Cert, Pki};
use common::daemon::{queued_as, tls_main_cf, Instance, HOSTNAME};
use common::tools::RawSmtp;

const HELO: &str = "client.test.example";
const SENDER: &str = "sender@client.example";

/// Postern with loopback outside mynetworks and `listed` certificates'
/// sha256 fingerprints in relay_clientcerts.
fn postern(pki: &Pki, listed: &[&Cert]) -> Instance {
    let inst = Instance::new("");
    let table = inst.path().join("relay_clientcerts");
    let entries: String = listed
        .iter()
        .map(|c| format!("{} {}\n", c.fingerprints.cert_sha256, c.cn))
        .collect();
    std::fs::write(&table, entries).unwrap();
    inst.write_main(&format!(
        "{}mynetworks = 192.0.2.0/24\n\
         mydestination = $myhostname, localhost\n\
         smtpd_relay_restrictions = permit_mynetworks, permit_tls_clientcerts, reject_unauth_destination\n\
         relay_clientcerts = texthash:{}\n\
         smtpd_error_sleep_time = 0\n",
        tls_main_cf(pki),
        table.display()
    ));
    inst.start();
    inst
}

/// Connects, says EHLO, and (with `tls`) does STARTTLS presenting `cert`.
fn session(inst: &Instance, pki: &Pki, tls: bool, cert: Option<&Cert>) -> RawSmtp {
    let mut c = RawSmtp::connect(inst.port);
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.cmd(&format!("EHLO {HELO}")).code, 250);
    if tls {
        assert_eq!(c.cmd("STARTTLS").code, 220, "{}", c.transcript());
        c.starttls(
            &pki.ca.cert_pem,
            cert.map(|c| (c.cert_pem.as_path(), c.key_pem.as_path())),
        );
        assert_eq!(c.cmd(&format!("EHLO {HELO}")).code, 250);
    }
    let r = c.cmd(&format!("MAIL FROM:<{SENDER}>"));
    assert_eq!(r.code, 250, "{}", c.transcript());
    c
}

/// RCPT for a foreign domain must be refused as Postfix's
/// reject_unauth_destination does, and logged.
fn assert_relay_denied(inst: &Instance, c: &mut RawSmtp, rcpt: &str, proto: &str) {
    let r = c.cmd(&format!("RCPT TO:<{rcpt}>"));
    assert_eq!(
        r.text(),
        format!("554 5.7.1 <{rcpt}>: Relay access denied"),
        "{}",
        c.transcript()
    );
    inst.wait_for_log(
        &format!(
            "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <{rcpt}>: Relay access denied; \
             from=<{SENDER}> to=<{rcpt}> proto={proto} helo=<{HELO}>"
        ),
        1,
    );
}

/// Sends a short message after an accepted RCPT; returns the queue ID.
fn data(c: &mut RawSmtp, marker: &str) -> String {
    assert_eq!(c.cmd("DATA").code, 354, "{}", c.transcript());
    let r = c.cmd(&format!("Subject: {marker}\r\n\r\n{marker}\r\n."));
    assert_eq!(r.code, 250, "{}", c.transcript());
    queued_as(&r.text())
}

#[test]
fn client_outside_mynetworks_without_certificate_is_refused_relay() {
    let pki = Pki::new();
    let inst = postern(&pki, &[&pki.client]);
    // Plaintext session.
    let mut c = session(&inst, &pki, false, None);
    assert_relay_denied(&inst, &mut c, "x@remote.example", "ESMTP");
    // A local domain is still accepted: the refusal is about relaying.
    let r = c.cmd(&format!("RCPT TO:<postmaster@{HOSTNAME}>"));
    assert_eq!(r.code, 250, "{}", c.transcript());
    c.cmd("QUIT");
    // TLS without a client certificate changes nothing.
    let mut c = session(&inst, &pki, true, None);
    assert_relay_denied(&inst, &mut c, "y@remote.example", "ESMTP");
    c.cmd("QUIT");
    assert!(inst.queued().is_empty(), "{:?}", inst.queued());
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn certificate_listed_in_relay_clientcerts_relays() {
    let pki = Pki::new();
    let inst = postern(&pki, &[&pki.client]);
    let mut c = session(&inst, &pki, true, Some(&pki.client));
    let r = c.cmd("RCPT TO:<x@remote.example>");
    assert_eq!(r.code, 250, "{}", c.transcript());
    let id = data(&mut c, "relayed by certificate");
    c.cmd("QUIT");
    let m = inst.queued_message(&id);
    assert_eq!(m.recipients, ["x@remote.example"]);
    assert_eq!(m.sender, SENDER);
    assert_eq!(
        m.tls_ccert_fingerprint.as_deref(),
        Some(pki.client.fingerprints.cert_sha256.as_str())
    );
    assert!(
        !inst.log().contains("Relay access denied"),
        "{}",
        inst.log()
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn listed_fingerprint_relays_even_from_an_untrusted_ca() {
    let pki = Pki::new();
    let inst = postern(&pki, &[&pki.client_untrusted]);
    let mut c = session(&inst, &pki, true, Some(&pki.client_untrusted));
    let r = c.cmd("RCPT TO:<x@remote.example>");
    assert_eq!(r.code, 250, "{}", c.transcript());
    let id = data(&mut c, "relayed by untrusted but listed certificate");
    c.cmd("QUIT");
    assert_eq!(inst.queued_message(&id).recipients, ["x@remote.example"]);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn certificate_not_in_relay_clientcerts_is_refused_relay() {
    let pki = Pki::new();
    let inst = postern(&pki, &[&pki.client]);
    // Trusted by the CA, but not listed: permit_tls_clientcerts does not apply.
    let inst2 = postern(&pki, &[&pki.client_untrusted]);
    let mut c = session(&inst2, &pki, true, Some(&pki.client));
    assert_relay_denied(&inst2, &mut c, "x@remote.example", "ESMTP");
    c.cmd("QUIT");
    // Another certificate from an untrusted CA.
    let mut c = session(&inst, &pki, true, Some(&pki.client_untrusted));
    assert_relay_denied(&inst, &mut c, "z@remote.example", "ESMTP");
    c.cmd("QUIT");
    assert!(inst.queued().is_empty() && inst2.queued().is_empty());
    assert_eq!(inst.postfix(&["stop"]).code, 0);
    assert_eq!(inst2.postfix(&["stop"]).code, 0);
}

#[test]
fn address_tricks_never_relay() {
    let pki = Pki::new();
    let inst = postern(&pki, &[&pki.client]);
    let tricks = [
        "user%remote.example@localhost",
        "remote.example!user@localhost",
        "@localhost:user@remote.example",
        "\"user@remote.example\"@localhost",
        "user@[192.0.2.1]",
        "user@remote.example@localhost",
        "user%remote.example@[127.0.0.1]",
        "\"user%remote.example\"@localhost",
    ];
    let mut opened = Vec::new();
    for rcpt in tricks {
        let mut c = session(&inst, &pki, false, None);
        let r = c.cmd(&format!("RCPT TO:<{rcpt}>"));
        // A permanent refusal: relay denied, or a syntax error.
        if r.code / 100 != 5 {
            opened.push(format!("{rcpt}: {}", r.text()));
        }
        c.cmd("QUIT");
    }
    assert!(
        opened.is_empty(),
        "address tricks accepted from an unauthorized client:\n{}",
        opened.join("\n")
    );
    assert!(inst.queued().is_empty(), "{:?}", inst.queued());
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn real_postfix_relays_with_listed_certificate_and_bounces_without() {
    use common::postfix::{PostfixInstance, Role};
    use std::time::Duration;
    let pki = Pki::new();
    let inst = postern(&pki, &[&pki.client]);
    let msg = "From: sender@test.example\nTo: someone@remote.example\nSubject: relay by certificate\n\nrelayed body\n";

    let mut tx = PostfixInstance::new(Role::sender_to(inst.port));
    tx.client_tls(&pki, "encrypt", true);
    tx.start();
    let id = tx.send("sender@test.example", &["someone@remote.example"], msg);
    let d = tx.wait_delivered(&id, Duration::from_secs(60));
    assert_eq!(d.status, "sent", "{}\nPostern log:\n{}", d.line, inst.log());
    let m = inst.queued_message(&queued_as(&d.reason));
    assert_eq!(m.recipients, ["someone@remote.example"]);
    assert!(m.text().contains("relayed body"));

    let mut anon = PostfixInstance::new(Role::sender_to(inst.port));
    anon.client_tls(&pki, "encrypt", false);
    anon.start();
    let id = anon.send("sender@test.example", &["other@remote.example"], msg);
    let d = anon.wait_delivered(&id, Duration::from_secs(60));
    assert_eq!(d.status, "bounced", "{}", d.line);
    assert_eq!(d.dsn, "5.7.1");
    assert!(
        d.reason
            .contains("554 5.7.1 <other@remote.example>: Relay access denied"),
        "{}",
        d.reason
    );
    assert_eq!(inst.queued().len(), 1, "{:?}", inst.queued());
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}
