//! Counts `Received:` headers in the header section of message content as it
//! streams past, for the mail-loop check.
//!
//! Mirrors Postfix's cleanup(8) hop count (cleanup_message.c). Its caller applies
//! `hopcount_limit`. Implements RFC 5321 section 6.3 (loop detection by counting
//! Received: fields) over RFC 5322 section 2.2 header syntax.

const RECEIVED: &[u8] = b"received:";

/// Sees content one byte at a time, CRLF line ends; counts header lines that start
/// with `Received:` (any case) until the empty line that ends the headers.
#[derive(Debug)]
pub struct HopCounter {
    in_headers: bool,
    line_start: bool,
    matched: Option<usize>,
    hops: u32,
}

impl HopCounter {
    pub fn new() -> HopCounter {
        HopCounter {
            in_headers: true,
            line_start: true,
            matched: None,
            hops: 0,
        }
    }

    pub fn hops(&self) -> u32 {
        self.hops
    }

    /// Sees each of `bytes` in turn; nothing to do once past the headers.
    pub fn see_all(&mut self, bytes: &[u8]) {
        if self.in_headers {
            bytes.iter().for_each(|&b| self.see(b));
        }
    }

    pub fn see(&mut self, b: u8) {
        if !self.in_headers {
            return;
        }
        if self.line_start {
            self.line_start = false;
            if b == b'\r' || b == b'\n' {
                // The empty line that ends the headers (RFC 5322 section 2.1).
                self.in_headers = false;
                return;
            }
            self.matched = Some(0);
        }
        if b == b'\n' {
            self.line_start = true;
            return;
        }
        self.matched = match self.matched {
            Some(n) if b.to_ascii_lowercase() == RECEIVED[n] => {
                if n + 1 == RECEIVED.len() {
                    self.hops += 1;
                    None
                } else {
                    Some(n + 1)
                }
            }
            _ => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &[u8]) -> u32 {
        let mut h = HopCounter::new();
        text.iter().for_each(|&b| h.see(b));
        h.hops()
    }

    #[test]
    fn counts_header_lines_only() {
        assert_eq!(
            count(b"Received: a\r\nRECEIVED:b\r\n\r\nReceived: c\r\n"),
            2
        );
        assert_eq!(
            count(b"X-Received: a\r\n Received: folded\r\nReceived-SPF: x\r\n"),
            0
        );
        assert_eq!(count(b"\r\nReceived: a\r\n"), 0, "no headers at all");
    }
}
