//! Acceptance (issue 5): per-destination TLS policy and the client
//! certificate. `smtp_tls_policy_maps` look-ups by exact domain, `.parent`
//! domain and `[host]:port`, with `match=`, `protocols=`, `ciphers=` and `exclude=`
//! honoured (seen in the Postfix receiver's Received header) and
//! `servername=` (the receiver's SNI table gives another certificate, and its
//! log names the SNI); a malformed
//! entry defers with "client TLS configuration problem" without any connection
//! reaching the receiver; a client certificate (`smtp_tls_cert_file`) listed
//! in the receiver's `relay_clientcerts` relays, and without it the receiver's
//! 554 "Relay access denied" bounces the mail. The client-certificate
//! scenario also runs with a real Postfix as the sender (same PKI files), the
//! reference for the expectations; the malformed-entry scenario was checked
//! the same way (`Which::Postfix`: Postfix 3.7 logs `warning:
//! smtp_tls_policy_maps, next-hop destination "[127.0.0.1]:PORT": invalid
//! security level "no-such-level"` and defers with relay=none).

mod common;

use common::sending::{
    received_by_receiver, received_with_tls, receiver, receiver_connects, receiver_sni, Sender,
    Topology, Which, MX, WAIT,
};
use common::tools::{DnsRecords, Dnsmasq};

/// Postern with `smtp_tcp_port` = the receiver's port, so bare recipient
/// domains are nexthops (MX look-up, the policy keys of the acceptance), a
/// `may` default with the test CA, and `policy` as smtp_tls_policy_maps.
#[test]
fn policy_map_exact_parent_and_host_port_keys_with_attributes() {
    let pki = common::certs::Pki::new();
    let rx = receiver(Some(&pki), true);
    // SNI sni.test.example gets the certificate for wrong.test.example.
    receiver_sni(&rx, "sni.test.example", &pki.server_wrong_name);
    let domains = [
        "exact.example",
        "parent.example",
        "sub.parent.example",
        "other.example",
        "excl.example",
        "badmatch.example",
        "sni.example",
        "cnull.example",
    ];
    let mut records = DnsRecords::new().addr(MX, "127.0.0.1");
    for d in domains {
        records = records.mx(d, MX, 10);
    }
    let dns = Dnsmasq::start(&records);
    let mut tx = Sender::postern(Some(&dns));
    let hostport = format!("[{MX}]:{}", rx.port);
    let policy = tx.write_table(
        "tls_policy",
        &format!(
            "exact.example secure match={MX}\n\
             parent.example none\n\
             .parent.example fingerprint match={}\n\
             {hostport} encrypt protocols=<=TLSv1.2\n\
             excl.example encrypt protocols=<=TLSv1.2 ciphers=high exclude=AES256\n\
             cnull.example encrypt protocols=<=TLSv1.2 ciphers=null\n\
             badmatch.example secure match=nomatch.test.example\n\
             sni.example secure match=wrong.test.example servername=sni.test.example\n",
            pki.server.fingerprints.cert_sha256
        ),
    );
    tx.set("smtp_tcp_port", &rx.port.to_string());
    tx.set("smtp_tls_security_level", "may");
    tx.set("smtp_tls_CAfile", pki.ca.cert_pem.to_str().unwrap());
    tx.set(
        "smtp_tls_policy_maps",
        &format!("texthash:{}", policy.display()),
    );
    tx.routes(&[("hostport.example", &format!("smtp:{hostport}"))]);
    tx.start();

    // (recipient domain, expected tls=, expected Received TLS protocol or
    // None for plaintext)
    let cases = [
        ("exact.example", "secure:verified", Some("TLSv1.3")),
        (
            "sub.parent.example",
            "fingerprint:verified",
            Some("TLSv1.3"),
        ),
        ("parent.example", "none:none", None),
        ("other.example", "may:trusted", Some("TLSv1.3")),
        ("hostport.example", "encrypt:trusted", Some("TLSv1.2")),
        ("excl.example", "encrypt:trusted", Some("TLSv1.2")),
        // Verified only if the SNI made the receiver present wrong.test.example.
        ("sni.example", "secure:verified", Some("TLSv1.3")),
    ];
    let mut ids = Vec::new();
    for (d, _, _) in cases {
        ids.push(tx.send(&[&format!("p@{d}")], &format!("policy {d}")));
    }
    let bad = tx.send(&["p@badmatch.example"], "policy badmatch");
    let cnull = tx.send(&["p@cnull.example"], "policy cipher grade null");
    let mut failures = Vec::new();
    for ((d, tls, proto), id) in cases.iter().zip(&ids) {
        let a = tx.wait_status(id, "sent");
        if a.tls.as_deref() != Some(*tls) {
            failures.push(format!("{d}: expected tls={tls}: {}", a.line));
        }
        if a.relay != format!("{MX}[127.0.0.1]:{}", rx.port) {
            failures.push(format!("{d}: relay: {}", a.line));
        }
        let mail = rx.wait_mail(&format!("p@{d}"), 1, WAIT);
        let received = received_by_receiver(&mail[0]);
        match proto {
            None if received_with_tls(&mail[0]) => {
                failures.push(format!("{d}: plaintext expected: {received}"))
            }
            Some(p) if !received.contains(&format!("(using {p} with cipher ")) => {
                failures.push(format!("{d}: {p} expected: {received}"))
            }
            _ => {}
        }
        if *d == "excl.example" && received.contains("AES256") {
            failures.push(format!("{d}: exclude=AES256 ignored: {received}"));
        }
    }
    let a = tx.wait_status(&bad, "deferred");
    if a.reason != "Server certificate not verified" || a.dsn != "4.7.5" {
        failures.push(format!("badmatch.example: {}", a.line));
    }
    // ciphers=null leaves no usable TLS 1.2 cipher: Postfix 3.7 logs "error
    // setting cipher grade" and defers, where the same protocols with the
    // default grade (hostport.example) delivered.
    let a = tx.wait_status(&cnull, "deferred");
    if a.reason != "Cannot start TLS: handshake failure" || a.dsn != "4.7.5" {
        failures.push(format!("cnull.example: {}", a.line));
    }
    assert!(
        failures.is_empty(),
        "{}\nsender log:\n{}",
        failures.join("\n"),
        tx.log()
    );
    assert!(rx.mailbox("p@badmatch.example").is_empty());
    assert!(rx.mailbox("p@cnull.example").is_empty());
    // The receiver saw the SNI (logged only for a name in its SNI table).
    assert!(
        rx.log()
            .contains("TLS connection established from localhost[127.0.0.1] to sni.test.example: "),
        "{}",
        rx.log()
    );
}

