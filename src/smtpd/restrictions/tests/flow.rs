//! Which lists run when (smtpd_delay_reject), the modifiers
//! (defer_if_permit, warn_if_reject), the simple syntax checks, the unlisted
//! recipient check, and construction errors that name the parameter.

use super::{config, facts, ip, rcpt, restrictions, text};
use crate::smtpd::restrictions::{Checkpoint, Facts, Restrictions, Verdict};

#[test]
fn shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Restrictions>();
}

#[test]
fn delay_reject_moves_client_checks_to_rcpt() {
    let list = "smtpd_client_restrictions = permit_mynetworks, reject";
    let r = restrictions(list);
    let f = facts("192.0.2.1", "joe@localhost", None);
    assert_eq!(r.check(Checkpoint::Connect, &f).verdict, Verdict::Continue);
    assert_eq!(r.check(Checkpoint::Mail, &f).verdict, Verdict::Continue);
    assert_eq!(
        text(&r.check(Checkpoint::Rcpt, &f).verdict),
        "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied"
    );
    let r = restrictions(&format!("{list}\nsmtpd_delay_reject = no"));
    assert_eq!(
        text(&r.check(Checkpoint::Connect, &f).verdict),
        "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied"
    );
    let local = facts("127.0.0.1", "joe@localhost", None);
    assert_eq!(
        r.check(Checkpoint::Connect, &local).verdict,
        Verdict::Continue
    );
}

#[test]
fn helo_checks() {
    let r = restrictions(
        "smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname",
    );
    let helo = |h: &'static str| {
        let f = Facts {
            helo: Some(h),
            ..facts("192.0.2.1", "joe@localhost", None)
        };
        text(&r.check(Checkpoint::Rcpt, &f).verdict)
    };
    assert_eq!(
        helo("foo"),
        "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"
    );
    assert_eq!(
        helo("bad_name!"),
        "501 5.5.2 <bad_name!>: Helo command rejected: Invalid name"
    );
    assert_eq!(helo("mail.example.org"), "Continue");
    assert_eq!(helo("[192.0.2.1]"), "Continue");
}

#[test]
fn sender_and_recipient_syntax_checks() {
    let r = restrictions(
        "smtpd_sender_restrictions = reject_non_fqdn_sender\n\
         smtpd_recipient_restrictions = reject_non_fqdn_recipient\n\
         mydestination = localhost, mx.example.com",
    );
    let ask = |s: &'static str, rc: &'static str| {
        let f = Facts {
            sender: Some(s),
            ..facts("192.0.2.1", rc, None)
        };
        text(&r.check(Checkpoint::Rcpt, &f).verdict)
    };
    assert_eq!(
        ask("joe@localhost", "user@localhost"),
        "504 5.5.2 <joe@localhost>: Sender address rejected: need fully-qualified address"
    );
    assert_eq!(
        ask("", "user@mx.example.com"),
        "Continue",
        "the null sender is never checked"
    );
    assert_eq!(
        ask("a@b.example", "user"),
        "504 5.5.2 <user>: Recipient address rejected: need fully-qualified address"
    );
}

#[test]
fn unlisted_local_recipient() {
    let r = restrictions("");
    assert_eq!(
        text(&rcpt(&r, "192.0.2.1", "nouser@localhost")),
        "550 5.1.1 <nouser@localhost>: Recipient address rejected: User unknown in local recipient table"
    );
    // Also after a permit from mynetworks, as Postfix's smtpd_check_rcptmap.
    assert_eq!(
        text(&rcpt(&r, "127.0.0.1", "nouser@localhost")),
        "550 5.1.1 <nouser@localhost>: Recipient address rejected: User unknown in local recipient table"
    );
    let r = restrictions("smtpd_reject_unlisted_recipient = no");
    assert_eq!(text(&rcpt(&r, "192.0.2.1", "nouser@localhost")), "Continue");
    let r = restrictions("local_recipient_maps =");
    assert_eq!(text(&rcpt(&r, "192.0.2.1", "nouser@localhost")), "Continue");
    let r = restrictions(
        "show_user_unknown_table_name = no\nunknown_local_recipient_reject_code = 450",
    );
    assert_eq!(
        text(&rcpt(&r, "192.0.2.1", "nouser@localhost")),
        "450 4.1.1 <nouser@localhost>: Recipient address rejected: User unknown"
    );
}

