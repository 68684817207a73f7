//! STARTTLS and wrapper mode against real OpenSSL clients: plaintext injection
//! after STARTTLS, the session reset, `encrypt` refusing MAIL, client
//! certificates (trusted and not) in the log and the Received header.

use super::{openssl, Client, Server};
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

/// A CA, a server certificate, a client certificate from the CA and a
/// self-signed client certificate, made with the openssl CLI.
fn pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=Test CA",
    ]);
    openssl(dir, &args);
    for name in ["server", "client"] {
        let cn = if name == "server" {
            "/CN=mx.example.org"
        } else {
            "/CN=client.example"
        };
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", cn]);
        openssl(dir, &args);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
            ],
        );
    }
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "rogue.key",
        "-out",
        "rogue.crt",
        "-days",
        "2",
        "-subj",
        "/CN=rogue.example",
    ]);
    openssl(dir, &args);
}

/// A server with TLS at `level` and whatever `extra` adds.
fn tls_server(level: &str, extra: &str) -> (Server, tempfile::TempDir) {
    let pki_dir = tempfile::tempdir().unwrap();
    pki(pki_dir.path());
    let d = pki_dir.path().display();
    let srv = Server::start(&format!(
        "smtpd_tls_cert_file = {d}/server.crt\nsmtpd_tls_key_file = {d}/server.key\n\
         smtpd_tls_CAfile = {d}/ca.crt\nsmtpd_tls_security_level = {level}\n{extra}"
    ));
    (srv, pki_dir)
}

/// Reads one reply from a TLS stream.
fn tls_reply(r: &mut BufReader<SslStream<TcpStream>>) -> String {
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let l = l.trim_end().to_string();
        let last = l.len() < 4 || l.as_bytes()[3] != b'-';
        lines.push(l);
        if last {
            return lines.join("\n");
        }
    }
}

/// Upgrades a raw client after its `220 Ready to start TLS`.
fn upgrade(c: Client) -> BufReader<SslStream<TcpStream>> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    let conn = b.build().configure().unwrap().verify_hostname(false);
    let tls = conn.connect("mx.example.org", c.stream).unwrap();
    BufReader::new(tls)
}

fn injection(injected: &str, after_tls: &[(&str, &str)]) {
    let (srv, _pki) = tls_server("may", "");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> EHLO client.example
         s <- 250-",
    );
    let ehlo = c.reply();
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    c.send(format!("STARTTLS\r\n{injected}").as_bytes());
    assert_eq!(c.line(), "220 2.0.0 Ready to start TLS");
    let mut t = upgrade(c);
    for (cmd, want) in after_tls {
        t.get_mut()
            .write_all(format!("{cmd}\r\n").as_bytes())
            .unwrap();
        let got = tls_reply(&mut t);
        assert!(
            got.starts_with(want),
            "{cmd}: expected {want:?}, got {got:?}"
        );
        if cmd.starts_with("EHLO") {
            assert!(!got.contains("STARTTLS"), "STARTTLS offered again: {got}");
        }
    }
    let summary = format!(
        "improper command pipelining after STARTTLS from localhost[127.0.0.1]: {}",
        injected.replace("\r\n", "\\r\\n")
    );
    assert!(srv.logged(&summary), "{:#?}", srv.log());
    assert!(
        srv.logged(
            "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher"
        ),
        "{:#?}",
        srv.log()
    );
}

#[test]
fn starttls_injected_rset_is_never_answered() {
    // Had RSET been executed, its 250 would arrive before the EHLO reply.
    injection(
        "RSET\r\n",
        &[
            ("EHLO client.example", "250-mx.example.org"),
            ("QUIT", "221"),
        ],
    );
}

#[test]
fn starttls_injected_mail_from_is_never_executed() {
    injection(
        "MAIL FROM:<evil@attacker.example>\r\n",
        &[
            ("EHLO client.example", "250-mx.example.org"),
            (
                "RCPT TO:<bob@example.org>",
                "503 5.5.1 Error: need MAIL command",
            ),
            ("QUIT", "221"),
        ],
    );
}

