//! The BDAT (CHUNKING) content reader: exactly the announced octets of each
//! chunk, no dot-stuffing, with the same bare LF/CR, NUL, size and hop checks as
//! DATA, carried across chunk boundaries.
//!
//! Mirrors Postfix's smtpd.c bdat_cmd (Postfix 3.4 and later) with
//! `smtpd_forbid_bare_newline` applied to BDAT content as Postfix 3.9 does. Its
//! caller passes `message_size_limit`, `hopcount_limit` and
//! `smtpd_forbid_bare_newline`. Implements RFC 3030 sections 2-3 (chunk octets are
//! taken as they are; text must be canonical CRLF per RFC 2045 section 2.7).

use super::data::{finish, DataError, DataLimits, DataSummary};
use super::hops::HopCounter;
use super::line::BareNewline;
use std::io::{BufRead, Write};

/// One message's worth of BDAT chunks.
#[derive(Debug)]
pub struct BdatReader {
    limits: DataLimits,
    /// The previous chunk ended in CR; its LF may start the next chunk.
    cr: bool,
    problem: Option<DataError>,
    size: u64,
    too_big: bool,
    hops: HopCounter,
    out: Vec<u8>,
}

impl BdatReader {
    pub fn new(limits: DataLimits) -> BdatReader {
        BdatReader {
            limits,
            cr: false,
            problem: None,
            size: 0,
            too_big: false,
            hops: HopCounter::new(),
            out: Vec::new(),
        }
    }

    /// True once the message is sure to be refused; the session still reads
    /// (and drops) the remaining chunks, as RFC 3030 section 2 requires.
    pub fn is_doomed(&self) -> bool {
        self.problem.is_some() || self.too_big
    }

    /// Reads exactly `count` octets into `sink`. Errors here mean the client is
    /// gone or the sink failed; content problems wait for `finish`.
    pub fn read_chunk<R: BufRead, W: Write>(
        &mut self,
        reader: &mut R,
        count: u64,
        sink: &mut W,
    ) -> Result<(), DataError> {
        let mut left = count;
        while left > 0 {
            let buf = reader.fill_buf().map_err(DataError::Read)?;
            if buf.is_empty() {
                return Err(DataError::Disconnected);
            }
            let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let chunk = &buf[..take];
            for &b in chunk {
                self.feed(b);
            }
            reader.consume(take);
            left -= take as u64;
            self.flush_out(sink)?;
        }
        Ok(())
    }

    /// The verdict after the LAST chunk.
    pub fn finish<W: Write>(mut self, sink: &mut W) -> Result<DataSummary, DataError> {
        if self.cr {
            // The content ended in a CR with no LF after it.
            self.cr = false;
            self.bare_cr();
            self.flush_out(sink)?;
        }
        finish(
            sink,
            &self.limits,
            self.problem,
            self.too_big,
            self.size,
            self.hops.hops(),
        )
    }

    fn flush_out<W: Write>(&mut self, sink: &mut W) -> Result<(), DataError> {
        let limit = self.limits.message_size_limit;
        if limit > 0 && self.size > limit {
            self.too_big = true;
        }
        if !self.is_doomed() {
            sink.write_all(&self.out).map_err(DataError::Sink)?;
        }
        self.out.clear();
        Ok(())
    }

    fn emit(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.hops.see(b);
        }
        self.size += bytes.len() as u64;
        self.out.extend_from_slice(bytes);
    }

    fn bare_cr(&mut self) {
        match self.limits.bare_newline {
            BareNewline::Reject => {
                self.problem.get_or_insert(DataError::BareCr);
            }
            BareNewline::Normalize => self.emit(b"\r"),
        }
    }

    fn feed(&mut self, b: u8) {
        if self.cr {
            self.cr = false;
            if b == b'\n' {
                self.emit(b"\r\n");
                return;
            }
            self.bare_cr();
        }
        match b {
            b'\r' => self.cr = true,
            b'\n' => {
                if self.limits.bare_newline == BareNewline::Reject {
                    self.problem.get_or_insert(DataError::BareLf);
                }
                self.emit(b"\r\n");
            }
            0 => {
                self.problem.get_or_insert(DataError::Nul);
            }
            _ => self.emit(&[b]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor, Read};

    const LIMITS: DataLimits = DataLimits {
        message_size_limit: 1000,
        hopcount_limit: 50,
        bare_newline: BareNewline::Reject,
    };

    /// Feeds `chunks` as consecutive BDAT chunks from one stream.
    fn run(
        chunks: &[&[u8]],
        limits: DataLimits,
    ) -> (Result<DataSummary, DataError>, Vec<u8>, Vec<u8>) {
        let mut input: Vec<u8> = chunks.concat();
        input.extend_from_slice(b"QUIT\r\n");
        let mut r = BufReader::with_capacity(3, Cursor::new(input));
        let mut reader = BdatReader::new(limits);
        let mut sink = Vec::new();
        for c in chunks {
            reader
                .read_chunk(&mut r, c.len() as u64, &mut sink)
                .unwrap();
        }
        let result = reader.finish(&mut sink);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        (result, sink, rest)
    }

    #[test]
    fn chunks_are_taken_verbatim_and_crlf_may_straddle_them() {
        let (r, content, rest) = run(&[b"Subject: x\r", b"\n\r\n.dot stays\r\n"], LIMITS);
        assert_eq!(r.unwrap().size, content.len() as u64);
        assert_eq!(content, b"Subject: x\r\n\r\n.dot stays\r\n");
        assert_eq!(rest, b"QUIT\r\n", "exactly the announced octets are read");
    }

    #[test]
    fn bare_newlines_and_nul_are_refused() {
        let e = run(&[b"a\nb\r\n"], LIMITS).0.unwrap_err();
        assert!(matches!(e, DataError::BareLf));
        let e = run(&[b"a\r", b"b\r\n"], LIMITS).0.unwrap_err();
        assert!(matches!(e, DataError::BareCr));
        let e = run(&[b"a\r\n\r"], LIMITS).0.unwrap_err();
        assert!(matches!(e, DataError::BareCr), "trailing CR");
        let e = run(&[b"a\0\r\n"], LIMITS).0.unwrap_err();
        assert!(matches!(e, DataError::Nul));
        let normalize = DataLimits {
            bare_newline: BareNewline::Normalize,
            ..LIMITS
        };
        let (r, content, _) = run(&[b"a\nb\r\n"], normalize);
        r.unwrap();
        assert_eq!(content, b"a\r\nb\r\n");
    }

    #[test]
    fn size_limit_spans_chunks() {
        let big = vec![b'x'; 600];
        let (r, content, rest) = run(&[&big, &big], LIMITS);
        assert!(matches!(r, Err(DataError::TooBig { limit: 1000 })));
        assert!(content.len() <= 1000);
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn short_chunk_is_a_disconnect() {
        let mut r = Cursor::new(b"abc".to_vec());
        let mut reader = BdatReader::new(LIMITS);
        let e = reader.read_chunk(&mut r, 10, &mut Vec::new()).unwrap_err();
        assert!(matches!(e, DataError::Disconnected));
    }
}