#[test]
fn defer_if_permit_and_warn_if_reject() {
    let r = restrictions("smtpd_client_restrictions = defer_if_permit, permit");
    assert_eq!(
        text(&rcpt(&r, "192.0.2.1", "joe@localhost")),
        "450 4.7.0 <unknown[192.0.2.1]>: Client host rejected: defer_if_permit requested"
    );
    // A real rejection still wins over the deferral.
    assert_eq!(
        text(&rcpt(&r, "192.0.2.1", "x@remote.example")),
        "454 4.7.1 <x@remote.example>: Relay access denied"
    );
    let r = restrictions("smtpd_client_restrictions = warn_if_reject, reject, permit");
    let d = r.check(Checkpoint::Rcpt, &facts("192.0.2.1", "joe@localhost", None));
    assert_eq!(d.verdict, Verdict::Continue);
    assert_eq!(
        d.warnings.iter().map(|w| w.log_text()).collect::<Vec<_>>(),
        ["554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied"]
    );
}

#[test]
fn plaintext_pipelining_and_bounces() {
    let r = restrictions(
        "smtpd_data_restrictions = reject_unauth_pipelining, reject_multi_recipient_bounce\n\
         smtpd_sender_restrictions = reject_plaintext_session",
    );
    let mut f = facts("192.0.2.1", "joe@localhost", None);
    assert_eq!(
        text(&r.check(Checkpoint::Rcpt, &f).verdict),
        "450 4.7.1 Session encryption is required"
    );
    f.pipelining_violation = true;
    assert_eq!(
        text(&r.check(Checkpoint::Data, &f).verdict),
        "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining"
    );
    f.pipelining_violation = false;
    f.sender = Some("");
    f.recipient_count = 2;
    assert_eq!(
        text(&r.check(Checkpoint::Data, &f).verdict),
        "550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce"
    );
    f.recipient_count = 1;
    assert_eq!(r.check(Checkpoint::Data, &f).verdict, Verdict::Continue);
}

#[test]
fn soft_bounce_turns_5xx_into_4xx() {
    let r = restrictions("soft_bounce = yes\nsmtpd_relay_restrictions = reject_unauth_destination");
    assert_eq!(
        text(&rcpt(&r, "192.0.2.1", "x@remote.example")),
        "454 4.7.1 <x@remote.example>: Relay access denied"
    );
}

#[test]
fn in_mynetworks_for_smtpd() {
    let r = restrictions("mynetworks = 127.0.0.0/8, [::1]/128, !192.0.2.5, 192.0.2.0/24");
    assert!(r.in_mynetworks(ip("127.0.0.1")));
    assert!(r.in_mynetworks(ip("::1")));
    assert!(r.in_mynetworks(ip("192.0.2.4")));
    assert!(!r.in_mynetworks(ip("192.0.2.5")));
    assert!(!r.in_mynetworks(ip("198.51.100.1")));
}

#[test]
fn mynetworks_style_default() {
    // Without mynetworks, config computes it from mynetworks_style (host:
    // the machine's own addresses, which include 127.0.0.1).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.cf"),
        super::BASE.replace("mynetworks = 127.0.0.0/8\n", "mynetworks_style = host\n"),
    )
    .unwrap();
    let cfg = crate::config::Config::load(dir.path()).unwrap();
    let r = Restrictions::new(&cfg).unwrap();
    assert!(r.in_mynetworks(ip("127.0.0.1")));
    assert!(!r.in_mynetworks(ip("192.0.2.200")));
}

