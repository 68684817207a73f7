//! Handshakes between our server and client contexts: anonymous, with
//! trusted and untrusted client certificates, resumption, NO_TICKET, protocol
//! ranges, and the summary texts they produce. Checks behaviour of Postfix
//! `tls_server.c`/`tls_client.c`; sets `smtpd_tls_*`/`smtp_tls_*` values directly.

use super::*;
use crate::tls::facts::Role;
use crate::tls::summary::{self, Usage};
use crate::tls::verify::{cert_fingerprint, pkey_fingerprint, FingerprintDigest};
use crate::tls::TlsLevel;

fn sha256() -> FingerprintDigest {
    FingerprintDigest::lookup("test", "sha256").unwrap()
}

#[test]
fn anonymous_tls13_with_postfix_summary() {
    let pki = Pki::new();
    let server = ServerContext::new(&server_settings(&pki), "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let (s, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::May),
        "example.com",
        "mx.example.com",
    );
    let s = s.unwrap();
    let c = c.unwrap();
    assert_eq!(s.role, Some(Role::Server));
    assert!(!s.peer_cert_present);
    assert_eq!(s.protocol, "TLSv1.3");
    assert_eq!(
        summary::log_summary(&s, Usage::New, "localhost[127.0.0.1]"),
        format!(
            "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher {} ({}/{} bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256",
            s.cipher, s.cipher_usebits, s.cipher_algbits
        )
    );
    assert_eq!(s.cipher, "TLS_AES_256_GCM_SHA384");
    assert_eq!((s.cipher_usebits, s.cipher_algbits), (256, 256));
    assert_eq!(
        summary::received_header_lines(&s, false),
        vec![
            "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)".to_string(),
            "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)"
                .to_string(),
            "\t(No client certificate requested)".to_string(),
        ]
    );

    // The client saw the server's certificate, trusted through the test CA, but
    // `may` asks for no match: Trusted, not Verified.
    let cf = &c.facts;
    assert!(c.verified.is_none());
    assert!(cf.peer_cert_present && cf.trusted && !cf.verified());
    assert_eq!(cf.peer_cn, "mx.example.com");
    assert_eq!(cf.issuer_cn, "Postern Test CA");
    let line = summary::log_summary(cf, Usage::New, "mx.example.com[127.0.0.1]:25");
    assert!(
        line.starts_with("Trusted TLS connection established to mx.example.com[127.0.0.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"),
        "{line}"
    );
}

#[test]
fn trusted_client_certificate() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_ask_ccert = true;
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let mut cs = client_settings(&pki);
    cs.smtp_tls_cert_file = pki.client.cert_file.clone();
    cs.smtp_tls_key_file = pki.client.key_file.clone();
    let client = ClientContext::new(&cs).unwrap();
    let (s, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Encrypt),
        "example.com",
        "mx.example.com",
    );
    let s = s.unwrap();
    c.unwrap();
    assert!(s.peer_cert_present && s.trusted);
    assert_eq!(s.peer_cn, "client.example.com");
    assert_eq!(s.issuer_cn, "Postern Test CA");
    assert_eq!(
        s.peer_cert_fingerprint,
        cert_fingerprint(&pki.client.cert, sha256()).unwrap()
    );
    assert_eq!(
        s.peer_pkey_fingerprint,
        pkey_fingerprint(&pki.client.cert, sha256()).unwrap()
    );
    assert_eq!(s.fingerprint_digest, "sha256");
    assert_eq!(
        summary::received_client_cert_clause(&s, true),
        "(Client CN \"client.example.com\", Issuer \"Postern Test CA\" (verified OK))"
    );
    let line = summary::log_summary(&s, Usage::New, "localhost[127.0.0.1]");
    assert!(
        line.starts_with("Trusted TLS connection established from localhost[127.0.0.1]: TLSv1.3"),
        "{line}"
    );
    assert!(
        line.ends_with(" client-signature ECDSA (P-256) client-digest SHA256"),
        "{line}"
    );
    let cert_line = summary::peer_certificate_line(&s, "localhost[127.0.0.1]").unwrap();
    assert_eq!(
        cert_line,
        format!(
            "localhost[127.0.0.1]: subject_CN=client.example.com, issuer=Postern Test CA, fingerprint={}, pkey_fingerprint={}",
            s.peer_cert_fingerprint, s.peer_pkey_fingerprint
        )
    );
}

