//! `mailq` next to real Postfix 3.7's on a held message: the same header, the
//! same message line shape (ID, `!`, size right-aligned, asctime's first 19
//! characters, two spaces, sender at column 41 for a 10-character ID), the same
//! recipient indent and reason alignment, blank line and footer. IDs, sizes, times and addresses
//! differ and are compared by shape only.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{free_port, Instance};
use common::postfix::{PostfixInstance, Role};

const EXTRA: &str = "compatibility_level = 3.6\nalias_maps =\n";

/// (message line, recipient lines, rest) of a one-message listing.
fn shape(listing: &str) -> (String, Vec<String>, Vec<String>) {
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(
        lines[0], "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------",
        "{listing}"
    );
    let msg = lines[1].to_string();
    let rcpts: Vec<String> = lines[2..]
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| l.to_string())
        .collect();
    let rest = lines[2 + rcpts.len()..]
        .iter()
        .map(|l| l.to_string())
        .collect();
    (msg, rcpts, rest)
}

/// The message line reduced to its shape: the mark, where the size ends and
/// where the sender starts, both counted from the end of the queue ID (Postfix
/// IDs may be longer than 10 characters; `%-10s` then pushes the line right).
fn mask(line: &str) -> String {
    let re = regex::Regex::new(
        r"^(\S+?)([ *!])( *)(\d+) ([A-Z][a-z]{2} [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d)  (\S+)$",
    )
    .unwrap();
    let c = re
        .captures(line)
        .unwrap_or_else(|| panic!("line shape: {line:?}"));
    let id = c[1].len().max(10);
    let size_end = c[1].len() + 1 + c[3].len() + c[4].len();
    let sender_at = line.len() - c[6].len();
    format!(
        "mark {:?}, size ends at id+{}, sender at id+{}",
        &c[2],
        size_end - id,
        sender_at - id
    )
}

#[test]
fn held_message_listing_matches_postfix() {
    // Postfix: relaying to a port nobody listens on, with smtp deferred, so
    // the message stays; then held.
    let mut pf = PostfixInstance::new(Role::sender_to(free_port()));
    pf.set("defer_transports", "smtp");
    pf.start();
    let id = pf.send(
        "alice@tx.test.example",
        &["bob@elsewhere.example"],
        "Subject: held\n\nbody\n",
    );
    let run = |cmd: &str, args: &[&str]| {
        let o = Command::new(cmd)
            .args(args)
            .env_remove("MAIL_CONFIG")
            .output()
            .expect("run postfix command");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let conf = pf.config_dir().display().to_string();
    let until = Instant::now() + Duration::from_secs(20);
    let mut theirs = String::new();
    while Instant::now() < until {
        run("/usr/sbin/postsuper", &["-c", &conf, "-h", &id]);
        theirs = run("/usr/sbin/postqueue", &["-c", &conf, "-p"]);
        if theirs.contains(&format!("{id}!")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    pf.stop();
    assert!(
        theirs.contains(&format!("{id}!")),
        "Postfix mailq:\n{theirs}"
    );

    // Postern: the same envelope, submitted with sendmail, then held.
    let inst = Instance::new(EXTRA);
    inst.start();
    let postern = |name: &str, args: &[&str], input: &[u8]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_postern"))
            .arg(name)
            .args(args)
            .env("MAIL_CONFIG", inst.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run postern");
        c.stdin.take().unwrap().write_all(input).unwrap();
        String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned()
    };
    postern(
        "sendmail",
        &["-f", "alice@tx.test.example", "bob@elsewhere.example"],
        b"Subject: held\n\nbody\n",
    );
    // Hold it once it is committed (cleanup logs message-id= before the insert).
    let until = Instant::now() + Duration::from_secs(20);
    let mut ours = String::new();
    while Instant::now() < until {
        postern("postsuper", &["-h", "ALL"], b"");
        ours = postern("mailq", &[], b"");
        if ours
            .lines()
            .nth(1)
            .is_some_and(|l| l.get(10..11) == Some("!"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    eprintln!("ours:\n{ours}\ntheirs:\n{theirs}");
    let (their_msg, their_rcpts, their_rest) = shape(&theirs);
    let (our_msg, our_rcpts, our_rest) = shape(&ours);
    assert_eq!(
        mask(&our_msg),
        mask(&their_msg),
        "\nours:\n{ours}\ntheirs:\n{theirs}"
    );
    // Recipient lines: addresses at column 41; a deferral reason (Postfix
    // shows one for the held message, and Postern's qmgr may have deferred its
    // copy too) right-aligned so that its ")" is column 78.
    let shape_of = |l: &String| {
        if l.trim_start().starts_with('(') {
            format!("reason ending at {}", l.len())
        } else {
            format!("address at {}", l.len() - l.trim_start().len())
        }
    };
    let ours_shape: Vec<String> = our_rcpts.iter().map(shape_of).collect();
    let theirs_shape: Vec<String> = their_rcpts.iter().map(shape_of).collect();
    assert_eq!(
        ours_shape.last(),
        theirs_shape.last(),
        "\nours:\n{ours}\ntheirs:\n{theirs}"
    );
    for shape in ours_shape.iter().chain(&theirs_shape) {
        assert!(
            shape == "address at 41" || shape == "reason ending at 78",
            "{shape}\nours:\n{ours}\ntheirs:\n{theirs}"
        );
    }
    let footer = regex::Regex::new(r"^-- \d+ Kbytes in 1 Request\.$").unwrap();
    assert_eq!(
        our_rest.len(),
        their_rest.len(),
        "\nours:\n{ours}\ntheirs:\n{theirs}"
    );
    assert_eq!(our_rest[0], their_rest[0]);
    assert!(footer.is_match(&our_rest[1]) && footer.is_match(&their_rest[1]));
}