fn error(extra: &str) -> String {
    let (_d, cfg) = config(extra);
    match Restrictions::new(&cfg) {
        Ok(_) => "no error".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn construction_errors_name_the_parameter() {
    assert_eq!(
        error("smtpd_client_restrictions = permit_mynetwork"),
        "parameter smtpd_client_restrictions: unknown restriction \"permit_mynetwork\""
    );
    assert_eq!(
        error("smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:10023"),
        "parameter smtpd_recipient_restrictions: restriction \"check_policy_service\" is not implemented in Postern"
    );
    assert_eq!(
        error("smtpd_helo_restrictions = check_helo_access"),
        "parameter smtpd_helo_restrictions: restriction \"check_helo_access\" needs a type:table argument"
    );
    assert!(
        error("smtpd_sender_restrictions = check_sender_access hash:/no/such/table")
            .starts_with("parameter smtpd_sender_restrictions: table hash:/no/such/table: ")
    );
    assert!(error("relay_clientcerts = hash:/no/such/certs")
        .starts_with("parameter relay_clientcerts: table hash:/no/such/certs"));
    assert!(error("local_recipient_maps = ldap:/x")
        .starts_with("parameter local_recipient_maps: table ldap:/x"));
    assert_eq!(
        error("smtpd_relay_restrictions = permit_mynetworks"),
        "in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains"
    );
    // A class that holds the relay control counts (Postfix has_required).
    assert_eq!(
        error("smtpd_restriction_classes = rc\nrc = reject_unauth_destination\nsmtpd_relay_restrictions = rc"),
        "no error"
    );
    assert!(error("reject_code = 250").contains("reject_code"));
    assert!(error("mynetworks = 10.0.0.1/8").contains("10.0.0.0/8"));
    // DNS-based domain checks are accepted, with a warning, and do nothing.
    assert_eq!(
        error("smtpd_sender_restrictions = reject_unknown_sender_domain"),
        "no error"
    );
}

#[test]
fn etrn_and_vrfy() {
    let r = restrictions("smtpd_etrn_restrictions = permit_mynetworks, reject");
    let f = facts("192.0.2.1", "example.org", None);
    assert_eq!(
        text(&r.check(Checkpoint::Etrn, &f).verdict),
        "554 5.7.1 <example.org>: Etrn command rejected: Access denied"
    );
    let f = facts("192.0.2.1", "x@remote.example", None);
    assert_eq!(
        text(&r.check(Checkpoint::Vrfy, &f).verdict),
        "454 4.7.1 <x@remote.example>: Relay access denied"
    );
}

#[test]
fn postfix_config_shapes() {
    // A bare table in a list is that list's own access check (def_acl).
    let r = restrictions("smtpd_client_restrictions = inline:{ 192.0.2.9=REJECT }");
    assert_eq!(
        text(&rcpt(&r, "192.0.2.9", "joe@localhost")),
        "554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied"
    );
    assert_eq!(
        error("smtpd_data_restrictions = inline:{ a=b }"),
        "parameter smtpd_data_restrictions: table \"inline:{ a=b }\" needs a check_*_access restriction before it"
    );
    assert_eq!(
        error("smtpd_restriction_classes = empty"),
        "restriction class `empty' needs a definition"
    );
    // has_required(): what follows `permit` never runs, so it does not count.
    assert!(
        error("smtpd_relay_restrictions = permit, reject_unauth_destination")
            .starts_with("in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions")
    );
    // `defer` has its own text.
    let r = restrictions("smtpd_helo_restrictions = defer");
    assert_eq!(
        text(&rcpt(&r, "192.0.2.9", "joe@localhost")),
        "450 4.3.2 <client.example.org>: Helo command rejected: Try again later"
    );
}

#[test]
fn helo_address_literals() {
    let r = restrictions("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname");
    let helo = |h: &'static str| {
        let f = Facts {
            helo: Some(h),
            ..facts("192.0.2.1", "joe@localhost", None)
        };
        text(&r.check(Checkpoint::Rcpt, &f).verdict)
    };
    assert_eq!(helo("[192.0.2.1]"), "Continue");
    assert_eq!(helo("[IPv6:2001:db8::1]"), "Continue");
    assert_eq!(
        helo("[300.1.2.3]"),
        "501 5.5.2 <[300.1.2.3]>: Helo command rejected: invalid ip address"
    );
}

#[test]
fn mail_system_addresses_are_never_unknown() {
    let r = restrictions("local_recipient_maps = inline:{ joe=x }");
    for a in [
        "MAILER-DAEMON@localhost",
        "postmaster@localhost",
        "double-bounce@localhost",
    ] {
        assert_eq!(text(&rcpt(&r, "192.0.2.1", a)), "Continue", "{a}");
    }
}

#[test]
fn class_names_vrfy_and_hold_placement() {
    // A class written in mixed case in main.cf.
    let r = restrictions(
        "smtpd_restriction_classes = MyClass\nMyClass = reject\nsmtpd_helo_restrictions = myclass",
    );
    assert_eq!(
        text(&rcpt(&r, "192.0.2.1", "joe@localhost")),
        "554 5.7.1 <client.example.org>: Helo command rejected: Access denied"
    );
    // VRFY gets the implicit unknown-recipient check too.
    let r = restrictions("");
    let f = facts("192.0.2.1", "nouser@localhost", None);
    assert_eq!(
        text(&r.check(Checkpoint::Vrfy, &f).verdict),
        "550 5.1.1 <nouser@localhost>: Recipient address rejected: User unknown in local recipient table"
    );
    // HOLD has no transaction to act on at CONNECT (smtpd_delay_reject = no).
    let r = restrictions(
        "smtpd_delay_reject = no\nsmtpd_client_restrictions = check_client_access inline:{ 192.0.2.1=HOLD }",
    );
    let f = Facts {
        sender: None,
        recipient: None,
        helo: None,
        ..facts("192.0.2.1", "", None)
    };
    assert_eq!(r.check(Checkpoint::Connect, &f).verdict, Verdict::Continue);
}

#[test]
fn bad_alias_table_is_reported_under_virtual_alias_maps() {
    let e = error("virtual_alias_maps = nosuchtype:/etc/x");
    assert!(
        e.starts_with("parameter virtual_alias_maps: table nosuchtype:/etc/x: unsupported dictionary type: nosuchtype"),
        "{e}"
    );
}
