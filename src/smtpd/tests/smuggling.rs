//! SMTP smuggling and robustness: bare LF/CR endings in DATA and in commands,
//! NUL bytes, over-long lines. A smuggled second message must never be queued.

use super::{Client, Server};

/// Opens a transaction and sends DATA; returns the client after the 354.
fn in_data(srv: &Server) -> Client {
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> HELO client.example
         s <- 250
         c -> MAIL FROM:<a@b.example>
         s <- 250
         c -> RCPT TO:<bob@example.org>
         s <- 250
         c -> DATA
         s <- 354",
    );
    c
}

/// Sends `payload` after DATA: the first message, a fake end of data, and a
/// smuggled transaction. Only a bare-newline refusal may come back.
fn smuggle(end: &[u8]) {
    let srv = Server::start("");
    let mut c = in_data(&srv);
    let mut payload = b"Subject: first\r\n\r\nfirst".to_vec();
    payload.extend_from_slice(end);
    payload.extend_from_slice(
        b"MAIL FROM:<evil@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n",
    );
    payload.extend_from_slice(b"\r\n.\r\n");
    c.send(&payload);
    let r = c.reply();
    assert!(
        r.starts_with("550 5.5.2 Error: bare <"),
        "{end:?}: got {r:?}"
    );
    assert!(c.closed(), "{end:?}: still connected");
    assert!(srv.messages().is_empty(), "{end:?}: a message was queued");
    assert!(srv.logged("reject: bare <"), "{:#?}", srv.log());
}

#[test]
fn lf_dot_lf_is_refused() {
    smuggle(b"\n.\n");
}

#[test]
fn lf_dot_crlf_is_refused() {
    smuggle(b"\n.\r\n");
}

#[test]
fn cr_dot_crlf_is_refused() {
    smuggle(b"\r.\r\n");
}

#[test]
fn crlf_dot_lf_is_refused() {
    smuggle(b"\r\n.\n");
}

#[test]
fn normalize_from_mynetworks_still_needs_crlf_dot_crlf() {
    // smtpd_forbid_bare_newline_exclusions = $mynetworks: normalize, never
    // <LF>.<LF> as end of data, so still one message only.
    let srv = Server::start("mynetworks = 127.0.0.0/8");
    let mut c = in_data(&srv);
    c.send(b"Subject: one\r\n\r\nline\n.\nMAIL FROM:<evil@b.example>\r\n.\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as"));
    c.dialogue(
        "c -> QUIT
         s <- 221",
    );
    assert_eq!(srv.messages().len(), 1);
}

#[test]
fn bare_lf_in_a_command_is_refused_and_the_session_ends() {
    let srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue("s <- 220");
    c.send(b"HELO client.example\nMAIL FROM:<a@b.example>\r\n");
    assert_eq!(c.reply(), "550 5.5.2 Error: bare <LF> received");
    assert!(c.closed());
    assert!(srv.logged("NOQUEUE: reject: bare <LF> received from localhost[127.0.0.1]: 550 5.5.2 Error: bare <LF> received; proto=SMTP"), "{:#?}", srv.log());
}

#[test]
fn nul_bytes_are_refused() {
    let srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue("s <- 220");
    c.send(b"HE\0LO x\r\n");
    assert_eq!(c.reply(), "500 5.5.2 Error: NUL character in command");
    let mut c = in_data(&srv);
    c.send(b"Subject: x\r\n\r\na\0b\r\n.\r\n");
    assert_eq!(
        c.reply(),
        "550 5.6.0 Error: NUL character in message content"
    );
    assert!(srv.messages().is_empty());
}

#[test]
fn over_long_command_line() {
    let srv = Server::start("line_length_limit = 600");
    let mut c = srv.connect();
    c.dialogue("s <- 220");
    let mut long = b"HELO ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 100_000));
    long.extend_from_slice(b"\r\nNOOP\r\n");
    c.send(&long);
    assert_eq!(c.reply(), "500 5.5.0 Error: line too long");
    assert_eq!(c.reply(), "250 2.0.0 Ok");
}

#[test]
fn size_limit_and_hop_count() {
    let srv = Server::start("message_size_limit = 1000\nhopcount_limit = 3");
    let mut c = in_data(&srv);
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..50 {
        big.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    big.extend_from_slice(b".\r\n");
    c.send(&big);
    assert_eq!(c.reply(), "552 5.3.4 Message size exceeds fixed limit");
    let mut c = in_data(&srv);
    c.send(b"Received: a\r\nReceived: b\r\nReceived: c\r\nReceived: d\r\n\r\nx\r\n.\r\n");
    assert_eq!(c.reply(), "554 5.4.0 Too many hops");
    assert!(srv.messages().is_empty());
}
