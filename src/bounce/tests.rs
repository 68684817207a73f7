//! Golden tests of the notices: MIME structure, RFC 3464 fields, RET, ORCPT,
//! ENVID, the size limit, templates and who receives what.
//!
//! Checks src/bounce against Postfix's bounce_notify_util.c layout; parameters
//! are set per test through a main.cf text. RFC 3464, RFC 3461, RFC 6522.

use super::compose::{self, wrap, Copy, Request};
use super::tests_mime::{config, failed, find, message, parse, Parsed, ORIGINAL};
use super::*;
use crate::mail::dsn::{OrigRcpt, Ret};

fn build(kind: DsnKind, msg: &StoredMessage, rcpts: &[DsnRecipient], cfg: &Config) -> Parsed {
    let parts = build_dsn(kind, msg, rcpts, cfg).unwrap();
    parse(&parts.content, true)
}

#[test]
fn failure_notice_has_postfix_layout() {
    let cfg = config("");
    let msg = message("full@test.example", ORIGINAL);
    let parts = build_dsn(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    )
    .unwrap();
    assert_eq!(parts.sender, "");
    assert_eq!(parts.recipient, "full@test.example");
    let p = parse(&parts.content, true);
    let names: Vec<&str> = p.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Date",
            "From",
            "Subject",
            "To",
            "Auto-Submitted",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding",
            "Message-Id"
        ]
    );
    assert_eq!(
        p.header("From"),
        Some("Mail Delivery System <MAILER-DAEMON@mx.test.example>")
    );
    assert_eq!(
        p.header("Subject"),
        Some("Undelivered Mail Returned to Sender")
    );
    assert_eq!(p.header("To"), Some("full@test.example"));
    assert_eq!(p.header("Auto-Submitted"), Some("auto-replied"));
    assert!(p.boundary.starts_with("4ZbCq3000B.") && p.boundary.ends_with("/mx.test.example"));
    assert_eq!(p.parts.len(), 3);
    let (h1, text) = &p.parts[0];
    assert_eq!(find(h1, "Content-Type"), Some("text/plain; charset=utf-8"));
    assert_eq!(text[0], "This is the mail system at host mx.test.example.");
    assert!(text.contains(&"<nosuch@fail.example>: user unknown".to_string()));
    let (h2, dsn) = &p.parts[1];
    assert_eq!(find(h2, "Content-Type"), Some("message/delivery-status"));
    assert_eq!(dsn[0], "Reporting-MTA: dns; mx.test.example");
    assert_eq!(dsn[1], "X-Postfix-Queue-ID: 4ZbCq3000B");
    assert_eq!(dsn[2], "X-Postfix-Sender: rfc822; full@test.example");
    assert!(dsn[3].starts_with("Arrival-Date: "));
    assert_eq!(
        &dsn[4..11],
        [
            "",
            "Final-Recipient: rfc822; nosuch@fail.example",
            "Original-Recipient: rfc822;nosuch@fail.example",
            "Action: failed",
            "Status: 5.1.1",
            "Diagnostic-Code: X-Postfix; user unknown",
            ""
        ]
    );
    let (h3, orig) = &p.parts[2];
    assert_eq!(find(h3, "Content-Description"), Some("Undelivered Message"));
    assert_eq!(find(h3, "Content-Type"), Some("message/rfc822"));
    assert_eq!(orig[0], "Return-Path: <full@test.example>");
    assert!(
        orig.contains(&"Hello.".to_string()),
        "whole message by default"
    );
}

