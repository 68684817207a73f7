//! Postern's notices against the ones a real Postfix 3.7 wrote for the same
//! messages (testdata/postfix-*.eml, captured by testdata/capture.sh).
//!
//! Compares header names and order, From/Subject/To/Auto-Submitted, the
//! boundary form, the MIME part headers, the text, the RFC 3464 fields and the
//! returned message; dates, queue IDs and Message-Ids differ and are masked.
//! Mirrors Postfix's bounce(8) output; reads the parameters of capture.sh.

use super::tests_mime::{config, find, message, parse, Parsed};
use super::*;
use crate::mail::dsn::{OrigRcpt, Ret};
use std::path::{Path, PathBuf};

/// The captured notice, and the original message recovered from its last part.
fn captured(dir: &Path, name: &str) -> (Parsed, String) {
    let path = dir.join(format!("postfix-{name}.eml"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let p = parse(&bytes, false);
    let lines = &p.parts.last().unwrap().1;
    assert!(lines[0].starts_with("Return-Path: <"));
    let mut original: String = lines[1..lines.len() - 1]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    if !original.contains("\n\n") {
        // Headers only came back: give the message a body again.
        original.push_str("\nHello.\n");
    }
    (p, original)
}

/// The recipient groups of a delivery-status part, unfolded.
fn groups(lines: &[String]) -> Vec<Vec<(String, String)>> {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.split("\n\n")
        .filter(|g| !g.trim().is_empty())
        .map(|g| {
            let mut out: Vec<(String, String)> = Vec::new();
            for l in g.lines() {
                if l.starts_with([' ', '\t']) {
                    let last = out.last_mut().unwrap();
                    last.1.push(' ');
                    last.1.push_str(l.trim());
                } else {
                    let (n, v) = l.split_once(':').unwrap();
                    out.push((n.to_string(), v.trim().to_string()));
                }
            }
            out
        })
        .collect()
}

/// What Postfix reported for each recipient, as a DsnRecipient.
fn recipients_of(p: &Parsed, expanded_from: Option<&str>) -> Vec<DsnRecipient> {
    groups(&p.parts[1].1)[1..]
        .iter()
        .map(|g| {
            let get = |n: &str| find(g, n).unwrap().to_string();
            let address = get("Final-Recipient")
                .trim_start_matches("rfc822; ")
                .to_string();
            let orig = get("Original-Recipient");
            let orcpt =
                (orig != format!("rfc822;{address}") && expanded_from.is_none()).then(|| {
                    let (t, a) = orig.split_once(';').unwrap();
                    OrigRcpt {
                        addr_type: t.into(),
                        address: a.into(),
                    }
                });
            let action = match get("Action").as_str() {
                "failed" => "failed",
                "delayed" => "delayed",
                _ => "delivered",
            };
            DsnRecipient {
                address,
                orig_rcpt: expanded_from.map(str::to_string),
                orcpt,
                status: get("Status"),
                action,
                diagnostic: get("Diagnostic-Code")
                    .trim_start_matches("X-Postfix; ")
                    .to_string(),
                remote_mta: None,
            }
        })
        .collect()
}

/// Replaces what must differ (dates, queue IDs, boundary and Message-Id stamps).
fn masked(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            for field in ["Arrival-Date:", "Will-Retry-Until:", "X-Postfix-Queue-ID:"] {
                if l.starts_with(field) {
                    return format!("{field} <masked>");
                }
            }
            l.clone()
        })
        .collect()
}

fn boundary_form_ok(b: &str) -> bool {
    let Some((id, rest)) = b.split_once('.') else {
        return false;
    };
    let Some((time, host)) = rest.split_once('/') else {
        return false;
    };
    id.chars().all(|c| c.is_ascii_alphanumeric())
        && time.chars().all(|c| c.is_ascii_digit())
        && host == "mx.test.example"
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bounce/testdata")
}

fn compare(name: &str, kind: DsnKind, sender: &str, setup: impl Fn(&mut StoredMessage)) {
    compare_in(&testdata(), name, kind, sender, setup)
}

