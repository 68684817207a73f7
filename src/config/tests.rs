//! Unit tests of `Config`: loading, expansion against defaults, overrides, unused
//! parameters.

#![cfg(test)]

use super::*;

fn dir_with(main: &str, master: Option<&str>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("main.cf"), main).unwrap();
    if let Some(m) = master {
        std::fs::write(d.path().join("master.cf"), m).unwrap();
    }
    d
}

#[test]
fn get_expands_main_cf_and_defaults() {
    let d = dir_with(
        "myhostname = mx.example.org\nsmtpd_tls_key_file = $smtpd_tls_cert_file\nsmtpd_tls_cert_file = /c.pem\n",
        Some(""),
    );
    let c = Config::load(d.path()).unwrap();
    assert_eq!(c.get("smtpd_tls_key_file"), "/c.pem");
    assert_eq!(c.raw("smtpd_tls_key_file"), Some("$smtpd_tls_cert_file"));
    assert_eq!(c.raw("mydomain"), None);
    // mydomain defaults to the configured myhostname minus its first label.
    assert_eq!(c.get("mydomain"), "example.org");
    assert_eq!(c.get("smtpd_banner"), "mx.example.org ESMTP Postfix");
    assert_eq!(c.get("config_directory"), d.path().to_string_lossy());
    assert_eq!(c.get("no_such_parameter"), "");
    // Compatibility level 0 (Postfix 3.7 default): relay_domains = $mydestination.
    assert_eq!(c.get("relay_domains"), c.get("mydestination"));
    assert_eq!(c.get("smtp_tls_fingerprint_digest"), "md5");
}

#[test]
fn compatibility_level_changes_defaults() {
    let d = dir_with("compatibility_level = 3.6\n", Some(""));
    let c = Config::load(d.path()).unwrap();
    assert_eq!(c.get("relay_domains"), "");
    assert_eq!(c.get("smtp_tls_fingerprint_digest"), "sha256");
    assert_eq!(c.get("mynetworks_style"), "host");
    assert!(!c.get("mynetworks").contains("127.0.0.0/8"));
}

#[test]
fn typed_values() {
    let d = dir_with(
        "maximal_queue_lifetime = 5\nsmtp_connect_timeout = 1m\nsmtpd_use_tls = YES\nsmtp_tls_loglevel = x\nmessage_size_limit = 20480000\nsmtp_helo_timeout = 60s # comment\n",
        Some(""),
    );
    let c = Config::load(d.path()).unwrap();
    assert_eq!(
        c.get_time("maximal_queue_lifetime").unwrap().as_secs(),
        5 * 86_400
    );
    assert_eq!(c.get_time("smtp_connect_timeout").unwrap().as_secs(), 60);
    assert_eq!(
        c.get_time("bounce_queue_lifetime").unwrap().as_secs(),
        5 * 86_400
    );
    assert!(c.get_bool("smtpd_use_tls").unwrap());
    assert!(!c.get_bool("smtp_use_tls").unwrap());
    assert_eq!(c.get_long("message_size_limit").unwrap(), 20_480_000);
    assert_eq!(
        c.get_int("smtp_tls_loglevel").unwrap_err().to_string(),
        "bad numerical configuration: smtp_tls_loglevel = x"
    );
    assert_eq!(
        c.get_time("smtp_helo_timeout").unwrap_err().to_string(),
        "parameter smtp_helo_timeout: bad time value or unit: 60s # comment"
    );
    assert_eq!(c.get_list("mydestination").len(), 3);
}

#[test]
fn overrides_make_a_new_snapshot() {
    let d = dir_with("smtpd_tls_security_level = may\n", Some(""));
    let c = Config::load(d.path()).unwrap();
    let o = c
        .with_overrides(&[("smtpd_tls_security_level".into(), "encrypt".into())])
        .unwrap();
    assert_eq!(c.get("smtpd_tls_security_level"), "may");
    assert_eq!(o.get("smtpd_tls_security_level"), "encrypt");
    assert!(c.with_overrides(&[("x".into(), "${y".into())]).is_err());
}

#[test]
fn load_errors_name_file_line_parameter() {
    let d = dir_with("a = 1\nb = x ${abc\n", None);
    let e = Config::load(d.path()).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}/main.cf, line 2: parameter b: truncated macro reference: \"${{abc\"",
            d.path().display()
        )
    );
    let d = dir_with("a = $b\nb = $a\n", None);
    let e = Config::load(d.path()).unwrap_err().to_string();
    assert!(
        e.ends_with("main.cf, line 1: parameter a: unreasonable macro call nesting: \"a\""),
        "{e}"
    );
    let d = tempfile::tempdir().unwrap();
    let e = Config::load(d.path()).unwrap_err().to_string();
    assert!(
        e.starts_with("open ") && e.ends_with("main.cf: No such file or directory"),
        "{e}"
    );
}

#[test]
fn unused_parameters_follow_postfix() {
    let master =
        "smtp unix - - y - - smtp\nrelay unix - - y - - smtp\nlocal unix - n n - - local\n\
                  maildrop unix - n n - - pipe flags=DRXhu user=vmail argv=/usr/bin/maildrop\n\
                  sub inet n - y - - smtpd -o x_y=1 -o z=$zz\n";
    let d = dir_with(
        "smtp_foo_bar = 1\nsmtp_destination_concurrency_limit = 3\nrelay_destination_recipient_limit=2\n\
         bogus_destination_concurrency_limit=4\nlocal_recipient_limit = 3\nlocal_time_limit = 3\n\
         maildrop_time_limit = 9\nx = 1\ny = $x\nzz = 1\n",
        Some(master),
    );
    let c = Config::load(d.path()).unwrap();
    let names: Vec<String> = c.unused().iter().map(|u| u.name.clone()).collect();
    assert_eq!(
        names,
        [
            "smtp_foo_bar",
            "bogus_destination_concurrency_limit",
            "local_time_limit",
            "y",
            "x_y",
            "z"
        ]
    );
    let first = &c.unused()[0];
    assert_eq!(
        first.to_string(),
        format!(
            "{}/main.cf: unused parameter: smtp_foo_bar=1",
            d.path().display()
        )
    );
}

#[test]
fn missing_master_cf_is_a_warning() {
    let d = dir_with("", None);
    let c = Config::load(d.path()).unwrap();
    assert_eq!(c.warnings().len(), 1);
    assert!(c.warnings()[0].starts_with("open "));
}

#[test]
fn per_transport_parameters_default_to_the_global_ones() {
    let d = dir_with(
        "default_destination_concurrency_limit = 7\nfoo_recipient_limit = 3\ncommand_time_limit = 2m\n",
        Some("foo unix - n n - - pipe argv=/bin/cat\n"),
    );
    let c = Config::load(d.path()).unwrap();
    assert_eq!(c.get_int("foo_destination_concurrency_limit").unwrap(), 7);
    assert_eq!(c.get_int("foo_recipient_limit").unwrap(), 3);
    assert_eq!(c.get_int("foo_initial_destination_concurrency").unwrap(), 5);
    assert_eq!(c.get_time("foo_time_limit").unwrap().as_secs(), 120);
    assert!(c.unused().is_empty(), "{:?}", c.unused());
}

#[test]
fn config_is_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<std::sync::Arc<Config>>();
}