#[test]
fn ret_hdrs_returns_headers_only() {
    let cfg = config("");
    let mut msg = message("hdrs@test.example", ORIGINAL);
    msg.ret = Some(Ret::Hdrs);
    let p = build(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    );
    let (h3, orig) = &p.parts[2];
    assert_eq!(find(h3, "Content-Type"), Some("text/rfc822-headers"));
    assert_eq!(
        find(h3, "Content-Description"),
        Some("Undelivered Message Headers")
    );
    assert!(!orig.contains(&"Hello.".to_string()));
    assert_eq!(orig.last().map(String::as_str), Some(""));
    assert!(orig.contains(&"Subject: full".to_string()));
    msg.ret = Some(Ret::Full);
    let p = build(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    );
    assert_eq!(find(&p.parts[2].0, "Content-Type"), Some("message/rfc822"));
}

#[test]
fn orcpt_envid_remote_mta_and_smtp_diagnostic_are_carried() {
    let cfg = config("");
    let mut msg = message("full@test.example", ORIGINAL);
    msg.envid = Some("env+1".into());
    let mut r = failed("nosuch@fail.example");
    r.orcpt = Some(OrigRcpt::parse("rfc822;orig+2Bx@fail.example").unwrap());
    r.diagnostic = "smtp; 550 5.1.1 <nosuch@fail.example>: user unknown".into();
    r.remote_mta = Some("mx.fail.example".into());
    let p = build(DsnKind::Failure, &msg, &[r], &cfg);
    let dsn = &p.parts[1].1;
    assert_eq!(dsn[1], "Original-Envelope-Id: env+1");
    assert_eq!(dsn[2], "X-Postfix-Queue-ID: 4ZbCq3000B");
    assert!(dsn.contains(&"Original-Recipient: rfc822;orig+x@fail.example".to_string()));
    let status = dsn.iter().position(|l| l == "Status: 5.1.1").unwrap();
    assert_eq!(dsn[status + 1], "Remote-MTA: dns; mx.fail.example");
    assert_eq!(
        dsn[status + 2],
        "Diagnostic-Code: smtp; 550 5.1.1 <nosuch@fail.example>: user unknown"
    );
    let text = &p.parts[0].1;
    assert!(text.contains(
        &"<nosuch@fail.example>: 550 5.1.1 <nosuch@fail.example>: user unknown".to_string()
    ));
}

#[test]
fn expanded_recipient_names_its_original() {
    let cfg = config("");
    let msg = message("expand@test.example", ORIGINAL);
    let mut r = failed("nosuch@fail.example");
    r.orig_rcpt = Some("alias@test.example".into());
    let p = build(DsnKind::Failure, &msg, &[r], &cfg);
    assert!(p.parts[0].1.contains(
        &"<nosuch@fail.example> (expanded from <alias@test.example>): user unknown".to_string()
    ));
    assert!(p.parts[1]
        .1
        .contains(&"Original-Recipient: rfc822;alias@test.example".to_string()));
}

#[test]
fn over_bounce_size_limit_returns_headers_only() {
    let body: String = (0..2000)
        .map(|i| format!("line {i:05} of a long body\n"))
        .collect();
    let msg = message("big@test.example", &format!("{ORIGINAL}{body}"));
    let cfg = config("");
    let p = build(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    );
    assert_eq!(
        find(&p.parts[2].0, "Content-Type"),
        Some("text/rfc822-headers")
    );
    assert!(!p.parts[2].1.iter().any(|l| l.starts_with("line ")));
    let cfg = config("bounce_size_limit = 1000000");
    let p = build(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    );
    assert_eq!(find(&p.parts[2].0, "Content-Type"), Some("message/rfc822"));
    assert!(p.parts[2]
        .1
        .contains(&"line 01999 of a long body".to_string()));
    // The limit itself still returns the whole message.
    let small = message("big@test.example", ORIGINAL);
    let exact = config(&format!("bounce_size_limit = {}", small.content.len()));
    let p = build(
        DsnKind::Failure,
        &small,
        &[failed("nosuch@fail.example")],
        &exact,
    );
    assert_eq!(find(&p.parts[2].0, "Content-Type"), Some("message/rfc822"));
    let under = config(&format!("bounce_size_limit = {}", small.content.len() - 1));
    let p = build(
        DsnKind::Failure,
        &small,
        &[failed("nosuch@fail.example")],
        &under,
    );
    assert_eq!(
        find(&p.parts[2].0, "Content-Type"),
        Some("text/rfc822-headers")
    );
    // Headers alone over the limit are cut at a line end.
    let cfg = config("bounce_size_limit = 100");
    let p = build(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    );
    let kept: usize = p.parts[2].1[1..].iter().map(|l| l.len() + 2).sum();
    assert!(kept <= 100 + 2, "{kept}");
    assert_eq!(
        p.parts[2].1[1],
        "Received: from client.test.example (localhost [127.0.0.1])"
    );
}

