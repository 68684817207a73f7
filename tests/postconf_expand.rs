//! `postconf -x`: expansion of tricky main.cf values (conditionals, relational
//! and compatibility-level expressions, computed defaults, whitespace) gives
//! what real Postfix 3.7 gives.

mod config_util;

use config_util::{confdir, postern, postfix, stock_master_cf};

fn compare(main: &str, names: &[&str]) {
    let dir = confdir(main, Some(&stock_master_cf()));
    let mut a = vec!["-c", dir.path().to_str().unwrap(), "-x"];
    a.extend_from_slice(names);
    let ours = postern("postconf", &a);
    let theirs = postfix(&a);
    assert_eq!(ours.code, theirs.code, "{main}: {}", ours.stderr);
    assert_eq!(ours.stdout, theirs.stdout, "{main}");
}

const NAMES: &[&str] = &[
    "myhostname",
    "mydomain",
    "myorigin",
    "mydestination",
    "relay_domains",
    "mynetworks_style",
    "smtpd_relay_restrictions",
    "smtp_tls_fingerprint_digest",
    "append_dot_mydomain",
    "smtputf8_enable",
    "smtp_tls_dane_insecure_mx_policy",
    "address_verify_poll_count",
    "syslog_name",
    "smtpd_banner",
    "relayhost",
    "default_rbl_reply",
    "mailbox_command",
];

#[test]
fn compatibility_levels() {
    for level in ["0", "1", "2", "3.5", "3.6", "3.7", "3.10"] {
        compare(&format!("compatibility_level = {level}\n"), NAMES);
    }
}

#[test]
fn conditionals_and_relations() {
    compare(
        "relayhost = ${stress?{a}:{b}} ${myhostname?{[$mydomain]}} ${nope:{x y}} $$lit\n\
         smtp_tls_security_level = dane\n\
         stress = yes\n\
         mailbox_command = /usr/bin/procmail -a \"$EXTENSION\"\n\
         myhostname = mx.example.org\n",
        NAMES,
    );
}

#[test]
fn myhostname_from_mydomain_default() {
    compare("myhostname = mx.$mydomain\n", NAMES);
}

#[test]
fn mydomain_set_explicitly() {
    compare(
        "mydomain = example.net\nmyhostname = mail.$mydomain\n",
        NAMES,
    );
}

#[test]
fn whitespace_is_collapsed_when_printed() {
    compare(
        "myhostname = a   b\t c\nrelayhost = $myhostname  ,  x\n",
        NAMES,
    );
}
