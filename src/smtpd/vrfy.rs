//! VRFY: `502 5.5.1 VRFY command is disabled` with `disable_vrfy_command`, else
//! Postfix's noncommittal `252 2.0.0 address`.
//!
//! Mirrors Postfix smtpd.c `vrfy_cmd` (without local_recipient_maps probing,
//! which needs the recipient tables of the restrictions module). Reads
//! `disable_vrfy_command`. Implements RFC 5321 sections 3.5.3 and 4.1.1.6.

use super::reply::{self, Reply};
use super::restrictions::{Checkpoint, Verdict};
use super::session::{Flow, Session};
use crate::mail::dsn::StatusCode;

pub(super) fn vrfy(s: &mut Session, arg: &str) -> Flow {
    if s.svc.settings.disable_vrfy {
        s.send(&reply::VRFY_DISABLED);
        return Flow::Continue;
    }
    if s.tx.as_ref().is_some_and(|t| t.bdat.is_some()) {
        s.send(&reply::TRANSACTION_IN_PROGRESS);
        return Flow::Continue;
    }
    let addr = arg
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    let d = s.check(Checkpoint::Vrfy, Some(&addr));
    if let Verdict::Reject(r) | Verdict::Defer(r) = d.verdict {
        s.log_reject("VRFY", &r, Some(&addr));
        s.send(&r);
        return Flow::Continue;
    }
    // RFC 5321 section 3.5.3: 252 when the address cannot be verified here.
    let r = Reply::new(252, Some(StatusCode::new(2, 0, 0)), addr);
    s.send(&r);
    Flow::Continue
}
