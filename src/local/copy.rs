//! Renders a message for a mailbox, a Maildir file or a command's stdin: the
//! `From ` envelope line, `Return-Path:`, `X-Original-To:`, `Delivered-To:`, `>From `
//! quoting and the trailing blank line.
//!
//! Mirrors Postfix global/mail_copy.c (header order and exact formats) and
//! global/quote_822_local.c (quoting of address local parts). Reads
//! `prepend_delivered_header` (through [`DeliveredHeader`]).

use super::Envelope;

/// Which additions [`render`] makes (Postfix MAIL_COPY_* flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyFlags {
    /// Prepend the `From sender  date` line.
    pub from_line: bool,
    /// Prepend `>` to body lines that begin with `From `.
    pub quote_from: bool,
    /// Prepend `Return-Path: <sender>`.
    pub return_path: bool,
    /// Prepend `X-Original-To:` (only when the original recipient is known).
    pub original_to: bool,
    /// Prepend `Delivered-To:` with the final recipient.
    pub delivered_to: bool,
    /// Append an empty line so the next `From ` line is found by mail readers.
    pub blank_line: bool,
}

impl CopyFlags {
    /// Everything a UNIX mailbox needs (MAIL_COPY_MBOX); `delivered_to` is then
    /// cleared when `prepend_delivered_header` lacks `file`.
    pub const MBOX: CopyFlags = CopyFlags {
        from_line: true,
        quote_from: true,
        return_path: true,
        original_to: true,
        delivered_to: true,
        blank_line: true,
    };
    /// A Maildir file: headers only, no envelope line, no quoting (maildir.c).
    pub const MAILDIR: CopyFlags = CopyFlags {
        from_line: false,
        quote_from: false,
        return_path: true,
        original_to: true,
        delivered_to: true,
        blank_line: false,
    };
    /// A command's standard input: envelope line but no quoting and no trailing
    /// blank line (command.c).
    pub const COMMAND: CopyFlags = CopyFlags {
        from_line: true,
        quote_from: false,
        return_path: true,
        original_to: true,
        delivered_to: true,
        blank_line: false,
    };

    /// The same flags with `Delivered-To:` switched on or off.
    pub fn with_delivered_to(mut self, on: bool) -> CopyFlags {
        self.delivered_to = on;
        self
    }
}

/// The `prepend_delivered_header` classes that get a `Delivered-To:` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveredHeader {
    /// Deliveries to `|command` and `mailbox_command`.
    pub command: bool,
    /// Deliveries to mailbox, Maildir and `/file`.
    pub file: bool,
    /// Mail forwarded by alias or `.forward` (used by the caller when requeueing).
    pub forward: bool,
}

impl DeliveredHeader {
    /// Parses the parameter value (`command, file, forward`).
    pub fn parse(value: &str) -> DeliveredHeader {
        let words: Vec<String> = value
            .split([',', ' ', '\t'])
            .filter(|w| !w.is_empty())
            .map(|w| w.to_ascii_lowercase())
            .collect();
        let has = |name: &str| words.iter().any(|w| w == name);
        DeliveredHeader {
            command: has("command"),
            file: has("file"),
            forward: has("forward"),
        }
    }
}

impl Default for DeliveredHeader {
    /// Postfix's default `prepend_delivered_header = command, file, forward`.
    fn default() -> Self {
        DeliveredHeader::parse("command, file, forward")
    }
}

/// The sender shown for the null sender in the `From ` line (Postfix
/// MAIL_ADDR_MAIL_DAEMON).
const MAILER_DAEMON: &str = "MAILER-DAEMON";

/// Builds the bytes to write: prepended lines in Postfix's order (`From `,
/// `Return-Path:`, `X-Original-To:`, `Delivered-To:`), then the content with LF line
/// endings, a final newline if the content lacked one, then the optional blank line.
/// `now` is seconds since the epoch for the `From ` line.
pub fn render(envelope: &Envelope, content: &[u8], flags: CopyFlags, now: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 256);
    let sender = quote_822_local(&envelope.sender);
    if flags.from_line {
        out.extend_from_slice(from_line(&sender, now).as_bytes());
    }
    if flags.return_path {
        out.extend_from_slice(format!("Return-Path: <{sender}>\n").as_bytes());
    }
    // An empty original recipient means enable_original_recipient = no (mail_copy.c).
    if flags.original_to && !envelope.original_recipient.is_empty() {
        let orig = quote_822_local(&envelope.original_recipient);
        out.extend_from_slice(format!("X-Original-To: {orig}\n").as_bytes());
    }
    if flags.delivered_to {
        let rcpt = quote_822_local(&envelope.recipient);
        out.extend_from_slice(format!("Delivered-To: {rcpt}\n").as_bytes());
    }
    for line in content.split_inclusive(|&b| b == b'\n') {
        if flags.quote_from && line.starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    if !content.is_empty() && !content.ends_with(b"\n") {
        out.push(b'\n');
    }
    if flags.blank_line {
        out.push(b'\n');
    }
    out
}