#[test]
fn untrusted_client_certificate_still_gives_fingerprint() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_ask_ccert = true;
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let mut cs = client_settings(&pki);
    cs.smtp_tls_cert_file = pki.rogue_client.cert_file.clone();
    cs.smtp_tls_key_file = pki.rogue_client.key_file.clone();
    let client = ClientContext::new(&cs).unwrap();
    let (s, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Encrypt),
        "example.com",
        "mx.example.com",
    );
    let s = s.unwrap();
    c.unwrap();
    assert!(s.peer_cert_present && !s.trusted);
    assert!(s.verify_error.is_some());
    assert_eq!(s.peer_cn, "rogue.example.com");
    // relay_clientcerts keys on this even when the CA is unknown.
    assert_eq!(
        s.peer_cert_fingerprint,
        cert_fingerprint(&pki.rogue_client.cert, sha256()).unwrap()
    );
    assert_eq!(
        summary::received_client_cert_clause(&s, true),
        "(Client CN \"rogue.example.com\", Issuer \"Rogue CA\" (not verified))"
    );
    assert!(summary::log_summary(&s, Usage::New, "h[a]")
        .starts_with("Untrusted TLS connection established from h[a]: "));
}

#[test]
fn asked_but_no_client_certificate() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_ask_ccert = true;
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let (s, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::May),
        "example.com",
        "mx.example.com",
    );
    let s = s.unwrap();
    c.unwrap();
    assert!(!s.peer_cert_present);
    assert!(server.asks_client_certificate());
    assert_eq!(
        summary::received_client_cert_clause(&s, server.asks_client_certificate()),
        "(Client did not present a certificate)"
    );
}

#[test]
fn required_client_certificate_missing_fails_handshake() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_req_ccert = true;
    // Below `encrypt` Postfix ignores it (tlsproxy.c: ask_client_cert =
    // ask_ccert || (enforce_tls && req_ccert)): the handshake succeeds.
    let asking = ServerContext::new(&ss, "smtp").unwrap();
    assert!(!asking.asks_client_certificate() && !asking.requires_client_certificate());
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let (addr, handle) = serve_once(&asking);
    assert!(client_once_lenient(
        &client,
        addr,
        &peer("example.com", "mx.example.com", addr.port())
    ));
    assert!(!handle.join().unwrap().unwrap().peer_cert_present);
    ss.smtpd_tls_security_level = TlsLevel::Encrypt;
    let server = ServerContext::new(&ss, "smtp").unwrap();
    assert!(server.requires_client_certificate());
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let (addr, handle) = serve_once(&server);
    let target = peer("example.com", "mx.example.com", addr.port());
    // With TLS 1.3 the client learns of the failure on its first read.
    let client_result = client_once_lenient(&client, addr, &target);
    let server_result = handle.join().unwrap();
    assert!(
        matches!(server_result, Err(TlsError::Handshake { .. })),
        "{server_result:?}"
    );
    assert!(!client_result);
}

/// Like client_once, but reports success as a bool instead of asserting.
fn client_once_lenient(ctx: &ClientContext, addr: SocketAddr, target: &ServerPeer) -> bool {
    let tcp = TcpStream::connect(addr).unwrap();
    let Ok(mut session) = stream::connect(
        ctx,
        tcp,
        &ClientPolicy::level(TlsLevel::May),
        target,
        TIMEOUT,
    ) else {
        return false;
    };
    if session.stream.write_all(b"QUIT\r\n").is_err() {
        return false;
    }
    let mut reply = String::new();
    matches!(BufReader::new(&mut session.stream).read_line(&mut reply), Ok(n) if n > 0)
}

