//! The DATA body reader: streams message content from the client into a writer,
//! undoing dot-stuffing, ending only at `<CR><LF>.<CR><LF>`, refusing bare LF,
//! bare CR and NUL (SMTP smuggling), counting size and Received: hops.
//!
//! Mirrors Postfix's smtpd.c receive_data and smtp_stream.c (end-of-data and
//! `smtpd_forbid_bare_newline`, Postfix 3.9) and cleanup's hop count. Its caller
//! passes `message_size_limit`, `hopcount_limit` and `smtpd_forbid_bare_newline`.
//! Implements RFC 5321 sections 4.1.1.4 (end of data), 4.5.2 (transparency:
//! dot-stuffing), 2.3.8 (no bare CR/LF), 4.5.3.1.10 and RFC 1870 section 6.3
//! (size limit: read to the end, then 552), RFC 5321 section 6.3 (loop detection).

use super::hops::HopCounter;
use super::line::BareNewline;
use super::reply::{self, Reply};
use std::io::{self, BufRead, Write};
use thiserror::Error;

/// Limits that apply while reading one message.
#[derive(Debug, Clone, Copy)]
pub struct DataLimits {
    /// `message_size_limit` in bytes; 0 means none.
    pub message_size_limit: u64,
    /// `hopcount_limit`: most Received: headers allowed.
    pub hopcount_limit: u32,
    pub bare_newline: BareNewline,
}

/// What a complete, acceptable message looked like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSummary {
    /// Content bytes written (after unstuffing, CRLF line ends).
    pub size: u64,
    /// Received: headers seen.
    pub hops: u32,
}

/// Why the message was refused. Every variant except `Disconnected`, `Read` and
/// `Sink` is reported after the end-of-data line was read, so the session stays in
/// step with the client; whatever reached the sink must then be discarded.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("lost connection after DATA")]
    Disconnected,
    #[error("read error after DATA: {0}")]
    Read(io::Error),
    #[error("cannot store message content: {0}")]
    Sink(io::Error),
    #[error("bare <LF> received")]
    BareLf,
    #[error("bare <CR> received")]
    BareCr,
    #[error("NUL character in message content")]
    Nul,
    #[error("message size exceeds limit {limit}")]
    TooBig { limit: u64 },
    #[error("too many hops: {hops} Received: headers, limit {limit}")]
    TooManyHops { hops: u32, limit: u32 },
}

impl DataError {
    /// The reply to send; `bare_newline_code` is
    /// `smtpd_forbid_bare_newline_reject_code`. `None` when the client is gone.
    pub fn reply(&self, bare_newline_code: u16) -> Option<Reply> {
        match self {
            DataError::Disconnected | DataError::Read(_) => None,
            DataError::Sink(_) => Some(reply::QUEUE_WRITE_ERROR),
            DataError::BareLf => Some(Reply::bare_lf(bare_newline_code)),
            DataError::BareCr => Some(Reply::bare_cr(bare_newline_code)),
            DataError::Nul => Some(reply::NUL_IN_DATA),
            DataError::TooBig { .. } => Some(reply::MESSAGE_TOO_BIG),
            DataError::TooManyHops { .. } => Some(reply::TOO_MANY_HOPS),
        }
    }
}

/// Where in a line the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// At the start of a line. `clean`: the previous line ended in a real CRLF
    /// (or this is the first line), so a `.` line here may end the data.
    Start { clean: bool },
    /// After a leading dot: the dot is stuffing and is dropped (RFC 5321 section
    /// 4.5.2); a line of `.` alone ends the data only when `clean`.
    Dot { clean: bool },
    /// Inside a line.
    Mid,
}

/// The reader's state across input chunks.
struct Decoder<'a> {
    limits: &'a DataLimits,
    pos: Pos,
    /// A CR was read and not yet resolved (CRLF or bare CR).
    cr: bool,
    problem: Option<DataError>,
    size: u64,
    hops: HopCounter,
    out: Vec<u8>,
}

