//! The per-recipient delivery log line pflogsumm reads:
//! `ID: to=<rcpt>, orig_to=<orig>, relay=local, delay=1.2,
//! delays=0.01/0/0.1/1.1, dsn=2.0.0, status=sent (delivered to maildir)`.
//!
//! Mirrors Postfix global/log_adhoc.c (field order, `orig_to` only when it
//! differs, the delay format with `delay_logging_resolution_limit = 2`) and the
//! status words of sent.c, defer.c, bounce.c. Reads no parameters.

use crate::mail::dsn::{Outcome, StatusCode};

/// Postfix's delay format: at most two decimals, fewer as the value grows
/// (`0.05`, `1.2`, `12`), trailing zeros dropped, `0` for nothing.
pub fn delay(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.max(0.0)
    } else {
        0.0
    };
    let text = if s >= 10.0 {
        format!("{s:.0}")
    } else if s >= 1.0 {
        format!("{s:.1}")
    } else {
        format!("{s:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The moments of one delivery, Unix seconds with fraction.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    pub arrival: f64,
    pub active: f64,
    pub start: f64,
    pub end: f64,
}

/// One recipient's line (without the `ID: ` prefix added by the caller).
pub struct Line<'a> {
    pub queue_id: &'a str,
    pub rcpt: &'a str,
    pub orig_rcpt: Option<&'a str>,
    pub relay: &'a str,
    pub times: Times,
    pub outcome: &'a Outcome,
    /// `status=sent (detail)`.
    pub detail: &'a str,
    /// Expired deferral: Postfix's `status=expired, returned to sender`.
    pub expired: bool,
    /// The smtp client's `tls=POLICY:REACHED` (Postfix 3.11
    /// `smtp_log_tls_feature_status`), written after `delays=`.
    pub tls: Option<&'a str>,
}

impl Line<'_> {
    pub fn render(&self) -> String {
        let t = self.times;
        let orig = match self.orig_rcpt {
            Some(o) if !o.eq_ignore_ascii_case(self.rcpt) => format!(", orig_to=<{o}>"),
            _ => String::new(),
        };
        let (status, word, text) = match self.outcome {
            Outcome::Delivered => (StatusCode::OK, "sent", self.detail),
            Outcome::Deferred(d) => (d.status, "deferred", d.reason.as_str()),
            Outcome::Bounced(d) if self.expired => {
                (d.status, "expired, returned to sender", d.reason.as_str())
            }
            Outcome::Bounced(d) => (d.status, "bounced", d.reason.as_str()),
        };
        let tls = match self.tls {
            Some(t) if !t.is_empty() => format!(", tls={t}"),
            _ => String::new(),
        };
        format!(
            "{}: to=<{}>{orig}, relay={}, delay={}, delays={}/{}/{}/{}{tls}, dsn={status}, status={word} ({text})",
            self.queue_id,
            self.rcpt,
            self.relay,
            delay(t.end - t.arrival),
            delay(t.active - t.arrival),
            delay(t.start - t.active),
            // Postern's agents have no connection set-up stage apart from delivery.
            delay(0.0),
            delay(t.end - t.start),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::dsn::Dsn;

    #[test]
    fn delay_format() {
        assert_eq!(delay(0.0), "0");
        assert_eq!(delay(0.004), "0");
        assert_eq!(delay(0.05), "0.05");
        assert_eq!(delay(0.1), "0.1");
        assert_eq!(delay(1.23), "1.2");
        assert_eq!(delay(1.0), "1");
        assert_eq!(delay(12.34), "12");
        assert_eq!(delay(-3.0), "0");
    }

    #[test]
    fn lines_as_pflogsumm_reads_them() {
        let times = Times {
            arrival: 100.0,
            active: 100.01,
            start: 100.01,
            end: 101.2,
        };
        let sent = Outcome::Delivered;
        let l = Line {
            queue_id: "4ABC",
            rcpt: "u@x",
            orig_rcpt: Some("alias@x"),
            relay: "local",
            times,
            outcome: &sent,
            detail: "delivered to maildir",
            expired: false,
            tls: None,
        };
        assert_eq!(
            l.render(),
            "4ABC: to=<u@x>, orig_to=<alias@x>, relay=local, delay=1.2, delays=0.01/0/0/1.2, dsn=2.0.0, status=sent (delivered to maildir)"
        );
        let bounced = Outcome::Bounced(Dsn::new(StatusCode::OTHER_PERM, "go away"));
        let l = Line {
            orig_rcpt: Some("U@x"),
            relay: "none",
            outcome: &bounced,
            ..l
        };
        assert!(l.render().ends_with(
            "relay=none, delay=1.2, delays=0.01/0/0/1.2, dsn=5.0.0, status=bounced (go away)"
        ));
        assert!(!l.render().contains("orig_to"));
        let sent = Outcome::Delivered;
        let l = Line {
            relay: "mx.example[192.0.2.1]:25",
            outcome: &sent,
            detail: "250 2.0.0 Ok: queued as X",
            tls: Some("may:anonymous"),
            ..l
        };
        assert!(l.render().ends_with(
            "relay=mx.example[192.0.2.1]:25, delay=1.2, delays=0.01/0/0/1.2, tls=may:anonymous, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as X)"
        ));
    }
}
