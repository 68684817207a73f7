//! mailq / postqueue -p / postqueue -j, postsuper and postcat against a queue
//! filled through the real daemon: Postfix's layout line by line (showq's
//! `%-10s%c%8ld %20.20s %s`, recipients at column 41, blank line between
//! entries, `-- N Kbytes in M Requests.`) on ~2,000 messages, the JSON
//! fields, and the effects and messages of postsuper -h/-H/-r/-d.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{Instance, Out};

const EXTRA: &str = "compatibility_level = 3.6\nalias_maps =\n";

fn postern(inst: &Instance, name: &str, args: &[&str], stdin: &[u8]) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
        .arg(name)
        .args(args)
        .env("MAIL_CONFIG", inst.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run postern");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait").into()
}

/// Writes `n` maildrop files in the documented format (as sendmail would),
/// starts the daemon, waits until pickup has queued them all, stops it.
fn fill(inst: &Instance, n: usize) {
    let dir = inst.path().join("queue/maildrop");
    std::fs::create_dir_all(&dir).expect("mkdir maildrop");
    for i in 0..n {
        let rcpts: String = (0..1 + i % 3)
            .map(|r| format!("rcpt u{i}.{r}@example.net\n"))
            .collect();
        let sender = if i % 10 == 9 {
            "<>".to_string()
        } else {
            format!("s{i}@example.org")
        };
        let text = format!(
            "postern-maildrop 1\nsender {sender}\n{rcpts}\nSubject: m{i}\r\n\r\nbody {i}\r\n"
        );
        std::fs::write(dir.join(format!("test{i:06}")), text).expect("write maildrop file");
    }
    inst.start();
    let until = Instant::now() + Duration::from_secs(120);
    while std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) > 0 {
        assert!(
            Instant::now() < until,
            "pickup did not empty the maildrop:\n{}",
            inst.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

fn is_id(s: &str) -> bool {
    s.len() == 10
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() && !b"AEIOUaeiouz".contains(&b))
}

#[test]
fn mailq_layout_and_json_on_2000_messages() {
    let inst = Instance::new(EXTRA);
    const N: usize = 2000;
    fill(&inst, N);
    let o = postern(&inst, "mailq", &[], b"");
    assert_eq!(o.code, 0, "mailq: {}", o.stderr);
    let p = postern(&inst, "postqueue", &["-p"], b"");
    assert_eq!(p.stdout, o.stdout, "mailq is postqueue -p");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
    );
    let mut entries = 0;
    let mut recipients = 0;
    let mut i = 1;
    while i < lines.len() && !lines[i].starts_with("-- ") {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        // ID, status mark, size right-aligned in 8, asctime's first 20, sender.
        assert!(is_id(&l[..10]), "queue id in {l:?}");
        assert!(matches!(&l[10..11], " " | "*" | "!"), "mark in {l:?}");
        assert!(
            l[11..19].trim_start().parse::<u64>().is_ok(),
            "size in {l:?}"
        );
        assert_eq!(&l[19..20], " ");
        let time = &l[20..39];
        assert!(
            time.as_bytes()[3] == b' ' && time.as_bytes()[7] == b' ' && &time[13..14] == ":",
            "time {time:?}"
        );
        assert_eq!(&l[39..41], "  ");
        let sender = &l[41..];
        assert!(
            sender == "MAILER-DAEMON" || sender.ends_with("@example.org"),
            "{l:?}"
        );
        entries += 1;
        i += 1;
        while i < lines.len() && !lines[i].is_empty() {
            let r = lines[i];
            if r.trim_start().starts_with('(') {
                assert!(r.ends_with(')'), "reason line {r:?}");
            } else {
                assert_eq!(&r[..41], " ".repeat(41), "indent of {r:?}");
                assert!(r[41..].ends_with("@example.net"), "{r:?}");
                recipients += 1;
            }
            i += 1;
        }
    }
    assert_eq!(entries, N);
    assert_eq!(recipients, (0..N).map(|i| 1 + i % 3).sum::<usize>());
    assert_eq!(
        lines.last().copied(),
        Some(format!("-- {} Kbytes in {N} Requests.", footer_kb(&inst)).as_str())
    );
    assert_eq!(lines[lines.len() - 2], "");

    let j = postern(&inst, "postqueue", &["-j"], b"");
    assert_eq!(j.code, 0, "{}", j.stderr);
    let objects: Vec<&str> = j.stdout.lines().collect();
    assert_eq!(objects.len(), N);
    for obj in &objects {
        assert!(obj.starts_with("{\"queue_name\": \""), "{obj}");
        for field in [
            "\"queue_id\": \"",
            "\"arrival_time\": ",
            "\"message_size\": ",
            "\"forced_expire\": false",
            "\"sender\": \"",
            "\"recipients\": [{\"address\": \"",
        ] {
            assert!(obj.contains(field), "{field} in {obj}");
        }
        assert!(obj.ends_with("]}"), "{obj}");
    }
    assert!(
        objects.iter().any(|o| o.contains("\"sender\": \"\"")),
        "null sender in JSON"
    );
}

