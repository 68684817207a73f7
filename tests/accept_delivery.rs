//! Acceptance (issue 4): mail accepted by the real daemon reaches local
//! mailboxes through qmgr and the local agent. lettre delivers to a Maildir
//! and to an mbox (in the spool, and in the home of a real user made for the
//! test); an alias fans out to two users, a file and a pipe (logged
//! `to=<user>, orig_to=<alias>`); a `.forward` forwards to another user and a
//! file; a remote alias member gets a forwarded copy from the `owner-` alias
//! with `Delivered-To:`; an unknown user is refused at RCPT, and bounced to the
//! sender's Maildir when a `permit` lets it in; an alias loop and a
//! `Delivered-To:` loop bounce; a command that fails temporarily is retried
//! after a (shortened) backoff, or at once after `postqueue -f`, and delivers
//! exactly once; an expired message comes back to its sender as an RFC 3464
//! report; `sendmail -t` with the daemon running and stopped delivers exactly
//! once; a maildrop message over `message_size_limit` bounces; pflogsumm
//! counts received, delivered, deferred and bounced.
//!
//! The accounts are real ones, so /etc/passwd is not touched (except by the
//! home_mailbox test, which adds and removes its own user): `root` (the
//! test's sender and a recipient) and `nobody`. Mailboxes live under
//! `mail_spool_directory` and `.forward` files under `forward_path`, both in
//! the test's directory. The daemon runs as root (as in CI), so `nobody`'s
//! mailbox and the commands and files of aliases (`default_privs = nobody`)
//! are written with nobody's rights: those directories are mode 1777.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::{free_port, Instance, HOSTNAME};
use common::tools::lettre_transport;
use lettre::transport::smtp::client::Tls;

/// A daemon with the local and virtual transports and a test directory
/// holding its alias table, spool, `.forward` files and command outputs.
struct Site {
    inst: Instance,
}

/// What a site is configured with.
struct Setup<'a> {
    /// `mail_spool_directory`: `spool/` (Maildir) or `spool` (mbox), in the test dir.
    spool: &'a str,
    /// Alias table lines; `DIR` stands for the test directory.
    aliases: &'a str,
    /// Further main.cf lines; `DIR` stands for the test directory.
    extra: &'a str,
}

fn open_dir(path: &Path) {
    fs::create_dir_all(path).expect("mkdir");
    fs::set_permissions(path, fs::Permissions::from_mode(0o1777)).expect("chmod 1777");
}

fn master(port: u16) -> String {
    format!(
        "127.0.0.1:{port} inet n - n - - smtpd\n\
         local unix - n n - - local\n\
         virtual unix - n n - - virtual\n"
    )
}

