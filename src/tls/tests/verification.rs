//! Client-side level enforcement over real handshakes: `secure`/`verify` name
//! matching (match, mismatch, untrusted chain, wildcard) and `fingerprint`
//! digests (md5, sha1, sha256; certificate and public key; mismatch). Checks
//! behaviour of Postfix `tls_client.c`/`tls_fprint.c`; sets `smtp_tls_*` values directly.

use super::*;
use crate::tls::error::NotVerified;
use crate::tls::summary::{self, Usage};
use crate::tls::verify::{cert_fingerprint, pkey_fingerprint, FingerprintDigest};
use crate::tls::TlsLevel;

fn contexts(pki: &Pki, cs: ClientSettings) -> (ServerContext, ClientContext) {
    (
        ServerContext::new(&server_settings(pki), "smtp").unwrap(),
        ClientContext::new(&cs).unwrap(),
    )
}

#[test]
fn secure_matches_dot_nexthop_and_logs_verified() {
    let pki = Pki::new();
    let (server, client) = contexts(&pki, client_settings(&pki));
    let (_, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Secure),
        "example.com",
        "mx.example.com",
    );
    let c = c.unwrap();
    assert!(c.verified.is_some());
    assert!(c.facts.verified());
    assert_eq!(c.facts.level, Some(TlsLevel::Secure));
    let line = summary::log_summary(&c.facts, Usage::New, "mx.example.com[127.0.0.1]:25");
    assert!(
        line.starts_with(
            "Verified TLS connection established to mx.example.com[127.0.0.1]:25: TLSv1.3"
        ),
        "{line}"
    );
}

#[test]
fn secure_name_mismatch_is_not_verified() {
    let pki = Pki::new();
    let (server, client) = contexts(&pki, client_settings(&pki));
    let (_, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Secure),
        "example.org",
        "mx.example.com",
    );
    match c {
        Err(TlsError::NotVerified {
            reason: NotVerified::NameMismatch { names, .. },
            facts,
            ..
        }) => {
            assert_eq!(names, vec!["mx.example.com", "*.relay.example.net"]);
            assert!(facts.trusted && !facts.verified());
        }
        other => panic!("expected a name mismatch, got {other:?}"),
    }
}

#[test]
fn secure_with_untrusted_chain_is_not_verified() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_cert_file = pki.rogue_server.cert_file.clone();
    ss.smtpd_tls_key_file = pki.rogue_server.key_file.clone();
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let (_, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Secure),
        "example.com",
        "mx.example.com",
    );
    assert!(
        matches!(
            c,
            Err(TlsError::NotVerified {
                reason: NotVerified::Untrusted(_),
                ..
            })
        ),
        "{c:?}"
    );
    // `encrypt` does not care about the chain.
    let (_, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Encrypt),
        "example.com",
        "mx.example.com",
    );
    let c = c.unwrap();
    assert!(!c.facts.trusted);
    assert!(summary::log_summary(&c.facts, Usage::New, "h[a]:25")
        .starts_with("Untrusted TLS connection established to h[a]:25"));
}

#[test]
fn verify_matches_wildcard_hostname_and_literal_patterns() {
    let pki = Pki::new();
    let (server, client) = contexts(&pki, client_settings(&pki));
    // Default smtp_tls_verify_cert_match = hostname; *.relay.example.net covers it.
    let (_, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Verify),
        "example.net",
        "smtp.relay.example.net",
    );
    assert!(c.unwrap().verified.is_some());
    let policy = ClientPolicy {
        level: TlsLevel::Verify,
        matches: Some(vec!["other.example".into(), ".example.com".into()]),
        ..ClientPolicy::default()
    };
    let (_, c) = exchange(&server, &client, &policy, "x.invalid", "x.invalid");
    assert!(c.unwrap().verified.is_some());
    let policy = ClientPolicy {
        level: TlsLevel::Verify,
        matches: Some(vec!["mail.example.com".into()]),
        ..ClientPolicy::default()
    };
    let (_, c) = exchange(&server, &client, &policy, "example.com", "mx.example.com");
    assert!(matches!(c, Err(TlsError::NotVerified { .. })));
}

