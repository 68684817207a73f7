//! Acceptance (issue 5): where Postern's SMTP client goes. Two Postfix
//! receivers on the same port of 127.0.0.1 and 127.0.0.2 and dnsmasq's MX
//! answers show MX preference (the lower number wins whatever the address
//! order), fallback to the next MX when the first refuses connections
//! (nothing listens on 127.0.0.3), and the domain's own A record when it has
//! no MX; a null MX (RFC 7505) bounces at once without any attempt; and a TLS
//! session is resumed on the second connection to a receiver (its smtpd logs
//! "Reusing old session").

mod common;

use common::postfix::{PostfixInstance, Role};
use common::sending::{received_with_tls, receiver, Sender, WAIT};
use common::tools::{wait_for, DnsRecords, Dnsmasq};

#[test]
fn mx_preference_fallback_and_address_fallback() {
    // rx1 on 127.0.0.1:P, rx2 on 127.0.0.2:P; both relay for loopback.
    let rx1 = receiver(None, true);
    let mut rx2 = PostfixInstance::new(Role::Receiver);
    rx2.set("mynetworks", "127.0.0.0/8");
    rx2.listen_on("127.0.0.2", rx1.port);
    rx2.start();
    let port = rx1.port;
    let dns = Dnsmasq::start(
        &DnsRecords::new()
            // Preference, not record or address order: best is 127.0.0.2.
            .mx("pref.example", "mx-second.pref.example", 20)
            .mx("pref.example", "mx-first.pref.example", 10)
            .addr("mx-second.pref.example", "127.0.0.1")
            .addr("mx-first.pref.example", "127.0.0.2")
            // And the other way round: best is 127.0.0.1.
            .mx("rev.example", "mx-first.rev.example", 5)
            .mx("rev.example", "mx-second.rev.example", 50)
            .addr("mx-first.rev.example", "127.0.0.1")
            .addr("mx-second.rev.example", "127.0.0.2")
            // The best MX refuses connections: the next one gets the mail.
            .mx("fallback.example", "mx-down.fallback.example", 10)
            .mx("fallback.example", "mx-up.fallback.example", 20)
            .addr("mx-down.fallback.example", "127.0.0.3")
            .addr("mx-up.fallback.example", "127.0.0.2")
            // No MX at all: the domain's own address.
            .addr("nomx.example", "127.0.0.1"),
    );
    let mut tx = Sender::postern(Some(&dns));
    tx.set("smtp_tcp_port", &port.to_string());
    tx.start();

    let cases = [
        ("pref.example", "mx-first.pref.example[127.0.0.2]", &rx2),
        ("rev.example", "mx-first.rev.example[127.0.0.1]", &rx1),
        (
            "fallback.example",
            "mx-up.fallback.example[127.0.0.2]",
            &rx2,
        ),
        ("nomx.example", "nomx.example[127.0.0.1]", &rx1),
    ];
    for (domain, relay, rx) in cases {
        let rcpt = format!("r@{domain}");
        let id = tx.send(&[&rcpt], &format!("route {domain}"));
        let a = tx.wait_status(&id, "sent");
        assert_eq!(a.relay, format!("{relay}:{port}"), "{}", a.line);
        rx.wait_mail(&rcpt, 1, WAIT);
        let other = if std::ptr::eq(rx, &rx1) { &rx2 } else { &rx1 };
        assert!(
            other.mailbox(&rcpt).is_empty(),
            "{rcpt} also reached the other receiver"
        );
        // Delivered on the first attempt.
        assert_eq!(tx.count(&id, "deferred"), 0, "{}", tx.log());
    }
    // The refused connection was logged as Postfix does.
    tx.wait_log(&[&format!(
        "connect to mx-down.fallback.example[127.0.0.3]:{port}: Connection refused"
    )]);
}