#[test]
fn null_sender_goes_to_2bounce_recipient_only_when_notify_classes_asks() {
    let msg = message("", ORIGINAL);
    let rcpts = [failed("nosuch@fail.example")];
    let cfg = config("");
    assert!(matches!(
        build_dsn(DsnKind::Failure, &msg, &rcpts, &cfg),
        Err(BounceError::NotSent(Discard::DoubleBounceNotWanted))
    ));
    assert!(!is_double_bounce(DsnKind::Failure, &msg, &cfg));
    let cfg = config("notify_classes = resource, software, 2bounce\n2bounce_notice_recipient = pm");
    assert!(is_double_bounce(DsnKind::Failure, &msg, &cfg));
    let parts = build_dsn(DsnKind::Failure, &msg, &rcpts, &cfg).unwrap();
    assert_eq!(parts.recipient, "pm@mx.test.example");
    assert_eq!(parts.sender, "double-bounce@mx.test.example");
    assert_ne!(parts.recipient, "", "never to the null sender");
    let p = parse(&parts.content, true);
    assert_eq!(
        p.header("Subject"),
        Some("Postmaster Copy: Undelivered Mail")
    );
    assert_eq!(p.header("Auto-Submitted"), Some("auto-generated"));
    assert_eq!(
        p.parts[0].1,
        ["", "<nosuch@fail.example>: user unknown", ""]
    );
    assert!(p.parts[1]
        .1
        .contains(&"X-Postfix-Sender: rfc822; MAILER-DAEMON@mx.test.example".to_string()));
    assert_eq!(find(&p.parts[2].0, "Content-Type"), Some("message/rfc822"));
    assert_eq!(
        p.parts[2].1[0],
        "Return-Path: <MAILER-DAEMON@mx.test.example>"
    );
    // "bounce" implies 2bounce.
    assert!(is_double_bounce(
        DsnKind::Failure,
        &msg,
        &config("notify_classes = bounce")
    ));
}

#[test]
fn triple_bounces_and_success_for_bounces_are_never_sent() {
    let cfg = config("notify_classes = 2bounce");
    let rcpts = [failed("nosuch@fail.example")];
    for sender in ["double-bounce@mx.test.example", "Double-Bounce"] {
        let msg = message(sender, ORIGINAL);
        assert!(matches!(
            build_dsn(DsnKind::Failure, &msg, &rcpts, &cfg),
            Err(BounceError::NotSent(Discard::TripleBounce))
        ));
    }
    let msg = message("", ORIGINAL);
    assert_eq!(
        route(DsnKind::Success, &msg, &cfg),
        Route::Discard(Discard::SuccessForBounce)
    );
}

