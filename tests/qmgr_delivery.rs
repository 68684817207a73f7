//! The queue manager through the real daemon: transport_maps sending test
//! domains to the discard and error transports and to a transport with no agent
//! (deferred, retried after the backoff), expiry with a bounce to the sender,
//! the hold queue left alone, and the log lines pflogsumm reads.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::daemon::{free_port, Instance};

/// master.cf: one smtpd, and the delivery services the tests route to.
fn master(port: u16) -> String {
    format!(
        "127.0.0.1:{port} inet n - n - - smtpd\n\
         discard unix - - n - - discard\n\
         error unix - - n - - error\n\
         retry unix - - n - - error\n"
    )
}

const ROUTES: &str = "transport_maps = inline:{ {discard.test=discard:}, \
     {note.discard.test=discard:2.0.0 kept out}, {error.test=error:5.1.1 no such user here}, \
     {retry.test=retry:4.2.2 try later}, {later.test=smtp:}, {sender.test=discard:} }";

/// main.cf for these tests: the routes, fast retries, no alias tables.
fn main_cf(routes: &str, extra: &str) -> String {
    format!(
        "{routes}\ncompatibility_level = 3.6\nlocal_recipient_maps =\nalias_maps =\n\
         minimal_backoff_time = 1s\nmaximal_backoff_time = 2s\nqueue_run_delay = 1s\n{extra}"
    )
}

fn instance(extra: &str) -> Instance {
    let port = free_port();
    let inst = Instance::with_master(&main_cf(ROUTES, extra), &master(port), port);
    inst.start();
    inst
}

/// Sends one message over SMTP and returns its queue ID.
fn send(inst: &Instance, from: &str, to: &[&str]) -> String {
    let mut c = inst.connect();
    assert!(c.command("EHLO client.test").starts_with("250"));
    assert!(c.command(&format!("MAIL FROM:<{from}>")).starts_with("250"));
    for t in to {
        let r = c.command(&format!("RCPT TO:<{t}>"));
        assert!(r.starts_with("250"), "RCPT {t}: {r}");
    }
    assert!(c.command("DATA").starts_with("354"));
    let r = c.command("Subject: qmgr test\r\n\r\nhello\r\n.");
    assert!(r.starts_with("250"), "{r}");
    c.quit();
    r.rsplit(' ').next().unwrap().to_string()
}

/// A queued message: (id, queue, sender, recipients with their state).
type Queued = (String, String, String, Vec<(String, String)>);

/// Every queued message, read from the queue database.
fn queue(inst: &Instance) -> Vec<Queued> {
    let db = inst.path().join("queue/queue.db");
    let conn = rusqlite::Connection::open_with_flags(
        Path::new(&db),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn
        .prepare("SELECT queue_id, queue_name, sender FROM messages ORDER BY queue_id")
        .unwrap();
    let msgs: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    msgs.into_iter()
        .map(|(id, q, s)| {
            let mut st = conn
                .prepare("SELECT address, state FROM recipients WHERE queue_id = ?1")
                .unwrap();
            let r = st
                .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (id, q, s, r)
        })
        .collect()
}

fn wait_until(what: &str, inst: &Instance, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}; log:\n{}",
            inst.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn line_with<'a>(log: &'a str, parts: &[&str]) -> Option<&'a str> {
    log.lines().find(|l| parts.iter().all(|p| l.contains(p)))
}

#[test]
fn discard_and_error_transports_and_removal() {
    let inst = instance("");
    let id = send(
        &inst,
        "alice@sender.test",
        &["a@discard.test", "b@note.discard.test"],
    );
    inst.wait_for_log(&format!("{id}: removed"), 1);
    let log = inst.log();
    let active = line_with(
        &log,
        &[
            &format!("{id}: from=<alice@sender.test>, size="),
            "nrcpt=2 (queue active)",
        ],
    );
    assert!(active.is_some_and(|l| l.contains("/qmgr[")), "{log}");
    assert_eq!(
        log.matches("(queue active)").count(),
        1,
        "one activation line:\n{log}"
    );
    let re = regex::Regex::new(&format!(
        r"postfix/discard\[\d+\]: {id}: to=<a@discard\.test>, relay=none, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/0/[0-9.]+, dsn=2\.0\.0, status=sent \(discard\.test\)"
    ))
    .unwrap();
    assert!(re.is_match(&log), "{log}");
    assert!(
        line_with(
            &log,
            &[
                &format!("{id}: to=<b@note.discard.test>"),
                "status=sent (kept out)"
            ]
        )
        .is_some(),
        "{log}"
    );
    assert!(queue(&inst).is_empty());

    let id = send(&inst, "alice@sender.test", &["b@error.test"]);
    inst.wait_for_log(&format!("{id}: removed"), 1);
    let log = inst.log();
    let re = regex::Regex::new(&format!(
        r"postfix/error\[\d+\]: {id}: to=<b@error\.test>, relay=none, delay=[0-9.]+, delays=[0-9./]+, dsn=5\.1\.1, status=bounced \(no such user here\)"
    ))
    .unwrap();
    assert!(re.is_match(&log), "{log}");
    let notice = line_with(
        &log,
        &[&format!("{id}: sender non-delivery notification: ")],
    )
    .unwrap_or_else(|| panic!("no notice line in\n{log}"));
    assert!(notice.contains("/bounce["), "{notice}");
    let new_id = notice.rsplit(' ').next().unwrap();
    // The notice is queued with the null sender for the original sender, and
    // delivered in its turn (sender.test is discarded here).
    inst.wait_for_log(&format!("{new_id}: removed"), 1);
    let log = inst.log();
    assert!(
        line_with(
            &log,
            &[
                &format!("{new_id}: from=<>, size="),
                "nrcpt=1 (queue active)"
            ]
        )
        .is_some(),
        "{log}"
    );
    assert!(
        line_with(
            &log,
            &[&format!("{new_id}: to=<alice@sender.test>"), "status=sent"]
        )
        .is_some(),
        "{log}"
    );
}

