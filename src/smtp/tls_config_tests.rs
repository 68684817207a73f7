//! Unit tests of tls_config.rs: main.cf text in, `ClientSettings` or an error
//! naming the parameter out.

use super::*;
use crate::config::MainCf;
use std::path::Path;
use std::time::Duration;

fn cfg(text: &str) -> Config {
    let main = MainCf::parse(Path::new("/x/main.cf"), text.as_bytes()).unwrap();
    Config::from_main(Path::new("/x"), main).unwrap()
}

fn err(text: &str) -> String {
    client_settings(&cfg(text)).unwrap_err().to_string()
}

#[test]
fn defaults_are_postfix_37() {
    let s = client_settings(&cfg("compatibility_level = 3.6\n")).unwrap();
    let d = ClientSettings::default();
    assert_eq!(s.smtp_tls_security_level, TlsLevel::None);
    assert_eq!(s.smtp_tls_protocols, d.smtp_tls_protocols);
    assert_eq!(
        s.smtp_tls_mandatory_protocols,
        d.smtp_tls_mandatory_protocols
    );
    assert_eq!(s.smtp_tls_ciphers, "medium");
    assert_eq!(s.smtp_tls_secure_cert_match, "nexthop, dot-nexthop");
    assert_eq!(s.smtp_tls_verify_cert_match, "hostname");
    assert_eq!(s.smtp_tls_fingerprint_digest, "sha256");
    assert_eq!(s.smtp_tls_scert_verifydepth, 9);
    assert_eq!(s.smtp_tls_session_cache_timeout, Duration::from_secs(3600));
    assert_eq!(s.smtp_tls_loglevel, 0);
    assert_eq!(s.tls, TlsGlobals::default());
    // Before compatibility level 3.6 the digest default is md5.
    let s = client_settings(&cfg("compatibility_level = 2\n")).unwrap();
    assert_eq!(s.smtp_tls_fingerprint_digest, "md5");
}

#[test]
fn every_parameter_is_read() {
    let s = client_settings(&cfg("smtp_tls_security_level = secure\n\
         smtp_tls_cert_file = /c.pem\n\
         smtp_tls_CAfile = /ca.pem\n\
         smtp_tls_CApath = /capath\n\
         smtp_tls_protocols = !SSLv2, !SSLv3\n\
         smtp_tls_mandatory_protocols = >=TLSv1.2\n\
         smtp_tls_ciphers = high\n\
         smtp_tls_mandatory_ciphers = high\n\
         smtp_tls_exclude_ciphers = RC4\n\
         smtp_tls_mandatory_exclude_ciphers = MD5\n\
         smtp_tls_servername = hostname\n\
         smtp_tls_scert_verifydepth = 5\n\
         smtp_tls_verify_cert_match = hostname, nexthop\n\
         smtp_tls_secure_cert_match = nexthop\n\
         smtp_tls_fingerprint_cert_match = AB:CD\n\
         smtp_tls_fingerprint_digest = sha1\n\
         smtp_tls_session_cache_timeout = 10m\n\
         smtp_tls_loglevel = 2\n\
         tls_append_default_CA = yes\n\
         tls_wildcard_matches_multiple_labels = no\n\
         tls_ssl_options = NO_TICKET\n"))
    .unwrap();
    assert_eq!(s.smtp_tls_security_level, TlsLevel::Secure);
    assert_eq!(s.smtp_tls_cert_file, "/c.pem");
    // smtp_tls_key_file defaults to $smtp_tls_cert_file.
    assert_eq!(s.smtp_tls_key_file, "/c.pem");
    assert_eq!(s.smtp_tls_CAfile, "/ca.pem");
    assert_eq!(s.smtp_tls_CApath, "/capath");
    assert_eq!(s.smtp_tls_protocols, "!SSLv2, !SSLv3");
    assert_eq!(s.smtp_tls_mandatory_protocols, ">=TLSv1.2");
    assert_eq!(s.smtp_tls_ciphers, "high");
    assert_eq!(s.smtp_tls_mandatory_ciphers, "high");
    assert_eq!(s.smtp_tls_exclude_ciphers, "RC4");
    assert_eq!(s.smtp_tls_mandatory_exclude_ciphers, "MD5");
    assert_eq!(s.smtp_tls_servername, "hostname");
    assert_eq!(s.smtp_tls_scert_verifydepth, 5);
    assert_eq!(s.smtp_tls_verify_cert_match, "hostname, nexthop");
    assert_eq!(s.smtp_tls_secure_cert_match, "nexthop");
    assert_eq!(s.smtp_tls_fingerprint_cert_match, "AB:CD");
    assert_eq!(s.smtp_tls_fingerprint_digest, "sha1");
    assert_eq!(s.smtp_tls_session_cache_timeout, Duration::from_secs(600));
    assert_eq!(s.smtp_tls_loglevel, 2);
    assert!(s.tls.tls_append_default_CA);
    assert!(!s.tls.tls_wildcard_matches_multiple_labels);
    assert_eq!(s.tls.tls_ssl_options, "NO_TICKET");
}

