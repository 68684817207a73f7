//! QUIT: `221 2.0.0 Bye` and close.
//!
//! Mirrors Postfix smtpd.c `quit_cmd`. Reads no parameters. Implements RFC 5321
//! section 4.1.1.10.

use super::reply;
use super::session::{Flow, Session};

pub(super) fn quit(s: &mut Session) -> Flow {
    s.check_pipelining();
    s.send(&reply::BYE);
    Flow::Close
}