fn compare_in(
    dir: &Path,
    name: &str,
    kind: DsnKind,
    sender: &str,
    setup: impl Fn(&mut StoredMessage),
) {
    let (pf, original) = captured(dir, name);
    let mut msg = message(sender, &original);
    setup(&mut msg);
    let cfg = config("notify_classes = resource, software, 2bounce\ndelay_warning_time = 1s");
    let expanded = (name == "expand").then_some("alias@test.example");
    let rcpts = recipients_of(&pf, expanded);
    let ours = build_dsn(kind, &msg, &rcpts, &cfg).unwrap();
    let us = parse(&ours.content, true);

    // Top headers: Postfix's delivery added the first four.
    let delivery = ["Return-Path", "X-Original-To", "Delivered-To", "Received"];
    let pf_top: Vec<&(String, String)> = pf
        .headers
        .iter()
        .filter(|(n, _)| !delivery.contains(&n.as_str()))
        .collect();
    let names = |h: &[&(String, String)]| h.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&pf_top),
        names(&us.headers.iter().collect::<Vec<_>>()),
        "{name}"
    );
    for h in [
        "From",
        "Subject",
        "To",
        "Auto-Submitted",
        "MIME-Version",
        "Content-Transfer-Encoding",
    ] {
        assert_eq!(pf.header(h), us.header(h), "{name}: {h}");
    }
    assert!(boundary_form_ok(&pf.boundary), "{}", pf.boundary);
    assert!(boundary_form_ok(&us.boundary), "{}", us.boundary);
    let mid = us.header("Message-Id").unwrap();
    assert!(
        mid.starts_with('<') && mid.ends_with("@mx.test.example>"),
        "{mid}"
    );

    assert_eq!(pf.parts.len(), us.parts.len(), "{name}");
    for (i, ((ph, pb), (uh, ub))) in pf.parts.iter().zip(&us.parts).enumerate() {
        assert_eq!(ph, uh, "{name}: headers of part {}", i + 1);
        assert_eq!(masked(pb), masked(ub), "{name}: body of part {}", i + 1);
    }
}

fn full(m: &mut StoredMessage) {
    m.ret = Some(Ret::Full);
    m.envid = Some("env+1".into());
}

#[test]
fn failure_with_ret_full_envid_and_orcpt_matches_postfix() {
    compare("full", DsnKind::Failure, "full@test.example", full);
}

#[test]
fn failure_with_ret_hdrs_matches_postfix() {
    compare("hdrs", DsnKind::Failure, "hdrs@test.example", |m| {
        m.ret = Some(Ret::Hdrs)
    });
}

#[test]
fn failure_of_two_recipients_matches_postfix() {
    compare("two", DsnKind::Failure, "two@test.example", |_| {});
}

#[test]
fn failure_of_a_big_message_matches_postfix() {
    compare("big", DsnKind::Failure, "big@test.example", |m| {
        let body: String = (0..2000)
            .map(|i| {
                format!("line {i:05} of a long body that will be cut by bounce_size_limit\r\n")
            })
            .collect();
        std::sync::Arc::make_mut(&mut m.content).extend_from_slice(body.as_bytes());
    });
}

#[test]
fn expanded_recipient_matches_postfix() {
    compare("expand", DsnKind::Failure, "expand@test.example", |_| {});
}

#[test]
fn long_reason_wraps_as_postfix() {
    compare("long", DsnKind::Failure, "long@test.example", |_| {});
}

#[test]
fn delay_warning_matches_postfix() {
    compare("delay", DsnKind::Delay, "delay@test.example", |_| {});
}

#[test]
fn success_report_matches_postfix() {
    compare("success", DsnKind::Success, "success@test.example", |m| {
        m.ret = Some(Ret::Full)
    });
}

#[test]
fn double_bounce_matches_postfix() {
    compare("double", DsnKind::Failure, "", |_| {});
}

/// Captures the notices anew from the Postfix installed on this machine and
/// compares them too, so the stored ones cannot silently go stale. Needs root
/// and Debian's postfix package, as the other real-Postfix tests do; skipped
/// (with a note) without them.
#[test]
fn installed_postfix_still_writes_these_notices() {
    let script = testdata().join("capture.sh");
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/sbin/postfix").exists() {
        eprintln!("skipped: needs root and /usr/sbin/postfix");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = std::process::Command::new("sh")
        .arg(&script)
        .env("OUT", out.path())
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "capture.sh: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let dir = out.path();
    compare_in(dir, "full", DsnKind::Failure, "full@test.example", full);
    compare_in(dir, "two", DsnKind::Failure, "two@test.example", |_| {});
    compare_in(dir, "delay", DsnKind::Delay, "delay@test.example", |_| {});
    compare_in(dir, "double", DsnKind::Failure, "", |_| {});
}
