//! Acceptance (issue 5): TLS security levels of the SMTP client, Postern
//! sending through dnsmasq's MX/A answers to a real Postfix receiver on
//! loopback. `may` to a server without STARTTLS goes in plaintext; `encrypt`
//! to it defers (4.7.4) and delivers once the server offers TLS; `secure`
//! defers for an untrusted CA and for a name mismatch and delivers, logging
//! `Verified`, with the trusted CA and a matching name (also through MX with
//! the `dot-nexthop` match); `fingerprint` with md5, sha1 and sha256
//! certificate digests and a public-key digest delivers, a wrong digest
//! defers; the deprecated `smtp_use_tls`/`smtp_enforce_tls` act as `may`,
//! `verify` and `encrypt` as in Postfix; `may` whose handshake fails defers
//! (4.7.5) and retries in plaintext; the queue keeps each recipient's TLS. The `encrypt` scenario also runs with a
//! real Postfix as the sender, the reference for what the test expects (the
//! fingerprint scenario was checked the same way, `Which::Postfix`).

mod common;

use common::sending::{received_with_tls, Topology, Which, MX};

/// `may` to a receiver without STARTTLS: plaintext, `tls=may:none`.
#[test]
fn may_to_a_server_without_starttls_delivers_in_plaintext() {
    let mut t = Topology::new(Which::Postern, false, false, false);
    t.tx.set("smtp_tls_security_level", "may");
    t.tx.start();
    let id = t.tx.send(&["plain@test.example"], "may plaintext");
    let a = t.tx.wait_status(&id, "sent");
    assert_eq!(a.relay, t.relay(), "{}", a.line);
    assert_eq!(a.dsn, "2.0.0", "{}", a.line);
    assert_eq!(a.tls.as_deref(), Some("may:none"), "{}", a.line);
    assert!(
        a.reason.starts_with("250 2.0.0 Ok: queued as "),
        "{}",
        a.line
    );
    let mail =
        t.rx.wait_mail("plain@test.example", 1, common::sending::WAIT);
    assert!(!received_with_tls(&mail[0]), "{}", mail[0].raw);
    assert!(mail[0].body().contains("may plaintext"));
    assert!(
        !t.tx.log().contains("TLS connection established"),
        "{}",
        t.tx.log()
    );
    t.tx.wait_gone(&id);
}

/// `encrypt` to a receiver without STARTTLS defers with Postfix's 4.7.4
/// reason (queued, with the reason in `postqueue -j`); once the receiver
/// offers STARTTLS, the flushed message goes out encrypted.
fn encrypt_waits_for_starttls(which: Which) {
    let mut t = Topology::new(which, false, false, false);
    t.tx.set("smtp_tls_security_level", "encrypt");
    t.tx.start();
    let id = t.tx.send(&["enc@test.example"], "encrypt only");
    let a = t.tx.wait_status(&id, "deferred");
    assert_eq!(
        a.reason,
        format!("TLS is required, but was not offered by host {}", t.host),
        "{}",
        a.line
    );
    assert_eq!(a.dsn, "4.7.4", "{}", a.line);
    assert_eq!(a.relay, t.relay(), "{}", a.line);
    let entry = t.tx.queue_entry(&id).expect("deferred mail stays queued");
    assert!(
        entry.contains("TLS is required, but was not offered by host"),
        "{entry}"
    );
    assert!(t.rx.mailbox("enc@test.example").is_empty());
    // Never in plaintext: the receiver saw a session but no MAIL FROM.
    assert!(
        !t.rx.log().contains("from=<sender@client.example>"),
        "{}",
        t.rx.log()
    );

    t.rx.receiver_tls(&t.pki);
    t.rx.reload();
    t.tx.flush();
    let a = t.tx.wait_status(&id, "sent");
    assert_eq!(a.dsn, "2.0.0", "{}", a.line);
    if which == Which::Postern {
        // No CAfile: the chain is not checked, as Postfix says "Untrusted".
        assert_eq!(a.tls.as_deref(), Some("encrypt:untrusted"), "{}", a.line);
    }
    t.tx.wait_log(&[&format!(
        "Untrusted TLS connection established to {}: TLSv1.3 with cipher ",
        t.relay()
    )]);
    let mail = t.rx.wait_mail("enc@test.example", 1, common::sending::WAIT);
    assert!(received_with_tls(&mail[0]), "{}", mail[0].raw);
    t.tx.wait_gone(&id);
}

#[test]
fn encrypt_defers_without_starttls_and_delivers_once_offered() {
    encrypt_waits_for_starttls(Which::Postern);
}

