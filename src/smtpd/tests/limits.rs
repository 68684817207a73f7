//! Limits and timeouts: recipients, errors, smtpd_timeout, the per-request
//! deadline with smtpd_min_data_rate, and a client lost mid-DATA.

use super::Server;
use std::time::{Duration, Instant};

#[test]
fn recipient_limit() {
    let srv = Server::start("smtpd_recipient_limit = 2");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> HELO client.example
         s <- 250
         c -> MAIL FROM:<a@b.example>
         s <- 250
         c -> RCPT TO:<one@example.org>
         s <- 250 2.1.5 Ok
         c -> RCPT TO:<two@example.org>
         s <- 250 2.1.5 Ok
         c -> RCPT TO:<three@example.org>
         s <- 452 4.5.3 Error: too many recipients",
    );
}

#[test]
fn hard_error_limit_disconnects() {
    let srv = Server::start("smtpd_hard_error_limit = 3");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> BOGUS
         s <- 502
         c -> BOGUS
         s <- 502
         c -> BOGUS
         s <- 502
         c -> NOOP
         s <- 421 4.7.0 mx.example.org Error: too many errors",
    );
    assert!(c.closed());
    assert!(
        srv.logged("too many errors after UNKNOWN from localhost[127.0.0.1]"),
        "{:#?}",
        srv.log()
    );
}

#[test]
fn idle_client_times_out() {
    let srv = Server::start("smtpd_timeout = 1s");
    let mut c = srv.connect();
    c.dialogue("s <- 220");
    let t = Instant::now();
    assert_eq!(
        c.reply(),
        "421 4.4.2 mx.example.org Error: timeout exceeded"
    );
    assert!(t.elapsed() < Duration::from_secs(4));
    assert!(srv.logged("timeout after CONNECT from localhost[127.0.0.1]"));
}

#[test]
fn trickling_client_is_cut_off_by_the_data_deadline() {
    // One byte every 300 ms never lets a 2-second read timeout fire, but the
    // per-request deadline (2 s, plus 1 s per 1000 bytes) does.
    let srv = Server::start("smtpd_timeout = 2s\nsmtpd_min_data_rate = 1000");
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
    let t = Instant::now();
    let mut writer = c.stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        use std::io::Write;
        for _ in 0..40 {
            if writer.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let r = c.reply();
    assert_eq!(r, "421 4.4.2 mx.example.org Error: timeout exceeded");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let _ = trickle.join();
    assert!(srv.logged("timeout after DATA ("), "{:#?}", srv.log());
    assert!(srv.messages().is_empty());
}

#[test]
fn disconnect_mid_data_leaves_nothing() {
    let srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> EHLO client.example
         s <- 250-",
    );
    while !c.line().starts_with("250 ") {}
    c.dialogue(
        "c -> MAIL FROM:<a@b.example>
         s <- 250
         c -> RCPT TO:<bob@example.org>
         s <- 250
         c -> DATA
         s <- 354",
    );
    c.send(b"Subject: half\r\n\r\nhalf a message\r\n");
    drop(c);
    std::thread::sleep(Duration::from_millis(200));
    assert!(srv.messages().is_empty());
    assert!(
        srv.logged("lost connection after DATA (33 bytes) from localhost[127.0.0.1]"),
        "{:#?}",
        srv.log()
    );
    assert!(
        srv.logged(
            "disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4"
        ),
        "{:#?}",
        srv.log()
    );
}

#[test]
fn improper_pipelining_is_logged() {
    let srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue("s <- 220");
    c.send(b"EHLO client.example\r\nNOOP\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let _ = c.reply();
    assert_eq!(c.reply(), "250 2.0.0 Ok");
    assert!(
        srv.logged("improper command pipelining after EHLO from localhost[127.0.0.1]: NOOP\\r\\n"),
        "{:#?}",
        srv.log()
    );
}

#[test]
fn trickled_command_line_hits_the_per_request_deadline() {
    // Postern's default smtpd_per_request_deadline: a command line sent one byte
    // every 300 ms never trips the 2-second read timeout, but the request deadline.
    let srv = Server::start("smtpd_timeout = 2s");
    let mut c = srv.connect();
    c.dialogue("s <- 220");
    let mut writer = c.stream.try_clone().unwrap();
    let t = Instant::now();
    let trickle = std::thread::spawn(move || {
        use std::io::Write;
        for b in b"HELO a-very-long-and-slow-client-name.example"
            .iter()
            .cycle()
            .take(40)
        {
            if writer.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    assert_eq!(
        c.reply(),
        "421 4.4.2 mx.example.org Error: timeout exceeded"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let _ = trickle.join();
}
