//! Bad TLS settings give errors that name the parameter and the file, as an
//! administrator needs to fix them. Mirrors the warnings of Postfix
//! `tls_certkey.c`/`tls_misc.c`; sets `smtpd_tls_*`/`smtp_tls_*` values directly.

use super::*;
use crate::tls::error::ConfigError;

fn server_error(ss: &ServerSettings) -> String {
    ServerContext::new(ss, "smtp").unwrap_err().to_string()
}

#[test]
fn missing_certificate_file() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_cert_file = pki.path("nonexistent.pem");
    ss.smtpd_tls_key_file.clear();
    let err = server_error(&ss);
    assert!(
        err.starts_with("cannot read smtpd_tls_cert_file file "),
        "{err}"
    );
    assert!(err.contains("nonexistent.pem"), "{err}");
}

#[test]
fn missing_key_file() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_key_file = pki.path("nokey.pem");
    let err = server_error(&ss);
    assert!(
        err.starts_with("cannot read smtpd_tls_key_file file "),
        "{err}"
    );
}

#[test]
fn key_in_cert_file_is_the_default() {
    let pki = Pki::new();
    let both = pki.path("both.pem");
    let mut pem = pki.server.cert.to_pem().unwrap();
    pem.extend(pki.server.key.private_key_to_pem_pkcs8().unwrap());
    std::fs::write(&both, pem).unwrap();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_cert_file = both;
    ss.smtpd_tls_key_file.clear();
    ServerContext::new(&ss, "smtp").unwrap();
    // Without a key in it, the error names the key parameter and the cert file.
    ss.smtpd_tls_cert_file = pki.server.cert_file.clone();
    let err = server_error(&ss);
    assert_eq!(
        err,
        format!(
            "no private key found in smtpd_tls_key_file file {}",
            pki.server.cert_file
        )
    );
}

#[test]
fn mismatched_key() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_key_file = pki.client.key_file.clone();
    let err = ServerContext::new(&ss, "smtp").unwrap_err();
    assert!(matches!(err, ConfigError::KeyMismatch { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "private key in smtpd_tls_key_file file {} does not match the certificate in smtpd_tls_cert_file file {}",
            pki.client.key_file, pki.server.cert_file
        )
    );
}

#[test]
fn garbage_certificate() {
    let pki = Pki::new();
    let bad = pki.path("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_cert_file = bad;
    let err = server_error(&ss);
    assert!(
        err.starts_with("cannot load certificate from smtpd_tls_cert_file file "),
        "{err}"
    );
}

#[test]
fn no_certificate_at_all() {
    let err = server_error(&ServerSettings::default());
    assert!(err.contains("smtpd_tls_cert_file"), "{err}");
}

#[test]
fn bad_ca_file_and_path() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_CAfile = pki.path("no-ca.pem");
    assert!(server_error(&ss).starts_with("cannot read smtpd_tls_CAfile file "));
    let mut cs = client_settings(&pki);
    cs.smtp_tls_CApath = pki.path("no-such-dir");
    let err = ClientContext::new(&cs).unwrap_err().to_string();
    assert!(
        err.starts_with("cannot read smtp_tls_CApath file "),
        "{err}"
    );
}

#[test]
fn bad_protocols_ciphers_and_digest() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_protocols = "!SSLv2, TLSv1.4".into();
    assert!(server_error(&ss).starts_with("invalid smtpd_tls_protocols value \"!SSLv2, TLSv1.4\""));
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_security_level = crate::tls::TlsLevel::Encrypt;
    ss.smtpd_tls_mandatory_ciphers = "strong".into();
    assert!(server_error(&ss).starts_with("invalid smtpd_tls_mandatory_ciphers value \"strong\""));
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_fingerprint_digest = "sha3".into();
    assert!(server_error(&ss).starts_with("invalid smtpd_tls_fingerprint_digest value \"sha3\""));
    let mut cs = client_settings(&pki);
    cs.smtp_tls_cert_file = pki.path("absent-client.pem");
    let err = ClientContext::new(&cs).unwrap_err().to_string();
    assert!(
        err.starts_with("cannot read smtp_tls_cert_file file "),
        "{err}"
    );
}

#[test]
fn bad_policy_attribute_fails_before_connecting() {
    let pki = Pki::new();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let policy = ClientPolicy {
        level: crate::tls::TlsLevel::Encrypt,
        ciphers: Some("ultra".into()),
        ..ClientPolicy::default()
    };
    let err = client
        .prepare(&policy, &peer("example.com", "mx.example.com", 25))
        .unwrap_err();
    assert!(err.to_string().contains("ciphers"), "{err}");
}
