//! Tests of the restrictions with real configurations, tables and TLS
//! sessions: one file per subject. Helpers build a main.cf in a temporary
//! directory and ask at RCPT time as smtpd would.

mod access;
mod ccert;
mod flow;
mod relay;

use std::net::IpAddr;

use tempfile::TempDir;

use super::{Checkpoint, Facts, Restrictions, Verdict};
use crate::config::Config;
use crate::tls::TlsFacts;

/// The base main.cf of the brief: mydestination=localhost, no relay domains,
/// mynetworks=127.0.0.0/8; `extra` lines come after and win.
pub const BASE: &str = "\
compatibility_level = 3.6
myhostname = mx.example.com
myorigin = localhost
mydestination = localhost
relay_domains =
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
alias_maps =
local_recipient_maps = inline:{ user=x, postmaster=x, joe=x }
";

/// A directory with main.cf (kept alive with the Config) and its Config.
pub fn config(extra: &str) -> (TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.cf"), format!("{BASE}{extra}\n")).unwrap();
    let cfg = Config::load(dir.path()).unwrap();
    (dir, cfg)
}

pub fn restrictions(extra: &str) -> Restrictions {
    let (_dir, cfg) = config(extra);
    Restrictions::new(&cfg).unwrap()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Facts of an ESMTP client at `addr` sending to `rcpt`.
pub fn facts<'a>(addr: &str, rcpt: &'a str, tls: Option<&'a TlsFacts>) -> Facts<'a> {
    Facts {
        client_name: "unknown",
        client_addr: ip(addr),
        helo: Some("client.example.org"),
        sender: Some("sender@example.org"),
        recipient: Some(rcpt),
        protocol: if tls.is_some() { "ESMTPS" } else { "ESMTP" },
        tls,
        pipelining_violation: false,
        recipient_count: 0,
    }
}

/// The verdict at RCPT time.
pub fn rcpt(r: &Restrictions, addr: &str, rcpt: &str) -> Verdict {
    r.check(Checkpoint::Rcpt, &facts(addr, rcpt, None)).verdict
}

/// The reply text as smtpd logs it, or "Continue"/"Hold: ..."/"Discard: ...".
pub fn text(v: &Verdict) -> String {
    match v {
        Verdict::Continue => "Continue".into(),
        Verdict::Reject(r) | Verdict::Defer(r) => r.log_text(),
        Verdict::Hold(s) => format!("Hold: {s}"),
        Verdict::Discard(s) => format!("Discard: {s}"),
    }
}