/// The mbox separator exactly as mail_copy.c writes it: `From `, the quoted sender
/// (or `MAILER-DAEMON`), two spaces, then asctime(3) of the local time without its
/// newline, e.g. `From alice@example.org  Tue Dec  1 11:41:15 2026`.
pub fn from_line(quoted_sender: &str, now: i64) -> String {
    let who = if quoted_sender.is_empty() {
        MAILER_DAEMON
    } else {
        quoted_sender
    };
    format!("From {who}  {}\n", asctime_local(now))
}

/// asctime(3) layout (`Www Mmm dd hh:mm:ss yyyy`, day padded with a space) of a time
/// in the local zone, as Postfix gets from `asctime(localtime(&now))`.
pub fn asctime_local(now: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = now as libc::time_t;
    // SAFETY: localtime_r only writes into the struct we own; both pointers are valid
    // for the duration of the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let converted = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !converted {
        return "Thu Jan  1 00:00:00 1970".to_string();
    }
    let day = DAYS.get(tm.tm_wday as usize).copied().unwrap_or("Sun");
    let month = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("Jan");
    format!(
        "{day} {month} {:>2} {:02}:{:02}:{:02} {}",
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tm.tm_year + 1900
    )
}

/// Quotes the local part of `address` when RFC 822 requires it, as Postfix's
/// quote_822_local(): `john doe@example.org` becomes `"john doe"@example.org`.
/// The domain is left alone; an address without `@` is all local part.
pub fn quote_822_local(address: &str) -> String {
    let (local, domain) = match address.rfind('@') {
        Some(at) => (&address[..at], Some(&address[at..])),
        None => (address, None),
    };
    if local.is_empty() || !needs_quoting(local) {
        return address.to_string();
    }
    let mut quoted = String::with_capacity(address.len() + 4);
    quoted.push('"');
    for ch in local.chars() {
        if ch == '"' || ch == '\\' {
            quoted.push('\\');
        }
        quoted.push(ch);
    }
    quoted.push('"');
    if let Some(domain) = domain {
        quoted.push_str(domain);
    }
    quoted
}

/// Whether a local part is not an RFC 822 dot-atom: specials, spaces, controls, or
/// dots at either end or doubled.
fn needs_quoting(local: &str) -> bool {
    const SPECIALS: &str = "()<>@,;:\\\".[]";
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return true;
    }
    local
        .chars()
        .any(|c| c != '.' && (SPECIALS.contains(c) || c.is_ascii_control() || c == ' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            queue_id: "4ABCD".into(),
            sender: "alice@example.org".into(),
            recipient: "bob@example.com".into(),
            original_recipient: "b@example.com".into(),
            delivery_key: String::new(),
            retry: false,
        }
    }

    #[test]
    fn mbox_rendering_matches_mail_copy_order_and_quoting() {
        let content = b"Subject: hi\n\nFrom the start\n>From kept\nnot From here";
        let out = render(&envelope(), content, CopyFlags::MBOX, 0);
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("From alice@example.org  "));
        assert_eq!(lines.next(), Some("Return-Path: <alice@example.org>"));
        assert_eq!(lines.next(), Some("X-Original-To: b@example.com"));
        assert_eq!(lines.next(), Some("Delivered-To: bob@example.com"));
        assert!(!text.contains(">>From kept"));
        assert!(text.contains("\n>From the start\n>From kept\nnot From here\n\n"));
    }

    #[test]
    fn null_sender_and_missing_original() {
        let mut env = envelope();
        env.sender.clear();
        env.original_recipient.clear();
        let text = String::from_utf8(render(&env, b"x\n", CopyFlags::MBOX, 0)).unwrap();
        assert!(text.starts_with("From MAILER-DAEMON  "));
        assert!(text.contains("Return-Path: <>\n"));
        assert!(!text.contains("X-Original-To"));
    }

    #[test]
    fn asctime_shape() {
        let s = asctime_local(1_000_000_000);
        assert_eq!(s.len(), 24, "{s}");
        assert!(s.ends_with("2001"), "{s}");
    }

    #[test]
    fn local_part_quoting() {
        assert_eq!(quote_822_local("a.b@x"), "a.b@x");
        assert_eq!(quote_822_local("john doe@x"), "\"john doe\"@x");
        assert_eq!(quote_822_local("a\"b@x"), "\"a\\\"b\"@x");
        assert_eq!(quote_822_local(".a@x"), "\".a\"@x");
        assert_eq!(quote_822_local(""), "");
    }

    #[test]
    fn delivered_header_classes() {
        let d = DeliveredHeader::parse("forward");
        assert!(d.forward && !d.file && !d.command);
        assert!(DeliveredHeader::default().file);
    }
}
