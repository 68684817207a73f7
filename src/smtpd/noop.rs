//! NOOP: nothing, successfully.
//!
//! Mirrors Postfix smtpd.c `noop_cmd`. Reads no parameters (the junk-command
//! count is the session's). Implements RFC 5321 section 4.1.1.9.

use super::reply;
use super::session::{Flow, Session};

pub(super) fn noop(s: &mut Session) -> Flow {
    s.send(&reply::OK);
    Flow::Continue
}