/// A policy entry with an unknown level: the mail is deferred with 4.7.5
/// "client TLS configuration problem", the table and key are named in a
/// warning, and the receiver never sees a connection.
fn malformed_policy_fails_closed(which: Which) {
    let mut t = Topology::new(which, true, true, false);
    let key = t.host_nexthop();
    let policy =
        t.tx.write_table("tls_policy", &format!("{key} no-such-level\n"));
    let table = format!("texthash:{}", policy.display());
    t.tx.set("smtp_tls_policy_maps", &table);
    t.tx.set("smtp_tls_security_level", "may");
    t.tx.start();
    // The harness's readiness probe at the receiver's start is a connection
    // too; any later one would be the sender's.
    let probes = receiver_connects(&t.rx);
    let id = t.tx.send(&["broken@test.example"], "malformed policy");
    let a = t.tx.wait_status(&id, "deferred");
    assert_eq!(a.reason, "client TLS configuration problem", "{}", a.line);
    assert_eq!(a.dsn, "4.7.5", "{}", a.line);
    assert_eq!(a.relay, "none", "{}", a.line);
    // Postfix 3.7: `warning: smtp_tls_policy_maps, next-hop destination
    // "KEY": invalid security level "no-such-level"`; naming the table itself
    // is as good.
    let warning = t.tx.wait_log(&["warning: ", "no-such-level", &key]);
    assert!(
        warning.contains("smtp_tls_policy_maps") || warning.contains(&table),
        "{warning}"
    );
    let entry = t.tx.queue_entry(&id).expect("still queued");
    assert!(
        entry.contains("client TLS configuration problem"),
        "{entry}"
    );
    // Retried after the backoff: still deferred the same way, still no connection.
    t.tx.flush();
    t.tx.wait_nth(&id, "deferred", 1);
    assert_eq!(
        receiver_connects(&t.rx),
        probes,
        "the receiver saw a connection:\n{}",
        t.rx.log()
    );
    assert!(t.rx.mailbox("broken@test.example").is_empty());
}

#[test]
fn malformed_policy_entry_defers_without_connecting() {
    malformed_policy_fails_closed(Which::Postern);
}

/// Postern presents the test client certificate; the receiver (loopback
/// outside its mynetworks) lists its fingerprint in relay_clientcerts, so mail
/// for a foreign domain relays. The same mail through a transport without the
/// certificate is refused with 554 5.7.1 and bounced.
fn client_certificate_relays(which: Which) {
    let mut t = Topology::new(which, true, true, false);
    t.rx.trust_client_cert(&t.pki.client.fingerprints.cert_sha256);
    t.rx.reload();
    let nexthop = t.host_nexthop();
    t.tx.add_master("nocert unix - - n - - smtp -o smtp_tls_cert_file= -o smtp_tls_key_file=\n");
    t.tx.routes(&[
        ("relay.example", &format!("smtp:{nexthop}")),
        ("norelay.example", &format!("nocert:{nexthop}")),
    ]);
    t.tx.set("smtp_tls_security_level", "encrypt");
    t.tx.set(
        "smtp_tls_cert_file",
        t.pki.client.cert_pem.to_str().unwrap(),
    );
    t.tx.set("smtp_tls_key_file", t.pki.client.key_pem.to_str().unwrap());
    t.tx.start();

    let id = t.tx.send(&["far@relay.example"], "relayed by certificate");
    let a = t.tx.wait_status(&id, "sent");
    assert_eq!(a.dsn, "2.0.0", "{}", a.line);
    let mail = t.rx.wait_mail("far@relay.example", 1, WAIT);
    assert!(received_with_tls(&mail[0]), "{}", mail[0].raw);
    assert!(
        t.rx.log()
            .contains("Trusted TLS connection established from localhost[127.0.0.1]"),
        "{}",
        t.rx.log()
    );

    let id = t.tx.send(&["far@norelay.example"], "no certificate");
    let a = t.tx.wait_status(&id, "bounced");
    assert_eq!(a.dsn, "5.7.1", "{}", a.line);
    assert_eq!(
        a.reason,
        format!(
            "host {} said: 554 5.7.1 <far@norelay.example>: Relay access denied \
             (in reply to RCPT TO command)",
            t.host
        ),
        "{}",
        a.line
    );
    assert!(t
        .rx
        .log()
        .contains("554 5.7.1 <far@norelay.example>: Relay access denied"));
    assert!(t.rx.mailbox("far@norelay.example").is_empty());
}

#[test]
fn client_certificate_in_relay_clientcerts_relays_and_without_it_bounces() {
    client_certificate_relays(Which::Postern);
}

#[test]
fn reference_postfix_client_certificate() {
    client_certificate_relays(Which::Postfix);
}
