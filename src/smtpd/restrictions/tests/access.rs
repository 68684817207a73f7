//! check_*_access with real tables (hash built as postmap does, texthash,
//! cidr, regexp, inline) and every access(5) action, with Postfix's texts.

use super::{facts, restrictions, text};
use crate::maps::{create, OpenFlags};
use crate::smtpd::restrictions::{Checkpoint, Facts, Restrictions, Verdict};

fn hash_table(dir: &std::path::Path, name: &str, entries: &[(&str, &str)]) -> String {
    let spec = format!("hash:{}", dir.join(name).display());
    let mut b = create(&spec, OpenFlags::default()).unwrap();
    for (i, (k, v)) in entries.iter().enumerate() {
        b.add(k, v, i + 1);
    }
    b.finish().unwrap();
    spec
}

/// RCPT from a client that has a name.
fn ask(r: &Restrictions, name: &str, addr: &str, rcpt: &str) -> String {
    let f = Facts {
        client_name: name,
        ..facts(addr, rcpt, None)
    };
    text(&r.check(Checkpoint::Rcpt, &f).verdict)
}

#[test]
fn client_access_by_name_then_address() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hash_table(
        dir.path(),
        "client_access",
        &[
            ("spam.example", "REJECT"),
            ("192.0.2", "REJECT 5.7.2 go away"),
            ("198.51.100.7", "450 4.7.0 try later"),
            ("good.example", "OK"),
            ("203.0.113.5", "521 no"),
            ("203.0.113.6", "450"),
        ],
    );
    let r = restrictions(&format!(
        "smtpd_client_restrictions = check_client_access {spec}\n\
         smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
    ));
    // Parent domain matches (parent_domain_matches_subdomains lists smtpd_access_maps).
    assert_eq!(
        ask(&r, "mx.spam.example", "203.0.113.9", "joe@localhost"),
        "554 5.7.1 <mx.spam.example[203.0.113.9]>: Client host rejected: Access denied"
    );
    assert_eq!(
        ask(&r, "unknown", "192.0.2.44", "joe@localhost"),
        "554 5.7.2 <unknown[192.0.2.44]>: Client host rejected: go away"
    );
    assert_eq!(
        ask(&r, "unknown", "198.51.100.7", "joe@localhost"),
        "450 4.7.0 <unknown[198.51.100.7]>: Client host rejected: try later"
    );
    assert_eq!(
        ask(&r, "unknown", "203.0.113.5", "joe@localhost"),
        "521 5.7.1 <unknown[203.0.113.5]>: Client host rejected: no"
    );
    // All-numerical means OK (Postfix 3.7 permits a bare "450" too).
    assert_eq!(
        ask(&r, "unknown", "203.0.113.6", "joe@localhost"),
        "Continue"
    );
    // OK ends the client list only: relay control still applies.
    assert_eq!(
        ask(&r, "good.example", "203.0.113.9", "joe@localhost"),
        "Continue"
    );
    assert_eq!(
        ask(&r, "good.example", "203.0.113.9", "x@remote.example"),
        "554 5.7.1 <x@remote.example>: Relay access denied"
    );
}

#[test]
fn the_brief_client_reject_text() {
    let r = restrictions("smtpd_client_restrictions = check_client_access cidr:/dev/null, reject");
    assert_eq!(
        ask(&r, "host", "1.2.3.4", "joe@localhost"),
        "554 5.7.1 <host[1.2.3.4]>: Client host rejected: Access denied"
    );
}

#[test]
fn cidr_and_regexp_tables() {
    let dir = tempfile::tempdir().unwrap();
    let cidr = dir.path().join("clients.cidr");
    std::fs::write(&cidr, "10.0.0.0/8 REJECT internal only\n").unwrap();
    let re = dir.path().join("helo.re");
    std::fs::write(
        &re,
        "/^localhost$/ REJECT You are not me\n/\\.example\\.org$/ DUNNO\n",
    )
    .unwrap();
    let r = restrictions(&format!(
        "smtpd_client_restrictions = check_client_access cidr:{}\n\
         smtpd_helo_restrictions = check_helo_access regexp:{}",
        cidr.display(),
        re.display()
    ));
    assert_eq!(
        ask(&r, "unknown", "10.9.8.7", "joe@localhost"),
        "554 5.7.1 <unknown[10.9.8.7]>: Client host rejected: internal only"
    );
    let f = Facts {
        helo: Some("localhost"),
        ..facts("192.0.2.1", "joe@localhost", None)
    };
    assert_eq!(
        text(&r.check(Checkpoint::Rcpt, &f).verdict),
        "554 5.7.1 <localhost>: Helo command rejected: You are not me"
    );
}

