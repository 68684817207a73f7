//! HELO and EHLO: the client's name, the ESMTP keyword list, and a reset of
//! any transaction in progress.
//!
//! Mirrors Postfix smtpd.c `helo_cmd` and `ehlo_cmd` (keyword order PIPELINING,
//! SIZE, VRFY, ETRN, STARTTLS, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8,
//! CHUNKING; `smtpd_discard_ehlo_keywords`). Reads `message_size_limit`,
//! `disable_vrfy_command`, `smtputf8_enable`, `smtpd_discard_ehlo_keywords`,
//! `smtpd_sasl_auth_enable`. Implements RFC 5321 sections 4.1.1.1 and 4.1.4
//! (EHLO/HELO reset the transaction), RFC 1869, RFC 2920, RFC 3207 section 4.2
//! (no STARTTLS after TLS).

use super::reply::Reply;
use super::restrictions::{Checkpoint, Verdict};
use super::session::{Flow, Session};

pub(super) fn helo(s: &mut Session, name: String, ehlo: bool) -> Flow {
    // EHLO/HELO replies must be waited for (RFC 2920 section 3.1).
    s.check_pipelining();
    let previous = (s.helo.take(), s.esmtp);
    s.helo = Some(name);
    s.esmtp = ehlo;
    let d = s.check(Checkpoint::Helo, None);
    if let Verdict::Reject(r) | Verdict::Defer(r) = d.verdict {
        s.log_reject(if ehlo { "EHLO" } else { "HELO" }, &r, None);
        (s.helo, s.esmtp) = previous;
        s.send(&r);
        return Flow::Continue;
    }
    s.reset();
    let st = &s.svc.settings;
    let r = if ehlo {
        Reply::ehlo(&st.myhostname, &keywords(s))
    } else {
        Reply::new(250, None, st.myhostname.clone())
    };
    s.send(&r);
    Flow::Continue
}

/// The EHLO keywords in Postfix's order, minus the discarded ones.
fn keywords(s: &Session) -> Vec<String> {
    let st = &s.svc.settings;
    let tls_offered = s.svc.tls.is_some() && s.tls.is_none() && !st.wrappermode;
    let size = if st.message_size_limit > 0 {
        format!("SIZE {}", st.message_size_limit)
    } else {
        "SIZE".to_string()
    };
    let candidates: [(&str, String, bool); 10] = [
        ("pipelining", "PIPELINING".into(), true),
        ("size", size, true),
        ("vrfy", "VRFY".into(), !st.disable_vrfy),
        ("etrn", "ETRN".into(), true),
        ("starttls", "STARTTLS".into(), tls_offered),
        ("enhancedstatuscodes", "ENHANCEDSTATUSCODES".into(), true),
        ("8bitmime", "8BITMIME".into(), true),
        ("dsn", "DSN".into(), true),
        ("smtputf8", "SMTPUTF8".into(), st.smtputf8),
        ("chunking", "CHUNKING".into(), true),
    ];
    candidates
        .into_iter()
        .filter(|(key, _, on)| *on && !st.keyword_discarded(key))
        .map(|(_, word, _)| word)
        .collect()
}
