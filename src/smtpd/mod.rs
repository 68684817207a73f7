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
#![allow(dead_code)] // wired in by the daemon (issue 3)

pub mod bdat;
pub mod command;
pub mod data;
pub mod hops;
pub mod line;
pub mod params;
pub mod reply;