#[test]
fn reference_postfix_encrypt_defers_without_starttls() {
    encrypt_waits_for_starttls(Which::Postfix);
}

/// `may` whose TLS handshake fails (the receiver wants TLSv1.3, the client
/// allows at most TLSv1.2): that attempt defers with 4.7.5 "Cannot start TLS:
/// handshake failure"; the retry after the backoff goes in plaintext, as
/// Postfix 3.7 does (checked with a Postfix sender).
#[test]
fn may_handshake_failure_defers_then_retries_in_plaintext() {
    let mut t = Topology::new(Which::Postern, true, false, false);
    t.rx.set("smtpd_tls_protocols", ">=TLSv1.3");
    t.rx.reload();
    t.tx.set("smtp_tls_security_level", "may");
    t.tx.set("smtp_tls_protocols", "<=TLSv1.2");
    t.tx.start();
    let id = t.tx.send(&["hs@test.example"], "handshake failure");
    let a = t.tx.wait_status(&id, "deferred");
    assert_eq!(
        a.reason, "Cannot start TLS: handshake failure",
        "{}",
        a.line
    );
    assert_eq!(a.dsn, "4.7.5", "{}", a.line);
    assert!(t.rx.mailbox("hs@test.example").is_empty());
    let a = t.tx.wait_status(&id, "sent");
    assert_eq!(a.tls.as_deref(), Some("may:none"), "{}", a.line);
    let mail = t.rx.wait_mail("hs@test.example", 1, common::sending::WAIT);
    assert!(!received_with_tls(&mail[0]), "{}", mail[0].raw);
    t.tx.wait_gone(&id);
}

/// `secure` to `[mx.test.example]:PORT` (nexthop name mx.test.example): a
/// certificate from an untrusted CA defers, one from the trusted CA for
/// wrong.test.example defers, the right one delivers with `Verified`. The
/// same message is retried after each change of the receiver's certificate.
#[test]
fn secure_needs_trusted_ca_and_matching_name() {
    let mut t = Topology::new(Which::Postern, true, true, false);
    t.rx.server_cert(&t.pki.server_untrusted);
    t.rx.reload();
    t.tx.set("smtp_tls_security_level", "secure");
    t.tx.set("smtp_tls_CAfile", t.pki.ca.cert_pem.to_str().unwrap());
    t.tx.start();
    let id = t.tx.send(&["secure@test.example"], "secure only");

    let a = t.tx.wait_nth(&id, "deferred", 0);
    assert_eq!(a.reason, "Server certificate not verified", "{}", a.line);
    assert_eq!(a.dsn, "4.7.5", "{}", a.line);
    assert!(
        a.tls.as_deref().is_some_and(|s| s.starts_with("secure:")),
        "{}",
        a.line
    );

    // Trusted CA, but the certificate names only wrong.test.example.
    t.rx.server_cert(&t.pki.server_wrong_name);
    t.rx.reload();
    let before = t.tx.count(&id, "deferred");
    t.tx.flush();
    let a = t.tx.wait_nth(&id, "deferred", before);
    assert_eq!(a.reason, "Server certificate not verified", "{}", a.line);
    assert_eq!(a.dsn, "4.7.5", "{}", a.line);
    assert!(t.rx.mailbox("secure@test.example").is_empty());
    assert!(!t.tx.log().contains("Verified TLS connection"));

    // Trusted CA and mx.test.example.
    t.rx.server_cert(&t.pki.server);
    t.rx.reload();
    t.tx.flush();
    let a = t.tx.wait_status(&id, "sent");
    assert_eq!(a.tls.as_deref(), Some("secure:verified"), "{}", a.line);
    t.tx.wait_log(&[&format!(
        "Verified TLS connection established to {}: TLSv1.3 with cipher ",
        t.relay()
    )]);
    let mail =
        t.rx.wait_mail("secure@test.example", 1, common::sending::WAIT);
    assert!(received_with_tls(&mail[0]), "{}", mail[0].raw);
}