impl Site {
    fn new(setup: &Setup) -> Site {
        let port = free_port();
        let inst = Instance::with_master("", &master(port), port);
        let d = inst.path().display().to_string();
        for sub in ["spool", "out", "fwd"] {
            open_dir(&inst.path().join(sub));
        }
        let aliases = setup.aliases.replace("DIR", &d);
        fs::write(inst.path().join("aliases"), aliases).expect("write aliases");
        let extra = setup.extra.replace("DIR", &d);
        inst.write_main(&format!(
            "mydestination = $myhostname, localhost\n\
             mail_spool_directory = {d}/{spool}\nforward_path = {d}/fwd/$user\n\
             alias_maps = hash:{d}/aliases\nalias_database = hash:{d}/aliases\n\
             minimal_backoff_time = 1s\nmaximal_backoff_time = 2s\nqueue_run_delay = 1s\n\
             {extra}\n",
            spool = setup.spool
        ));
        let o = Command::new(env!("CARGO_BIN_EXE_postern"))
            .args(["postalias", "-c", &d])
            .arg(format!("hash:{d}/aliases"))
            .env_remove("MAIL_CONFIG")
            .output()
            .expect("run postalias");
        assert!(
            o.status.success(),
            "postalias: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        inst.start();
        Site { inst }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.inst.path().join(rel)
    }

    fn log(&self) -> String {
        self.inst.log()
    }

    /// Waits up to `secs` for `ok`, then fails with the log.
    fn wait(&self, what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
        let until = Instant::now() + Duration::from_secs(secs);
        while !ok() {
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the log has `times` lines holding every one of `parts`.
    fn wait_line(&self, parts: &[&str], times: usize, secs: u64) {
        self.wait(&format!("{parts:?} x{times}"), secs, || {
            lines_with(&self.log(), parts).len() >= times
        });
    }

    /// The messages in the Maildir of `user` (new/), oldest name first.
    fn maildir(&self, user: &str) -> Vec<String> {
        maildir_messages(&self.path(&format!("spool/{user}")))
    }

    /// Sends over SMTP, returning the queue ID; panics unless every reply is 2xx/3xx.
    fn send(&self, from: &str, to: &[&str], subject: &str) -> String {
        let mut c = self.inst.connect();
        assert!(c.command("EHLO client.test").starts_with("250"));
        assert!(c.command(&format!("MAIL FROM:<{from}>")).starts_with("250"));
        for t in to {
            let r = c.command(&format!("RCPT TO:<{t}>"));
            assert!(r.starts_with("250"), "RCPT {t}: {r}");
        }
        assert!(c.command("DATA").starts_with("354"));
        let r = c.command(&format!(
            "From: <{from}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@client.test>\r\n\r\nbody of {subject}\r\n."
        ));
        assert!(r.starts_with("250"), "{r}");
        c.quit();
        common::daemon::queued_as(&r)
    }
}

fn addr(local: &str) -> String {
    format!("{local}@{HOSTNAME}")
}

fn lines_with<'a>(log: &'a str, parts: &[&str]) -> Vec<&'a str> {
    log.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

/// The files in `dir/new`, read, in name order; empty when there is none.
fn maildir_messages(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir.join("new")) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    names
        .iter()
        .map(|p| fs::read_to_string(p).expect("read maildir file"))
        .collect()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

const MAILDIR: Setup = Setup {
    spool: "spool/",
    aliases: "",
    extra: "",
};

#[test]
fn lettre_to_a_maildir_and_an_mbox() {
    use lettre::Transport;
    for spool in ["spool/", "spool"] {
        let site = Site::new(&Setup { spool, ..MAILDIR });
        let email = lettre::Message::builder()
            .from("Root <root@client.test.example>".parse().unwrap())
            .to(format!("Nobody <{}>", addr("nobody")).parse().unwrap())
            .message_id(Some(format!("<lettre-{}@client.test>", spool.len())))
            .subject("through lettre")
            .body("From the body\r\nsecond line\r\n".to_string())
            .unwrap();
        let r = lettre_transport(site.inst.port, Tls::None)
            .send(&email)
            .expect("lettre send");
        assert!(r.is_positive(), "{r:?}");
        site.wait_line(&[&format!("to=<{}>", addr("nobody")), "status=sent"], 1, 15);
        let log = site.log();
        let text = if spool.ends_with('/') {
            let line = lines_with(&log, &["status=sent"])[0];
            assert!(line.contains("relay=local"), "{line}");
            assert!(line.contains("dsn=2.0.0"), "{line}");
            assert!(line.contains("(delivered to maildir)"), "{line}");
            let msgs = site.maildir("nobody");
            assert_eq!(msgs.len(), 1, "{msgs:?}");
            msgs[0].clone()
        } else {
            assert_eq!(
                lines_with(&log, &["status=sent (delivered to mailbox)"]).len(),
                1,
                "{log}"
            );
            let mbox = fs::read_to_string(site.path("spool/nobody")).expect("read mbox");
            assert!(
                mbox.starts_with("From root@client.test.example  "),
                "{mbox}"
            );
            assert!(
                mbox.contains("\n>From the body\n"),
                "mbox From quoting: {mbox}"
            );
            mbox
        };
        assert!(
            text.contains("Return-Path: <root@client.test.example>\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Delivered-To: {}\n", addr("nobody"))),
            "{text}"
        );
        assert!(text.contains("Subject: through lettre\n"), "{text}");
        assert!(text.contains("second line\n"), "{text}");
        assert!(!text.contains('\r'), "CRLF left in a local mailbox");
        // Written with nobody's rights.
        if nix::unistd::geteuid().is_root() {
            use std::os::unix::fs::MetadataExt;
            let file = if spool.ends_with('/') {
                let new = site.path("spool/nobody/new");
                fs::read_dir(&new).unwrap().next().unwrap().unwrap().path()
            } else {
                site.path("spool/nobody")
            };
            assert_eq!(fs::metadata(&file).unwrap().uid(), 65534);
        }
        site.wait_line(&[": removed"], 1, 5);
    }
}

#[test]
fn an_alias_to_two_users_a_file_and_a_pipe() {
    let site = Site::new(&Setup {
        aliases: "team: root, nobody\n\
                  files: DIR/out/file.mbox, \"|/bin/sh -c 'cat > DIR/out/pipe.txt'\"\n",
        ..MAILDIR
    });
    let id = site.send(
        "root@client.test",
        &[&addr("team"), &addr("files")],
        "alias",
    );
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    let log = site.log();
    for user in ["root", "nobody"] {
        let msgs = site.maildir(user);
        assert_eq!(msgs.len(), 1, "{user}: {msgs:?}\n{log}");
        assert!(msgs[0].contains(&format!("Delivered-To: {}\n", addr("team"))));
        assert!(msgs[0].contains("X-Original-To: "), "{}", msgs[0]);
        // Postfix logs the final address and the alias it came from.
        let line = lines_with(
            &log,
            &[
                &format!("{id}: to=<{}>, orig_to=<{}>", addr(user), addr("team")),
                "status=sent (delivered to maildir)",
            ],
        );
        assert_eq!(line.len(), 1, "{user}:\n{log}");
    }
    let file = site.path("out/file.mbox");
    let mbox = fs::read_to_string(&file).expect("the alias's file");
    assert!(mbox.starts_with("From root@client.test  "), "{mbox}");
    assert!(mbox.contains("\nSubject: alias\n"), "{mbox}");
    assert_eq!(count(&mbox, "\nbody of alias\n"), 1, "{mbox}");
    let piped = fs::read_to_string(site.path("out/pipe.txt")).expect("the pipe's output");
    assert!(piped.contains("Subject: alias\n"), "{piped}");
    assert!(
        piped.contains(&format!("Delivered-To: {}\n", addr("files"))),
        "{piped}"
    );
    assert_eq!(
        lines_with(
            &log,
            &[
                &format!("{id}: to=<{}>, relay=local", addr("files")),
                &format!("status=sent (delivered to file: {})", file.display())
            ]
        )
        .len(),
        1,
        "{log}"
    );
    assert_eq!(
        lines_with(
            &log,
            &[
                &format!("{id}: to=<{}>, relay=local", addr("files")),
                "status=sent (delivered to command: /bin/sh -c 'cat > "
            ]
        )
        .len(),
        1,
        "{log}"
    );
}

/// `.forward` files must belong to their user.
fn write_forward(site: &Site, user: &str, uid: u32, text: &str) {
    let path = site.path(&format!("fwd/{user}"));
    fs::write(&path, text).expect("write .forward");
    nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(uid)), None).expect("chown");
}