/// `nullmx.example MX 0 .`: bounced at once with Postfix's text and 5.1.0,
/// no connection, no deferral.
#[test]
fn null_mx_bounces_at_once() {
    let rx = receiver(None, true);
    let dns = Dnsmasq::start(
        &DnsRecords::new()
            // RDATA: preference 0, root name.
            .raw("nullmx.example", 15, "000000")
            .addr("nullmx.example", "127.0.0.1"),
    );
    let answer = dns.query("nullmx.example", hickory_proto::rr::RecordType::MX);
    assert_eq!(answer.records.len(), 1, "{answer:?}");
    assert_eq!(answer.records[0].1, "0 .", "{answer:?}");
    let mut tx = Sender::postern(Some(&dns));
    tx.set("smtp_tcp_port", &rx.port.to_string());
    tx.start();
    let id = tx.send(&["n@nullmx.example"], "null MX");
    let a = tx.wait_status(&id, "bounced");
    assert_eq!(
        a.reason, "Domain nullmx.example does not accept mail (nullMX)",
        "{}",
        a.line
    );
    // Postfix smtp_addr.c: DNS_NULLMX -> dsb_status(why, "5.1.0").
    assert_eq!(a.dsn, "5.1.0", "{}", a.line);
    assert_eq!(a.relay, "none", "{}", a.line);
    assert_eq!(tx.count(&id, "deferred"), 0, "{}", tx.log());
    tx.wait_gone(&id);
    assert!(rx.mailbox("n@nullmx.example").is_empty());
    assert!(
        !rx.log().contains("client=localhost[127.0.0.1]"),
        "{}",
        rx.log()
    );
}

/// Four messages one after the other, each on its own connection
/// (`smtp_connection_cache_on_demand = no`): the receiver (smtpd_tls_loglevel
/// 2) logs the second TLS session as resumed, the first not, and the third
/// and fourth as resumed too. Postfix's smtpd issues no new ticket when it
/// resumes one, so the later connections resume with the same ticket; they
/// did not while the client cache handed out the session object OpenSSL
/// marks not resumable after one resumed TLS 1.3 handshake.
#[test]
fn tls_session_resumed_on_second_connection() {
    let pki = common::certs::Pki::new();
    let rx = receiver(Some(&pki), false);
    rx.set("smtpd_tls_loglevel", "2");
    rx.reload();
    let dns = Dnsmasq::start(&common::sending::standard_records());
    let mut tx = Sender::postern(Some(&dns));
    tx.set("smtp_tcp_port", &rx.port.to_string());
    tx.set("smtp_tls_security_level", "may");
    tx.set("smtp_tls_CAfile", pki.ca.cert_pem.to_str().unwrap());
    tx.set(
        "smtp_tls_session_cache_database",
        "btree:${data_directory}/smtp_scache",
    );
    tx.set("smtp_connection_cache_on_demand", "no");
    tx.start();

    let reused = "localhost[127.0.0.1]: Reusing old session";
    let id = tx.send(&["s1@test.example"], "first session");
    let a = tx.wait_status(&id, "sent");
    assert_eq!(a.tls.as_deref(), Some("may:trusted"), "{}", a.line);
    let first = rx.wait_mail("s1@test.example", 1, WAIT);
    assert!(received_with_tls(&first[0]), "{}", first[0].raw);
    assert!(!rx.log().contains(reused), "{}", rx.log());

    let id = tx.send(&["s2@test.example"], "second session");
    tx.wait_status(&id, "sent");
    let second = rx.wait_mail("s2@test.example", 1, WAIT);
    assert!(received_with_tls(&second[0]), "{}", second[0].raw);
    assert!(
        rx.wait_log(reused, WAIT).is_some(),
        "no resumed session in the receiver's log:\n{}\nsender log:\n{}",
        rx.log(),
        tx.log()
    );
    // Two TLS handshakes: the resumption was not a reused connection.
    let established = "TLS connection established from localhost[127.0.0.1]";
    assert_eq!(rx.log().matches(established).count(), 2, "{}", rx.log());

    for (n, rcpt) in [(3, "s3@test.example"), (4, "s4@test.example")] {
        let id = tx.send(&[rcpt], "later session");
        tx.wait_status(&id, "sent");
        rx.wait_mail(rcpt, 1, WAIT);
        // The receiver's log is written by its postlogd: wait for the line.
        wait_for(WAIT, || rx.log().matches(established).count() >= n);
        let log = rx.log();
        assert_eq!(log.matches(established).count(), n, "{log}");
        assert_eq!(
            log.matches(reused).count(),
            n - 1,
            "connection {n} did not resume:\n{log}\nsender log:\n{}",
            tx.log()
        );
    }
}