/// The footer's kilobytes: the sum of message_size over the JSON lines / 1024.
fn footer_kb(inst: &Instance) -> u64 {
    let j = postern(inst, "postqueue", &["-j"], b"");
    j.stdout
        .lines()
        .map(|l| {
            let v = l.split("\"message_size\": ").nth(1).unwrap();
            v[..v.find(',').unwrap()].parse::<u64>().unwrap()
        })
        .sum::<u64>()
        / 1024
}

fn ids(inst: &Instance) -> Vec<(String, String)> {
    let j = postern(inst, "postqueue", &["-j"], b"");
    j.stdout
        .lines()
        .map(|l| {
            let q = l.split("\"queue_name\": \"").nth(1).unwrap();
            let id = l.split("\"queue_id\": \"").nth(1).unwrap();
            (id[..10].to_string(), q[..q.find('"').unwrap()].to_string())
        })
        .collect()
}

#[test]
fn postsuper_hold_release_requeue_delete() {
    let inst = Instance::new(EXTRA);
    fill(&inst, 3);
    let all = ids(&inst);
    assert_eq!(all.len(), 3);
    let (a, b, c) = (all[0].0.clone(), all[1].0.clone(), all[2].0.clone());

    let o = postern(&inst, "postsuper", &["-h", &a], b"");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("postsuper: Placed on hold: 1 message\n"),
        "{}",
        o.stderr
    );
    let q = postern(&inst, "mailq", &[], b"");
    assert!(q.stdout.contains(&format!("{a}!")), "{}", q.stdout);
    assert!(ids(&inst).contains(&(a.clone(), "hold".into())));

    let o = postern(&inst, "postsuper", &["-h", "ALL"], b"");
    assert!(
        o.stderr.contains("postsuper: Placed on hold: 2 messages"),
        "{}",
        o.stderr
    );
    let o = postern(&inst, "postsuper", &["-H", "ALL", "hold"], b"");
    assert!(
        o.stderr
            .contains("postsuper: Released from hold: 3 messages"),
        "{}",
        o.stderr
    );
    assert!(
        ids(&inst).iter().all(|(_, q)| q == "deferred"),
        "{:?}",
        ids(&inst)
    );

    let o = postern(&inst, "postsuper", &["-r", "ALL"], b"");
    assert!(
        o.stderr.contains("postsuper: Requeued: 3 messages"),
        "{}",
        o.stderr
    );

    let stdin = format!("{a}\n{b}\nNOTANID\n");
    let o = postern(&inst, "postsuper", &["-d", "-"], stdin.as_bytes());
    assert!(
        o.stderr.contains("postsuper: Deleted: 2 messages"),
        "{}",
        o.stderr
    );
    assert_eq!(ids(&inst), vec![(c.clone(), "incoming".to_string())]);
    assert!(inst.log().contains("postfix/postsuper["));
    assert!(
        inst.log().contains(&format!("{a}: removed")),
        "{}",
        inst.log()
    );

    let cat = postern(&inst, "postcat", &["-q", &c], b"");
    assert_eq!(cat.code, 0, "{}", cat.stderr);
    let want = [
        format!("*** ENVELOPE RECORDS incoming/{c} ***"),
        "message_arrival_time: ".to_string(),
        "sender: s2@example.org".to_string(),
        "recipient: u2.0@example.net".to_string(),
        format!("*** MESSAGE CONTENTS incoming/{c} ***"),
        "Subject: m2".to_string(),
        "body 2".to_string(),
        format!("*** HEADER EXTRACTED incoming/{c} ***"),
        format!("*** MESSAGE FILE END incoming/{c} ***"),
    ];
    let mut at = 0;
    for w in &want {
        let found = cat.stdout[at..].find(w.as_str());
        assert!(
            found.is_some(),
            "{w:?} after offset {at} in\n{}",
            cat.stdout
        );
        at += found.unwrap_or(0);
    }
    let body_only = postern(&inst, "postcat", &["-bq", &c], b"");
    assert!(
        !body_only.stdout.contains("Subject:") && body_only.stdout.contains("body 2\n"),
        "{}",
        body_only.stdout
    );

    let o = postern(&inst, "postsuper", &["-d", "ALL"], b"");
    assert!(
        o.stderr.contains("postsuper: Deleted: 1 message\n"),
        "{}",
        o.stderr
    );
    let q = postern(&inst, "mailq", &[], b"");
    assert_eq!(q.stdout, "Mail queue is empty\n");
    let j = postern(&inst, "postqueue", &["-j"], b"");
    assert_eq!(j.stdout, "");
}
