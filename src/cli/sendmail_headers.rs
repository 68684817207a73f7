//! sendmail's reading of a message: line ends made CRLF, a leading `From `
//! line dropped, input ended by a lone `.` unless `-i`, and for `-t` the
//! recipients taken from To/Cc/Bcc (Resent- versions when present) with Bcc
//! removed.
//!
//! Mirrors Postfix sendmail.c (`enqueue`: skip `From `, dot handling) and
//! cleanup's recipient extraction (cleanup_message.c, `cleanup_extract_internal`,
//! Bcc deletion). Reads no main.cf parameters. RFC 5322 sections 3.4 (address
//! lists, groups, comments) and 3.6.3/3.6.6 (destination and resent fields).

/// The message as it will be queued: CRLF line ends; a first line starting
/// with `From ` (an mbox separator) dropped; with `dot_ends` a line holding
/// only `.` ends the input (Sendmail without `-i`/`-oi`).
pub fn message_from_input(input: &[u8], dot_ends: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32);
    let mut lines = input.split(|&b| b == b'\n').peekable();
    let mut first = true;
    while let Some(line) = lines.next() {
        if lines.peek().is_none() && line.is_empty() {
            break; // the split after a final newline
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if first && line.starts_with(b"From ") {
            first = false;
            continue;
        }
        first = false;
        if dot_ends && line == b"." {
            break;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One logical header: its name and unfolded value, and the byte range it
/// covers (with continuation lines) in the content.
struct Header {
    name: String,
    value: String,
    start: usize,
    end: usize,
}

fn headers(content: &[u8]) -> Vec<Header> {
    let mut out: Vec<Header> = Vec::new();
    let mut pos = 0;
    while pos < content.len() {
        let end = content[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(content.len(), |p| pos + p + 2);
        let line = &content[pos..end];
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        if text.starts_with([' ', '\t']) {
            if let Some(h) = out.last_mut() {
                h.value.push(' ');
                h.value.push_str(text.trim());
                h.end = end;
            }
        } else if let Some((name, value)) = text.split_once(':') {
            out.push(Header {
                name: name.trim().to_ascii_lowercase(),
                value: value.trim().to_string(),
                start: pos,
                end,
            });
        } else {
            break; // not a header: the body starts here
        }
        pos = end;
    }
    out
}

/// Recipients from the headers, and the content with Bcc headers removed.
/// When any Resent- header is present only the Resent- destinations count
/// (RFC 5322 section 3.6.6; Postfix `extract_recipient`).
pub fn extract_recipients(content: &[u8]) -> (Vec<String>, Vec<u8>) {
    let hs = headers(content);
    let resent = hs.iter().any(|h| h.name.starts_with("resent-"));
    let wanted: &[&str] = if resent {
        &["resent-to", "resent-cc", "resent-bcc"]
    } else {
        &["to", "cc", "bcc"]
    };
    let mut rcpts = Vec::new();
    for h in hs.iter().filter(|h| wanted.contains(&h.name.as_str())) {
        for a in address_list(&h.value) {
            if !rcpts.contains(&a) {
                rcpts.push(a);
            }
        }
    }
    let mut stripped = Vec::with_capacity(content.len());
    let mut pos = 0;
    for h in hs
        .iter()
        .filter(|h| h.name == "bcc" || h.name == "resent-bcc")
    {
        stripped.extend_from_slice(&content[pos..h.start]);
        pos = h.end;
    }
    stripped.extend_from_slice(&content[pos..]);
    (rcpts, stripped)
}

/// The addresses of an RFC 5322 address list: `Name <a@b>`, bare `a@b`,
/// groups `team: a@b, c@d;`, comments in parentheses dropped, quoted strings
/// kept intact.
pub fn address_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = String::new();
    let mut angle: Option<String> = None;
    let mut chars = value.chars();
    let flush = |token: &mut String, angle: &mut Option<String>, out: &mut Vec<String>| {
        let addr = angle.take().unwrap_or_else(|| token.trim().to_string());
        let addr = addr.trim().to_string();
        if !addr.is_empty() {
            out.push(addr);
        }
        token.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                token.push('"');
                while let Some(q) = chars.next() {
                    token.push(q);
                    if q == '\\' {
                        if let Some(n) = chars.next() {
                            token.push(n);
                        }
                    } else if q == '"' {
                        break;
                    }
                }
            }
            '(' => {
                let mut depth = 1;
                for q in chars.by_ref() {
                    match q {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
            }
            '<' => {
                let inner: String = chars.by_ref().take_while(|&q| q != '>').collect();
                angle = Some(inner);
            }
            ':' if angle.is_none() => token.clear(), // group name
            ',' | ';' => flush(&mut token, &mut angle, &mut out),
            _ => token.push(c),
        }
    }
    flush(&mut token, &mut angle, &mut out);
    // A display name without an address ("undisclosed-recipients:;") leaves
    // nothing; bare words with spaces are not addresses.
    out.retain(|a| !a.contains(' ') || a.starts_with('"'));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_rules() {
        let m = message_from_input(b"From root Tue\nSubject: a\n\nx\n.\nafter\n", true);
        assert_eq!(m, b"Subject: a\r\n\r\nx\r\n");
        let m = message_from_input(b"Subject: a\r\n\r\n.\r\nafter", false);
        assert_eq!(m, b"Subject: a\r\n\r\n.\r\nafter\r\n");
    }

    #[test]
    fn address_lists() {
        assert_eq!(
            address_list("Joe <j@x.org>, k@y.org (Kay), \"Doe, J\" <d@z>"),
            vec!["j@x.org", "k@y.org", "d@z"]
        );
        assert_eq!(
            address_list("team: a@b, c@d;, e@f"),
            vec!["a@b", "c@d", "e@f"]
        );
        assert!(address_list("undisclosed-recipients:;").is_empty());
    }

    #[test]
    fn extract_and_strip_bcc() {
        let msg = b"To: a@x\r\nBcc: hidden@x,\r\n  other@x\r\nCc: c@x\r\nSubject: s\r\n\r\nBcc: body@x\r\n";
        let (r, s) = extract_recipients(msg);
        assert_eq!(r, vec!["a@x", "hidden@x", "other@x", "c@x"]);
        assert_eq!(
            s,
            b"To: a@x\r\nCc: c@x\r\nSubject: s\r\n\r\nBcc: body@x\r\n"
        );
        let resent = b"To: a@x\r\nResent-To: r@x\r\n\r\n";
        assert_eq!(extract_recipients(resent).0, vec!["r@x"]);
    }
}
