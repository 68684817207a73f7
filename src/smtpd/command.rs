//! SMTP command parsing: one command line (already read by `line::read_line`) into
//! a typed `Command`, or the reply Postfix gives for that syntax error. No I/O.
//!
//! Mirrors the argument checks of Postfix's smtpd.c (helo_cmd, mail_cmd,
//! rcpt_cmd, data_cmd, bdat_cmd, ...) and its `MAIL FROM: <addr>` tolerance.
//! Reads (through `ParseOptions`) `strict_rfc821_envelopes`, `smtputf8_enable`
//! and whether DSN is offered (`smtpd_discard_ehlo_keywords`). Implements
//! RFC 5321 section 4.1.1 (command syntax) and 4.1.2 (paths); ESMTP parameters
//! are in `params.rs`.

use super::params::{parse_mail_params, parse_rcpt_params};
use super::reply::{self, Reply};
use crate::mail::address::{parse_path, AddressError, Mailbox, Path};
use crate::mail::envelope::{MailParams, RcptParams};
use thiserror::Error;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Helo(String),
    Ehlo(String),
    Mail {
        sender: Path,
        params: MailParams,
    },
    Rcpt {
        recipient: Mailbox,
        params: RcptParams,
    },
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy(String),
    StartTls,
    /// Recognised so it can be refused properly; the argument is not kept, it
    /// may hold credentials.
    Auth,
    Help,
    Etrn(String),
}

/// Session settings that change what parses.
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    /// `strict_rfc821_envelopes`: addresses must be in `<>`.
    pub strict_rfc821_envelopes: bool,
    /// `smtputf8_enable`: the SMTPUTF8 parameter is known.
    pub smtputf8: bool,
    /// DSN offered in EHLO: RET, ENVID, NOTIFY, ORCPT are known.
    pub dsn: bool,
}

impl Default for ParseOptions {
    /// Postfix defaults.
    fn default() -> ParseOptions {
        ParseOptions {
            strict_rfc821_envelopes: false,
            smtputf8: true,
            dsn: true,
        }
    }
}

/// A command that could not be parsed; `reply()` gives Postfix's answer.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CommandError {
    #[error("empty command line")]
    Empty,
    #[error("command not recognized")]
    Unrecognized,
    #[error("command line is not UTF-8")]
    BadUtf8,
    #[error("syntax error")]
    Syntax(Reply),
    #[error("bad sender address: {0}")]
    Sender(AddressError),
    #[error("bad recipient address: {0}")]
    Recipient(AddressError),
    #[error("null recipient")]
    NullRecipient,
    #[error("parameter error")]
    Param(Reply),
}

impl CommandError {
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::Empty => reply::BAD_SYNTAX,
            CommandError::Unrecognized => reply::COMMAND_UNRECOGNIZED,
            CommandError::BadUtf8 => reply::BAD_UTF8,
            CommandError::Syntax(r) | CommandError::Param(r) => r.clone(),
            CommandError::Sender(_) => reply::BAD_SENDER_SYNTAX,
            CommandError::Recipient(_) | CommandError::NullRecipient => reply::BAD_RCPT_SYNTAX,
        }
    }
}

/// Parses one command line (without CRLF).
pub fn parse(line: &[u8], opts: &ParseOptions) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::BadUtf8)?;
    let line = line.trim_matches(|c: char| c == ' ' || c == '\t');
    if line.is_empty() {
        return Err(CommandError::Empty);
    }
    let (verb, rest) = match line.find([' ', '\t']) {
        Some(i) => (&line[..i], line[i..].trim_start_matches([' ', '\t'])),
        None => (line, ""),
    };
    let syntax = |r: Reply| Err(CommandError::Syntax(r));
    match verb.to_ascii_uppercase().as_str() {
        "HELO" if rest.is_empty() => syntax(reply::HELO_SYNTAX),
        "HELO" => Ok(Command::Helo(rest.to_string())),
        "EHLO" if rest.is_empty() => syntax(reply::EHLO_SYNTAX),
        "EHLO" => Ok(Command::Ehlo(rest.to_string())),
        "MAIL" => parse_mail(rest, opts),
        "RCPT" => parse_rcpt(rest, opts),
        "DATA" if rest.is_empty() => Ok(Command::Data),
        "DATA" => syntax(reply::DATA_SYNTAX),
        "BDAT" => parse_bdat(rest),
        "RSET" if rest.is_empty() => Ok(Command::Rset),
        "RSET" => syntax(reply::RSET_SYNTAX),
        // RFC 5321 section 4.1.1.9: NOOP may have a parameter; Postfix ignores
        // arguments to QUIT as well.
        "NOOP" => Ok(Command::Noop),
        "QUIT" => Ok(Command::Quit),
        "VRFY" if rest.is_empty() => syntax(reply::VRFY_SYNTAX),
        "VRFY" => Ok(Command::Vrfy(rest.to_string())),
        "STARTTLS" if rest.is_empty() => Ok(Command::StartTls),
        "STARTTLS" => syntax(reply::STARTTLS_SYNTAX),
        "AUTH" => Ok(Command::Auth),
        "HELP" => Ok(Command::Help),
        "ETRN" if rest.is_empty() => syntax(reply::ETRN_SYNTAX),
        "ETRN" => Ok(Command::Etrn(rest.to_string())),
        _ => Err(CommandError::Unrecognized),
    }
}

