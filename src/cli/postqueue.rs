//! The `postqueue` and `mailq` commands: list the queue in Postfix's layout
//! (`-p`) or as JSON lines (`-j`), and make deferred mail due now (`-f`,
//! `-i ID`, `-s site`).
//!
//! Mirrors Postfix `postqueue/postqueue.c`, `postqueue/showq_compat.c` (the
//! `mailq` layout: `%-10s%c%8ld %20.20s %s`, recipients indented 41 columns,
//! the deferral reason right-aligned to column 78 and printed once for
//! consecutive recipients with the same reason, `-- N Kbytes in M Requests.`),
//! `postqueue/showq_json.c` (Postfix 3.1 JSON fields) and showq(8). Reads
//! `queue_directory`, `mail_owner`.
//!
//! Flush: `-f`, `-i` and `-s` clear the retry time of deferred recipients in
//! the queue database (all, one message's, or those at one domain), then
//! write a wake-up byte to the FIFO `$queue_directory/public/qmgr` when a
//! queue manager listens there; otherwise qmgr sees the due recipients at its
//! next deferred-queue scan (`queue_run_delay`). Unlike Postfix, `-s` needs no
//! `fast_flush_domains` entry.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use super::queue_cmd::{self, json_string, Fatal};
use crate::cleanup::date::asctime;
use crate::queue::{QueueEntry, QueueId, QueueName, RcptState};

/// The qmgr wake-up FIFO inside `queue_directory` (Postfix's `public/qmgr`).
const QMGR_TRIGGER: &str = crate::qmgr::trigger::TRIGGER;
/// The header line of the listing.
pub(super) const HEADER: &str =
    "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------";

#[derive(Debug, PartialEq, Eq)]
enum Action {
    List,
    Json,
    Flush,
    FlushId(String),
    FlushSite(String),
}

/// Runs `postqueue`.
pub fn run(args: Vec<String>) -> ExitCode {
    crate::log::init("postqueue", crate::log::Settings::command_line(false));
    finish(
        "postqueue",
        parse(&args).and_then(|(action, dir, v)| main(action, dir, v)),
    )
}

/// Runs `mailq` (`postqueue -p`; Sendmail's `-C dir` and `-v` accepted).
pub fn run_mailq(args: Vec<String>) -> ExitCode {
    crate::log::init("mailq", crate::log::Settings::command_line(false));
    let mut dir = None;
    let mut verbose = false;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-C" | "-c" => dir = it.next().cloned(),
            "-v" => verbose = true,
            other => {
                if let Some(d) = other.strip_prefix("-C") {
                    dir = Some(d.to_string());
                }
            }
        }
    }
    finish("mailq", main(Action::List, dir, verbose))
}

fn finish(_program: &str, r: Result<(), Fatal>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fatal(text)) => {
            crate::log::fatal(&text);
            // EX_TEMPFAIL, as Postfix's postqueue when the queue is unreadable.
            ExitCode::from(75)
        }
    }
}

fn parse(args: &[String]) -> Result<(Action, Option<String>, bool), Fatal> {
    let mut action = None;
    let mut dir = None;
    let mut verbose = false;
    let mut it = args.iter().skip(1);
    let usage = || {
        Fatal("usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site".into())
    };
    while let Some(a) = it.next() {
        let (flag, attached) = match a.strip_prefix('-') {
            Some(f) if !f.is_empty() => f.split_at(1),
            _ => return Err(usage()),
        };
        let mut value = || -> Result<String, Fatal> {
            if attached.is_empty() {
                it.next().cloned().ok_or_else(usage)
            } else {
                Ok(attached.to_string())
            }
        };
        let next = match flag {
            "c" => {
                dir = Some(value()?);
                continue;
            }
            "v" => {
                verbose = true;
                continue;
            }
            "p" => Action::List,
            "j" => Action::Json,
            "f" => Action::Flush,
            "i" => Action::FlushId(value()?),
            "s" => Action::FlushSite(value()?),
            _ => return Err(usage()),
        };
        if action.is_some() {
            return Err(Fatal("specify only one of -f, -i, -j, -p or -s".into()));
        }
        action = Some(next);
    }
    Ok((action.ok_or_else(usage)?, dir, verbose))
}

fn main(action: Action, dir: Option<String>, verbose: bool) -> Result<(), Fatal> {
    let (_cfg, queue_dir) = queue_cmd::load("postqueue", dir.as_deref(), verbose)?;
    match action {
        Action::List => list(&queue_dir, false),
        Action::Json => list(&queue_dir, true),
        Action::Flush => flush(&queue_dir, None, None),
        Action::FlushId(id) => {
            let qid =
                QueueId::parse(&id).ok_or_else(|| Fatal(format!("invalid queue id: {id}")))?;
            flush(&queue_dir, Some(&qid), None)
        }
        Action::FlushSite(site) => flush(&queue_dir, None, Some(&site)),
    }
}