#[test]
fn delay_notice_wording_and_will_retry_until() {
    let cfg = config("delay_warning_time = 4h\nmaximal_queue_lifetime = 3d");
    let msg = message("delay@test.example", ORIGINAL);
    let r = DsnRecipient {
        status: "4.4.1".into(),
        action: "delayed",
        diagnostic: "destination busy".into(),
        ..failed("later@defer.example")
    };
    let p = build(DsnKind::Delay, &msg, &[r], &cfg);
    assert_eq!(
        p.header("Subject"),
        Some("Delayed Mail (still being retried)")
    );
    let text = &p.parts[0].1;
    assert!(
        text.contains(&"Your message could not be delivered for more than 4 hour(s).".to_string())
    );
    assert!(text.contains(&"It will be retried until it is 3 day(s) old.".to_string()));
    let dsn = &p.parts[1].1;
    let until = crate::cleanup::date::mail_date(msg.entry.arrival + 3 * 86_400);
    assert!(dsn.contains(&"Action: delayed".to_string()));
    assert!(dsn.contains(&format!("Will-Retry-Until: {until}")));
    // Delays return headers even with RET=FULL.
    assert_eq!(
        find(&p.parts[2].0, "Content-Type"),
        Some("text/rfc822-headers")
    );
}

#[test]
fn success_report_returns_headers() {
    let cfg = config("");
    let mut msg = message("success@test.example", ORIGINAL);
    msg.ret = Some(Ret::Full);
    let r = DsnRecipient {
        status: "2.0.0".into(),
        action: "delivered",
        diagnostic: "delivery via local: delivered to maildir".into(),
        ..failed("user@test.example")
    };
    let p = build(DsnKind::Success, &msg, &[r], &cfg);
    assert_eq!(p.header("Subject"), Some("Successful Mail Delivery Report"));
    assert_eq!(
        find(&p.parts[2].0, "Content-Description"),
        Some("Message Headers")
    );
    assert_eq!(
        find(&p.parts[2].0, "Content-Type"),
        Some("text/rfc822-headers")
    );
}

#[test]
fn postmaster_copies_follow_notify_classes() {
    let msg = message("full@test.example", ORIGINAL);
    let rcpts = [failed("nosuch@fail.example")];
    assert_eq!(postmaster_copy(DsnKind::Failure, &config("")), None);
    let cfg = config("notify_classes = bounce, delay\ndelay_notice_recipient = delays@example.org");
    assert_eq!(
        postmaster_copy(DsnKind::Failure, &cfg).as_deref(),
        Some("postmaster@mx.test.example")
    );
    assert_eq!(
        postmaster_copy(DsnKind::Delay, &cfg).as_deref(),
        Some("delays@example.org")
    );
    assert_eq!(postmaster_copy(DsnKind::Success, &cfg), None);
    let parts = build_postmaster_copy(DsnKind::Failure, &msg, &rcpts, &cfg).unwrap();
    assert_eq!(parts.sender, "double-bounce@mx.test.example");
    let p = parse(&parts.content, true);
    assert_eq!(
        p.header("Subject"),
        Some("Postmaster Copy: Undelivered Mail")
    );
    assert_eq!(
        find(&p.parts[2].0, "Content-Type"),
        Some("text/rfc822-headers")
    );
}

#[test]
fn smtputf8_mail_gets_global_types() {
    let cfg = config("");
    let mut msg = message("ü@test.example", ORIGINAL);
    msg.smtputf8 = true;
    let p = build(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    );
    assert_eq!(
        find(&p.parts[1].0, "Content-Type"),
        Some("message/global-delivery-status")
    );
    assert_eq!(find(&p.parts[2].0, "Content-Type"), Some("message/global"));
}

#[test]
fn threaded_bounces_reference_the_original() {
    let cfg = config("enable_threaded_bounces = yes");
    let msg = message("full@test.example", ORIGINAL);
    let p = build(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    );
    assert_eq!(p.header("References"), Some("<full@client.test.example>"));
    assert_eq!(p.header("In-Reply-To"), Some("<full@client.test.example>"));
}