/// What TLS each recipient got is kept in the queue: one message to a
/// recipient the receiver takes and one it defers (450): while the message
/// waits, the delivered recipient's row holds the level, protocol, cipher (the
/// same as the receiver's Received header), peer name and certificate
/// fingerprint; `postqueue -j` shows the deferred one with its reason and
/// the TLS of its last attempt (Postern's `"tls"` object).
#[test]
fn queue_records_the_tls_of_each_recipient() {
    let mut t = Topology::new(Which::Postern, true, true, false);
    let access = t.rx.write_table(
        "rcpt_access",
        "later@test.example 450 4.2.0 Try again later\n",
    );
    t.rx.set(
        "smtpd_recipient_restrictions",
        &format!("check_recipient_access texthash:{}", access.display()),
    );
    t.rx.reload();
    t.tx.set("smtp_tls_security_level", "secure");
    t.tx.set("smtp_tls_CAfile", t.pki.ca.cert_pem.to_str().unwrap());
    t.tx.start();
    let id = t.tx.send(
        &["now@test.example", "later@test.example"],
        "two recipients",
    );
    let sent = t.tx.wait_status("now@test.example", "sent");
    assert_eq!(sent.queue_id, id);
    let deferred = t.tx.wait_status("later@test.example", "deferred");
    assert_eq!(deferred.dsn, "4.2.0", "{}", deferred.line);
    assert_eq!(
        deferred.tls.as_deref(),
        Some("secure:verified"),
        "{}",
        deferred.line
    );
    let mail = t.rx.wait_mail("now@test.example", 1, common::sending::WAIT);
    let received = common::sending::received_by_receiver(&mail[0]);

    let rows = t.tx.recipient_tls(&id);
    let now = rows
        .iter()
        .find(|r| r.address == "now@test.example")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(now.state, "delivered", "{now:?}");
    assert_eq!(now.tls_level.as_deref(), Some("secure"), "{now:?}");
    assert_eq!(now.tls_protocol.as_deref(), Some("TLSv1.3"), "{now:?}");
    let cipher = now.tls_cipher.clone().unwrap_or_default();
    assert!(
        !cipher.is_empty() && received.contains(&format!("with cipher {cipher} ")),
        "{now:?} vs {received}"
    );
    assert_eq!(now.tls_peer_name.as_deref(), Some(MX), "{now:?}");
    assert_eq!(
        now.tls_peer_fingerprint.as_deref(),
        Some(t.pki.server.fingerprints.cert_sha256.as_str()),
        "{now:?}"
    );
    let later = rows
        .iter()
        .find(|r| r.address == "later@test.example")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(later.state, "deferred", "{later:?}");
    let entry =
        t.tx.queue_entry(&id)
            .expect("queued for the deferred recipient");
    assert!(entry.contains("Try again later"), "{entry}");
    assert!(!entry.contains("now@test.example"), "{entry}");
    // Postern's addition to the JSON: the deferred recipient's last TLS.
    let compact = entry.replace(' ', "");
    for part in [
        "\"tls\":{\"level\":\"secure\"".to_string(),
        "\"protocol\":\"TLSv1.3\"".to_string(),
        format!("\"peer_name\":\"{MX}\""),
        format!(
            "\"peer_fingerprint\":\"{}\"",
            t.pki.server.fingerprints.cert_sha256
        ),
    ] {
        assert!(compact.contains(&part), "{part} not in {entry}");
    }
}

/// `secure` through MX look-up of test.example: the default match
/// (`nexthop:dot-nexthop`) accepts mx.test.example by `.test.example`.
#[test]
fn secure_through_mx_matches_dot_nexthop() {
    let mut t = Topology::new(Which::Postern, true, false, false);
    t.tx.set("smtp_tls_security_level", "secure");
    t.tx.set("smtp_tls_CAfile", t.pki.ca.cert_pem.to_str().unwrap());
    t.tx.start();
    let id = t.tx.send(&["mxsecure@test.example"], "secure by MX");
    let a = t.tx.wait_status(&id, "sent");
    assert_eq!(a.relay, format!("{MX}[127.0.0.1]:{}", t.rx.port));
    assert_eq!(a.tls.as_deref(), Some("secure:verified"), "{}", a.line);
    t.rx.wait_mail("mxsecure@test.example", 1, common::sending::WAIT);
}

