//! The SMTP command line reader: one CRLF-terminated line from a `BufRead`,
//! bounded in memory, with bare LF, bare CR and NUL reported as typed errors.
//!
//! Mirrors Postfix's global/smtp_stream.c `smtp_get` (line length limit, bare
//! newline detection). Its caller passes `line_length_limit` and
//! `smtpd_forbid_bare_newline`. Implements RFC 5321 sections 2.3.8 (lines end in
//! CRLF, bare CR and LF must not be treated as line ends) and 4.5.3.1.4 (command
//! line length).

use std::io::{self, BufRead};
use thiserror::Error;

/// What to do with a line ending in a bare LF (Postfix 3.9 `smtpd_forbid_bare_newline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareNewline {
    /// Refuse the command or message (Postern's default: SMTP smuggling defence).
    Reject,
    /// Treat a bare LF as CRLF, except that the end of DATA still needs
    /// `<CR><LF>.<CR><LF>` (Postfix `normalize`; Postfix's older `no` maps here too,
    /// since accepting `<LF>.<LF>` as the end of data is the smuggling hole).
    Normalize,
}

impl BareNewline {
    /// Maps the `smtpd_forbid_bare_newline` value: `reject`; `normalize`, `yes`,
    /// `no` (see `Normalize`). Case does not matter, as in Postfix.
    pub fn from_param(value: &str) -> Option<BareNewline> {
        match value.to_ascii_lowercase().as_str() {
            "reject" => Some(BareNewline::Reject),
            "normalize" | "yes" | "no" => Some(BareNewline::Normalize),
            _ => None,
        }
    }
}

/// Why no command line was returned. After every error but `Io` and `Eof` the
/// rest of the offending line has been read and discarded, so the session can
/// answer and read the next command.
#[derive(Debug, Error)]
pub enum LineError {
    #[error("lost connection")]
    Eof,
    #[error("lost connection in the middle of a line")]
    Truncated,
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    #[error("line longer than {limit} bytes")]
    TooLong { limit: usize },
    #[error("bare <LF> received")]
    BareLf,
    #[error("bare <CR> received")]
    BareCr,
    #[error("NUL character received")]
    Nul,
}

/// Limits for command lines.
#[derive(Debug, Clone, Copy)]
pub struct LineLimits {
    /// `line_length_limit` (Postfix default 2048).
    pub max: usize,
    pub bare_newline: BareNewline,
}

