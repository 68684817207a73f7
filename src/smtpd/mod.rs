//! The SMTP server: for now its pure layer — reading command lines, parsing
//! commands and ESMTP parameters, reading DATA, and typed replies. The session,
//! one file per verb, STARTTLS and restrictions come with the daemon.
//!
//! Mirrors Postfix's smtpd(8) (smtpd.c, smtpd_chat.c) and global/smtp_stream.c.
//! Reads (passed in by the session) `line_length_limit`, `message_size_limit`,
//! `hopcount_limit`, `smtpd_forbid_bare_newline`,
//! `smtpd_forbid_bare_newline_reject_code`, `strict_rfc821_envelopes`,
//! `smtputf8_enable`. Implements RFC 5321 sections 2.3.8, 4.1, 4.2, 4.5.2,
//! RFC 1870, RFC 2034, RFC 3030 (BDAT syntax), RFC 3461, RFC 6531.
//!
//! Public API:
//! - `line::read_line(&mut BufRead, &LineLimits, &mut Vec<u8>) -> Result<(), LineError>`
//! - `command::parse(&[u8], &ParseOptions) -> Result<Command, CommandError>`;
//!   `CommandError::reply()`
//! - `data::read_data(&mut BufRead, &mut Write, &DataLimits) -> Result<DataSummary, DataError>`;
//!   `DataError::reply(reject_code)`
//! - `bdat::BdatReader::new(DataLimits)`: `read_chunk(&mut BufRead, n, &mut Write)`,
//!   `is_doomed()`, `finish(&mut Write) -> Result<DataSummary, DataError>`
//! - `reply::Reply` (`to_wire`, `log_text`, `Reply::queued(&Durable)`) and constants.
//!
//! Where Postern's defaults differ from Postfix 3.7 (SMTP smuggling defence):
//! - `smtpd_forbid_bare_newline` behaves as `reject` by default: a bare LF or bare
//!   CR in a command or in DATA/BDAT content gets `550 5.5.2 Error: bare <LF>
//!   received` (code from `smtpd_forbid_bare_newline_reject_code`). Postfix 3.9
//!   defaults to `normalize`; before 3.9 to `no`, which accepts `<LF>.<LF>` as the
//!   end of data. Postern never does: `no` is read as `normalize`.
//! - Bare CR is treated like bare LF (Postfix checks only LF).
//! - NUL in a command or in content is refused (`500 5.5.2 Error: NUL character
//!   in command`, `550 5.6.0 Error: NUL character in message content`: Postern's
//!   wording); an over-long command line gets `500 5.5.0 Error: line too long`.
#![allow(dead_code)] // wired in by the daemon (issue 3)

pub mod bdat;
pub mod command;
pub mod data;
pub mod hops;
pub mod line;
pub mod params;
pub mod reply;
pub mod restrictions;
