//! Relay by client certificate, with TlsFacts read from real TLS handshakes
//! (`TlsFacts::from_ssl` on the server end, as smtpd gets them): no cert →
//! refused; listed fingerprint → relays; another cert → refused; an
//! untrusted-CA cert whose fingerprint is listed → relays;
//! permit_tls_all_clientcerts with an untrusted cert → refused.

use std::os::unix::net::UnixStream;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::extension::BasicConstraints;
use openssl::x509::{X509Name, X509};

use super::{config, facts, text};
use crate::smtpd::restrictions::{Checkpoint, Restrictions};
use crate::tls::verify::{cert_fingerprint, pkey_fingerprint, FingerprintDigest};
use crate::tls::{Role, TlsFacts};

struct Issued {
    cert: X509,
    key: PKey<Private>,
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// A certificate for `cn`, signed by `issuer` (self-signed CA when None).
fn issue(cn: &str, issuer: Option<&Issued>, serial: u32) -> Issued {
    let key = key();
    let mut name = X509Name::builder().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    match issuer {
        Some(ca) => {
            b.set_issuer_name(ca.cert.subject_name()).unwrap();
            b.sign(&ca.key, MessageDigest::sha256()).unwrap();
        }
        None => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.set_issuer_name(&name).unwrap();
            b.sign(&key, MessageDigest::sha256()).unwrap();
        }
    }
    Issued {
        cert: b.build(),
        key,
    }
}

struct Pki {
    ca: Issued,
    server: Issued,
    client: Issued,
    other: Issued,
    rogue: Issued,
}

fn pki() -> Pki {
    let ca = issue("Restrictions Test CA", None, 1);
    let rogue_ca = issue("Rogue CA", None, 2);
    Pki {
        server: issue("mx.example.com", Some(&ca), 3),
        client: issue("client.example.org", Some(&ca), 4),
        other: issue("other.example.org", Some(&ca), 5),
        rogue: issue("rogue.example.net", Some(&rogue_ca), 6),
        ca,
    }
}

fn sha256() -> FingerprintDigest {
    FingerprintDigest::lookup("smtpd_tls_fingerprint_digest", "sha256").unwrap()
}

/// One handshake; returns what the server end learnt. The server asks for a
/// certificate and accepts any (smtpd_tls_ask_ccert = yes), trusting `pki.ca`.
fn session(pki: &Pki, client_cert: Option<&Issued>) -> TlsFacts {
    let (a, b) = UnixStream::pair().unwrap();
    let mut acc = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acc.set_private_key(&pki.server.key).unwrap();
    acc.set_certificate(&pki.server.cert).unwrap();
    acc.cert_store_mut().add_cert(pki.ca.cert.clone()).unwrap();
    // As Postfix's verify callback: record the result, never fail the handshake.
    acc.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
    let acc = acc.build();
    let mut con = SslConnector::builder(SslMethod::tls()).unwrap();
    con.set_verify(SslVerifyMode::NONE);
    if let Some(c) = client_cert {
        con.set_certificate(&c.cert).unwrap();
        con.set_private_key(&c.key).unwrap();
    }
    let con = con.build();
    let client = std::thread::spawn(move || {
        let mut cfg = con.configure().unwrap();
        cfg.set_verify_hostname(false);
        let mut s = cfg.connect("mx.example.com", b).unwrap();
        // Read until the server closes, so the handshake (and TLS 1.3
        // post-handshake messages) complete on both ends.
        let mut buf = [0u8; 16];
        let _ = std::io::Read::read(&mut s, &mut buf);
    });
    let mut s = acc.accept(a).unwrap();
    let facts = TlsFacts::from_ssl(s.ssl(), Role::Server, sha256());
    let _ = s.shutdown();
    drop(s);
    client.join().unwrap();
    facts
}

fn verdict(r: &Restrictions, tls: Option<&TlsFacts>) -> String {
    text(
        &r.check(
            Checkpoint::Rcpt,
            &facts("192.0.2.99", "user@remote.example", tls),
        )
        .verdict,
    )
}