#[test]
fn session_resets_after_starttls() {
    let (srv, _pki) = tls_server("may", "");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> EHLO client.example
         s <- 250-",
    );
    c.reply();
    c.dialogue(
        "c -> STARTTLS
         s <- 220 2.0.0 Ready to start TLS",
    );
    let mut t = upgrade(c);
    for (cmd, want) in [
        ("STARTTLS", "554 5.5.1 Error: TLS already active"),
        ("EHLO client.example", "250-mx.example.org"),
        ("MAIL FROM:<a@b.example>", "250 2.1.0 Ok"),
        ("RCPT TO:<bob@example.org>", "250 2.1.5 Ok"),
        ("DATA", "354"),
        (
            "Subject: tls\r\n\r\nover TLS\r\n.",
            "250 2.0.0 Ok: queued as",
        ),
        ("QUIT", "221"),
    ] {
        t.get_mut()
            .write_all(format!("{cmd}\r\n").as_bytes())
            .unwrap();
        let got = tls_reply(&mut t);
        assert!(
            got.starts_with(want),
            "{cmd}: expected {want:?}, got {got:?}"
        );
    }
    let m = srv.messages();
    assert_eq!(m[0].protocol, "ESMTPS");
    assert_eq!(m[0].tls.as_ref().unwrap().protocol, "TLSv1.3");
    assert!(srv.logged("disconnect from localhost[127.0.0.1] ehlo=2 starttls=1/2 mail=1 rcpt=1 data=1 quit=1 commands=7/8"), "{:#?}", srv.log());
}

#[test]
fn encrypt_level_refuses_mail_before_starttls() {
    let (srv, _pki) = tls_server("encrypt", "");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> HELO client.example
         s <- 250
         c -> MAIL FROM:<a@b.example>
         s <- 530 5.7.0 Must issue a STARTTLS command first",
    );
}

#[test]
fn encrypt_without_certificate_is_an_error_and_may_runs_without_tls() {
    let err = Server::try_start("smtpd_tls_security_level = encrypt")
        .err()
        .unwrap();
    assert!(err.to_string().starts_with("no certificate"), "{err}");
    let err = Server::try_start("smtpd_tls_wrappermode = yes")
        .err()
        .unwrap();
    assert!(err.to_string().starts_with("no certificate"), "{err}");
    let srv = Server::start("smtpd_tls_security_level = may");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> EHLO client.example
         s <- 250-",
    );
    assert!(!c.reply().contains("STARTTLS"));
}

#[test]
fn wrapper_mode_speaks_tls_first() {
    let (srv, _pki) = tls_server("none", "smtpd_tls_wrappermode = yes");
    let s = TcpStream::connect(srv.addr).unwrap();
    let c = Client {
        reader: BufReader::new(s.try_clone().unwrap()),
        stream: s,
    };
    let mut t = upgrade(c);
    assert!(tls_reply(&mut t).starts_with("220 mx.example.org ESMTP"));
    t.get_mut().write_all(b"EHLO client.example\r\n").unwrap();
    let ehlo = tls_reply(&mut t);
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
}

/// `openssl s_client -starttls smtp`, sending `script` after the handshake;
/// returns what the server said.
fn s_client(srv: &Server, pki: &Path, cert: Option<&str>, script: &str) -> String {
    let addr = srv.addr.to_string();
    let mut args = vec![
        "s_client",
        "-starttls",
        "smtp",
        "-connect",
        &addr,
        "-quiet",
        "-ign_eof",
        "-crlf",
    ];
    let (c, k);
    if let Some(name) = cert {
        c = pki.join(format!("{name}.crt")).display().to_string();
        k = pki.join(format!("{name}.key")).display().to_string();
        args.extend(["-cert", &c, "-key", &k]);
    }
    let mut child = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).unwrap();
    drop(stdin);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = child.wait();
    out
}

const SCRIPT: &str = "EHLO client.example\nMAIL FROM:<a@b.example>\nRCPT TO:<bob@example.org>\nDATA\nSubject: cert\n\nbody\n.\nQUIT\n";

