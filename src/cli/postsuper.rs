//! The `postsuper` command: delete (`-d`), hold (`-h`), release (`-H`) and
//! requeue (`-r`) queued messages, by ID, `ALL`, or IDs read from stdin (`-`),
//! optionally only in the queues named after the options.
//!
//! Mirrors Postfix `postsuper/postsuper.c`: the `ID: removed`, `ID: placed on
//! hold`, `ID: released from hold`, `ID: requeued` log lines and the summaries
//! `Deleted: N messages`, `Placed on hold: N messages`, `Released from hold: N
//! messages`, `Requeued: N messages` (printed when N > 0, "message" for one).
//! Reads `queue_directory`, `mail_owner`.
//!
//! The changes go straight into the queue database through its own writer;
//! SQLite's locking with a busy timeout lets a running daemon's writer wait
//! for it (and the reverse). A release puts the message in the deferred queue
//! (as Postfix); a requeue makes its deferred recipients due now.

use std::collections::BTreeSet;
use std::io::{self, BufRead};
use std::ops::ControlFlow;
use std::process::ExitCode;

use super::queue_cmd::{self, Fatal};
use crate::queue::{QueueError, QueueHandle, QueueId, QueueName, Reader};

/// One of the four operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Delete,
    Hold,
    Release,
    Requeue,
}

impl Op {
    fn letter(c: char) -> Option<Op> {
        match c {
            'd' => Some(Op::Delete),
            'h' => Some(Op::Hold),
            'H' => Some(Op::Release),
            'r' => Some(Op::Requeue),
            _ => None,
        }
    }

    /// The log line after the ID, and the summary's words.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Op::Delete => ("removed", "Deleted"),
            Op::Hold => ("placed on hold", "Placed on hold"),
            Op::Release => ("released from hold", "Released from hold"),
            Op::Requeue => ("requeued", "Requeued"),
        }
    }
}

/// What to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    All,
    Stdin,
    Id(String),
}

struct Options {
    config_dir: Option<String>,
    verbose: bool,
    ops: Vec<(Op, Target)>,
    queues: Vec<QueueName>,
}

/// Runs `postsuper`.
pub fn run(args: Vec<String>) -> ExitCode {
    crate::log::init("postsuper", crate::log::Settings::command_line(false));
    super::queue_cmd::exit_status(parse(&args).and_then(main))
}

fn parse(args: &[String]) -> Result<Options, Fatal> {
    let mut o = Options {
        config_dir: None,
        verbose: false,
        ops: Vec::new(),
        queues: Vec::new(),
    };
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) else {
            let q =
                QueueName::parse(a).ok_or_else(|| Fatal(format!("invalid directory name: {a}")))?;
            o.queues.push(q);
            continue;
        };
        let (c, attached) = flags.split_at(1);
        let c = c.chars().next().unwrap_or(' '); // ok: flags is not empty
        let mut value = || -> Result<String, Fatal> {
            if !attached.is_empty() {
                return Ok(attached.to_string());
            }
            i += 1;
            args.get(i - 1)
                .cloned()
                .ok_or_else(|| Fatal(format!("option requires an argument -- '{c}'")))
        };
        match c {
            'c' => o.config_dir = Some(value()?),
            'v' => o.verbose = true,
            // Queue-file repair (-p, -s, -S) has nothing to do in a database.
            'p' | 's' | 'S' => {}
            _ => match Op::letter(c) {
                Some(op) => {
                    let t = match value()?.as_str() {
                        "ALL" => Target::All,
                        "-" => Target::Stdin,
                        id => Target::Id(id.to_string()),
                    };
                    o.ops.push((op, t));
                }
                None => {
                    return Err(Fatal(
                        "usage: postsuper [-c config_dir] [-d queue_id] [-h queue_id] [-H queue_id] [-r queue_id] [-v] [queue...]".into(),
                    ))
                }
            },
        }
    }
    Ok(o)
}