const DENIED: &str = "554 5.7.1 <user@remote.example>: Relay access denied";

#[test]
fn relay_by_listed_client_certificate() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let client_fp = cert_fingerprint(&pki.client.cert, sha256()).unwrap();
    let rogue_pkey_fp = pkey_fingerprint(&pki.rogue.cert, sha256()).unwrap();
    // A hash table built as postmap builds it; keys in lower case to show
    // that fingerprints match whatever case the administrator wrote.
    let table = dir.path().join("relay_clientcerts");
    let mut b = crate::maps::create(
        &format!("hash:{}", table.display()),
        crate::maps::OpenFlags::default(),
    )
    .unwrap();
    b.add(&client_fp.to_lowercase(), "client.example.org", 1);
    b.add(&rogue_pkey_fp, "rogue.example.net by public key", 2);
    b.finish().unwrap();
    let (_d, cfg) = config(&format!(
        "smtpd_relay_restrictions = permit_mynetworks, permit_tls_clientcerts, reject_unauth_destination\n\
         relay_clientcerts = hash:{}\nsmtpd_tls_fingerprint_digest = sha256",
        table.display()
    ));
    let r = Restrictions::new(&cfg).unwrap();

    // Plaintext, and TLS without a certificate: refused.
    assert_eq!(verdict(&r, None), DENIED);
    let anon = session(&pki, None);
    assert!(!anon.peer_cert_present);
    assert_eq!(verdict(&r, Some(&anon)), DENIED);

    // The listed certificate relays.
    let listed = session(&pki, Some(&pki.client));
    assert!(listed.peer_cert_present && listed.trusted);
    assert_eq!(listed.peer_cert_fingerprint, client_fp);
    assert_eq!(verdict(&r, Some(&listed)), "Continue");

    // Another certificate from the same trusted CA: refused.
    let other = session(&pki, Some(&pki.other));
    assert!(other.trusted);
    assert_eq!(verdict(&r, Some(&other)), DENIED);

    // Untrusted issuer, but its public-key fingerprint is listed: relays, as
    // in Postfix (the fingerprint is the trust).
    let rogue = session(&pki, Some(&pki.rogue));
    assert!(rogue.peer_cert_present && !rogue.trusted);
    assert_eq!(verdict(&r, Some(&rogue)), "Continue");
}

#[test]
fn all_clientcerts_needs_a_trusted_ca() {
    let pki = pki();
    let (_d, cfg) = config(
        "smtpd_relay_restrictions = permit_mynetworks, permit_tls_all_clientcerts, reject_unauth_destination",
    );
    let r = Restrictions::new(&cfg).unwrap();
    let trusted = session(&pki, Some(&pki.client));
    assert_eq!(verdict(&r, Some(&trusted)), "Continue");
    let rogue = session(&pki, Some(&pki.rogue));
    assert_eq!(verdict(&r, Some(&rogue)), DENIED);
    assert_eq!(verdict(&r, Some(&session(&pki, None))), DENIED);
}

#[test]
fn check_ccert_access_by_fingerprint() {
    let pki = pki();
    let pkey_fp = pkey_fingerprint(&pki.other.cert, sha256()).unwrap();
    let cert_fp = cert_fingerprint(&pki.client.cert, sha256()).unwrap();
    let (_d, cfg) = config(&format!(
        "smtpd_relay_restrictions = check_ccert_access inline:{{ {cert_fp}=OK, {{ {pkey_fp} = REJECT revoked }} }}, reject_unauth_destination"
    ));
    let r = Restrictions::new(&cfg).unwrap();
    assert_eq!(
        verdict(&r, Some(&session(&pki, Some(&pki.client)))),
        "Continue"
    );
    assert_eq!(
        verdict(&r, Some(&session(&pki, Some(&pki.other)))),
        "554 5.7.1 <other.example.org>: Client certificate rejected: revoked"
    );
    assert_eq!(verdict(&r, Some(&session(&pki, Some(&pki.rogue)))), DENIED);
}