/// Reads one line into `line` (cleared first, without its CRLF). Never holds more
/// than `limits.max` bytes of it; an over-long line is read to its end and
/// dropped. The first problem found in a line is the one reported.
pub fn read_line<R: BufRead>(
    reader: &mut R,
    limits: &LineLimits,
    line: &mut Vec<u8>,
) -> Result<(), LineError> {
    line.clear();
    let mut problem: Option<LineError> = None;
    let mut pending_cr = false;
    let mut seen_any = false;
    let keep = |line: &mut Vec<u8>, problem: &mut Option<LineError>, b: u8| {
        if line.len() < limits.max {
            line.push(b);
        } else {
            problem.get_or_insert(LineError::TooLong { limit: limits.max });
        }
    };
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Err(if seen_any {
                LineError::Truncated
            } else {
                LineError::Eof
            });
        }
        seen_any = true;
        let mut used = 0;
        let mut done = false;
        for &b in buf {
            used += 1;
            if pending_cr {
                pending_cr = false;
                if b == b'\n' {
                    done = true;
                    break;
                }
                // RFC 5321 section 2.3.8: a CR not followed by LF is no line end.
                match limits.bare_newline {
                    BareNewline::Reject => {
                        problem.get_or_insert(LineError::BareCr);
                    }
                    BareNewline::Normalize => keep(line, &mut problem, b'\r'),
                }
            }
            match b {
                b'\r' => pending_cr = true,
                b'\n' => {
                    if limits.bare_newline == BareNewline::Reject {
                        problem.get_or_insert(LineError::BareLf);
                    }
                    done = true;
                    break;
                }
                0 => {
                    problem.get_or_insert(LineError::Nul);
                }
                _ => keep(line, &mut problem, b),
            }
        }
        reader.consume(used);
        if done {
            return problem.map_or(Ok(()), Err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    const REJECT: LineLimits = LineLimits {
        max: 2048,
        bare_newline: BareNewline::Reject,
    };
    const NORMALIZE: LineLimits = LineLimits {
        max: 2048,
        bare_newline: BareNewline::Normalize,
    };

    fn lines(input: &[u8], limits: &LineLimits) -> Vec<Result<String, String>> {
        // A tiny buffer makes lines straddle fill_buf calls.
        let mut r = BufReader::with_capacity(3, Cursor::new(input.to_vec()));
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            match read_line(&mut r, limits, &mut line) {
                Ok(()) => out.push(Ok(String::from_utf8_lossy(&line).into_owned())),
                Err(LineError::Eof) => return out,
                Err(e) => {
                    let end = matches!(e, LineError::Truncated);
                    out.push(Err(e.to_string()));
                    if end {
                        return out;
                    }
                }
            }
        }
    }

    #[test]
    fn crlf_lines() {
        assert_eq!(
            lines(b"EHLO a\r\nQUIT\r\n\r\n", &REJECT),
            vec![Ok("EHLO a".into()), Ok("QUIT".into()), Ok("".into())]
        );
    }

    #[test]
    fn bare_lf_and_cr_are_errors_and_the_next_line_still_reads() {
        assert_eq!(
            lines(b"NOOP\nQUIT\r\n", &REJECT),
            vec![Err("bare <LF> received".into()), Ok("QUIT".into())]
        );
        assert_eq!(
            lines(b"NO\rOP\r\nQUIT\r\n", &REJECT),
            vec![Err("bare <CR> received".into()), Ok("QUIT".into())]
        );
        assert_eq!(
            lines(b"NOOP\nQUIT\r\n", &NORMALIZE),
            vec![Ok("NOOP".into()), Ok("QUIT".into())]
        );
        assert_eq!(lines(b"A\rB\r\n", &NORMALIZE), vec![Ok("A\rB".into())]);
    }

    #[test]
    fn nul_is_an_error() {
        assert_eq!(
            lines(b"NO\0OP\r\nQUIT\r\n", &NORMALIZE),
            vec![Err("NUL character received".into()), Ok("QUIT".into())]
        );
    }

    #[test]
    fn over_long_line_is_discarded_with_bounded_memory() {
        let limits = LineLimits {
            max: 10,
            bare_newline: BareNewline::Reject,
        };
        let mut input = vec![b'x'; 100_000];
        input.extend_from_slice(b"\r\nQUIT\r\n");
        let mut r = BufReader::with_capacity(64, Cursor::new(input));
        let mut line = Vec::new();
        let e = read_line(&mut r, &limits, &mut line).unwrap_err();
        assert!(matches!(e, LineError::TooLong { limit: 10 }));
        assert!(line.capacity() < 100, "held {} bytes", line.capacity());
        read_line(&mut r, &limits, &mut line).unwrap();
        assert_eq!(line, b"QUIT");
        let exact = lines(b"0123456789\r\n", &limits);
        assert_eq!(exact, vec![Ok("0123456789".into())]);
    }

    #[test]
    fn end_of_input() {
        assert_eq!(lines(b"", &REJECT), vec![]);
        assert_eq!(
            lines(b"QUIT", &REJECT),
            vec![Err("lost connection in the middle of a line".into())]
        );
        assert_eq!(
            lines(b"QUIT\r", &REJECT),
            vec![Err("lost connection in the middle of a line".into())]
        );
    }

    #[test]
    fn param_values() {
        assert_eq!(BareNewline::from_param("REJECT"), Some(BareNewline::Reject));
        assert_eq!(BareNewline::from_param("no"), Some(BareNewline::Normalize));
        assert_eq!(BareNewline::from_param("maybe"), None);
    }
}