fn main(o: Options) -> Result<(), Fatal> {
    let (_cfg, queue_dir) = queue_cmd::load("postsuper", o.config_dir.as_deref(), o.verbose)?;
    let reader = queue_cmd::reader(&queue_dir)?;
    let (_store, queue) = queue_cmd::writer(&queue_dir)?;
    let mut stdin_ids: Option<Vec<String>> = None;
    // Postfix applies deletions first, then holds, releases and requeues.
    let mut ops = o.ops.clone();
    ops.sort_by_key(|(op, _)| *op);
    let mut counts: Vec<(Op, usize)> = Vec::new();
    for (op, target) in ops {
        let ids = match target {
            Target::All => all_ids(&reader, &o.queues)?,
            Target::Id(id) => vec![id],
            Target::Stdin => stdin_ids.get_or_insert_with(read_stdin_ids).clone(),
        };
        let n = apply(&reader, &queue, op, &ids, &o.queues)?;
        match counts.iter_mut().find(|(o, _)| *o == op) {
            Some((_, c)) => *c += n,
            None => counts.push((op, n)),
        }
    }
    for (op, n) in counts {
        if n > 0 {
            let s = if n == 1 { "" } else { "s" };
            ::log::info!("{}: {n} message{s}", op.words().1);
        }
    }
    Ok(())
}

/// IDs read from stdin, one per line (the first word of each line, so
/// `mailq`-style output filtered to IDs also works).
fn read_stdin_ids() -> Vec<String> {
    io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            l.split_whitespace()
                .next()
                .map(|w| w.trim_end_matches(['*', '!']).to_string())
        })
        .collect()
}

fn all_ids(reader: &Reader, queues: &[QueueName]) -> Result<Vec<String>, Fatal> {
    let mut ids = Vec::new();
    let wanted: Vec<Option<QueueName>> = if queues.is_empty() {
        vec![None]
    } else {
        queues.iter().copied().map(Some).collect()
    };
    for q in wanted {
        reader.for_each_entry(q, None, |e| {
            ids.push(e.queue_id.as_str().to_string());
            ControlFlow::Continue(())
        })?;
    }
    Ok(ids)
}

/// Applies `op` to each ID; returns how many messages it changed. Unknown IDs
/// and messages outside the named queues are skipped, as Postfix does.
fn apply(
    reader: &Reader,
    queue: &QueueHandle,
    op: Op,
    ids: &[String],
    queues: &[QueueName],
) -> Result<usize, Fatal> {
    let mut done = 0;
    let mut seen = BTreeSet::new();
    for text in ids {
        let Some(id) = QueueId::parse(text) else {
            ::log::warn!("invalid mail queue id: {text}");
            continue;
        };
        if !seen.insert(id.clone()) {
            continue;
        }
        let mut current = None;
        reader.for_each_entry(None, Some(&id), |e| {
            current = Some(e.queue);
            ControlFlow::Break(())
        })?;
        let Some(now) = current else { continue };
        if !queues.is_empty() && !queues.contains(&now) {
            continue;
        }
        let result = match op {
            Op::Delete => queue.delete(&id),
            Op::Hold if now == QueueName::Hold => continue,
            Op::Hold => queue.move_to(&id, QueueName::Hold),
            Op::Release if now != QueueName::Hold => continue,
            Op::Release => queue.move_to(&id, QueueName::Deferred),
            Op::Requeue => queue.move_to(&id, QueueName::Incoming),
        };
        match result {
            Ok(()) => {
                ::log::info!("{id}: {}", op.words().0);
                done += 1;
            }
            // Gone meanwhile (delivered, or removed by someone else).
            Err(QueueError::UnknownMessage(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse(&v(&[
            "postsuper",
            "-d",
            "ALL",
            "deferred",
            "-hABC",
            "-H",
            "-",
        ]))
        .unwrap();
        assert_eq!(
            o.ops,
            vec![
                (Op::Delete, Target::All),
                (Op::Hold, Target::Id("ABC".into())),
                (Op::Release, Target::Stdin)
            ]
        );
        assert_eq!(o.queues, vec![QueueName::Deferred]);
        assert!(parse(&v(&["postsuper", "bogus"])).is_err());
        assert!(parse(&v(&["postsuper", "-d"])).is_err());
    }
}