impl Decoder<'_> {
    fn flag(&mut self, e: DataError) {
        self.problem.get_or_insert(e);
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.hops.see_all(bytes);
        self.size += bytes.len() as u64;
        self.out.extend_from_slice(bytes);
    }

    /// Feeds one byte; returns true at the end of data.
    fn feed(&mut self, b: u8) -> bool {
        if self.cr {
            self.cr = false;
            if b == b'\n' {
                if self.pos == (Pos::Dot { clean: true }) {
                    return true;
                }
                self.emit(b"\r\n");
                self.pos = Pos::Start { clean: true };
                return false;
            }
            // A CR not followed by LF (RFC 5321 section 2.3.8).
            match self.limits.bare_newline {
                BareNewline::Reject => self.flag(DataError::BareCr),
                BareNewline::Normalize => self.emit(b"\r"),
            }
            self.pos = Pos::Mid;
        }
        match (self.pos, b) {
            (_, b'\r') => self.cr = true,
            (_, b'\n') => {
                // A bare LF. Even where tolerated it does not make the next line
                // "clean": `<LF>.<CR><LF>` must not end the data (Postfix 3.9).
                if self.limits.bare_newline == BareNewline::Reject {
                    self.flag(DataError::BareLf);
                }
                self.emit(b"\r\n");
                self.pos = Pos::Start { clean: false };
            }
            (_, 0) => self.flag(DataError::Nul),
            (Pos::Start { clean }, b'.') => self.pos = Pos::Dot { clean },
            (_, _) => {
                self.emit(&[b]);
                self.pos = Pos::Mid;
            }
        }
        false
    }
}

/// Reads the message after `354` up to and including `<CR><LF>.<CR><LF>`, writing
/// the content (unstuffed, CRLF line ends) to `sink`. After a problem the rest is
/// read and dropped, and the problem is returned at the end of data. Memory use is
/// one input buffer plus one chunk of output.
pub fn read_data<R: BufRead, W: Write>(
    reader: &mut R,
    sink: &mut W,
    limits: &DataLimits,
) -> Result<DataSummary, DataError> {
    let mut d = Decoder {
        limits,
        pos: Pos::Start { clean: true },
        cr: false,
        problem: None,
        size: 0,
        hops: HopCounter::new(),
        out: Vec::new(),
    };
    let mut too_big = false;
    loop {
        let buf = reader.fill_buf().map_err(DataError::Read)?;
        if buf.is_empty() {
            return Err(DataError::Disconnected);
        }
        let mut used = 0;
        let mut end = false;
        while used < buf.len() {
            if d.pos == Pos::Mid && !d.cr {
                // Inside a line everything up to the next CR, LF or NUL is
                // content as it is: copied in one piece.
                let rest = &buf[used..];
                let run = rest
                    .iter()
                    .position(|&b| matches!(b, b'\r' | b'\n' | 0))
                    .unwrap_or(rest.len());
                if run > 0 {
                    d.emit(&rest[..run]);
                    used += run;
                    continue;
                }
            }
            let b = buf[used];
            used += 1;
            if d.feed(b) {
                end = true;
                break;
            }
        }
        reader.consume(used);
        let limit = limits.message_size_limit;
        if limit > 0 && d.size > limit {
            too_big = true;
        }
        // Content of a message that will be refused is not stored.
        if !too_big && d.problem.is_none() {
            sink.write_all(&d.out).map_err(DataError::Sink)?;
        }
        d.out.clear();
        if end {
            break;
        }
    }
    finish(sink, limits, d.problem, too_big, d.size, d.hops.hops())
}

/// The verdict once the whole message was read: a smuggling or NUL problem first,
/// then size, then hops (the order Postfix's checks fire in).
pub(super) fn finish<W: Write>(
    sink: &mut W,
    limits: &DataLimits,
    problem: Option<DataError>,
    too_big: bool,
    size: u64,
    hops: u32,
) -> Result<DataSummary, DataError> {
    if let Some(problem) = problem {
        return Err(problem);
    }
    if too_big {
        return Err(DataError::TooBig {
            limit: limits.message_size_limit,
        });
    }
    if hops > limits.hopcount_limit {
        return Err(DataError::TooManyHops {
            hops,
            limit: limits.hopcount_limit,
        });
    }
    sink.flush().map_err(DataError::Sink)?;
    Ok(DataSummary { size, hops })
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