#[test]
fn a_dot_forward_to_another_user_and_a_file() {
    let site = Site::new(&MAILDIR);
    let d = site.inst.path().display().to_string();
    write_forward(
        &site,
        "nobody",
        65534,
        &format!("root, {d}/out/forwarded.mbox\n"),
    );
    let id = site.send("someone@client.test", &[&addr("nobody")], "forward");
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    let log = site.log();
    assert!(site.maildir("nobody").is_empty(), "forwarded, not kept");
    let msgs = site.maildir("root");
    assert_eq!(msgs.len(), 1, "{log}");
    assert!(
        msgs[0].contains(&format!("Delivered-To: {}\n", addr("nobody"))),
        "{}",
        msgs[0]
    );
    assert!(msgs[0].contains("Subject: forward\n"));
    let mbox = fs::read_to_string(site.path("out/forwarded.mbox")).expect("forward file");
    assert_eq!(count(&mbox, "\nbody of forward\n"), 1, "{mbox}");
    assert_eq!(
        lines_with(
            &log,
            &[
                &format!("to=<{}>, orig_to=<{}>", addr("root"), addr("nobody")),
                "status=sent (delivered to maildir)"
            ]
        )
        .len(),
        1,
        "{log}"
    );
    assert_eq!(
        lines_with(&log, &["status=sent (delivered to file: "]).len(),
        1,
        "{log}"
    );
}

#[test]
fn an_unknown_user_is_refused_at_rcpt() {
    let site = Site::new(&MAILDIR);
    let mut c = site.inst.connect();
    assert!(c.command("EHLO client.test").starts_with("250"));
    assert!(c.command("MAIL FROM:<a@client.test>").starts_with("250"));
    let r = c.command(&format!("RCPT TO:<{}>", addr("no-such-user")));
    assert!(
        r.starts_with("550 5.1.1 <no-such-user@mx.postern.test>: Recipient address rejected: User unknown in local recipient table"),
        "{r}"
    );
    assert!(c
        .command(&format!("RCPT TO:<{}>", addr("nobody")))
        .starts_with("250"));
    c.quit();
}

/// The one message in root's Maildir that is a bounce, once it is there.
fn wait_bounce(site: &Site) -> String {
    site.wait("a bounce in root's Maildir", 20, || {
        site.maildir("root")
            .iter()
            .any(|m| m.contains("multipart/report"))
    });
    let msgs = site.maildir("root");
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    msgs[0].clone()
}

#[test]
fn an_unknown_user_let_in_by_permit_bounces_to_the_sender() {
    let site = Site::new(&Setup {
        extra: "local_recipient_maps =",
        ..MAILDIR
    });
    let id = site.send(&addr("root"), &[&addr("ghost")], "ghost");
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    let log = site.log();
    assert_eq!(
        lines_with(
            &log,
            &[
                &format!("{id}: to=<{}>", addr("ghost")),
                "relay=local",
                "dsn=5.1.1, status=bounced (unknown user: \"ghost\")"
            ]
        )
        .len(),
        1,
        "{log}"
    );
    assert_eq!(
        lines_with(
            &log,
            &[&format!("{id}: sender non-delivery notification: ")]
        )
        .len(),
        1
    );
    let bounce = wait_bounce(&site);
    assert!(bounce.contains("Return-Path: <>\n"), "{bounce}");
    assert!(bounce.contains("Subject: Undelivered Mail Returned to Sender\n"));
    assert!(bounce.contains("Final-Recipient: rfc822; ghost@mx.postern.test\n"));
    assert!(bounce.contains("Action: failed\n"), "{bounce}");
    assert!(bounce.contains("Status: 5.1.1\n"), "{bounce}");
    assert!(bounce.contains("unknown user: \"ghost\""), "{bounce}");
    assert!(bounce.contains("Subject: ghost\n"), "the returned message");
}

