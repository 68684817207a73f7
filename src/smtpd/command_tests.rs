//! Command parser tests: each line a client might send and what Postfix answers.

use super::*;

fn parse_default(line: &str) -> Result<Command, CommandError> {
    parse(line.as_bytes(), &ParseOptions::default())
}

fn strict(line: &str) -> Result<Command, CommandError> {
    let opts = ParseOptions {
        strict_rfc821_envelopes: true,
        ..ParseOptions::default()
    };
    parse(line.as_bytes(), &opts)
}

fn err_text(r: Result<Command, CommandError>) -> String {
    r.unwrap_err().reply().log_text()
}

fn sender(line: &str) -> String {
    match parse_default(line).unwrap() {
        Command::Mail { sender, .. } => sender.to_string(),
        other => panic!("not MAIL: {other:?}"),
    }
}

fn recipient(line: &str) -> String {
    match parse_default(line).unwrap() {
        Command::Rcpt { recipient, .. } => recipient.to_string(),
        other => panic!("not RCPT: {other:?}"),
    }
}

#[test]
fn simple_verbs_case_insensitive() {
    assert_eq!(
        parse_default("ehlo client.example").unwrap(),
        Command::Ehlo("client.example".into())
    );
    assert_eq!(parse_default("HeLo x").unwrap(), Command::Helo("x".into()));
    assert_eq!(parse_default("data").unwrap(), Command::Data);
    assert_eq!(parse_default("RSET").unwrap(), Command::Rset);
    assert_eq!(parse_default("NOOP anything").unwrap(), Command::Noop);
    assert_eq!(parse_default("QUIT").unwrap(), Command::Quit);
    assert_eq!(parse_default("StartTLS").unwrap(), Command::StartTls);
    assert_eq!(parse_default("AUTH PLAIN c2VjcmV0").unwrap(), Command::Auth);
    assert_eq!(parse_default("HELP").unwrap(), Command::Help);
    assert_eq!(
        parse_default("VRFY root").unwrap(),
        Command::Vrfy("root".into())
    );
    assert_eq!(
        parse_default("ETRN example.org").unwrap(),
        Command::Etrn("example.org".into())
    );
    assert_eq!(
        parse_default("BDAT 1000").unwrap(),
        Command::Bdat {
            size: 1000,
            last: false
        }
    );
    assert_eq!(
        parse_default("bdat 0 last").unwrap(),
        Command::Bdat {
            size: 0,
            last: true
        }
    );
}

#[test]
fn syntax_errors_use_postfix_texts() {
    assert_eq!(
        err_text(parse_default("FOO")),
        "502 5.5.2 Error: command not recognized"
    );
    assert_eq!(
        err_text(parse_default("EXPN root")),
        "502 5.5.2 Error: command not recognized"
    );
    assert_eq!(err_text(parse_default("")), "500 5.5.2 Error: bad syntax");
    assert_eq!(err_text(parse_default("HELO")), "501 Syntax: HELO hostname");
    assert_eq!(
        err_text(parse_default("EHLO ")),
        "501 Syntax: EHLO hostname"
    );
    assert_eq!(
        err_text(parse_default("DATA now")),
        "501 5.5.4 Syntax: DATA"
    );
    assert_eq!(err_text(parse_default("RSET x")), "501 5.5.4 Syntax: RSET");
    assert_eq!(
        err_text(parse_default("STARTTLS x")),
        "501 5.5.4 Syntax: STARTTLS"
    );
    assert_eq!(
        err_text(parse_default("VRFY")),
        "501 5.5.4 Syntax: VRFY address"
    );
    assert_eq!(
        err_text(parse_default("BDAT")),
        "501 5.5.4 Syntax: BDAT count [LAST]"
    );
    assert_eq!(
        err_text(parse_default("BDAT -1")),
        "501 5.5.4 Syntax: BDAT count [LAST]"
    );
    assert_eq!(
        err_text(parse_default("BDAT 10 FIRST")),
        "501 5.5.4 Syntax: BDAT count [LAST]"
    );
    assert_eq!(
        err_text(parse_default("BDAT 10 LAST x")),
        "501 5.5.4 Syntax: BDAT count [LAST]"
    );
    assert_eq!(
        err_text(parse_default("MAIL")),
        "501 5.5.4 Syntax: MAIL FROM:<address>"
    );
    assert_eq!(
        err_text(parse_default("MAIL TO:<a@b.c>")),
        "501 5.5.4 Syntax: MAIL FROM:<address>"
    );
    assert_eq!(
        err_text(parse_default("MAIL FROM:")),
        "501 5.5.4 Syntax: MAIL FROM:<address>"
    );
    assert_eq!(
        err_text(parse_default("RCPT FROM:<a@b.c>")),
        "501 5.5.4 Syntax: RCPT TO:<address>"
    );
    assert_eq!(
        err_text(parse(b"HELO \xff", &ParseOptions::default())),
        "500 5.5.2 Error: bad UTF-8 syntax"
    );
}