#[test]
fn second_connection_resumes_session() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_ask_ccert = true;
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let policy = ClientPolicy::level(TlsLevel::May);
    // Both connections go to the same server identity; the port differs per
    // listener, so use one listener address in the cache key by fixing the peer.
    let (addr1, h1) = serve_once(&server);
    let target = peer("example.com", "mx.example.com", 2525);
    let first = client_once(&client, addr1, &policy, &target).unwrap();
    let s1 = h1.join().unwrap().unwrap();
    assert!(!first.facts.resumed && !s1.resumed);
    assert_eq!(client.session_cache().len(), 1);
    let (addr2, h2) = serve_once(&server);
    let second = client_once(&client, addr2, &policy, &target).unwrap();
    let s2 = h2.join().unwrap().unwrap();
    assert!(second.facts.resumed, "client did not resume");
    assert!(s2.resumed, "server did not resume");
    assert_eq!(second.facts.peer_cn, "mx.example.com");
}

#[test]
fn resumption_with_server_side_cache_database() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.tls.tls_ssl_options = "NO_TICKET".into();
    ss.smtpd_tls_session_cache_database = "btree:${data_directory}/smtpd_scache".into();
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let policy = ClientPolicy::level(TlsLevel::May);
    let target = peer("example.com", "mx.example.com", 2525);
    let (a1, h1) = serve_once(&server);
    client_once(&client, a1, &policy, &target).unwrap();
    h1.join().unwrap().unwrap();
    let (a2, h2) = serve_once(&server);
    let second = client_once(&client, a2, &policy, &target).unwrap();
    assert!(h2.join().unwrap().unwrap().resumed);
    assert!(second.facts.resumed);
}

#[test]
fn no_ticket_without_cache_means_no_resumption() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.tls.tls_ssl_options = "NO_TICKET".into();
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let policy = ClientPolicy::level(TlsLevel::May);
    let target = peer("example.com", "mx.example.com", 2525);
    let (a1, h1) = serve_once(&server);
    client_once(&client, a1, &policy, &target).unwrap();
    h1.join().unwrap().unwrap();
    let (a2, h2) = serve_once(&server);
    let second = client_once(&client, a2, &policy, &target).unwrap();
    assert!(!h2.join().unwrap().unwrap().resumed);
    assert!(!second.facts.resumed);
}

#[test]
fn protocol_ranges_are_honoured() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_protocols = ">=TLSv1.3".into();
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let mut cs = client_settings(&pki);
    cs.smtp_tls_protocols = "<=TLSv1.2".into();
    let client = ClientContext::new(&cs).unwrap();
    let (s, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::May),
        "example.com",
        "mx.example.com",
    );
    assert!(matches!(s, Err(TlsError::Handshake { .. })), "{s:?}");
    assert!(matches!(c, Err(TlsError::Handshake { .. })), "{c:?}");
}

#[test]
fn tls12_when_both_allow_it_and_mandatory_settings_apply_at_encrypt() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_protocols = "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1".into();
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let mut cs = client_settings(&pki);
    cs.smtp_tls_protocols = ">=TLSv1.3".into(); // not used at encrypt
    cs.smtp_tls_mandatory_protocols = "<=TLSv1.2".into();
    let client = ClientContext::new(&cs).unwrap();
    let (s, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Encrypt),
        "example.com",
        "mx.example.com",
    );
    let s = s.unwrap();
    let c = c.unwrap();
    assert_eq!(s.protocol, "TLSv1.2");
    assert_eq!(c.facts.protocol, "TLSv1.2");
    // Before TLS 1.3 Postfix logs no key-exchange/signature details.
    assert_eq!(summary::tls13_details(&s), "");
    let line = summary::log_summary(&s, Usage::New, "h[a]");
    assert_eq!(
        line,
        format!(
            "Anonymous TLS connection established from h[a]: TLSv1.2 with cipher {} ({}/{} bits)",
            s.cipher, s.cipher_usebits, s.cipher_algbits
        )
    );
}

#[test]
fn policy_protocols_attribute_overrides_main_cf() {
    let pki = Pki::new();
    let server = ServerContext::new(&server_settings(&pki), "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let policy = ClientPolicy {
        level: TlsLevel::Encrypt,
        protocols: Some("TLSv1.2".into()),
        ciphers: Some("high".into()),
        ..ClientPolicy::default()
    };
    let (s, c) = exchange(&server, &client, &policy, "example.com", "mx.example.com");
    assert_eq!(s.unwrap().protocol, "TLSv1.2");
    assert_eq!(c.unwrap().facts.protocol, "TLSv1.2");
}

