//! Test helpers for the notice tests: a Config from main.cf text, a stored
//! message, and a small hand-written MIME splitter.
//!
//! Mirrors nothing in Postfix (test support for src/bounce); reads the
//! parameters each test puts in its main.cf text. Splits per RFC 2046 section
//! 5.1.1 (boundary lines) and RFC 5322 section 2.2.3 (unfolding).

use super::*;
use crate::config::MainCf;
use crate::queue::{QueueEntry, QueueId, QueueName, RcptState, StoredRecipient};
use std::path::Path;

pub(super) fn config(main_cf: &str) -> Config {
    let text = format!(
        "compatibility_level = 3.6\nmyhostname = mx.test.example\nmydomain = test.example\n{main_cf}"
    );
    let main = MainCf::parse(Path::new("/x/main.cf"), text.as_bytes()).unwrap();
    Config::from_main(Path::new("/x"), main).unwrap()
}

pub(super) fn message(sender: &str, content: &str) -> StoredMessage {
    StoredMessage {
        entry: QueueEntry {
            queue_id: QueueId::parse("4ZbCq3000B").unwrap(),
            queue: QueueName::Active,
            arrival: 1_796_128_853,
            size: content.len() as u64,
            sender: sender.into(),
            recipients: vec![StoredRecipient {
                index: 0,
                address: "nosuch@fail.example".into(),
                orig_rcpt: None,
                notify: None,
                orcpt: None,
                state: RcptState::Bounced,
                attempts: 1,
                next_attempt: None,
                last_reason: None,
                last_dsn: None,
                tls: None,
            }],
        },
        client_name: "localhost".into(),
        client_addr: "127.0.0.1".into(),
        helo: "client.test.example".into(),
        protocol: "ESMTP".into(),
        tls: None,
        envid: None,
        ret: None,
        body: None,
        smtputf8: false,
        content: content.replace('\n', "\r\n").into_bytes().into(),
    }
}

pub(super) const ORIGINAL: &str = "Received: from client.test.example (localhost [127.0.0.1])\n\
\tby mx.test.example (Postern) with ESMTP id 4ZbCq3000B\n\
From: <full@test.example>\n\
To: <nosuch@fail.example>\n\
Subject: full\n\
Message-ID: <full@client.test.example>\n\
\n\
Hello.\n";

pub(super) fn failed(address: &str) -> DsnRecipient {
    DsnRecipient {
        address: address.into(),
        orig_rcpt: None,
        orcpt: None,
        status: "5.1.1".into(),
        action: "failed",
        diagnostic: "user unknown".into(),
        remote_mta: None,
    }
}

/// One body part: its headers and its lines.
pub(super) type Part = (Vec<(String, String)>, Vec<String>);

/// A notice split into its parts: top headers, then per body part its headers
/// and text; lines with CRLF removed. A hand-written RFC 2046 splitter.
#[derive(Debug)]
pub(super) struct Parsed {
    pub headers: Vec<(String, String)>,
    pub parts: Vec<Part>,
    pub boundary: String,
}

impl Parsed {
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
}

pub(super) fn find<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn headers(lines: &[String]) -> (Vec<(String, String)>, usize) {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.is_empty() {
            return (out, i + 1);
        }
        if l.starts_with([' ', '\t']) {
            let last = out.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(l.trim());
        } else {
            let (n, v) = l.split_once(':').unwrap();
            out.push((n.to_string(), v.trim().to_string()));
        }
    }
    (out, lines.len())
}

pub(super) fn parse(bytes: &[u8], crlf: bool) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    if crlf {
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "bare LF in notice"
        );
    }
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let (top, start) = headers(&lines);
    let ctype = find(&top, "content-type").unwrap().to_string();
    let boundary = ctype
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let open = format!("--{boundary}");
    let close = format!("--{boundary}--");
    assert!(lines.contains(&close), "no closing boundary");
    let mut parts = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for l in &lines[start..] {
        if *l == open || *l == close {
            if let Some(p) = current.take() {
                let (h, body) = headers(&p);
                parts.push((h, p[body..].to_vec()));
            }
            if *l == open {
                current = Some(Vec::new());
            }
        } else if let Some(p) = current.as_mut() {
            p.push(l.clone());
        }
    }
    Parsed {
        headers: top,
        parts,
        boundary,
    }
}