#[test]
fn mail_from_forms() {
    assert_eq!(sender("MAIL FROM:<user@example.org>"), "user@example.org");
    assert_eq!(sender("mail from:<>"), "");
    // Postfix accepts a space after the colon in every mode.
    assert_eq!(sender("MAIL FROM: <user@example.org>"), "user@example.org");
    assert!(strict("MAIL FROM: <user@example.org>").is_ok());
    // Without brackets only when strict_rfc821_envelopes = no (the default).
    assert_eq!(
        sender("MAIL FROM:user@example.org SIZE=10"),
        "user@example.org"
    );
    assert_eq!(
        err_text(strict("MAIL FROM:user@example.org")),
        "501 5.1.7 Bad sender address syntax"
    );
    assert_eq!(
        sender("MAIL FROM:<@hop.example:user@example.org>"),
        "user@example.org"
    );
    assert_eq!(
        sender("MAIL FROM:<\"a>b\"@example.org>"),
        "\"a>b\"@example.org"
    );
    match parse_default("MAIL FROM:<u@example.org> SIZE=5000 BODY=8BITMIME").unwrap() {
        Command::Mail { params, .. } => assert_eq!(params.size, Some(5000)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_addresses_and_parameters() {
    assert_eq!(
        err_text(parse_default("MAIL FROM:<user@>")),
        "501 5.1.7 Bad sender address syntax"
    );
    assert_eq!(
        err_text(parse_default("MAIL FROM:<user@example.org")),
        "501 5.1.7 Bad sender address syntax"
    );
    assert_eq!(
        err_text(parse_default("MAIL FROM:<a@b.org>SIZE=1")),
        "501 5.1.7 Bad sender address syntax"
    );
    assert_eq!(
        err_text(parse_default("RCPT TO:<>")),
        "501 5.1.3 Bad recipient address syntax"
    );
    assert_eq!(
        err_text(parse_default("RCPT TO:<a b@c.org>")),
        "501 5.1.3 Bad recipient address syntax"
    );
    assert_eq!(
        err_text(parse_default("MAIL FROM:<a@b.org> X-FOO=1")),
        "555 5.5.4 Unsupported option: X-FOO=1"
    );
    assert_eq!(
        err_text(parse_default("RCPT TO:<a@b.org> NOTIFY=maybe")),
        "501 5.5.4 Error: Bad NOTIFY parameter syntax"
    );
}

#[test]
fn rcpt_to_forms_and_tricks_parse_but_stay_flagged() {
    assert_eq!(recipient("RCPT TO:<Postmaster>"), "Postmaster");
    assert_eq!(
        recipient("rcpt to: <user@example.org> NOTIFY=NEVER"),
        "user@example.org"
    );
    let trick = |line: &str| match parse_default(line).unwrap() {
        Command::Rcpt { recipient, .. } => recipient.has_routing_chars(),
        other => panic!("{other:?}"),
    };
    assert!(trick("RCPT TO:<user%elsewhere.example@mx.example.org>"));
    assert!(trick("RCPT TO:<elsewhere.example!user@mx.example.org>"));
    assert!(trick("RCPT TO:<\"user@elsewhere.example\"@mx.example.org>"));
    assert!(trick(
        "RCPT TO:<@mx.example.org:user%elsewhere.example@mx.example.org>"
    ));
    assert!(!trick("RCPT TO:<user@[192.0.2.1]>"));
}