#[test]
fn deprecated_switches_map_as_postfix() {
    let level = |t: &str| client_settings(&cfg(t)).unwrap().smtp_tls_security_level;
    assert_eq!(level("smtp_use_tls = yes\n"), TlsLevel::May);
    assert_eq!(level("smtp_enforce_tls = yes\n"), TlsLevel::Verify);
    assert_eq!(
        level("smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no\n"),
        TlsLevel::Encrypt
    );
    // An explicit level wins over the old switches.
    assert_eq!(
        level("smtp_enforce_tls = yes\nsmtp_tls_security_level = may\n"),
        TlsLevel::May
    );
    assert_eq!(
        level("smtp_tls_security_level = dane-only\n"),
        TlsLevel::DaneOnly
    );
}

#[test]
fn bad_values_name_parameter_and_value() {
    assert_eq!(
        err("smtp_tls_security_level = sometimes\n"),
        "invalid smtp_tls_security_level value \"sometimes\": invalid tls security level"
    );
    assert_eq!(
        err("smtp_use_tls = maybe\n"),
        "bad boolean configuration: smtp_use_tls = maybe"
    );
    let e = err("smtp_tls_fingerprint_digest = sha3\n");
    assert!(
        e.contains("smtp_tls_fingerprint_digest") && e.contains("sha3"),
        "{e}"
    );
    let e = err("smtp_tls_mandatory_protocols = >=TLSv9\n");
    assert!(e.contains("smtp_tls_mandatory_protocols"), "{e}");
    let e = err("smtp_tls_protocols = !TLSv1.4\n");
    assert!(e.contains("smtp_tls_protocols"), "{e}");
    let e = err("smtp_tls_ciphers = strong\n");
    assert!(
        e.contains("smtp_tls_ciphers") && e.contains("strong"),
        "{e}"
    );
    let e = err("smtp_tls_mandatory_exclude_ciphers = !RC4\n");
    assert!(e.contains("smtp_tls_mandatory_exclude_ciphers"), "{e}");
    assert_eq!(
        err("smtp_tls_scert_verifydepth = -1\n"),
        "invalid smtp_tls_scert_verifydepth value \"-1\": must not be negative"
    );
    assert_eq!(
        err("smtp_tls_loglevel = lots\n"),
        "bad numerical configuration: smtp_tls_loglevel = lots"
    );
    assert_eq!(
        err("smtp_tls_session_cache_timeout = 1y\n"),
        "parameter smtp_tls_session_cache_timeout: bad time value or unit: 1y"
    );
    assert_eq!(
        err("smtp_tls_servername = bad..name\n"),
        "invalid smtp_tls_servername value \"bad..name\": specifies an invalid hostname"
    );
    let e = err("tls_ssl_options = NO_SUCH_OPTION\n");
    assert!(e.contains("tls_ssl_options"), "{e}");
    assert_eq!(
        err("tls_append_default_CA = perhaps\n"),
        "bad boolean configuration: tls_append_default_CA = perhaps"
    );
}

#[test]
fn host_names() {
    assert!(valid_hostname("mx.example.com"));
    assert!(valid_hostname("mx_1.example.com."));
    assert!(valid_hostname("localhost"));
    assert!(!valid_hostname("192.0.2.1"));
    assert!(!valid_hostname("-bad.example"));
    assert!(!valid_hostname("a..b"));
    assert!(!valid_hostname("[192.0.2.1]"));
    assert!(!valid_hostname(""));
}
