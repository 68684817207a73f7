//! Transcripts of ordinary sessions: the happy path, sequencing errors, relay
//! control, VRFY on and off, BDAT, AUTH and the log lines that frame them.

use super::Server;

#[test]
fn happy_path_queues_and_logs_as_postfix() {
    let srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220 mx.example.org ESMTP Postfix
         c -> EHLO client.example
         s <- 250-mx.example.org
         s <- 250-PIPELINING
         s <- 250-SIZE 10240000
         s <- 250-VRFY
         s <- 250-ETRN
         s <- 250-ENHANCEDSTATUSCODES
         s <- 250-8BITMIME
         s <- 250-DSN
         s <- 250-SMTPUTF8
         s <- 250 CHUNKING
         c -> MAIL FROM:<alice@sender.example>
         s <- 250 2.1.0 Ok
         c -> RCPT TO:<bob@example.org>
         s <- 250 2.1.5 Ok
         c -> DATA
         s <- 354 End data with <CR><LF>.<CR><LF>
         c -> Subject: hi
         c ->
         c -> hello
         c -> .
         s <- 250 2.0.0 Ok: queued as
         c -> QUIT
         s <- 221 2.0.0 Bye",
    );
    let msgs = srv.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    let id = m.entry.queue_id.to_string();
    assert_eq!(m.entry.sender, "alice@sender.example");
    assert_eq!(m.entry.recipients[0].address, "bob@example.org");
    assert_eq!(m.protocol, "ESMTP");
    assert_eq!(m.helo, "client.example");
    let log = srv.log();
    let want = [
        "/smtpd[".to_string(),
        "connect from localhost[127.0.0.1]".into(),
        format!("{id}: client=localhost[127.0.0.1]"),
        format!("{id}: message-id=<"),
        "disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5".into(),
    ];
    for w in want {
        assert!(log.iter().any(|l| l.contains(&w)), "no {w:?} in {log:#?}");
    }
    assert!(log
        .iter()
        .any(|l| l.contains("/cleanup[") && l.contains("message-id=")));
    // `(queue active)` is qmgr's line, logged when qmgr takes the message in
    // (tests/qmgr_*.rs), not at receive time.
}

#[test]
fn sequencing_errors() {
    let srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> RCPT TO:<bob@example.org>
         s <- 503 5.5.1 Error: need MAIL command
         c -> DATA
         s <- 503 5.5.1 Error: need RCPT command
         c -> HELO client.example
         s <- 250 mx.example.org
         c -> MAIL FROM:<a@b.example>
         s <- 250 2.1.0 Ok
         c -> MAIL FROM:<a@b.example>
         s <- 503 5.5.1 Error: nested MAIL command
         c -> DATA
         s <- 554 5.5.1 Error: no valid recipients
         c -> RSET
         s <- 250 2.0.0 Ok
         c -> NOOP
         s <- 250 2.0.0 Ok
         c -> FOO bar
         s <- 502 5.5.2 Error: command not recognized
         c -> AUTH PLAIN AGFhAGI=
         s <- 503 5.5.1 Error: authentication not enabled
         c -> MAIL FROM:<a@b.example> SIZE=99999999999
         s <- 552 5.3.4 Message size exceeds fixed limit
         c -> QUIT
         s <- 221 2.0.0 Bye",
    );
    assert!(srv.messages().is_empty());
    assert!(srv.logged(
        "disconnect from localhost[127.0.0.1] helo=1 auth=0/1 mail=1/3 rcpt=0/1 data=0/2 rset=1 noop=1 quit=1 unknown=0/1 commands=5/12"
    ), "{:#?}", srv.log());
}

