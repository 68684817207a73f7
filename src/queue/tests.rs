//! Queue tests against real SQLite files in temporary directories, with real
//! writer and session threads.

use super::*;
use crate::mail::dsn::{Dsn, Notify, OrigRcpt, Outcome, Ret, StatusCode};
use crate::mail::envelope::Body;
use std::collections::HashSet;
use std::path::Path;

fn message(handle: &QueueHandle, sender: &str, rcpts: &[&str]) -> NewMessage {
    let queue_id = handle.new_id();
    NewMessage {
        content: format!("Subject: {queue_id}\r\n\r\nbody of {queue_id}\r\n").into_bytes(),
        queue_id,
        queue: QueueName::Incoming,
        arrival: 1_700_000_000,
        sender: sender.to_string(),
        client_name: "client.example".into(),
        client_addr: "192.0.2.10".into(),
        helo: "client.example".into(),
        protocol: "ESMTP".into(),
        tls: None,
        envid: None,
        ret: None,
        body: None,
        smtputf8: false,
        recipients: rcpts
            .iter()
            .map(|r| NewRecipient {
                address: r.to_string(),
                orig_rcpt: None,
                notify: None,
                orcpt: None,
            })
            .collect(),
    }
}

#[test]
fn insert_and_load_round_trip_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    let mut m = message(
        &h,
        "sender@example.org",
        &["a@example.net", "b@example.net"],
    );
    m.protocol = "ESMTPS".into();
    m.tls = Some(SessionTls {
        protocol: "TLSv1.3".into(),
        cipher: "TLS_AES_256_GCM_SHA384".into(),
        bits: 256,
        alg_bits: 256,
        ccert_subject: Some("CN=client.example".into()),
        ccert_issuer: Some("CN=Example CA".into()),
        ccert_fingerprint: Some("AB:CD:EF".into()),
        ccert_verified: true,
    });
    m.envid = Some("QQ314159".into());
    m.ret = Some(Ret::Hdrs);
    m.body = Some(Body::EightBitMime);
    m.smtputf8 = true;
    m.recipients[0].notify = Some(Notify::parse("SUCCESS,FAILURE").unwrap());
    m.recipients[0].orcpt = Some(OrigRcpt::parse("rfc822;A+2Bx@example.net").unwrap());
    m.recipients[1].orig_rcpt = Some("alias@example.net".into());
    let receipt = h.insert(m.clone()).unwrap();
    assert_eq!(receipt.queue_id(), &m.queue_id);

    let loaded = Reader::open(dir.path())
        .unwrap()
        .load(&m.queue_id)
        .unwrap()
        .unwrap();
    assert_eq!(loaded.entry.sender, m.sender);
    assert_eq!(loaded.entry.size, m.content.len() as u64);
    assert_eq!(loaded.entry.queue, QueueName::Incoming);
    assert_eq!(*loaded.content, m.content);
    assert_eq!(loaded.tls, m.tls);
    assert_eq!(loaded.envid, m.envid);
    assert_eq!(loaded.ret, m.ret);
    assert_eq!(loaded.body, m.body);
    assert!(loaded.smtputf8);
    assert_eq!(loaded.protocol, "ESMTPS");
    let r = &loaded.entry.recipients;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].notify, m.recipients[0].notify);
    assert_eq!(r[0].orcpt, m.recipients[0].orcpt);
    assert_eq!(r[1].orig_rcpt.as_deref(), Some("alias@example.net"));
    assert!(r
        .iter()
        .all(|r| r.state == RcptState::Pending && r.attempts == 0));
}

#[test]
fn concurrent_inserts_are_all_durable_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let h = store.handle();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let sender = format!("s{t}-{i}@example.org");
                        let m = message(&h, &sender, &["r@example.net"]);
                        let receipt = h.insert(m).unwrap();
                        (receipt.queue_id().clone(), sender)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let receipts: Vec<(QueueId, String)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    // Group commit: sixteen sessions waiting on fsync share transactions.
    assert!(store.commits() < 400, "{} commits", store.commits());
    drop(store);

    let ids: HashSet<&QueueId> = receipts.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 400, "queue ids are unique");
    let reader = Reader::open(dir.path()).unwrap();
    assert_eq!(reader.list().unwrap().len(), 400);
    for (id, sender) in &receipts {
        let m = reader
            .load(id)
            .unwrap()
            .expect("receipted message is queued");
        assert_eq!(&m.entry.sender, sender);
        assert!(m.content.ends_with(format!("body of {id}\r\n").as_bytes()));
    }
}