#[test]
fn sender_and_recipient_access_actions() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("senders");
    std::fs::write(
        &src,
        "<> REJECT no bounces here\n\
         example.net DEFER\n\
         badguy@ REJECT\n\
         held@example.org HOLD\n\
         drop@example.org DISCARD\n\
         dip@example.org DEFER_IF_PERMIT\n\
         dir@example.org DEFER_IF_REJECT\n\
         class@example.org strict\n\
         warn@example.org WARN suspicious\n\
         rel@example.org permit_mynetworks, reject\n",
    )
    .unwrap();
    let r = restrictions(&format!(
        "smtpd_restriction_classes = strict\nstrict = reject_unauth_destination, permit\n\
         smtpd_sender_restrictions = check_sender_access texthash:{}\n\
         smtpd_recipient_restrictions = check_recipient_access inline:{{ {{ joe@localhost = 550 5.1.1 Gone }}, user+x@localhost=REJECT }}\n\
         recipient_delimiter = +",
        src.display()
    ));
    let from = |sender: &str, rcpt: &str, addr: &str| {
        let f = Facts {
            sender: Some(sender),
            ..facts(addr, rcpt, None)
        };
        text(&r.check(Checkpoint::Rcpt, &f).verdict)
    };
    assert_eq!(
        from("", "user@localhost", "192.0.2.1"),
        "554 5.7.1 <>: Sender address rejected: no bounces here"
    );
    assert_eq!(
        from("a@mx.example.net", "user@localhost", "192.0.2.1"),
        "450 4.7.1 <a@mx.example.net>: Sender address rejected: Access denied"
    );
    assert_eq!(
        from("badguy@anywhere.example", "user@localhost", "192.0.2.1"),
        "554 5.7.1 <badguy@anywhere.example>: Sender address rejected: Access denied"
    );
    assert_eq!(
        from("held@example.org", "user@localhost", "192.0.2.1"),
        "Hold: <held@example.org>: Sender address triggers HOLD action"
    );
    assert_eq!(
        from("drop@example.org", "user@localhost", "192.0.2.1"),
        "Discard: <drop@example.org>: Sender address triggers DISCARD action"
    );
    assert_eq!(
        from("dip@example.org", "user@localhost", "192.0.2.1"),
        "450 4.7.1 <dip@example.org>: Sender address rejected: Service unavailable"
    );
    // DEFER_IF_REJECT turns a later 5xx into 4xx; nothing rejects: accepted.
    assert_eq!(
        from("dir@example.org", "user@localhost", "192.0.2.1"),
        "Continue"
    );
    // The recipient list is another stage: defer_if_reject does not reach it
    // (Postfix resets it between smtpd_check_mail and the RCPT lists).
    assert_eq!(
        from("dir@example.org", "joe@localhost", "192.0.2.1"),
        "550 5.1.1 <joe@localhost>: Recipient address rejected: Gone"
    );
    // A restriction class and a restriction list as table values.
    assert_eq!(
        from("class@example.org", "x@remote.example", "192.0.2.1"),
        "554 5.7.1 <x@remote.example>: Relay access denied"
    );
    assert_eq!(
        from("rel@example.org", "user@localhost", "127.0.0.1"),
        "Continue"
    );
    assert_eq!(
        from("rel@example.org", "user@localhost", "192.0.2.1"),
        "554 5.7.1 <rel@example.org>: Sender address rejected: Access denied"
    );
    assert_eq!(
        from("warn@example.org", "user@localhost", "192.0.2.1"),
        "Continue"
    );
    // Recipient access: 5NN with a DSN, extension stripped keys.
    assert_eq!(
        from("ok@example.org", "joe@localhost", "192.0.2.1"),
        "550 5.1.1 <joe@localhost>: Recipient address rejected: Gone"
    );
    assert_eq!(
        from("ok@example.org", "user+x@localhost", "192.0.2.1"),
        "554 5.7.1 <user+x@localhost>: Recipient address rejected: Access denied"
    );
}

#[test]
fn defer_if_reject_inside_one_list() {
    let r = restrictions(
        "smtpd_recipient_restrictions = check_recipient_access inline:{ joe@localhost=DEFER_IF_REJECT }, reject_non_fqdn_recipient, permit",
    );
    let f = facts("192.0.2.1", "joe@localhost", None);
    assert_eq!(
        text(&r.check(Checkpoint::Rcpt, &f).verdict),
        "450 4.7.1 <joe@localhost>: Recipient address rejected: Service unavailable"
    );
}

#[test]
fn unusable_table_results_fail_closed() {
    let r = restrictions(
        "smtpd_client_restrictions = check_client_access inline:{ 192.0.2.1=no_such_restriction, { 192.0.2.2 = FILTER smtp:x } }",
    );
    for a in ["192.0.2.1", "192.0.2.2"] {
        assert_eq!(
            text(
                &r.check(Checkpoint::Rcpt, &facts(a, "joe@localhost", None))
                    .verdict
            ),
            "451 4.3.5 Server configuration error"
        );
    }
    // The verdict is a Defer, never a permit.
    assert!(matches!(
        r.check(Checkpoint::Rcpt, &facts("192.0.2.1", "joe@localhost", None))
            .verdict,
        Verdict::Defer(_)
    ));
}
