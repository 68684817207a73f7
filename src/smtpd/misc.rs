//! HELP, ETRN and AUTH, the commands Postern answers without doing much.
//!
//! Mirrors Postfix smtpd.c: HELP is not implemented (`502 5.5.2 Error: command
//! not recognized`); `etrn_cmd` without fast_flush_domains ("458 Unable to queue
//! messages for domain"); AUTH without SASL (`503 5.5.1 Error: authentication
//! not enabled`, smtpd_sasl_auth_enable = no). Reads no parameters.
//! Implements RFC 1985 (ETRN), RFC 4954 section 4 (AUTH refused).

use super::reply::{self, Reply};
use super::session::{Flow, Session};
use crate::mail::dsn::StatusCode;

pub(super) fn help(s: &mut Session) -> Flow {
    s.send(&reply::COMMAND_UNRECOGNIZED);
    Flow::Continue
}

pub(super) fn auth(s: &mut Session) -> Flow {
    s.send(&reply::AUTH_NOT_ENABLED);
    Flow::Continue
}

pub(super) fn etrn(s: &mut Session, domain: &str) -> Flow {
    if s.helo.is_none() {
        s.send(&Reply::new(
            503,
            Some(StatusCode::new(5, 5, 1)),
            "Error: send HELO/EHLO first",
        ));
        return Flow::Continue;
    }
    if s.tx.is_some() {
        s.send(&reply::TRANSACTION_IN_PROGRESS);
        return Flow::Continue;
    }
    // Postfix with an empty fast_flush_domains.
    let r = Reply::new(
        459,
        Some(StatusCode::new(4, 3, 0)),
        format!("<{domain}>: service unavailable"),
    );
    s.send(&r);
    Flow::Continue
}