fn flush(queue_dir: &Path, id: Option<&QueueId>, site: Option<&str>) -> Result<(), Fatal> {
    let (_store, queue) = queue_cmd::writer(queue_dir)?;
    queue.flush(id, site)?;
    if let Ok(mut f) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(queue_dir.join(QMGR_TRIGGER))
    {
        let _ = f.write_all(b"F");
    }
    Ok(())
}

/// Streams the listing to stdout; a closed pipe (`mailq | head`) ends it quietly.
fn list(queue_dir: &Path, json: bool) -> Result<(), Fatal> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    if !crate::queue::schema::db_path(queue_dir).exists() {
        // No database yet: the daemon never ran, nothing was ever queued.
        let end = if json {
            Ok(())
        } else {
            write_footer(&mut out, 0, 0)
        };
        return end
            .and_then(|()| out.flush())
            .map_err(|e| Fatal(format!("write: {e}")));
    }
    // Postfix's words when showq cannot be reached; here, when this user may
    // not open the database without the daemon's WAL files.
    let reader = queue_cmd::reader(queue_dir).map_err(|Fatal(e)| {
        Fatal(format!(
            "Queue report unavailable - mail system is down ({e})"
        ))
    })?;
    let mut count = 0u64;
    let mut bytes = 0u64;
    let mut failed: Option<io::Error> = None;
    reader.for_each_entry(None, None, |e| {
        let written = if json {
            write_json(&mut out, &e)
        } else {
            write_entry(&mut out, &e, count == 0)
        };
        count += 1;
        bytes += e.size;
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => {
                failed = Some(err);
                ControlFlow::Break(())
            }
        }
    })?;
    let end = if failed.is_none() && !json {
        write_footer(&mut out, count, bytes)
    } else {
        Ok(())
    };
    match failed.map_or(end.and_then(|()| out.flush()), Err) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Fatal(format!("write: {e}"))),
        _ => Ok(()),
    }
}

/// The status mark after the queue ID: `*` active, `!` on hold.
fn mark(q: QueueName) -> char {
    match q {
        QueueName::Active => '*',
        QueueName::Hold => '!',
        _ => ' ',
    }
}

/// Recipients still to be delivered: delivered and bounced ones are done and
/// not shown, as showq skips done recipients.
fn pending(e: &QueueEntry) -> impl Iterator<Item = &crate::queue::StoredRecipient> {
    e.recipients
        .iter()
        .filter(|r| matches!(r.state, RcptState::Pending | RcptState::Deferred))
}

pub(super) fn write_entry(out: &mut impl Write, e: &QueueEntry, first: bool) -> io::Result<()> {
    if first {
        writeln!(out, "{HEADER}")?;
    } else {
        writeln!(out)?;
    }
    let sender = if e.sender.is_empty() {
        "MAILER-DAEMON"
    } else {
        &e.sender
    };
    let time = asctime(e.arrival);
    writeln!(
        out,
        "{:<10}{}{:>8} {:<20.20} {sender}",
        e.queue_id.as_str(),
        mark(e.queue),
        e.size,
        format!("{time} ")
    )?;
    let mut last_reason: Option<&str> = None;
    for r in pending(e) {
        if let Some(reason) = r
            .last_reason
            .as_deref()
            .filter(|_| r.state == RcptState::Deferred)
        {
            if last_reason != Some(reason) {
                let pad = 76usize.saturating_sub(reason.chars().count());
                writeln!(out, "{:pad$}({reason})", "")?;
                last_reason = Some(reason);
            }
        }
        writeln!(out, "{:41}{}", "", r.address)?;
    }
    Ok(())
}

pub(super) fn write_footer(out: &mut impl Write, count: u64, bytes: u64) -> io::Result<()> {
    if count == 0 {
        writeln!(out, "Mail queue is empty")
    } else {
        let s = if count == 1 { "" } else { "s" };
        writeln!(out, "\n-- {} Kbytes in {count} Request{s}.", bytes / 1024)
    }
}