#[test]
fn an_alias_loop_bounces_instead_of_spinning() {
    let site = Site::new(&Setup {
        aliases: "ping: pong\npong: ping\n",
        ..MAILDIR
    });
    let id = site.send(&addr("root"), &[&addr("ping")], "loop");
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    let log = site.log();
    let bounced = lines_with(
        &log,
        &[
            &format!("{id}: to=<"),
            "status=bounced (mail forwarding loop for ",
        ],
    );
    assert_eq!(bounced.len(), 1, "{log}");
    assert!(bounced[0].contains("dsn=5.4.6"), "{}", bounced[0]);
    let bounce = wait_bounce(&site);
    assert!(bounce.contains("mail forwarding loop for "), "{bounce}");
    assert_eq!(lines_with(&log, &[&format!("{id}: to=<")]).len(), 1);
}

#[test]
fn a_message_with_our_delivered_to_bounces_as_a_loop() {
    let site = Site::new(&MAILDIR);
    let mut c = site.inst.connect();
    assert!(c.command("EHLO client.test").starts_with("250"));
    assert!(c
        .command(&format!("MAIL FROM:<{}>", addr("root")))
        .starts_with("250"));
    assert!(c
        .command(&format!("RCPT TO:<{}>", addr("nobody")))
        .starts_with("250"));
    assert!(c.command("DATA").starts_with("354"));
    let r = c.command("Delivered-To: nobody@mx.postern.test\r\nSubject: been here\r\n\r\nx\r\n.");
    let id = common::daemon::queued_as(&r);
    c.quit();
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    let log = site.log();
    assert_eq!(
        lines_with(
            &log,
            &[
                &format!("{id}: to=<{}>", addr("nobody")),
                "status=bounced (mail forwarding loop for nobody@mx.postern.test)"
            ]
        )
        .len(),
        1,
        "{log}"
    );
    assert!(site.maildir("nobody").is_empty());
    wait_bounce(&site);
}

#[test]
fn a_temporary_failure_is_retried_and_delivered_once() {
    let site = Site::new(&Setup {
        aliases:
            "flaky: \"|/bin/sh -c 'test -f DIR/out/flag || exit 75; cat >> DIR/out/flaky.txt'\"\n",
        ..MAILDIR
    });
    let id = site.send(&addr("root"), &[&addr("flaky")], "flaky");
    let to = format!("{id}: to=<{}>", addr("flaky"));
    site.wait_line(&[&to, "status=deferred"], 2, 15);
    let log = site.log();
    let deferred = lines_with(&log, &[&to, "status=deferred"]);
    assert!(deferred[0].contains("dsn=4.3.0"), "{}", deferred[0]);
    assert!(deferred[0].contains("relay=local"), "{}", deferred[0]);
    assert!(!site.path("out/flaky.txt").exists());
    fs::write(site.path("out/flag"), "").expect("flag");
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    let log = site.log();
    assert_eq!(
        lines_with(&log, &[&to, "status=sent (delivered to command: "]).len(),
        1,
        "{log}"
    );
    let out = fs::read_to_string(site.path("out/flaky.txt")).expect("command output");
    assert_eq!(count(&out, "Subject: flaky\n"), 1, "{out}");
    assert!(!log.contains("non-delivery notification"), "{log}");
}

#[test]
fn an_expired_message_returns_to_the_sender_mailbox() {
    let site = Site::new(&Setup {
        aliases: "stuck: \"|/bin/sh -c 'exit 75'\"\n",
        extra: "maximal_queue_lifetime = 3s",
        ..MAILDIR
    });
    let id = site.send(&addr("root"), &[&addr("stuck")], "stuck");
    site.wait_line(&[&format!("{id}: removed")], 1, 20);
    let log = site.log();
    assert!(
        !lines_with(
            &log,
            &[&format!("{id}: to=<{}>", addr("stuck")), "status=deferred"]
        )
        .is_empty(),
        "{log}"
    );
    assert_eq!(
        lines_with(
            &log,
            &[&format!(
                "{id}: from=<{}>, status=expired, returned to sender",
                addr("root")
            )]
        )
        .len(),
        1,
        "{log}"
    );
    let bounce = wait_bounce(&site);
    // RFC 3464: a multipart/report of type delivery-status with the human
    // part, the per-recipient fields and the returned message.
    assert!(
        bounce.contains("Content-Type: multipart/report; report-type=delivery-status;"),
        "{bounce}"
    );
    assert!(
        bounce.contains("Content-Type: message/delivery-status"),
        "{bounce}"
    );
    assert!(
        bounce.contains(&format!("Reporting-MTA: dns; {HOSTNAME}\n")),
        "{bounce}"
    );
    assert!(
        bounce.contains(&format!("X-Postfix-Queue-ID: {id}\n")),
        "{bounce}"
    );
    assert!(bounce.contains(&format!("Final-Recipient: rfc822; {}\n", addr("stuck"))));
    assert!(bounce.contains("Action: failed\n"), "{bounce}");
    assert!(bounce.contains("Status: 4.3.0\n"), "{bounce}");
    assert!(bounce.contains("Content-Type: message/rfc822"), "{bounce}");
    assert!(bounce.contains("Subject: stuck\n"), "{bounce}");
}

