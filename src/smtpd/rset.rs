//! RSET: abandon the mail transaction.
//!
//! Mirrors Postfix smtpd.c `rset_cmd`. Reads no parameters (the junk-command
//! count is the session's). Implements RFC 5321 section 4.1.1.5.

use super::reply;
use super::session::{Flow, Session};

pub(super) fn rset(s: &mut Session) -> Flow {
    s.reset();
    s.send(&reply::OK);
    Flow::Continue
}