#[test]
fn s_client_with_trusted_client_certificate() {
    let (srv, pki) = tls_server(
        "may",
        "smtpd_tls_ask_ccert = yes\nsmtpd_tls_received_header = yes\nsmtpd_tls_loglevel = 2",
    );
    let out = s_client(&srv, pki.path(), Some("client"), SCRIPT);
    assert!(!out.contains("STARTTLS"), "{out}");
    assert!(out.contains("250 2.0.0 Ok: queued as"), "{out}");
    let m = srv.messages();
    let content = String::from_utf8_lossy(&m[0].content).into_owned();
    assert!(content.starts_with("Received: from client.example (localhost [127.0.0.1])\r\n\t(using TLSv1.3 with cipher "), "{content}");
    assert!(
        content.contains("\t(Client CN \"client.example\", Issuer \"Test CA\" (verified OK))\r\n"),
        "{content}"
    );
    assert!(
        content.contains("\tby mx.example.org (Postfix) with ESMTPS id "),
        "{content}"
    );
    assert!(content.contains("\tfor <bob@example.org>; "), "{content}");
    let tls = m[0].tls.as_ref().unwrap();
    assert!(tls.ccert_verified);
    assert_eq!(tls.ccert_subject.as_deref(), Some("client.example"));
    assert!(
        srv.logged(
            "Trusted TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher"
        ),
        "{:#?}",
        srv.log()
    );
    assert!(
        srv.logged("localhost[127.0.0.1]: subject_CN=client.example, issuer=Test CA"),
        "{:#?}",
        srv.log()
    );
}

#[test]
fn s_client_with_untrusted_client_certificate() {
    let (srv, pki) = tls_server(
        "may",
        "smtpd_tls_ask_ccert = yes\nsmtpd_tls_received_header = yes",
    );
    let out = s_client(&srv, pki.path(), Some("rogue"), SCRIPT);
    assert!(out.contains("250 2.0.0 Ok: queued as"), "{out}");
    let content = String::from_utf8_lossy(&srv.messages()[0].content).into_owned();
    assert!(
        content.contains("(Client CN \"rogue.example\", Issuer \"rogue.example\" (not verified))"),
        "{content}"
    );
    assert!(
        srv.logged("Untrusted TLS connection established from localhost[127.0.0.1]"),
        "{:#?}",
        srv.log()
    );
}

#[test]
fn handshake_failure_is_logged() {
    let (srv, _pki) = tls_server("may", "");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> STARTTLS
         s <- 220 2.0.0 Ready to start TLS
         c -> this is no TLS client hello",
    );
    assert!(c.closed());
    assert!(
        srv.logged("SSL_accept error from localhost[127.0.0.1]"),
        "{:#?}",
        srv.log()
    );
    assert!(srv.logged("lost connection after STARTTLS from localhost[127.0.0.1]"));
}

#[test]
fn swaks_over_starttls() {
    let (srv, _pki) = tls_server("may", "smtpd_tls_received_header = yes");
    let out = Command::new("swaks")
        .args([
            "--server",
            &srv.addr.to_string(),
            "--from",
            "alice@sender.example",
            "--to",
            "bob@example.org",
            "--helo",
            "swaks.example",
            "--tls",
            "--timeout",
            "10",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("<~  250 2.0.0 Ok: queued as "), "{text}");
    let m = srv.messages();
    assert_eq!(m.len(), 1);
    let content = String::from_utf8_lossy(&m[0].content).into_owned();
    assert!(
        content.starts_with(
            "Received: from swaks.example (localhost [127.0.0.1])\r\n\t(using TLSv1.3 with cipher "
        ),
        "{content}"
    );
    assert!(
        content.contains("\t(No client certificate requested)\r\n"),
        "{content}"
    );
}

#[test]
fn req_ccert_refuses_an_untrusted_certificate() {
    let (srv, pki) = tls_server("encrypt", "smtpd_tls_req_ccert = yes");
    // Nothing sent, so the 421 is not lost to a reset of unread input.
    let out = s_client(&srv, pki.path(), Some("rogue"), "");
    assert!(
        out.contains("421 4.7.1 mx.example.org Error: Client certificate not trusted"),
        "{out} {:#?}",
        srv.log()
    );
    assert!(!out.contains("queued as"), "{out}");
    assert!(srv.messages().is_empty());
    assert!(
        srv.logged("NOQUEUE: abort: TLS from localhost[127.0.0.1]: Client certificate not trusted"),
        "{:#?}",
        srv.log()
    );
    // The trusted client passes.
    let out = s_client(&srv, pki.path(), Some("client"), SCRIPT);
    assert!(out.contains("250 2.0.0 Ok: queued as"), "{out}");
}
