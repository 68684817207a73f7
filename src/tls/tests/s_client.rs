//! A third-party client against our server: the `openssl s_client` command
//! completes the handshake, verifies our chain against the test CA and shows
//! our certificate, in wrapper mode and with `-starttls smtp` (RFC 3207).
//! Checks behaviour of Postfix `tls_server.c`; sets `smtpd_tls_*` values directly.

use std::io::Write;
use std::process::{Command, Stdio};

use super::*;
use std::net::{TcpListener, TcpStream};
use std::thread;

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

/// Reads one CRLF line a byte at a time, so nothing after it is consumed: the
/// TLS handshake must find the socket exactly at its first record.
fn read_plain_line(tcp: &mut TcpStream) -> String {
    use std::io::Read;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while tcp.read(&mut byte).unwrap() == 1 {
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

#[test]
fn openssl_s_client_starttls_smtp() {
    let pki = Pki::new();
    let server = ServerContext::new(&server_settings(&pki), "smtp").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.write_all(b"220 mx.example.com ESMTP Postern\r\n")
            .unwrap();
        let ehlo = read_plain_line(&mut tcp);
        assert!(ehlo.to_ascii_uppercase().starts_with("EHLO "), "{ehlo}");
        tcp.write_all(b"250-mx.example.com\r\n250 STARTTLS\r\n")
            .unwrap();
        assert_eq!(
            read_plain_line(&mut tcp).to_ascii_uppercase(),
            "STARTTLS\r\n"
        );
        tcp.write_all(b"220 2.0.0 Ready to start TLS\r\n").unwrap();
        let (mut tls, facts) =
            stream::accept(&server, tcp, "localhost[127.0.0.1]", TIMEOUT).unwrap();
        let mut line = String::new();
        BufReader::new(&mut tls).read_line(&mut line).unwrap();
        tls.write_all(b"221 2.0.0 Bye\r\n").unwrap();
        let _ = stream::shutdown(&mut tls);
        (line, facts)
    });
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-starttls",
            "smtp",
            "-connect",
            &addr.to_string(),
            "-CAfile",
            &pki.ca.cert_file,
            "-verify_hostname",
            "mx.example.com",
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
    let (line, facts) = handle.join().unwrap();
    assert_eq!(line, "QUIT\r\n");
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
    assert!(stdout.contains("CN = mx.example.com"), "{stdout}");
    assert!(stdout.contains("221 2.0.0 Bye"), "{stdout}");
    assert_eq!(facts.protocol, "TLSv1.3");
    assert!(!facts.peer_cert_present);
}