#[test]
fn pflogsumm_counts_local_deliveries_deferrals_and_bounces() {
    let site = Site::new(&Setup {
        aliases:
            "flaky: \"|/bin/sh -c 'test -f DIR/out/flag || exit 75; cat >> DIR/out/flaky.txt'\"\n",
        extra: "local_recipient_maps =",
        ..MAILDIR
    });
    let sent = site.send(&addr("root"), &[&addr("nobody")], "p1");
    let bounced = site.send(&addr("root"), &[&addr("ghost")], "p2");
    let flaky = site.send(&addr("root"), &[&addr("flaky")], "p3");
    site.wait_line(&[&format!("{sent}: removed")], 1, 15);
    site.wait_line(&[&format!("{bounced}: removed")], 1, 15);
    site.wait_line(&[&format!("{flaky}: to="), "status=deferred"], 1, 15);
    fs::write(site.path("out/flag"), "").expect("flag");
    site.wait_line(&[&format!("{flaky}: removed")], 1, 15);
    // And the bounce notice, delivered to root.
    site.wait_line(&[": removed"], 4, 15);
    let o = common::tools::pflogsumm(&site.path("maillog"), &[]);
    let report = o.stdout;
    let n = |what: &str| -> Option<u32> {
        report.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            let n = w.next()?.parse().ok()?;
            (w.next() == Some(what)).then_some(n)
        })
    };
    assert_eq!(n("received"), Some(3), "{report}");
    // nobody, flaky (after its deferral), and the notice to root.
    assert_eq!(n("delivered"), Some(3), "{report}");
    assert_eq!(n("deferred"), Some(1), "{report}");
    assert_eq!(n("bounced"), Some(1), "{report}");
    assert_eq!(n("rejected"), Some(0), "{report}");
}

#[test]
fn a_remote_alias_member_gets_a_forwarded_copy_from_the_owner() {
    let site = Site::new(&Setup {
        aliases: "list: friend@remote.test, root\nowner-list: root\n",
        extra: "virtual_mailbox_domains = remote.test\nvirtual_mailbox_base = DIR/vmail\n\
                virtual_mailbox_maps = inline:{ {friend@remote.test=friend/} }\n\
                virtual_uid_maps = static:65534\nvirtual_gid_maps = static:65534",
        ..MAILDIR
    });
    open_dir(&site.path("vmail"));
    let id = site.send("poster@client.test", &[&addr("list")], "listmail");
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    let log = site.log();
    let fwd = lines_with(
        &log,
        &[
            &format!(
                "{id}: to=<friend@remote.test>, orig_to=<{}>, relay=local",
                addr("list")
            ),
            "status=sent (forwarded as ",
        ],
    );
    assert_eq!(fwd.len(), 1, "{log}");
    let new_id = fwd[0]
        .rsplit("forwarded as ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    site.wait_line(&[&format!("{new_id}: removed")], 1, 15);
    let log = site.log();
    // The copy is from the list owner (owner-list@$myorigin), as Postfix sends it.
    assert_eq!(
        lines_with(
            &log,
            &[&format!("{new_id}: from=<{}>, size=", addr("owner-list"))]
        )
        .len(),
        1,
        "{log}"
    );
    assert_eq!(
        lines_with(
            &log,
            &[
                &format!("{new_id}: to=<friend@remote.test>, relay=virtual"),
                "status=sent (delivered to maildir)"
            ]
        )
        .len(),
        1,
        "{log}"
    );
    let copies = maildir_messages(&site.path("vmail/friend"));
    assert_eq!(copies.len(), 1, "{log}");
    let copy = &copies[0];
    assert!(
        copy.contains(&format!("Return-Path: <{}>\n", addr("owner-list"))),
        "{copy}"
    );
    assert!(
        copy.contains(&format!("Delivered-To: {}\n", addr("list"))),
        "{copy}"
    );
    assert!(
        copy.contains(&format!(
            "Received: by {HOSTNAME} (Postfix)\n\tid {new_id}; "
        )),
        "{copy}"
    );
    assert_eq!(count(copy, "body of listmail\n"), 1, "{copy}");
    // The local member got its copy from the owner too.
    let local = site.maildir("root");
    assert_eq!(local.len(), 1, "{log}");
    assert!(local[0].contains(&format!("Return-Path: <{}>\n", addr("owner-list"))));
}

#[test]
fn postqueue_f_delivers_deferred_mail_at_once() {
    // Retries an hour apart: only the flush can bring the message back soon.
    let site = Site::new(&Setup {
        aliases:
            "flaky: \"|/bin/sh -c 'test -f DIR/out/flag || exit 75; cat >> DIR/out/flaky.txt'\"\n",
        extra:
            "minimal_backoff_time = 3600s\nmaximal_backoff_time = 7200s\nqueue_run_delay = 3600s",
        ..MAILDIR
    });
    let id = site.send(&addr("root"), &[&addr("flaky")], "flush");
    let to = format!("{id}: to=<{}>", addr("flaky"));
    site.wait_line(&[&to, "status=deferred"], 1, 15);
    fs::write(site.path("out/flag"), "").expect("flag");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!site.log().contains("status=sent"), "retried too early");
    let o = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["postqueue", "-c"])
        .arg(site.inst.path())
        .arg("-f")
        .env_remove("MAIL_CONFIG")
        .output()
        .expect("run postqueue");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    site.wait_line(&[&to, "status=sent (delivered to command: "], 1, 10);
    site.wait_line(&[&format!("{id}: removed")], 1, 5);
    let out = fs::read_to_string(site.path("out/flaky.txt")).expect("command output");
    assert_eq!(count(&out, "Subject: flush\n"), 1, "{out}");
}

