//! No open relay under any address trick: every remote-routed form is refused
//! to a client outside mynetworks, only genuinely local ones pass; the default
//! relay restrictions defer instead.

use super::{rcpt, restrictions, text};
use crate::smtpd::restrictions::relay::Class;

const RELAY: &str = "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination";

/// Remote destinations, however dressed up.
const REMOTE: &[&str] = &[
    "user@remote.example",
    "user@REMOTE.EXAMPLE",
    "user@remote.example.",
    "user%remote.example@localhost",
    "user%remote.example@LOCALHOST",
    "user%remote.example@localhost.",
    "remote.example!user@localhost",
    "REMOTE.EXAMPLE!user@LocalHost",
    "\"user@remote.example\"@localhost",
    "\"user%remote.example\"@localhost",
    "\"remote.example!user\"@localhost",
    "user@remote.example@localhost",
    "@localhost:user@remote.example",
    "@localhost,@mx.example.com:user@remote.example",
    "user@[192.0.2.1]",
    "user@[IPv6:2001:db8::1]",
    "\"user@[192.0.2.1]\"@localhost",
    "user%remote.example%localhost@localhost",
    "remote.example!user%localhost@localhost",
    "user%localhost@remote.example",
    "user@localhost@remote.example",
    "localhost!user@remote.example",
    "user@localhost.remote.example",
    "user@sub.localhost",
    "user%[192.0.2.1]@localhost",
    "user@remote.example@[127.0.0.1]",
    "postmaster@remote.example",
];

/// Genuinely local: after stripping our own domains nothing points away.
const LOCAL: &[&str] = &[
    "user@localhost",
    "USER@LOCALHOST",
    "user@localhost.",
    "\"user\"@localhost",
    "user%localhost@localhost",
    "localhost!user@localhost",
    "user@localhost@localhost",
    "user@[127.0.0.1]",
    "postmaster",
];

#[test]
fn address_tricks_never_open_relay() {
    let r = restrictions(RELAY);
    for addr in REMOTE {
        let got = text(&rcpt(&r, "192.0.2.99", addr));
        assert_eq!(
            got,
            format!("554 5.7.1 <{addr}>: Relay access denied"),
            "{addr}"
        );
    }
    for addr in LOCAL {
        assert_eq!(text(&rcpt(&r, "192.0.2.99", addr)), "Continue", "{addr}");
    }
    // From mynetworks the same remote addresses relay.
    for addr in [
        "user@remote.example",
        "user%remote.example@localhost",
        "user@[192.0.2.1]",
    ] {
        assert_eq!(text(&rcpt(&r, "127.0.0.1", addr)), "Continue", "{addr}");
    }
}

#[test]
fn resolver_classes_and_routing_flag() {
    let r = restrictions("relay_domains = relay.example\nvirtual_alias_domains = alias.example");
    let res = |a: &str| r.resolver.resolve(a).unwrap();
    assert_eq!(res("joe@localhost").class, Class::Local);
    assert_eq!(res("joe@x.relay.example").class, Class::Relay);
    assert_eq!(res("joe@alias.example").class, Class::VirtualAlias);
    let routed = res("joe%elsewhere.example@relay.example");
    assert_eq!((routed.class, routed.routed), (Class::Relay, true));
    let hop = res("joe%relay.example@LOCALHOST.");
    assert_eq!(
        (hop.local.as_str(), hop.domain.as_str()),
        ("joe", "relay.example")
    );
    assert_eq!((hop.class, hop.routed), (Class::Relay, false));
    let hops = res("joe%x.example%relay.example@localhost");
    assert_eq!((hops.class, hops.routed), (Class::Relay, true));
    // Sender-specified routing through a relay domain is refused to
    // strangers unless allow_untrusted_routing says otherwise.
    let r2 = restrictions(&format!("{RELAY}\nrelay_domains = relay.example"));
    assert_eq!(
        text(&rcpt(&r2, "192.0.2.99", "joe@relay.example")),
        "Continue"
    );
    assert_eq!(
        text(&rcpt(&r2, "192.0.2.99", "joe%x.example@relay.example")),
        "554 5.7.1 <joe%x.example@relay.example>: Relay access denied"
    );
    let r3 = restrictions(&format!(
        "{RELAY}\nrelay_domains = relay.example\nallow_untrusted_routing = yes"
    ));
    assert_eq!(
        text(&rcpt(&r3, "192.0.2.99", "joe%x.example@relay.example")),
        "Continue"
    );
}

