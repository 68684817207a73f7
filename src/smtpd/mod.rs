//! The SMTP server: one thread per client connection running an RFC 5321
//! session with STARTTLS, handing each accepted message to cleanup; below it the
//! pure layer (command lines, commands, ESMTP parameters, DATA/BDAT, replies).
//!
//! Mirrors Postfix's smtpd(8) (smtpd.c, smtpd_chat.c) and global/smtp_stream.c.
//! Reads (passed in by the session) `line_length_limit`, `message_size_limit`,
//! `hopcount_limit`, `smtpd_forbid_bare_newline`,
//! `smtpd_forbid_bare_newline_reject_code`, `strict_rfc821_envelopes`,
//! `smtputf8_enable`. Implements RFC 5321 sections 2.3.8, 4.1, 4.2, 4.5.2,
//! RFC 1870, RFC 2034, RFC 3030 (BDAT syntax), RFC 3461, RFC 6531.
//!
//! Public API:
//! - `service::SmtpdService::new(Arc<Config>, QueueHandle, service_name)` and
//!   `serve(TcpStream, peer, local)`: what the master daemon calls per connection.
//! - `line::read_line(&mut BufRead, &LineLimits, &mut Vec<u8>) -> Result<(), LineError>`
//! - `command::parse(&[u8], &ParseOptions) -> Result<Command, CommandError>`;
//!   `CommandError::reply()`
//! - `data::read_data(&mut BufRead, &mut Write, &DataLimits) -> Result<DataSummary, DataError>`;
//!   `DataError::reply(reject_code)`
//! - `bdat::BdatReader::new(DataLimits)`: `read_chunk(&mut BufRead, n, &mut Write)`,
//!   `is_doomed()`, `finish(&mut Write) -> Result<DataSummary, DataError>`
//! - `reply::Reply` (`to_wire`, `log_text`, `Reply::queued(&Durable)`) and constants.
//!
//! Where Postern's defaults differ from Postfix 3.7 (smuggling and slow-client defence):
//! - `smtpd_forbid_bare_newline` behaves as `reject` by default: a bare LF or bare
//!   CR in a command or in DATA/BDAT content gets `550 5.5.2 Error: bare <LF>
//!   received` (code from `smtpd_forbid_bare_newline_reject_code`). Postfix 3.9
//!   defaults to `normalize`; before 3.9 to `no`, which accepts `<LF>.<LF>` as the
//!   end of data. Postern never does: `no` is read as `normalize`.
//! - Bare CR is treated like bare LF (Postfix checks only LF).
//! - `smtpd_per_request_deadline` is on unless main.cf or master.cf sets it
//!   (Postfix 3.7: off outside stress mode): `smtpd_timeout` bounds a whole
//!   command or DATA/BDAT transfer, extended by `smtpd_min_data_rate`, so a client
//!   sending one byte a second cannot hold a thread.
//! - The `... TLS connection established from ...` summary is logged at every
//!   `smtpd_tls_loglevel`, 0 included (Postfix: 1 and up), so TLS use is always
//!   visible in the log.
//! - A bare newline in `reject` mode ends the session after the 550, in commands
//!   as in DATA (Postfix 3.9 `reject` does the same).
//! - NUL in a command or in content is refused (`500 5.5.2 Error: NUL character
//!   in command`, `550 5.6.0 Error: NUL character in message content`: Postern's
//!   wording); an over-long command line gets `500 5.5.0 Error: line too long`.
#![allow(dead_code)] // wired in by the daemon (issue 3)

pub mod bdat;
mod bdat_cmd;
pub mod command;
mod conn;
pub mod data;
mod data_cmd;
mod helo;
pub mod hops;
pub mod line;
mod mail;
mod misc;
mod noop;
pub mod params;
mod peer;
mod quit;
mod rcpt;
pub mod reply;
pub mod restrictions;
mod rset;
pub mod service;
mod session;
pub mod settings;
mod starttls;
mod vrfy;

#[cfg(test)]
mod tests;

use thiserror::Error;

/// Why an smtpd service cannot be built; each variant names the culprit.
#[derive(Debug, Error)]
pub enum SmtpdError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("bad parameter value: {param} = {value}")]
    BadValue { param: &'static str, value: String },
    #[error("no certificate: smtpd_tls_security_level = {level} (or smtpd_tls_wrappermode = yes) needs smtpd_tls_cert_file, smtpd_tls_eccert_file or smtpd_tls_chain_files")]
    NoCertificate { level: String },
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::ConfigError),
    #[error("smtpd restrictions: {0}")]
    Restrictions(#[from] restrictions::RestrictionError),
    #[error("virtual_alias_maps: {0}")]
    Maps(#[from] crate::maps::MapError),
}
