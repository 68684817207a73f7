//! `postconf -e`, `-X` and `-#` edit main.cf in place, keeping comments, blank
//! lines and order, and give the same file as real Postfix 3.7 does.

mod config_util;

use config_util::{confdir, postern, postfix};

const MAIN: &str = "# Top comment
myhostname = mx.example.org
    # indented comment
mydomain = example.org

# TLS, as seed 002 writes it
smtpd_tls_security_level = may # could also be secure if required
smtpd_tls_cert_file = /etc/ssl/cert.pem
relay_domains = example.net,
    example.com,
# comment inside a continued entry

    example.org
smtp_tls_security_level = may
";

/// Runs the same edit with Postern and with Postfix on two copies of `main`.
fn compare(main: &str, args: &[&str]) -> String {
    let ours_dir = confdir(main, Some(""));
    let theirs_dir = confdir(main, Some(""));
    let mut a = vec!["-c", ours_dir.path().to_str().unwrap()];
    a.extend_from_slice(args);
    let ours = postern("postconf", &a);
    a[1] = theirs_dir.path().to_str().unwrap();
    let theirs = postfix(&a);
    assert_eq!(ours.code, theirs.code, "{args:?}: {}", ours.stderr);
    let ours_text = std::fs::read_to_string(ours_dir.path().join("main.cf")).unwrap();
    let theirs_text = std::fs::read_to_string(theirs_dir.path().join("main.cf")).unwrap();
    assert_eq!(ours_text, theirs_text, "{args:?}");
    ours_text
}

#[test]
fn set_existing_and_new_parameters() {
    let t = compare(
        MAIN,
        &[
            "-e",
            "myhostname = mail.example.org",
            "relay_domains=",
            "relayhost=[smarthost]:587",
        ],
    );
    assert!(t.starts_with("# Top comment\nmyhostname = mail.example.org\n"));
    assert!(t.ends_with("relayhost = [smarthost]:587\n"));
    compare(MAIN, &["-e", "smtpd_tls_security_level = encrypt"]);
}

#[test]
fn remove_parameters() {
    let t = compare(MAIN, &["-X", "relay_domains", "mydomain", "nosuch"]);
    assert!(t.contains("# comment inside a continued entry"));
    assert!(!t.contains("example.com"));
}

#[test]
fn comment_out_parameters() {
    let t = compare(MAIN, &["-#", "relay_domains", "smtpd_tls_cert_file"]);
    assert!(t.contains("#relay_domains = example.net,\n#    example.com,\n"));
}

#[test]
fn duplicate_entries_all_change_with_a_warning() {
    let main = "myhostname = a\n  cont\nmydomain = x\nmyhostname = b\n";
    compare(main, &["-e", "myhostname=c"]);
    let dir = confdir(main, Some(""));
    let d = dir.path().to_str().unwrap();
    let o = postern("postconf", &["-c", d, "-e", "myhostname=c"]);
    assert!(
        o.stderr
            .contains(&format!("{d}/main.cf: multiple entries for \"myhostname\"")),
        "{}",
        o.stderr
    );
}

#[test]
fn malformed_assignment_is_fatal_and_changes_nothing() {
    let dir = confdir(MAIN, Some(""));
    let d = dir.path().to_str().unwrap();
    let o = postern("postconf", &["-c", d, "-e", "foo bar"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "postconf: fatal: missing '=' after attribute name: \"foo bar\"\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("main.cf")).unwrap(),
        MAIN
    );
}

#[test]
fn file_mode_is_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = confdir(MAIN, Some(""));
    let p = dir.path().join("main.cf");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = postern(
        "postconf",
        &["-c", dir.path().to_str().unwrap(), "-e", "biff=no"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o640
    );
}
