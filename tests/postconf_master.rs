//! `postconf -M`, `-F` and `-P` on master.cf: the same output as real Postfix
//! 3.7, for the stock master.cf and for entries with `-o` overrides.

mod config_util;

use config_util::{confdir, postern, postfix, stock_master_cf};

const EXTRA: &str = "submission inet n - y - - smtpd
  -o syslog_name=postfix/submission
  -o { smtpd_tls_security_level = encrypt }  -o smtpd_sasl_auth_enable=yes
# a comment between continuation lines
  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
pipeline unix - n n - 2 pipe flags=R user=x argv=/bin/cat { a b } ${nexthop}
odd inet n - y - - smtpd -o not_a_parameter=1 -o { also_not = a b }
";

fn compare(master: &str, args: &[&str]) {
    let dir = confdir("", Some(master));
    let mut a = vec!["-c", dir.path().to_str().unwrap()];
    a.extend_from_slice(args);
    let ours = postern("postconf", &a);
    let theirs = postfix(&a);
    assert_eq!(ours.code, theirs.code, "{args:?}: {}", ours.stderr);
    assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
    assert!(!ours.stdout.is_empty(), "{args:?}: {}", ours.stderr);
    let set = |t: &str| {
        t.lines()
            .map(str::to_string)
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(set(&ours.stderr), set(&theirs.stderr), "{args:?}");
}

#[test]
fn stock_master_cf_shows_as_postfix() {
    let m = stock_master_cf();
    for args in [
        &["-M"][..],
        &["-F"][..],
        &["-P"][..],
        &["-M", "smtp"][..],
        &["-M", "relay/unix", "pickup"][..],
        &["-Fh", "qmgr/unix"][..],
    ] {
        compare(&m, args);
    }
}

#[test]
fn overrides_and_braces_show_as_postfix() {
    let m = format!("{}{EXTRA}", stock_master_cf());
    for args in [&["-M"][..], &["-P"][..], &["-F", "submission/inet"][..]] {
        compare(&m, args);
    }
}

#[test]
fn unmatched_request_warns() {
    let dir = confdir("", Some(&stock_master_cf()));
    let o = postern(
        "postconf",
        &["-c", dir.path().to_str().unwrap(), "-M", "nosuch/inet"],
    );
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stderr,
        "postconf: warning: unmatched request: \"nosuch/inet\"\n"
    );
}

#[test]
fn bad_master_cf_names_file_and_line() {
    let dir = confdir("", Some("# c\nsmtp inet n - y\n"));
    let d = dir.path().to_str().unwrap();
    let o = postern("postconf", &["-c", d, "-M"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!("postconf: fatal: file {d}/master.cf: line 2: bad field count\n")
    );
}