/// Strips `keyword` (e.g. `FROM:`) case-insensitively, then any blanks: Postfix
/// accepts `MAIL FROM: <a@b>` in every mode, only the brackets are strict.
fn after_keyword<'a>(rest: &'a str, keyword: &str) -> Option<&'a str> {
    let head = rest.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    Some(rest[keyword.len()..].trim_start_matches([' ', '\t']))
}

/// Splits `<path> params...` (or, when not strict, `path params...`) into the
/// address text and the parameter text. `None` when the brackets do not close.
fn split_path(arg: &str, strict: bool) -> Option<(&str, &str, bool)> {
    if let Some(inner) = arg.strip_prefix('<') {
        // Find the '>' that closes the path, skipping quoted strings, which may
        // hold '>' ("a>b"@example.com).
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '>' if !quoted => {
                    let params = &inner[i + 1..];
                    if !params.is_empty() && !params.starts_with([' ', '\t']) {
                        return None;
                    }
                    return Some((&inner[..i], params, true));
                }
                _ => {}
            }
        }
        return None;
    }
    if strict || arg.is_empty() {
        return None;
    }
    let end = arg.find([' ', '\t']).unwrap_or(arg.len());
    Some((&arg[..end], &arg[end..], false))
}

fn parse_mail(rest: &str, opts: &ParseOptions) -> Result<Command, CommandError> {
    let syntax = CommandError::Syntax(reply::MAIL_SYNTAX);
    let arg = after_keyword(rest, "FROM:").ok_or(syntax.clone())?;
    if arg.is_empty() {
        return Err(syntax);
    }
    let (addr, params, _) = split_path(arg, opts.strict_rfc821_envelopes).ok_or(
        CommandError::Sender(AddressError::LocalPart(arg.to_string())),
    )?;
    let sender = parse_path(addr).map_err(CommandError::Sender)?;
    let params = parse_mail_params(params, opts).map_err(CommandError::Param)?;
    Ok(Command::Mail { sender, params })
}

fn parse_rcpt(rest: &str, opts: &ParseOptions) -> Result<Command, CommandError> {
    let syntax = CommandError::Syntax(reply::RCPT_SYNTAX);
    let arg = after_keyword(rest, "TO:").ok_or(syntax.clone())?;
    if arg.is_empty() {
        return Err(syntax);
    }
    let (addr, params, _) = split_path(arg, opts.strict_rfc821_envelopes).ok_or(
        CommandError::Recipient(AddressError::LocalPart(arg.to_string())),
    )?;
    let recipient = match parse_path(addr).map_err(CommandError::Recipient)? {
        Path::Mailbox(m) => m,
        Path::Null => return Err(CommandError::NullRecipient),
    };
    let params = parse_rcpt_params(params, opts).map_err(CommandError::Param)?;
    Ok(Command::Rcpt { recipient, params })
}

/// `BDAT size [LAST]` (RFC 3030 section 2).
fn parse_bdat(rest: &str) -> Result<Command, CommandError> {
    let syntax = || CommandError::Syntax(reply::BDAT_SYNTAX);
    let mut words = rest.split_ascii_whitespace();
    let size = words.next().ok_or_else(syntax)?;
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax());
    }
    let size: u64 = size.parse().map_err(|_| syntax())?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(syntax()),
    };
    if words.next().is_some() {
        return Err(syntax());
    }
    Ok(Command::Bdat { size, last })
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