#[test]
fn committed_messages_survive_reopen_and_new_ids_sort_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let store = Store::open(dir.path()).unwrap();
        let h = store.handle();
        h.insert(message(&h, "", &["postmaster@example.net"]))
            .unwrap()
            .queue_id()
            .clone()
    };
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    assert!(h.new_id() > first);
    let reader = Reader::open(dir.path()).unwrap();
    let m = reader.load(&first).unwrap().unwrap();
    assert_eq!(m.entry.sender, "", "null sender kept");
}

#[test]
fn one_bad_request_does_not_sink_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    let m = message(&h, "a@example.org", &["r@example.net"]);
    let _ = h.insert(m.clone()).unwrap();
    let dup = h.insert(m.clone());
    assert!(matches!(dup, Err(QueueError::Write { .. })), "{dup:?}");
    let other = message(&h, "b@example.org", &["r@example.net"]);
    let _ = h.insert(other).unwrap();
    assert_eq!(Reader::open(dir.path()).unwrap().list().unwrap().len(), 2);
}

#[test]
fn attempts_moves_requeue_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    let m = message(&h, "s@example.org", &["a@example.net", "b@example.net"]);
    let id = h.insert(m).unwrap().queue_id().clone();
    let deferred = Dsn::new(
        StatusCode::parse("4.4.1").unwrap(),
        "connect to mx.example.net[198.51.100.1]:25: Connection refused",
    );
    h.record(
        &id,
        vec![
            Attempt {
                rcpt_index: 0,
                outcome: Outcome::Delivered,
                next_attempt: None,
                tls: Some(DeliveryTls {
                    level: "verify".into(),
                    protocol: Some("TLSv1.3".into()),
                    cipher: Some("TLS_AES_256_GCM_SHA384".into()),
                    peer_name: Some("mx.example.net".into()),
                    peer_fingerprint: Some("01:02".into()),
                    ..DeliveryTls::default()
                }),
            },
            Attempt {
                rcpt_index: 1,
                outcome: Outcome::Deferred(deferred.clone()),
                next_attempt: Some(1_700_000_300),
                tls: None,
            },
        ],
    )
    .unwrap();
    h.move_to(&id, QueueName::Deferred).unwrap();

    let reader = Reader::open(dir.path()).unwrap();
    let e = &reader.list_queue(QueueName::Deferred).unwrap()[0];
    assert_eq!(e.recipients[0].state, RcptState::Delivered);
    assert_eq!(e.recipients[0].last_dsn.as_deref(), Some("2.0.0"));
    let tls = e.recipients[0].tls.as_ref().expect("TLS of the attempt");
    assert_eq!(tls.level, "verify");
    assert_eq!(tls.peer_fingerprint.as_deref(), Some("01:02"));
    assert_eq!(e.recipients[1].tls, None);
    assert_eq!(e.recipients[1].state, RcptState::Deferred);
    assert_eq!(e.recipients[1].attempts, 1);
    assert_eq!(e.recipients[1].last_dsn.as_deref(), Some("4.4.1"));
    assert_eq!(
        e.recipients[1].last_reason.as_deref(),
        Some(deferred.reason.as_str())
    );
    assert!(reader.due_for_retry(1_700_000_299).unwrap().is_empty());
    assert_eq!(
        reader.due_for_retry(1_700_000_300).unwrap(),
        vec![id.clone()]
    );

    h.move_to(&id, QueueName::Hold).unwrap();
    assert!(
        reader.due_for_retry(i64::MAX).unwrap().is_empty(),
        "held mail waits"
    );
    h.move_to(&id, QueueName::Incoming).unwrap();
    let e = &reader.list_queue(QueueName::Incoming).unwrap()[0];
    assert_eq!(e.recipients[1].state, RcptState::Pending);
    assert_eq!(e.recipients[1].next_attempt, None);
    assert_eq!(
        e.recipients[0].state,
        RcptState::Delivered,
        "done stays done"
    );

    let bad = h.record(
        &id,
        vec![Attempt {
            rcpt_index: 7,
            outcome: Outcome::Delivered,
            next_attempt: None,
            tls: None,
        }],
    );
    assert!(matches!(
        bad,
        Err(QueueError::UnknownRecipient { index: 7, .. })
    ));
    h.delete(&id).unwrap();
    assert!(reader.load(&id).unwrap().is_none());
    assert!(matches!(h.delete(&id), Err(QueueError::UnknownMessage(_))));
    assert!(matches!(
        h.move_to(&id, QueueName::Hold),
        Err(QueueError::UnknownMessage(_))
    ));
}