impl Site {
    /// `sendmail ARGS` on this site's configuration, with `input` on stdin.
    fn sendmail(&self, args: &[&str], input: &str) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
            .arg("sendmail")
            .args(args)
            .env("MAIL_CONFIG", self.inst.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run sendmail");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write to sendmail");
        let o = child.wait_with_output().expect("wait for sendmail");
        assert!(
            o.status.success(),
            "sendmail {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn sendmail_t_running_and_stopped_is_delivered_exactly_once() {
    let site = Site::new(&MAILDIR);
    let message = |n: &str| {
        format!(
            "From: root\nTo: Nobody <nobody@{HOSTNAME}>\nSubject: sendmail {n}\n\
             Message-ID: <sendmail-{n}@client.test>\n\nbody {n}\n"
        )
    };
    site.sendmail(&["-t", "-i"], &message("running"));
    site.wait("the first copy", 15, || site.maildir("nobody").len() == 1);
    assert_eq!(site.inst.postfix(&["stop"]).code, 0);
    site.wait("the daemon to stop", 10, || {
        site.inst.postfix(&["status"]).code != 0
    });
    site.sendmail(&["-t", "-i"], &message("stopped"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(site.maildir("nobody").len(), 1, "delivered while stopped?");
    site.inst.start();
    site.wait("the second copy", 15, || site.maildir("nobody").len() == 2);
    // A restart finds nothing more to pick up or deliver.
    assert_eq!(site.inst.postfix(&["stop"]).code, 0);
    site.wait("the daemon to stop", 10, || {
        site.inst.postfix(&["status"]).code != 0
    });
    site.inst.start();
    std::thread::sleep(Duration::from_millis(2500));
    let msgs = site.maildir("nobody");
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    let all = msgs.concat();
    for n in ["running", "stopped"] {
        assert_eq!(
            count(&all, &format!("Message-ID: <sendmail-{n}@client.test>")),
            1,
            "{all}"
        );
    }
    assert!(
        all.contains(&format!("Return-Path: <root@{HOSTNAME}>\n")),
        "{all}"
    );
    assert!(
        all.contains(&format!("Delivered-To: nobody@{HOSTNAME}\n")),
        "{all}"
    );
    let log = site.log();
    assert_eq!(
        lines_with(&log, &["postfix/pickup[", "uid=0 from=<root>"]).len(),
        2,
        "{log}"
    );
    assert_eq!(
        lines_with(&log, &["to=<nobody@", "status=sent (delivered to maildir)"]).len(),
        2,
        "{log}"
    );
    assert!(site.inst.queued().is_empty());
}

#[test]
fn a_maildrop_message_over_message_size_limit_bounces() {
    let site = Site::new(&Setup {
        extra: "message_size_limit = 4000",
        ..MAILDIR
    });
    let big = format!(
        "To: nobody@{HOSTNAME}\nSubject: too big\n\n{}",
        "0123456789 abcdefghij 0123456789 abcdefghij 0123456789 abcdefghij\n".repeat(100)
    );
    site.sendmail(&["-t", "-i"], &big);
    let bounce = wait_bounce(&site);
    let log = site.log();
    assert!(site.maildir("nobody").is_empty(), "{log}");
    assert_eq!(
        lines_with(
            &log,
            &[
                "postfix/cleanup[",
                &format!("to=<nobody@{HOSTNAME}>, relay=none"),
                "dsn=5.3.4, status=bounced (message file too big)"
            ]
        )
        .len(),
        1,
        "{log}"
    );
    assert!(bounce.contains("Status: 5.3.4\n"), "{bounce}");
    assert!(bounce.contains("message file too big"), "{bounce}");
    assert!(bounce.contains("Subject: too big\n"), "{bounce}");
    // The oversized message is gone; only the notice passed through.
    site.wait("an empty queue", 10, || site.inst.queued().is_empty());
    // A small one still goes through.
    site.sendmail(
        &["-t", "-i"],
        &format!("To: nobody@{HOSTNAME}\nSubject: small\n\nok\n"),
    );
    site.wait("the small message", 15, || {
        site.maildir("nobody").len() == 1
    });
}

/// A real account made for one test (`useradd`, root only) with its home in
/// the test's directory; removed again (`userdel`) on drop.
struct TestUser {
    name: String,
    uid: u32,
    home: PathBuf,
}

impl TestUser {
    fn create(home_parent: &Path, tag: &str) -> TestUser {
        let name = format!("pt{tag}{}", std::process::id());
        let home = home_parent.join(&name);
        let o = Command::new("useradd")
            .args(["-M", "-U", "-s", "/usr/sbin/nologin", "-d"])
            .arg(&home)
            .arg(&name)
            .output()
            .expect("run useradd");
        assert!(
            o.status.success(),
            "useradd {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let user = nix::unistd::User::from_name(&name)
            .ok()
            .flatten()
            .expect("the new user");
        let guard = TestUser {
            name,
            uid: user.uid.as_raw(),
            home,
        };
        fs::create_dir_all(&guard.home).expect("mkdir home");
        nix::unistd::chown(&guard.home, Some(user.uid), Some(user.gid)).expect("chown home");
        guard
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

#[test]
fn home_mailbox_maildir_and_mbox_of_a_real_user() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: creating a test user needs root");
        return;
    }
    use std::os::unix::fs::MetadataExt;
    for (home_mailbox, tag) in [("Maildir/", "m"), ("Mailbox", "b")] {
        let site = Site::new(&Setup {
            extra: &format!("home_mailbox = {home_mailbox}"),
            ..MAILDIR
        });
        let user = TestUser::create(&site.path("home"), tag);
        let to = addr(&user.name);
        let id = site.send(&addr("root"), &[&to], "home");
        site.wait_line(&[&format!("{id}: removed")], 1, 15);
        let log = site.log();
        let (file, text) = if home_mailbox.ends_with('/') {
            let msgs = maildir_messages(&user.home.join("Maildir"));
            assert_eq!(msgs.len(), 1, "{log}");
            let new = user.home.join("Maildir/new");
            let file = fs::read_dir(&new).unwrap().next().unwrap().unwrap().path();
            assert!(
                lines_with(&log, &[&format!("to=<{to}>"), "(delivered to maildir)"]).len() == 1
            );
            (file, msgs[0].clone())
        } else {
            let file = user.home.join("Mailbox");
            let text = fs::read_to_string(&file).expect("the user's mbox");
            assert!(
                text.starts_with(&format!("From root@{HOSTNAME}  ")),
                "{text}"
            );
            assert!(
                lines_with(&log, &[&format!("to=<{to}>"), "(delivered to mailbox)"]).len() == 1
            );
            (file, text)
        };
        assert!(text.contains(&format!("Delivered-To: {to}\n")), "{text}");
        assert_eq!(count(&text, "body of home\n"), 1, "{text}");
        // Written as the user, not as root or mail_owner.
        assert_eq!(fs::metadata(&file).unwrap().uid(), user.uid);
        assert!(site.maildir("root").is_empty(), "no bounce: {log}");
    }
}

#[test]
fn mailbox_command_gets_postfix_environment_and_extension() {
    let site = Site::new(&Setup {
        extra: "recipient_delimiter = +\n\
                mailbox_command = /bin/sh -c 'env > DIR/out/env.$LOGNAME; cat > DIR/out/mail.$LOGNAME'",
        ..MAILDIR
    });
    let to = format!("nobody+lists@{HOSTNAME}");
    let id = site.send("poster@client.test", &[&to], "mbcmd");
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    let log = site.log();
    assert_eq!(
        lines_with(
            &log,
            &[
                &format!("{id}: to=<{to}>, relay=local"),
                "status=sent (delivered to command: /bin/sh -c 'env > "
            ]
        )
        .len(),
        1,
        "{log}"
    );
    let env = fs::read_to_string(site.path("out/env.nobody")).expect("the command's env");
    let var = |name: &str| -> Option<String> {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
    };
    assert_eq!(var("LOGNAME").as_deref(), Some("nobody"), "{env}");
    assert_eq!(var("USER").as_deref(), Some("nobody"), "{env}");
    assert_eq!(
        var("SENDER").as_deref(),
        Some("poster@client.test"),
        "{env}"
    );
    assert_eq!(var("RECIPIENT").as_deref(), Some(to.as_str()), "{env}");
    assert_eq!(
        var("ORIGINAL_RECIPIENT").as_deref(),
        Some(to.as_str()),
        "{env}"
    );
    assert_eq!(var("EXTENSION").as_deref(), Some("lists"), "{env}");
    assert_eq!(var("LOCAL").as_deref(), Some("nobody+lists"), "{env}");
    assert_eq!(var("DOMAIN").as_deref(), Some(HOSTNAME), "{env}");
    assert_eq!(var("CLIENT_ADDRESS").as_deref(), Some("127.0.0.1"), "{env}");
    assert_eq!(var("CLIENT_HELO").as_deref(), Some("client.test"), "{env}");
    assert_eq!(var("CLIENT_PROTOCOL").as_deref(), Some("ESMTP"), "{env}");
    let mail = fs::read_to_string(site.path("out/mail.nobody")).expect("the command's input");
    assert!(mail.starts_with("From poster@client.test  "), "{mail}");
    assert!(mail.contains(&format!("Delivered-To: {to}\n")), "{mail}");
    assert_eq!(count(&mail, "body of mbcmd\n"), 1, "{mail}");
    // The command ran as the recipient.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(site.path("out/mail.nobody")).unwrap().uid(),
        65534
    );
}

#[test]
fn notify_success_reports_the_local_delivery_to_the_sender() {
    let site = Site::new(&MAILDIR);
    let mut c = site.inst.connect();
    assert!(c.command("EHLO client.test").starts_with("250"));
    assert!(c
        .command(&format!("MAIL FROM:<{}> ENVID=env-42", addr("root")))
        .starts_with("250"));
    let r = c.command(&format!("RCPT TO:<{}> NOTIFY=SUCCESS", addr("nobody")));
    assert!(r.starts_with("250"), "{r}");
    assert!(c.command("DATA").starts_with("354"));
    let r = c.command("Subject: dsn success\r\n\r\nx\r\n.");
    let id = common::daemon::queued_as(&r);
    c.quit();
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    assert_eq!(site.maildir("nobody").len(), 1);
    let report = wait_bounce(&site);
    let log = site.log();
    assert_eq!(
        lines_with(
            &log,
            &[&format!("{id}: sender delivery status notification: ")]
        )
        .len(),
        1,
        "{log}"
    );
    assert!(
        report.contains("Subject: Successful Mail Delivery Report\n"),
        "{report}"
    );
    assert!(
        report.contains("Original-Envelope-Id: env-42\n"),
        "{report}"
    );
    assert!(
        report.contains(&format!("Final-Recipient: rfc822; {}\n", addr("nobody"))),
        "{report}"
    );
    assert!(report.contains("Action: delivered\n"), "{report}");
    assert!(report.contains("Status: 2.0.0\n"), "{report}");
}

/// virtual_alias_maps with `recipient_delimiter = +`, as Postfix's
/// mail_addr_map.c: `bob+news@` matches the entry for `bob@` and the
/// extension is carried over to the result (propagate_unmatched_extensions
/// = canonical, virtual); `@domain` results keep the user and extension.
#[test]
fn virtual_aliases_carry_the_address_extension() {
    let extra = format!(
        "recipient_delimiter = +\n\
         virtual_alias_domains = valias.test, rename.test\n\
         virtual_alias_maps = inline:{{ {{bob@valias.test = nobody@{HOSTNAME}}}, \
         {{@rename.test = @{HOSTNAME}}} }}"
    );
    let site = Site::new(&Setup {
        extra: &extra,
        ..MAILDIR
    });
    let id = site.send(
        &addr("root"),
        &["bob+news@valias.test", "root+x@rename.test"],
        "extension",
    );
    site.wait_line(&[&format!("{id}: removed")], 1, 15);
    let log = site.log();
    for (to, orig) in [
        (format!("nobody+news@{HOSTNAME}"), "bob+news@valias.test"),
        (format!("root+x@{HOSTNAME}"), "root+x@rename.test"),
    ] {
        let sent = lines_with(
            &log,
            &[
                &format!("{id}: to=<{to}>, orig_to=<{orig}>, relay=local"),
                "status=sent (delivered to maildir)",
            ],
        );
        assert_eq!(sent.len(), 1, "{log}");
    }
    for (user, to) in [("nobody", "nobody+news"), ("root", "root+x")] {
        let msgs = site.maildir(user);
        assert_eq!(msgs.len(), 1, "{user}: {log}");
        assert!(
            msgs[0].contains(&format!("Delivered-To: {to}@{HOSTNAME}\n")),
            "{}",
            msgs[0]
        );
    }
}