/// One JSON object per line with Postfix 3.1's fields.
pub(super) fn write_json(out: &mut impl Write, e: &QueueEntry) -> io::Result<()> {
    write!(
        out,
        "{{\"queue_name\": {}, \"queue_id\": {}, \"arrival_time\": {}, \"message_size\": {}, \"forced_expire\": false, \"sender\": {}, \"recipients\": [",
        json_string(e.queue.as_str()),
        json_string(e.queue_id.as_str()),
        e.arrival,
        e.size,
        json_string(&e.sender)
    )?;
    for (i, r) in pending(e).enumerate() {
        if i > 0 {
            out.write_all(b", ")?;
        }
        write!(out, "{{\"address\": {}", json_string(&r.address))?;
        if let Some(reason) = r
            .last_reason
            .as_deref()
            .filter(|_| r.state == RcptState::Deferred)
        {
            write!(out, ", \"delay_reason\": {}", json_string(reason))?;
        }
        if let Some(tls) = r.tls.as_ref().filter(|_| r.state == RcptState::Deferred) {
            write_tls(out, tls)?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"]}\n")
}

/// Postern addition: `"tls": {"level": ..., "protocol": ..., "cipher": ...,
/// "peer_name": ..., "peer_fingerprint": ...}` of the last attempt of a
/// deferred recipient (absent fields were not reached).
fn write_tls(out: &mut impl Write, tls: &crate::mail::delivery::DeliveryTls) -> io::Result<()> {
    write!(out, ", \"tls\": {{\"level\": {}", json_string(&tls.level))?;
    let fields = [
        ("protocol", &tls.protocol),
        ("cipher", &tls.cipher),
        ("peer_name", &tls.peer_name),
        ("peer_fingerprint", &tls.peer_fingerprint),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            write!(out, ", \"{name}\": {}", json_string(v))?;
        }
    }
    out.write_all(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::StoredRecipient;

    fn rcpt(address: &str, state: RcptState, reason: Option<&str>) -> StoredRecipient {
        StoredRecipient {
            index: 0,
            address: address.into(),
            orig_rcpt: None,
            notify: None,
            orcpt: None,
            state,
            attempts: 1,
            next_attempt: None,
            last_reason: reason.map(str::to_string),
            last_dsn: None,
            tls: None,
        }
    }

    #[test]
    fn layout_as_showq() {
        let reason = "connect to mail.example.net[192.0.2.26]:25: Connection refused";
        let e = QueueEntry {
            queue_id: QueueId::parse("0000000000").unwrap(),
            queue: QueueName::Hold,
            arrival: 0,
            size: 442,
            sender: String::new(),
            recipients: vec![
                rcpt("a@example.net", RcptState::Deferred, Some(reason)),
                rcpt("b@example.net", RcptState::Deferred, Some(reason)),
                rcpt("done@example.net", RcptState::Delivered, None),
            ],
        };
        let mut out = Vec::new();
        write_entry(&mut out, &e, true).unwrap();
        write_footer(&mut out, 1, 442).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert!(lines[1].starts_with("0000000000!     442 "), "{}", lines[1]);
        assert_eq!(&lines[1][41..], "MAILER-DAEMON");
        assert_eq!(lines[2], format!("{:14}({reason})", ""));
        assert_eq!(lines[3], format!("{:41}a@example.net", ""));
        assert_eq!(lines[4], format!("{:41}b@example.net", ""));
        assert_eq!(lines[5], "");
        assert_eq!(lines[6], "-- 0 Kbytes in 1 Request.");
        let mut j = Vec::new();
        write_json(&mut j, &e).unwrap();
        let j = String::from_utf8(j).unwrap();
        assert!(j.starts_with("{\"queue_name\": \"hold\", \"queue_id\": \"0000000000\", \"arrival_time\": 0, \"message_size\": 442, \"forced_expire\": false, \"sender\": \"\", \"recipients\": [{\"address\": \"a@example.net\", \"delay_reason\": "));
        assert!(!j.contains("done@"));
        assert!(!j.contains("\"tls\""));

        let mut e = e;
        e.recipients[0].tls = Some(crate::mail::delivery::DeliveryTls {
            level: "encrypt".into(),
            protocol: Some("TLSv1.3".into()),
            cipher: Some("TLS_AES_256_GCM_SHA384".into()),
            ..Default::default()
        });
        let mut j = Vec::new();
        write_json(&mut j, &e).unwrap();
        let j = String::from_utf8(j).unwrap();
        assert!(j.contains(&format!(
            "\"delay_reason\": \"{reason}\", \"tls\": {{\"level\": \"encrypt\", \"protocol\": \"TLSv1.3\", \"cipher\": \"TLS_AES_256_GCM_SHA384\"}}}}"
        )), "{j}");
    }

    #[test]
    fn options() {
        let a = |v: &[&str]| {
            parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .ok()
                .map(|(a, d, _)| (a, d))
        };
        assert_eq!(a(&["postqueue", "-p"]), Some((Action::List, None)));
        assert_eq!(
            a(&["postqueue", "-c", "/x", "-j"]),
            Some((Action::Json, Some("/x".into())))
        );
        assert_eq!(
            a(&["postqueue", "-iABC"]),
            Some((Action::FlushId("ABC".into()), None))
        );
        assert_eq!(a(&["postqueue"]), None);
        assert_eq!(a(&["postqueue", "-p", "-f"]), None);
    }
}