/// Runs `f` with this thread's file-system uid set to `nobody` when running as
/// root, so permission bits apply (Linux setfsuid(2) is per thread; the store
/// opens its connection on the calling thread).
#[cfg(target_os = "linux")]
fn as_unprivileged<T>(f: impl FnOnce() -> T) -> T {
    let root = nix::unistd::geteuid().is_root();
    if root {
        // SAFETY: setfsuid only changes this thread's file-system credentials.
        unsafe { libc::setfsuid(65534) };
    }
    let out = f();
    if root {
        // SAFETY: as above; restores root's file-system uid.
        unsafe { libc::setfsuid(0) };
    }
    out
}

/// Without Linux's per-thread setfsuid, run as is: as root the read-only checks
/// are not meaningful, so the callers skip their assertions then.
#[cfg(not(target_os = "linux"))]
fn as_unprivileged<T>(f: impl FnOnce() -> T) -> T {
    f()
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn read_only_queue_is_an_error_not_a_receipt() {
    if cfg!(not(target_os = "linux")) && nix::unistd::geteuid().is_root() {
        eprintln!("skipped: root ignores permission bits and only Linux has per-thread setfsuid");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    chmod(&dir.path().join(schema::DB_FILE), 0o444);
    chmod(dir.path(), 0o555);
    let result = as_unprivileged(|| Store::open(dir.path()));
    chmod(dir.path(), 0o755);
    assert!(result.is_err(), "opened a read-only queue: {result:?}");

    let fresh = tempfile::tempdir().unwrap();
    chmod(fresh.path(), 0o555);
    let result = as_unprivileged(|| Store::open(fresh.path()));
    chmod(fresh.path(), 0o755);
    assert!(matches!(result, Err(QueueError::Open { .. })), "{result:?}");
}

#[test]
fn locked_database_fails_the_insert_instead_of_acknowledging() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    let _ = h
        .insert(message(&h, "a@example.org", &["r@example.net"]))
        .unwrap();
    // Another process (say, an administrator's sqlite3 shell) holds the write
    // lock longer than the writer's busy timeout: the insert must fail.
    let other = rusqlite::Connection::open(dir.path().join(schema::DB_FILE)).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let blocked = message(&h, "b@example.org", &["r@example.net"]);
    let blocked_id = blocked.queue_id.clone();
    let result = h.insert(blocked);
    assert!(
        matches!(result, Err(QueueError::Commit { .. })),
        "{result:?}"
    );
    other.execute_batch("ROLLBACK").unwrap();
    assert!(Reader::open(dir.path())
        .unwrap()
        .load(&blocked_id)
        .unwrap()
        .is_none());
    let _ = h
        .insert(message(&h, "c@example.org", &["r@example.net"]))
        .unwrap();
}

#[test]
fn writer_gone_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    drop(store);
    let result = h.insert(message(&h, "a@example.org", &["r@example.net"]));
    assert!(matches!(result, Err(QueueError::WriterGone)));
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(schema::DB_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        Store::open(dir.path()),
        Err(QueueError::SchemaVersion { found: 99, .. })
    ));
    assert!(matches!(
        Reader::open(dir.path()),
        Err(QueueError::SchemaVersion { found: 99, .. })
    ));
}

#[test]
fn database_is_wal_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let conn = schema::open_writer(dir.path()).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[test]
fn only_bookkeeping_nobody_waits_for_commits_unsynced() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    let m = message(&h, "s@example.org", &["a@example.net"]);
    let id = h.insert(m).unwrap().queue_id().clone();
    assert_eq!((store.commits(), store.synced_commits()), (1, 1));

    // The queue manager's way: answers on a shared channel, nobody waits.
    let (tx, rx) = crossbeam_channel::unbounded();
    h.move_tagged(&id, QueueName::Active, 1, &tx).unwrap();
    assert!(matches!(rx.recv().unwrap(), (1, Ok(()))));
    h.delete_tagged(&id, 2, &tx).unwrap();
    assert!(matches!(rx.recv().unwrap(), (2, Ok(()))));
    assert_eq!((store.commits(), store.synced_commits()), (3, 1));
    let reader = Reader::open(dir.path()).unwrap();
    assert!(
        reader.load(&id).unwrap().is_none(),
        "the removal is visible"
    );

    // A command waits for its answer: synced again.
    let m = message(&h, "s@example.org", &["b@example.net"]);
    let id = h.insert(m).unwrap().queue_id().clone();
    h.move_to(&id, QueueName::Hold).unwrap();
    assert_eq!((store.commits(), store.synced_commits()), (5, 3));
}

/// Environment variable that turns `child_inserts_then_hangs` into the victim of
/// `kill_dash_nine_after_receipt_loses_nothing`.
const CHILD_QUEUE_DIR: &str = "POSTERN_TEST_CHILD_QUEUE_DIR";

