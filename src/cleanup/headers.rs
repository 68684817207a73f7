//! The header section of a message as cleanup sees it: which headers are
//! present, the Message-ID for the log, over-long headers cut to
//! `header_size_limit`, and Message-ID/Date added when missing.
//!
//! Mirrors Postfix cleanup_message.c (`cleanup_header_callback`,
//! `cleanup_header_done_callback`: "Message-Id: <YYYYMMDDhhmmss.QUEUEID@myhostname>",
//! "Date: ..." for local submissions or with `always_add_missing_headers`) and
//! `header_size_limit` (the excess of one header is discarded). Reads, through
//! its caller, `header_size_limit`, `myhostname`. Implements RFC 5322 sections
//! 2.2 (header fields, folding), 3.6.1 (Date) and 3.6.4 (Message-ID).

/// What the header scan found.
#[derive(Debug, Default)]
pub struct HeaderFacts {
    pub has_date: bool,
    pub has_message_id: bool,
    /// The Message-ID value, trimmed, for `ID: message-id=...`.
    pub message_id: Option<String>,
}

/// Splits `content` into the header section (with its lines' CRLFs, without the
/// empty line) and the rest (starting at the empty line, or empty).
fn split(content: &[u8]) -> (&[u8], &[u8]) {
    if content.starts_with(b"\r\n") {
        return (&[], content);
    }
    match content.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&content[..i + 2], &content[i + 2..]),
        None => (content, &[]),
    }
}

/// One logical header (first line plus continuation lines).
fn logical_headers(section: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < section.len() {
        let end = section[i..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(section.len(), |p| i + p + 2);
        let next_is_cont = section.get(end).is_some_and(|b| *b == b' ' || *b == b'\t');
        if !next_is_cont {
            out.push(&section[start..end]);
            start = end;
        }
        i = end;
    }
    if start < section.len() {
        out.push(&section[start..]);
    }
    out
}

fn name_is(header: &[u8], name: &str) -> bool {
    let n = name.len();
    header.len() > n && header[n] == b':' && header[..n].eq_ignore_ascii_case(name.as_bytes())
}

/// Scans the headers and cuts each to `limit` bytes (0 = no limit), keeping its
/// CRLF. Returns the rewritten content and what was found.
pub fn scan(content: &[u8], limit: usize) -> (Vec<u8>, HeaderFacts) {
    let (section, rest) = split(content);
    let mut facts = HeaderFacts::default();
    let mut out = Vec::with_capacity(content.len() + 128);
    for h in logical_headers(section) {
        if name_is(h, "date") {
            facts.has_date = true;
        }
        if name_is(h, "message-id") {
            facts.has_message_id = true;
            let value = String::from_utf8_lossy(&h[11..]);
            let value: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
            facts.message_id.get_or_insert(value);
        }
        if limit > 0 && h.len() > limit {
            out.extend_from_slice(&h[..limit]);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(h);
        }
    }
    if !section.is_empty() && !section.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(rest);
    (out, facts)
}

/// Inserts `lines` (each ending in CRLF) at the end of the header section.
pub fn append_headers(content: &[u8], lines: &str) -> Vec<u8> {
    let (section, rest) = split(content);
    let mut out = Vec::with_capacity(content.len() + lines.len());
    out.extend_from_slice(section);
    out.extend_from_slice(lines.as_bytes());
    if rest.is_empty() && !section.is_empty() {
        // No body and no empty line: headers only.
        return out;
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_headers_and_message_id() {
        let msg = b"Subject: x\r\nMessage-ID:\r\n <a@b>\r\n\r\nDate: not a header\r\n";
        let (out, f) = scan(msg, 0);
        assert_eq!(out, msg);
        assert!(f.has_message_id && !f.has_date);
        assert_eq!(f.message_id.as_deref(), Some("<a@b>"));
    }

    #[test]
    fn cuts_long_headers() {
        let msg = b"Subject: 0123456789\r\n\r\nbody\r\n";
        let (out, _) = scan(msg, 12);
        assert_eq!(out, b"Subject: 012\r\n\r\nbody\r\n");
    }

    #[test]
    fn appends_at_end_of_headers() {
        let out = append_headers(b"A: 1\r\n\r\nbody\r\n", "Date: x\r\n");
        assert_eq!(out, b"A: 1\r\nDate: x\r\n\r\nbody\r\n");
        let out = append_headers(b"\r\nbody\r\n", "Date: x\r\n");
        assert_eq!(out, b"Date: x\r\n\r\nbody\r\n");
    }
}
