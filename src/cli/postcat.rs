//! The `postcat` command: show a queued message (`-q ID`): its envelope
//! records, headers and body, in Postfix's sectioned layout.
//!
//! Mirrors Postfix `postcat/postcat.c`: `*** ENVELOPE RECORDS queue/ID ***`,
//! `message_size:`, `message_arrival_time:`, `named_attribute:`, `sender:`,
//! `original_recipient:`, `recipient:` / `done_recipient:`, `*** MESSAGE
//! CONTENTS queue/ID ***`, `*** HEADER EXTRACTED queue/ID ***`, `*** MESSAGE
//! FILE END queue/ID ***`; `-e`, `-h`, `-b` choose sections (all by
//! default). Postern has no queue files, so `postcat FILE` is refused and the
//! record names are those of the stored fields. Reads `queue_directory`,
//! `mail_owner`.

use std::io::{self, Write};
use std::process::ExitCode;

use super::queue_cmd::{self, Fatal};
use crate::cleanup::date::asctime;
use crate::queue::{QueueId, RcptState, StoredMessage};

#[derive(Default)]
struct Options {
    config_dir: Option<String>,
    verbose: bool,
    envelope: bool,
    headers: bool,
    body: bool,
    ids: Vec<String>,
}

/// Runs `postcat`.
pub fn run(args: Vec<String>) -> ExitCode {
    crate::log::init("postcat", crate::log::Settings::command_line(false));
    super::queue_cmd::exit_status(parse(&args).and_then(main))
}

fn parse(args: &[String]) -> Result<Options, Fatal> {
    let mut o = Options::default();
    let mut by_id = false;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" => o.config_dir = it.next().cloned(),
            "-q" => by_id = true,
            "-v" => o.verbose = true,
            f if f.starts_with('-') && f.len() > 1 => {
                for c in f[1..].chars() {
                    match c {
                        'e' => o.envelope = true,
                        'h' => o.headers = true,
                        'b' => o.body = true,
                        'q' => by_id = true,
                        'v' => o.verbose = true,
                        // -o (offsets), -r (record names), -s (offset) have no
                        // meaning without queue files.
                        'o' | 'r' | 's' => {}
                        _ => {
                            return Err(Fatal(
                                "usage: postcat [-behqv] [-c config_dir] -q queue_id...".into(),
                            ))
                        }
                    }
                }
            }
            id => o.ids.push(id.to_string()),
        }
    }
    if !by_id {
        return Err(Fatal(
            "Postern keeps no queue files: name messages by queue ID with -q".into(),
        ));
    }
    if !(o.envelope || o.headers || o.body) {
        (o.envelope, o.headers, o.body) = (true, true, true);
    }
    Ok(o)
}

fn main(o: Options) -> Result<(), Fatal> {
    let (_cfg, queue_dir) = queue_cmd::load("postcat", o.config_dir.as_deref(), o.verbose)?;
    let reader = queue_cmd::reader(&queue_dir)?;
    let mut out = io::stdout().lock();
    for text in &o.ids {
        let m = QueueId::parse(text)
            .map(|id| reader.load(&id))
            .transpose()?
            .flatten()
            .ok_or_else(|| Fatal(format!("open queue file {text}: No such file or directory")))?;
        show(&mut out, &m, &o).map_err(|e| Fatal(format!("write: {e}")))?;
    }
    Ok(())
}

fn show(out: &mut impl Write, m: &StoredMessage, o: &Options) -> io::Result<()> {
    let e = &m.entry;
    let name = format!("{}/{}", e.queue.as_str(), e.queue_id);
    let (headers, body) = split(&m.content);
    if o.envelope {
        writeln!(out, "*** ENVELOPE RECORDS {name} ***")?;
        // Postfix: content size, data offset, recipient count, qmgr flags,
        // content length, smtputf8 flags, each right-aligned in 15 columns.
        writeln!(
            out,
            "message_size: {:>15} {:>15} {:>15} {:>15} {:>15} {:>15}",
            e.size,
            0,
            e.recipients.len(),
            0,
            m.content.len(),
            u8::from(m.smtputf8)
        )?;
        writeln!(out, "message_arrival_time: {}", asctime(e.arrival))?;
        for (k, v) in [
            ("client_name", m.client_name.as_str()),
            ("client_address", m.client_addr.as_str()),
            ("helo_name", m.helo.as_str()),
            ("protocol_name", m.protocol.as_str()),
        ] {
            if !v.is_empty() {
                writeln!(out, "named_attribute: {k}={v}")?;
            }
        }
        if let Some(envid) = &m.envid {
            writeln!(out, "dsn_envid: {envid}")?;
        }
        if let Some(ret) = m.ret {
            writeln!(out, "dsn_ret: {}", ret.as_str())?;
        }
        writeln!(out, "sender: {}", e.sender)?;
        for r in &e.recipients {
            if let Some(orig) = &r.orig_rcpt {
                writeln!(out, "original_recipient: {orig}")?;
            }
            if let Some(n) = r.notify {
                writeln!(out, "dsn_notify: {n}")?;
            }
            let done = matches!(r.state, RcptState::Delivered | RcptState::Bounced);
            let label = if done { "done_recipient" } else { "recipient" };
            writeln!(out, "{label}: {}", r.address)?;
        }
    }
    if o.headers || o.body {
        writeln!(out, "*** MESSAGE CONTENTS {name} ***")?;
        if o.headers {
            write_lines(out, headers)?;
        }
        if o.headers && o.body {
            writeln!(out)?;
        }
        if o.body {
            write_lines(out, body)?;
        }
    }
    if o.envelope {
        writeln!(out, "*** HEADER EXTRACTED {name} ***")?;
    }
    writeln!(out, "*** MESSAGE FILE END {name} ***")
}

/// Headers and body, split at the first empty line (which belongs to neither).
fn split(content: &[u8]) -> (&[u8], &[u8]) {
    if content.starts_with(b"\r\n") {
        return (&[], &content[2..]);
    }
    match content.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(p) => (&content[..p + 2], &content[p + 4..]),
        None => (content, &[]),
    }
}

/// CRLF text written with the terminal's LF line ends.
fn write_lines(out: &mut impl Write, text: &[u8]) -> io::Result<()> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    if text.is_empty() {
        return Ok(());
    }
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.write_all(line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_lines() {
        let (h, b) = split(b"A: 1\r\nB: 2\r\n\r\nbody\r\n");
        assert_eq!(h, b"A: 1\r\nB: 2\r\n");
        assert_eq!(b, b"body\r\n");
        let mut out = Vec::new();
        write_lines(&mut out, h).unwrap();
        assert_eq!(out, b"A: 1\nB: 2\n");
    }
}