/// Runs only as a child process of the test below: queues one message, prints
/// its receipt and waits to be killed.
#[test]
fn child_inserts_then_hangs() {
    let Some(dir) = std::env::var_os(CHILD_QUEUE_DIR) else {
        return;
    };
    let store = Store::open(Path::new(&dir)).unwrap();
    let h = store.handle();
    let receipt = h
        .insert(message(&h, "victim@example.org", &["r@example.net"]))
        .unwrap();
    println!("QUEUED {}", receipt.queue_id());
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

#[test]
fn kill_dash_nine_after_receipt_loses_nothing() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "queue::tests::child_inserts_then_hangs",
            "--nocapture",
        ])
        .env(CHILD_QUEUE_DIR, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = std::io::BufReader::new(stdout)
        .lines()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("QUEUED "))
        .expect("child printed its receipt");
    // SIGKILL: no destructor, no checkpoint, no clean close of the database.
    child.kill().unwrap();
    child.wait().unwrap();
    let id = QueueId::parse(line.trim_start_matches("QUEUED ").trim()).unwrap();
    let m = Reader::open(dir.path()).unwrap().load(&id).unwrap();
    assert_eq!(
        m.expect("acknowledged message survives").entry.sender,
        "victim@example.org"
    );
}

#[test]
fn insert_once_refuses_a_second_insert_from_the_same_origin() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    let first = h
        .insert_once(message(&h, "a@x", &["b@y"]), "maildrop:f1")
        .unwrap();
    h.delete(first.queue_id()).unwrap(); // delivered: the origin outlives it
    let again = h.insert_once(message(&h, "a@x", &["b@y"]), "maildrop:f1");
    assert!(
        matches!(again, Err(QueueError::AlreadyQueued { ref queue_id, .. }) if queue_id == first.queue_id().as_str())
    );
    let r = Reader::open(dir.path()).unwrap();
    assert_eq!(r.origins("maildrop:").unwrap(), vec!["maildrop:f1"]);
    h.forget_origin("maildrop:f1").unwrap();
    assert!(r.origins("maildrop:").unwrap().is_empty());
    assert!(h
        .insert_once(message(&h, "a@x", &["b@y"]), "maildrop:f1")
        .is_ok());
}

#[test]
fn flush_makes_deferred_recipients_due_by_message_or_domain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    let defer = |rcpt_index| Attempt {
        rcpt_index,
        outcome: Outcome::Deferred(Dsn::new(StatusCode::parse("4.4.1").unwrap(), "refused")),
        next_attempt: Some(4_000_000_000),
        tls: None,
    };
    let m1 = h
        .insert(message(&h, "s@x", &["a@one.example", "b@two.example"]))
        .unwrap();
    let m2 = h.insert(message(&h, "s@x", &["c@one_example"])).unwrap();
    for (m, n) in [(&m1, 2), (&m2, 1)] {
        h.record(m.queue_id(), (0..n).map(defer).collect()).unwrap();
    }
    let next = |id: &QueueId| -> Vec<Option<i64>> {
        let r = Reader::open(dir.path()).unwrap();
        let m = r.load(id).unwrap().unwrap();
        m.entry.recipients.iter().map(|r| r.next_attempt).collect()
    };
    // `_` in the site is literal, not LIKE's wildcard.
    h.flush(None, Some("one.example")).unwrap();
    assert_eq!(next(m1.queue_id()), vec![None, Some(4_000_000_000)]);
    assert_eq!(next(m2.queue_id()), vec![Some(4_000_000_000)]);
    h.flush(Some(m2.queue_id()), None).unwrap();
    assert_eq!(next(m2.queue_id()), vec![None]);
    h.flush(None, None).unwrap();
    assert_eq!(next(m1.queue_id()), vec![None, None]);
}

#[test]
fn streaming_listing_matches_list() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let h = store.handle();
    for i in 0..20 {
        let rcpts: Vec<String> = (0..i % 3 + 1).map(|r| format!("r{r}@x")).collect();
        let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
        let _ = h.insert(message(&h, "s@x", &refs)).unwrap();
    }
    let r = Reader::open(dir.path()).unwrap();
    let mut streamed = Vec::new();
    r.for_each_entry(None, None, |e| {
        streamed.push(e);
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(streamed, r.list().unwrap());
    let one = streamed[5].queue_id.clone();
    let mut just = Vec::new();
    r.for_each_entry(Some(QueueName::Incoming), Some(&one), |e| {
        just.push(e.queue_id);
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(just, vec![one]);
}