#[test]
fn percent_hack_and_bang_paths_off_still_refuse() {
    let r = restrictions(&format!(
        "{RELAY}\nallow_percent_hack = no\nswap_bangpath = no"
    ));
    // Local part "user%remote.example" stays at localhost: final delivery here,
    // which the local recipient table then refuses.
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "user%remote.example@localhost")),
        "550 5.1.1 <user%remote.example@localhost>: Recipient address rejected: User unknown in local recipient table"
    );
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "user%remote.example@other.example")),
        "554 5.7.1 <user%remote.example@other.example>: Relay access denied"
    );
}

#[test]
fn default_relay_restrictions_defer() {
    // Postfix 3.7 with compatibility_level >= 1: permit_mynetworks,
    // permit_sasl_authenticated, defer_unauth_destination, whose code is
    // relay_domains_reject_code - 100.
    let r = restrictions("");
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "user@remote.example")),
        "454 4.7.1 <user@remote.example>: Relay access denied"
    );
    assert_eq!(
        text(&rcpt(&r, "127.0.0.1", "user@remote.example")),
        "Continue"
    );
    assert_eq!(text(&rcpt(&r, "192.0.2.99", "joe@localhost")), "Continue");
}

#[test]
fn relay_domains_and_relay_recipients() {
    let r = restrictions(&format!(
        "{RELAY}\nrelay_domains = relay.example\nrelay_recipient_maps = inline:{{ known@relay.example=x }}"
    ));
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "known@relay.example")),
        "Continue"
    );
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "other@relay.example")),
        "550 5.1.1 <other@relay.example>: Recipient address rejected: User unknown in relay recipient table"
    );
}

#[test]
fn recipient_access_ok_never_opens_relay() {
    // A common main.cf: "our domains OK" in a recipient access table, ahead
    // of relay control. Postfix looks up the resolved address and distrusts
    // an OK for a source-routed recipient; so does Postern.
    let r = restrictions(
        "smtpd_relay_restrictions =\n\
         smtpd_recipient_restrictions = check_recipient_access inline:{ localhost=OK, example.com=OK }, permit_mynetworks, reject_unauth_destination",
    );
    for addr in [
        "user%remote.example@localhost",
        "remote.example!user@localhost",
        "\"user@remote.example\"@localhost",
        "user@remote.example@localhost",
        "user%remote.example@example.com",
        "remote.example!user@example.com",
        "user@remote.example@example.com",
    ] {
        assert_eq!(
            text(&rcpt(&r, "192.0.2.99", addr)),
            format!("554 5.7.1 <{addr}>: Relay access denied"),
            "{addr}"
        );
    }
    // The OK still works for what it names.
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "user@example.com")),
        "Continue"
    );
    assert_eq!(text(&rcpt(&r, "192.0.2.99", "joe@localhost")), "Continue");
}

#[test]
fn bare_postmaster_is_always_accepted() {
    let r = restrictions(&format!("{RELAY}\nsmtpd_client_restrictions = reject"));
    assert_eq!(text(&rcpt(&r, "192.0.2.99", "PostMaster")), "Continue");
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "postmaster@remote.example")),
        "554 5.7.1 <unknown[192.0.2.99]>: Client host rejected: Access denied"
    );
}

#[test]
fn internal_form_from_smtpd() {
    // Postfix's smtpd unquotes the local part before the checks (its logs say
    // <user@remote.example@localhost> for "user@remote.example"@localhost);
    // both forms resolve the same way here.
    let r = restrictions(&format!("{RELAY}\nsmtpd_reject_unlisted_recipient = no"));
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "john doe@localhost")),
        "Continue"
    );
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "john doe@remote.example")),
        "554 5.7.1 <john doe@remote.example>: Relay access denied"
    );
    assert_eq!(
        text(&rcpt(&r, "192.0.2.99", "john doe@remote.example@localhost")),
        "554 5.7.1 <john doe@remote.example@localhost>: Relay access denied"
    );
}