#[test]
fn unknown_transport_defers_and_retries_after_backoff() {
    let inst = instance("");
    let id = send(
        &inst,
        "alice@sender.test",
        &["c@later.test", "d@retry.test"],
    );
    let deferred = format!("{id}: to=<c@later.test>, relay=none");
    inst.wait_for_log(&deferred, 1);
    let log = inst.log();
    assert!(
        line_with(
            &log,
            &[
                &deferred,
                "dsn=4.3.0, status=deferred (mail transport unavailable)"
            ]
        )
        .is_some(),
        "{log}"
    );
    assert!(
        line_with(
            &log,
            &[
                &format!("{id}: to=<d@retry.test>"),
                "dsn=4.2.2, status=deferred (try later)"
            ]
        )
        .is_some(),
        "{log}"
    );
    // Still queued, deferred, with a next attempt in the future.
    wait_until("the deferred queue", &inst, || {
        queue(&inst).iter().any(|m| m.0 == id && m.1 == "deferred")
    });
    let m = queue(&inst).into_iter().find(|m| m.0 == id).unwrap();
    assert!(m.3.iter().all(|(_, s)| s == "deferred"), "{m:?}");
    // Retried after minimal_backoff_time by the queue_run_delay scan.
    inst.wait_for_log(&deferred, 2);
    inst.wait_for_log(&format!("{id}: from=<alice@sender.test>"), 2);
    assert!(!inst.log().contains(&format!("{id}: removed")));
    assert!(!inst.log().contains("non-delivery notification"));
}

#[test]
fn expired_mail_is_returned_to_the_sender() {
    // maximal_queue_lifetime's unit is days when none is given: say seconds.
    let inst = instance("maximal_queue_lifetime = 2s");
    let id = send(&inst, "alice@sender.test", &["c@later.test"]);
    inst.wait_for_log(
        &format!("{id}: from=<alice@sender.test>, status=expired, returned to sender"),
        1,
    );
    inst.wait_for_log(&format!("{id}: removed"), 1);
    let log = inst.log();
    let notice = line_with(
        &log,
        &[&format!("{id}: sender non-delivery notification: ")],
    )
    .unwrap_or_else(|| panic!("no notice in\n{log}"));
    let new_id = notice.rsplit(' ').next().unwrap();
    // The notice was queued with the null sender to alice (then discarded by
    // the sender.test route, which is what removes it).
    inst.wait_for_log(&format!("{new_id}: to=<alice@sender.test>"), 1);
    assert!(line_with(&inst.log(), &[&format!("{new_id}: from=<>")]).is_some());
    assert!(queue(&inst).iter().all(|m| m.0 != id));
}

#[test]
fn the_hold_queue_is_not_scheduled() {
    let inst = instance(
        "smtpd_recipient_restrictions = check_recipient_access inline:{ {held@discard.test=HOLD} }, \
         permit_mynetworks, reject_unauth_destination",
    );
    let held = send(&inst, "alice@sender.test", &["held@discard.test"]);
    let id = send(&inst, "alice@sender.test", &["free@discard.test"]);
    inst.wait_for_log(&format!("{id}: removed"), 1);
    std::thread::sleep(Duration::from_secs(2));
    let log = inst.log();
    assert!(!log.contains(&format!("{held}: to=")), "{log}");
    assert!(
        !log.contains(&format!("{held}: from=<alice@sender.test>, size=")),
        "{log}"
    );
    let q = queue(&inst);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!((q[0].0.as_str(), q[0].1.as_str()), (held.as_str(), "hold"));
}