#[test]
fn ecdsa_server_certificate() {
    let pki = Pki::new();
    let ss = ServerSettings {
        smtpd_tls_eccert_file: pki.server_ec.cert_file.clone(),
        smtpd_tls_eckey_file: pki.server_ec.key_file.clone(),
        ..ServerSettings::default()
    };
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let (s, _c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::May),
        "example.com",
        "mx.example.com",
    );
    let s = s.unwrap();
    assert!(
        summary::tls13_details(&s).contains(" server-signature ECDSA (P-256) server-digest SHA256")
    );
}

#[test]
fn chain_file_with_key_leaf_and_ca() {
    let pki = Pki::new();
    let chain = pki.path("chain.pem");
    let mut pem = pki.server.key.private_key_to_pem_pkcs8().unwrap();
    pem.extend(pki.server.cert.to_pem().unwrap());
    pem.extend(pki.ca.cert.to_pem().unwrap());
    std::fs::write(&chain, pem).unwrap();
    let ss = ServerSettings {
        smtpd_tls_chain_files: vec![chain],
        ..ServerSettings::default()
    };
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let (s, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::May),
        "example.com",
        "mx.example.com",
    );
    s.unwrap();
    assert!(c.unwrap().facts.trusted);
}

#[test]
fn resumed_session_is_still_verified_at_secure() {
    let pki = Pki::new();
    let server = ServerContext::new(&server_settings(&pki), "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let policy = ClientPolicy::level(TlsLevel::Secure);
    let target = peer("example.com", "mx.example.com", 25);
    let (a1, h1) = serve_once(&server);
    let first = client_once(&client, a1, &policy, &target).unwrap();
    h1.join().unwrap().unwrap();
    let (a2, h2) = serve_once(&server);
    let second = client_once(&client, a2, &policy, &target).unwrap();
    h2.join().unwrap().unwrap();
    assert!(first.verified.is_some() && !first.facts.resumed);
    assert!(second.facts.resumed);
    assert!(
        second.verified.is_some(),
        "a resumed session keeps the peer certificate"
    );
    // Another level is another cache entry: no resumption across policies.
    let (a3, h3) = serve_once(&server);
    let third = client_once(
        &client,
        a3,
        &ClientPolicy::level(TlsLevel::Encrypt),
        &target,
    )
    .unwrap();
    h3.join().unwrap().unwrap();
    assert!(!third.facts.resumed);
}

#[test]
fn silent_server_times_out() {
    let pki = Pki::new();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_secs(3));
        drop(tcp);
    });
    let tcp = TcpStream::connect(addr).unwrap();
    let target = peer("example.com", "mx.example.com", addr.port());
    let started = std::time::Instant::now();
    let result = stream::connect(
        &client,
        tcp,
        &ClientPolicy::level(TlsLevel::Encrypt),
        &target,
        Duration::from_millis(500),
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    match result {
        Err(TlsError::Io { source, peer }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::TimedOut);
            assert_eq!(peer, format!("mx.example.com[127.0.0.1]:{}", addr.port()));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    holder.join().unwrap();
}

#[test]
fn rsa_and_ecdsa_certificates_side_by_side() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_eccert_file = pki.server_ec.cert_file.clone();
    ss.smtpd_tls_eckey_file = pki.server_ec.key_file.clone();
    ss.tls.tls_append_default_CA = true;
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let client = ClientContext::new(&client_settings(&pki)).unwrap();
    let (s, c) = exchange(
        &server,
        &client,
        &ClientPolicy::level(TlsLevel::Secure),
        "example.com",
        "mx.example.com",
    );
    let s = s.unwrap();
    let c = c.unwrap();
    // Either key may sign; both chains verify and match.
    let sig = s.server_signature.clone().unwrap();
    assert!(sig.name == "RSA-PSS" || sig.name == "ECDSA", "{sig:?}");
    assert!(c.verified.is_some());
}