fn fingerprint_round(digest_name: &str) {
    let pki = Pki::new();
    let mut cs = client_settings(&pki);
    cs.smtp_tls_CAfile.clear(); // fingerprint needs no CA
    cs.smtp_tls_fingerprint_digest = digest_name.into();
    let (server, client) = contexts(&pki, cs);
    let digest = FingerprintDigest::lookup("t", digest_name).unwrap();
    let cert_fp = cert_fingerprint(&pki.server.cert, digest).unwrap();
    let pkey_fp = pkey_fingerprint(&pki.server.cert, digest).unwrap();
    assert!(cert_fp
        .chars()
        .all(|c| c == ':' || c.is_ascii_digit() || c.is_ascii_uppercase()));

    let with = |values: Vec<String>| ClientPolicy {
        level: TlsLevel::Fingerprint,
        matches: Some(values),
        ..ClientPolicy::default()
    };
    // Certificate digest, among several values.
    let (_, c) = exchange(
        &server,
        &client,
        &with(vec!["00:11".into(), cert_fp.clone()]),
        "example.com",
        "mx.example.com",
    );
    let c = c.unwrap();
    assert!(c.verified.is_some());
    assert!(
        !c.facts.trusted,
        "no CAfile: chain untrusted, yet fingerprint verified"
    );
    assert!(summary::log_summary(&c.facts, Usage::New, "h[a]:25").starts_with("Verified TLS"));
    assert_eq!(c.facts.peer_cert_fingerprint, cert_fp);
    // Public-key digest, lower case without colons.
    let bare = pkey_fp.replace(':', "").to_ascii_lowercase();
    let (_, c) = exchange(
        &server,
        &client,
        &with(vec![bare]),
        "example.com",
        "mx.example.com",
    );
    assert!(c.unwrap().verified.is_some());
    // A wrong digest fails closed.
    let wrong = cert_fingerprint(&pki.rogue_server.cert, digest).unwrap();
    let (_, c) = exchange(
        &server,
        &client,
        &with(vec![wrong]),
        "example.com",
        "mx.example.com",
    );
    assert!(
        matches!(
            c,
            Err(TlsError::NotVerified {
                reason: NotVerified::FingerprintMismatch { .. },
                ..
            })
        ),
        "{c:?}"
    );
}

#[test]
fn fingerprint_md5() {
    fingerprint_round("md5");
}

#[test]
fn fingerprint_sha1() {
    fingerprint_round("sha1");
}

#[test]
fn fingerprint_sha256() {
    fingerprint_round("sha256");
}

#[test]
fn fingerprint_from_main_cf_when_policy_has_no_match() {
    let pki = Pki::new();
    let digest = FingerprintDigest::lookup("t", "sha1").unwrap();
    let mut cs = client_settings(&pki);
    cs.smtp_tls_fingerprint_digest = "sha1".into();
    cs.smtp_tls_fingerprint_cert_match = format!(
        "AA:BB, {}",
        cert_fingerprint(&pki.server.cert, digest).unwrap()
    );
    let (server, client) = contexts(&pki, cs);
    let (_, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Fingerprint),
        "example.com",
        "mx.example.com",
    );
    assert!(c.unwrap().verified.is_some());
}

#[test]
fn names_are_dns_alt_names_else_the_common_name() {
    use crate::tls::verify::{certificate_names, issuer_cn, subject_cn};
    let pki = Pki::new();
    // SANs present: only they count, as Postfix tls_verify.c.
    assert_eq!(
        certificate_names(&pki.server.cert),
        vec!["mx.example.com", "*.relay.example.net"]
    );
    // No SAN: the subject CN.
    assert_eq!(
        certificate_names(&pki.client.cert),
        vec!["client.example.com"]
    );
    assert_eq!(
        subject_cn(&pki.client.cert).as_deref(),
        Some("client.example.com")
    );
    assert_eq!(
        issuer_cn(&pki.client.cert).as_deref(),
        Some("Postern Test CA")
    );
}

/// The public-key fingerprint digests the certificate's SubjectPublicKeyInfo
/// as received; the same bytes OpenSSL's encoder writes for the decoded key
/// (and `openssl x509 -pubkey | openssl pkey -pubin -outform DER`), for RSA
/// and EC keys.
#[test]
fn pkey_fingerprint_digests_the_subject_public_key_info() {
    let pki = Pki::new();
    use openssl::hash::MessageDigest;
    for (name, md) in [
        ("sha256", MessageDigest::sha256()),
        ("sha1", MessageDigest::sha1()),
        ("md5", MessageDigest::md5()),
    ] {
        let digest = FingerprintDigest::lookup("t", name).unwrap();
        for cert in [&pki.server.cert, &pki.server_ec.cert, &pki.client.cert] {
            let der = cert.public_key().unwrap().public_key_to_der().unwrap();
            let hex: Vec<String> = openssl::hash::hash(md, &der)
                .unwrap()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            assert_eq!(pkey_fingerprint(cert, digest).unwrap(), hex.join(":"));
        }
    }
}
