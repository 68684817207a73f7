//! A third-party client against our server: the `openssl s_client` command
//! completes the handshake, verifies our chain against the test CA and shows
//! our certificate.

use std::io::Write;
use std::process::{Command, Stdio};

use super::*;

#[test]
fn openssl_s_client_sees_our_certificate() {
    let pki = Pki::new();
    let mut ss = server_settings(&pki);
    ss.smtpd_tls_ask_ccert = true;
    let server = ServerContext::new(&ss, "smtp").unwrap();
    let (addr, handle) = serve_once(&server);
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "mx.example.com",
            "-CAfile",
            &pki.ca.cert_file,
            "-verify_return_error",
            "-cert",
            &pki.client.cert_file,
            "-key",
            &pki.client.key_file,
            "-ign_eof",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl CLI is installed");
    child.stdin.take().unwrap().write_all(b"QUIT\r\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let facts = handle.join().unwrap().unwrap();

    assert!(stdout.contains("CN = mx.example.com"), "{stdout}");
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
    assert!(stdout.contains("TLSv1.3"), "{stdout}");
    assert!(stdout.contains("221 2.0.0 Bye"), "{stdout}");
    // And our side saw s_client's certificate, trusted, with SNI.
    assert!(facts.peer_cert_present && facts.trusted);
    assert_eq!(facts.peer_cn, "client.example.com");
    assert_eq!(facts.sni.as_deref(), Some("mx.example.com"));
    let line =
        crate::tls::summary::log_summary(&facts, crate::tls::Usage::New, "localhost[127.0.0.1]");
    assert!(
        line.starts_with("Trusted TLS connection established from localhost[127.0.0.1]: TLSv1.3"),
        "{line}"
    );
}