#[test]
fn template_file_overrides_texts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bounce.cf");
    std::fs::write(
        &path,
        "# site texts\n\nfailure_template = <<EOF\nCharset: us-ascii\nFrom: Bounces <bounces>\n\
         Subject: Bounced\n\nHost $myhostname costs $$5.\nEOF\n",
    )
    .unwrap();
    let cfg = config(&format!(
        "bounce_template_file = {}\nsmtputf8_enable = no",
        path.display()
    ));
    let msg = message("full@test.example", ORIGINAL);
    let p = build(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    );
    assert_eq!(p.header("From"), Some("Bounces <bounces@mx.test.example>"));
    assert_eq!(p.header("Subject"), Some("Bounced"));
    assert_eq!(
        find(&p.parts[0].0, "Content-Type"),
        Some("text/plain; charset=us-ascii")
    );
    assert_eq!(p.parts[0].1[0], "Host mx.test.example costs $5.");
    // The delay template is not in the file: the built-in one applies.
    let r = DsnRecipient {
        action: "delayed",
        ..failed("x@defer.example")
    };
    let p = build(DsnKind::Delay, &msg, &[r], &cfg);
    assert_eq!(
        p.header("Subject"),
        Some("Delayed Mail (still being retried)")
    );
    std::fs::write(&path, "failure_template = <<EOF\nno end\n").unwrap();
    let err = build_dsn(DsnKind::Failure, &msg, &[failed("a@b")], &cfg).unwrap_err();
    assert!(err.to_string().contains("line 1: missing \"EOF\""), "{err}");
}

#[test]
fn long_reasons_wrap_like_postfix() {
    let text = "<x@long.example>: mailbox full: the recipient's mailbox has exceeded its \
                storage allocation of 1024 megabytes and cannot accept more mail at this time";
    assert_eq!(
        wrap(text),
        [
            "<x@long.example>: mailbox full: the recipient's mailbox has exceeded its",
            "    storage allocation of 1024 megabytes and cannot accept more mail at this",
            "    time"
        ]
    );
}

#[test]
fn no_recipients_is_an_error() {
    let cfg = config("");
    let msg = message("a@test.example", ORIGINAL);
    let r = Request {
        kind: DsnKind::Failure,
        msg: &msg,
        recipients: &[],
        cfg: &cfg,
        to: "a@test.example",
        copy: Copy::Sender,
        now: 0,
    };
    assert!(matches!(
        compose::compose(&r),
        Err(BounceError::NoRecipients)
    ));
}

#[test]
fn parameter_names_are_in_the_table() {
    for n in names::ALL {
        assert!(crate::config::params::lookup(n).is_some(), "{n}");
    }
}

#[test]
fn notify_selects_the_notices_a_recipient_gets() {
    use crate::mail::dsn::Notify;
    assert!(wants_notice(DsnKind::Failure, None));
    assert!(wants_notice(DsnKind::Delay, None));
    assert!(!wants_notice(DsnKind::Success, None));
    let never = Notify::parse("NEVER").unwrap();
    for kind in [DsnKind::Failure, DsnKind::Delay, DsnKind::Success] {
        assert!(!wants_notice(kind, Some(never)));
    }
    let success = Notify::parse("SUCCESS").unwrap();
    assert!(wants_notice(DsnKind::Success, Some(success)));
    assert!(!wants_notice(DsnKind::Failure, Some(success)));
}

/// Observed with Postfix 3.7 and `smtputf8_enable = no`: an ASCII message
/// without BODY= gets `charset=us-ascii` and no Content-Transfer-Encoding.
#[test]
fn without_smtputf8_an_ascii_notice_declares_no_encoding() {
    let cfg = config("smtputf8_enable = no");
    let msg = message("full@test.example", ORIGINAL);
    let p = build(
        DsnKind::Failure,
        &msg,
        &[failed("nosuch@fail.example")],
        &cfg,
    );
    assert_eq!(p.header("Content-Transfer-Encoding"), None);
    assert_eq!(
        find(&p.parts[0].0, "Content-Type"),
        Some("text/plain; charset=us-ascii")
    );
    assert!(p
        .parts
        .iter()
        .all(|(h, _)| find(h, "Content-Transfer-Encoding").is_none()));
}