/// One smtp transport per fingerprint case (`-o` options in master.cf), one
/// recipient domain routed to each; the receiver relays for loopback.
fn fingerprint_digests(which: Which) {
    let mut t = Topology::new(which, true, true, true);
    let fp = t.pki.server.fingerprints.clone();
    let wrong = t.pki.server_untrusted.fingerprints.cert_sha256.clone();
    let cases: Vec<(&str, &str, String)> = vec![
        ("md5", "md5", fp.cert_md5.clone()),
        ("sha1", "sha1", fp.cert_sha1.clone()),
        ("sha256", "sha256", fp.cert_sha256.clone()),
        ("pkey", "sha256", fp.pkey_sha256.clone()),
        ("wrong", "sha256", wrong),
    ];
    let nexthop = t.host_nexthop();
    let mut master = String::new();
    let mut routes = Vec::new();
    for (name, digest, value) in &cases {
        master.push_str(&format!(
            "fp_{name} unix - - n - - smtp -o smtp_tls_security_level=fingerprint \
             -o smtp_tls_fingerprint_digest={digest} -o smtp_tls_fingerprint_cert_match={value}\n"
        ));
        routes.push((format!("{name}.example"), format!("fp_{name}:{nexthop}")));
    }
    t.tx.add_master(&master);
    let all: Vec<(&str, &str)> = routes
        .iter()
        .map(|(d, r)| (d.as_str(), r.as_str()))
        .collect();
    t.tx.routes(&all);
    t.tx.start();
    for (name, _, _) in &cases {
        let rcpt = format!("fp@{name}.example");
        let id = t.tx.send(&[&rcpt], &format!("fingerprint {name}"));
        if *name == "wrong" {
            let a = t.tx.wait_status(&id, "deferred");
            assert_eq!(a.reason, "Server certificate not verified", "{}", a.line);
            assert_eq!(a.dsn, "4.7.5", "{}", a.line);
            assert!(t.rx.mailbox(&rcpt).is_empty());
        } else {
            let a = t.tx.wait_status(&id, "sent");
            if which == Which::Postern {
                assert_eq!(a.tls.as_deref(), Some("fingerprint:verified"), "{}", a.line);
            }
            let mail = t.rx.wait_mail(&rcpt, 1, common::sending::WAIT);
            assert!(received_with_tls(&mail[0]), "{}", mail[0].raw);
        }
    }
    // Fingerprint matches log as Verified (Postfix tls_client.c).
    let verified =
        t.tx.log()
            .matches(&format!(
                "Verified TLS connection established to {}",
                t.relay()
            ))
            .count();
    assert!(verified >= 4, "{}", t.tx.log());
}

#[test]
fn fingerprint_md5_sha1_sha256_and_public_key_digests() {
    fingerprint_digests(Which::Postern);
}

/// The deprecated booleans, with `smtp_tls_security_level` empty, against a
/// receiver whose certificate is from the trusted CA but for another name:
/// `smtp_use_tls = yes` is `may` (delivers), `smtp_enforce_tls = yes` is
/// `verify` (name mismatch defers), and with `smtp_tls_enforce_peername = no`
/// it is `encrypt` (delivers).
#[test]
fn deprecated_use_tls_and_enforce_tls_map_to_levels() {
    let mut t = Topology::new(Which::Postern, true, true, true);
    t.rx.server_cert(&t.pki.server_wrong_name);
    t.rx.reload();
    let nexthop = t.host_nexthop();
    t.tx.add_master(
        "legacy_use unix - - n - - smtp -o smtp_use_tls=yes\n\
         legacy_enforce unix - - n - - smtp -o smtp_enforce_tls=yes\n\
         legacy_encrypt unix - - n - - smtp -o smtp_enforce_tls=yes -o smtp_tls_enforce_peername=no\n",
    );
    let r_use = format!("legacy_use:{nexthop}");
    let r_enforce = format!("legacy_enforce:{nexthop}");
    let r_encrypt = format!("legacy_encrypt:{nexthop}");
    t.tx.routes(&[
        ("use.example", &r_use),
        ("enforce.example", &r_enforce),
        ("encrypt.example", &r_encrypt),
    ]);
    t.tx.set("smtp_tls_security_level", "");
    t.tx.set("smtp_tls_CAfile", t.pki.ca.cert_pem.to_str().unwrap());
    t.tx.start();

    let id = t.tx.send(&["l@use.example"], "smtp_use_tls");
    let a = t.tx.wait_status(&id, "sent");
    assert_eq!(a.tls.as_deref(), Some("may:trusted"), "{}", a.line);
    let mail = t.rx.wait_mail("l@use.example", 1, common::sending::WAIT);
    assert!(received_with_tls(&mail[0]), "{}", mail[0].raw);

    let id = t.tx.send(&["l@enforce.example"], "smtp_enforce_tls");
    let a = t.tx.wait_status(&id, "deferred");
    assert_eq!(a.reason, "Server certificate not verified", "{}", a.line);
    assert!(
        a.tls.as_deref().is_some_and(|s| s.starts_with("verify:")),
        "{}",
        a.line
    );

    let id =
        t.tx.send(&["l@encrypt.example"], "smtp_enforce_tls, any name");
    let a = t.tx.wait_status(&id, "sent");
    assert_eq!(a.tls.as_deref(), Some("encrypt:trusted"), "{}", a.line);
    t.rx.wait_mail("l@encrypt.example", 1, common::sending::WAIT);
    assert!(t.rx.mailbox("l@enforce.example").is_empty());
}