#[test]
fn delay_warning_once_and_clean_stop() {
    // delay_warning_time's unit is hours when none is given: say seconds.
    let inst = instance("delay_warning_time = 1s");
    let id = send(&inst, "alice@sender.test", &["c@later.test"]);
    inst.wait_for_log(&format!("{id}: sender delay notification: "), 1);
    // Further deferrals do not warn again.
    inst.wait_for_log(&format!("{id}: to=<c@later.test>"), 3);
    let log = inst.log();
    assert_eq!(log.matches("sender delay notification").count(), 1, "{log}");
    assert!(!log.contains("non-delivery notification"), "{log}");
    // The daemon, qmgr and its workers stop on `postfix stop`.
    assert_eq!(inst.postfix(&["stop"]).code, 0);
    wait_until("the daemon to stop", &inst, || {
        inst.postfix(&["status"]).code != 0
    });
    assert!(queue(&inst)
        .iter()
        .any(|m| m.0 == id && (m.1 == "deferred" || m.1 == "active")));
}

#[test]
fn reload_gives_qmgr_new_routes() {
    let inst = instance("");
    let id = send(&inst, "alice@sender.test", &["c@later.test"]);
    inst.wait_for_log(&format!("{id}: to=<c@later.test>, relay=none"), 1);
    inst.write_main(&main_cf(
        &ROUTES.replace("later.test=smtp:", "later.test=discard:"),
        "",
    ));
    assert_eq!(inst.postfix(&["reload"]).code, 0);
    inst.wait_for_log(&format!("{id}: removed"), 1);
    let log = inst.log();
    assert!(
        line_with(
            &log,
            &[
                &format!("{id}: to=<c@later.test>"),
                "status=sent (later.test)"
            ]
        )
        .is_some(),
        "{log}"
    );
}

#[test]
fn a_bounce_that_bounces_goes_to_the_postmaster_once() {
    // As in Postfix, double bounces go to 2bounce_notice_recipient only when
    // notify_classes asks for them (the default, resource and software, does not).
    let inst = instance("2bounce_notice_recipient = pm@error.test\nnotify_classes = 2bounce");
    let id = send(&inst, "", &["b@error.test"]);
    inst.wait_for_log(&format!("{id}: removed"), 1);
    let log = inst.log();
    let notice = line_with(
        &log,
        &[&format!("{id}: postmaster non-delivery notification: ")],
    )
    .unwrap_or_else(|| panic!("no notice in\n{log}"));
    let new_id = notice.rsplit(' ').next().unwrap().to_string();
    inst.wait_for_log(&format!("{new_id}: removed"), 1);
    std::thread::sleep(Duration::from_secs(1));
    let log = inst.log();
    assert!(
        line_with(
            &log,
            &[&format!("{new_id}: from=<double-bounce@mx.postern.test>")]
        )
        .is_some(),
        "{log}"
    );
    assert!(line_with(
        &log,
        &[&format!("{new_id}: to=<pm@error.test>"), "status=bounced"]
    )
    .is_some());
    assert_eq!(log.matches("non-delivery notification").count(), 1, "{log}");
    assert!(queue(&inst).is_empty());
}

#[test]
fn pflogsumm_counts_what_happened() {
    let inst = instance("");
    let sent = send(&inst, "alice@sender.test", &["a@discard.test"]);
    let bounced = send(&inst, "alice@sender.test", &["b@error.test"]);
    let deferred = send(&inst, "alice@sender.test", &["c@later.test"]);
    inst.wait_for_log(&format!("{sent}: removed"), 1);
    inst.wait_for_log(&format!("{bounced}: removed"), 1);
    inst.wait_for_log(&format!("{deferred}: to=<c@later.test>"), 2);
    // The notice about `bounced` is delivered too (sender.test is discarded).
    inst.wait_for_log(": removed", 3);
    let o = common::tools::pflogsumm(&inst.path().join("maillog"), &[]);
    let report = o.stdout;
    let count = |what: &str| -> Option<u32> {
        report.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            let n = w.next()?.parse().ok()?;
            (w.next() == Some(what)).then_some(n)
        })
    };
    assert_eq!(count("received"), Some(3), "{report}");
    assert_eq!(count("delivered"), Some(2), "{report}");
    assert_eq!(count("deferred"), Some(1), "{report}");
    assert_eq!(count("bounced"), Some(1), "{report}");
}

#[test]
fn mail_left_active_by_a_crash_is_delivered_at_the_next_start() {
    let inst = instance("");
    let id = send(&inst, "alice@sender.test", &["c@later.test"]);
    inst.wait_for_log(&format!("{id}: to=<c@later.test>"), 1);
    wait_until("the deferred queue", &inst, || {
        queue(&inst).iter().any(|m| m.0 == id && m.1 == "deferred")
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(inst.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // As if the kill had come in the middle of a delivery: active, with the
    // route now working.
    let db = rusqlite::Connection::open(inst.path().join("queue/queue.db")).unwrap();
    db.execute(
        "UPDATE messages SET queue_name = 'active' WHERE queue_id = ?1",
        [&id],
    )
    .unwrap();
    drop(db);
    inst.write_main(&main_cf(
        &ROUTES.replace("later.test=smtp:", "later.test=discard:"),
        "",
    ));
    inst.start();
    inst.wait_for_log(&format!("{id}: removed"), 1);
    assert!(line_with(
        &inst.log(),
        &[&format!("{id}: to=<c@later.test>"), "status=sent"]
    )
    .is_some());
}