#[test]
fn relay_denied_from_outside_mynetworks_and_mydestination_accepted() {
    // Postfix's documented setting; the 3.7 default ends in
    // defer_unauth_destination, which answers 454 instead.
    let srv =
        Server::start("smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> EHLO client.example
         s <- 250-mx.example.org",
    );
    while !c.line().starts_with("250 ") {}
    c.dialogue(
        "c -> MAIL FROM:<a@sender.example>
         s <- 250 2.1.0 Ok
         c -> RCPT TO:<victim@elsewhere.example>
         s <- 554 5.7.1 <victim@elsewhere.example>: Relay access denied
         c -> RCPT TO:<postmaster@mx.example.org>
         s <- 250 2.1.5 Ok
         c -> RCPT TO:<victim@elsewhere.example>
         s <- 554 5.7.1 <victim@elsewhere.example>: Relay access denied
         c -> QUIT
         s <- 221",
    );
    let log = srv.log();
    assert!(log.iter().any(|l| l.ends_with(
        "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <victim@elsewhere.example>: Relay access denied; from=<a@sender.example> to=<victim@elsewhere.example> proto=ESMTP helo=<client.example>"
    )), "{log:#?}");
    // Once a queue id exists, the reject line carries it, as Postfix's.
    assert!(log
        .iter()
        .any(|l| l.contains(": reject: RCPT from") && !l.contains("NOQUEUE")));
}

#[test]
fn mynetworks_client_may_relay() {
    let srv = Server::start("mynetworks = 127.0.0.0/8");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> HELO client.example
         s <- 250 mx.example.org
         c -> MAIL FROM:<a@sender.example>
         s <- 250 2.1.0 Ok
         c -> RCPT TO:<someone@elsewhere.example>
         s <- 250 2.1.5 Ok
         c -> QUIT
         s <- 221",
    );
}

#[test]
fn vrfy_on_and_off() {
    let srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> VRFY bob@example.org
         s <- 252 2.0.0 bob@example.org",
    );
    let srv = Server::start("disable_vrfy_command = yes");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> EHLO client.example
         s <- 250-mx.example.org
         s <- 250-PIPELINING
         s <- 250-SIZE
         s <- 250-ETRN
         s <- 250-ENHANCEDSTATUSCODES",
    );
    while !c.line().starts_with("250 ") {}
    c.dialogue(
        "c -> VRFY bob@example.org
         s <- 502 5.5.1 VRFY command is disabled",
    );
}

#[test]
fn discarded_ehlo_keywords_and_helo_required() {
    let srv = Server::start(
        "smtpd_discard_ehlo_keywords = chunking, pipelining, dsn\nsmtpd_helo_required = yes",
    );
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> MAIL FROM:<a@b.example>
         s <- 503 5.5.1 Error: send HELO/EHLO first
         c -> EHLO client.example
         s <- 250-mx.example.org
         s <- 250-SIZE 10240000
         s <- 250-VRFY
         s <- 250-ETRN
         s <- 250-ENHANCEDSTATUSCODES
         s <- 250-8BITMIME
         s <- 250 SMTPUTF8",
    );
}

#[test]
fn bdat_chunks_make_one_message() {
    let srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> HELO client.example
         s <- 250
         c -> MAIL FROM:<a@b.example>
         s <- 250
         c -> RCPT TO:<bob@example.org>
         s <- 250",
    );
    c.send(b"BDAT 12\r\nSubject: x\r\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok: 12 bytes");
    c.send(b"BDAT 8 LAST\r\n\r\nbody\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as "));
    c.dialogue(
        "c -> RCPT TO:<bob@example.org>
         s <- 503 5.5.1 Error: need MAIL command",
    );
    let m = srv.messages();
    assert_eq!(m.len(), 1);
    let text = String::from_utf8_lossy(&m[0].content).into_owned();
    assert!(text.contains("\r\nSubject: x\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nbody\r\n"), "{text}");
}

#[test]
fn bdat_without_recipients_is_read_and_refused() {
    let srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> EHLO client.example
         s <- 250-",
    );
    while !c.line().starts_with("250 ") {}
    // The chunk holds what looks like a command; it must be read as data.
    c.send(b"BDAT 6 LAST\r\nQUIT\r\n");
    assert_eq!(c.reply(), "503 5.5.1 Error: need RCPT command");
    c.dialogue(
        "c -> NOOP
         s <- 250 2.0.0 Ok",
    );
}
