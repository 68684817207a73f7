//! The local agent end to end against real files: a main.cf in a temporary
//! directory, an alias table built as postalias builds it, real accounts (the
//! current user and `nobody`), Maildirs and mbox files read back afterwards.
//!
//! Exercises src/local/agent.rs and recipient.rs (Postfix local(8)). The
//! mailboxes live under `mail_spool_directory` and `.forward` files under a
//! `forward_path` in the temporary directory, both real parameters, so no home
//! directory is touched. When the tests run as root, deliveries for `nobody`
//! and alias commands/files (`default_privs = nobody`) run with nobody's rights,
//! so the directories they write are world-writable.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::local::agent::{deliver, LocalContext};
use crate::local::exec::Identity;
use crate::mail::delivery::{ClientInfo, DeliveryJob, Forwarded, JobRecipient, RecipientResult};
use crate::mail::dsn::Outcome;
use crate::maps::{self, alias::for_each_alias, OpenFlags};

pub const HOST: &str = "mail.example.com";

/// A temporary site: config, aliases and mail directories.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub me: String,
}

impl Site {
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// The current user's login name.
pub fn me() -> String {
    Identity::by_uid(nix::unistd::geteuid().as_raw()).name
}

fn open_dir(path: &Path) {
    fs::create_dir_all(path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o1777)).unwrap();
}

/// Writes `DIR/aliases` and builds its `hash:` table as postalias does;
/// returns the table's spec.
fn build_aliases(d: &Path, aliases: &str) -> String {
    fs::write(d.join("aliases"), aliases).unwrap();
    let spec = format!("hash:{}", d.join("aliases").display());
    let mut builder = maps::create(&spec, OpenFlags::default()).unwrap();
    for_each_alias(aliases.as_bytes(), &d.join("aliases"), |line, k, v| {
        builder.add(k, v, line);
        Ok(())
    })
    .unwrap();
    builder.finish().unwrap();
    spec
}

/// Writes main.cf (`extra` appended, `DIR` replaced by the directory) and the
/// alias table, and builds a context.
pub fn site(extra: &str, aliases: &str) -> (Site, LocalContext) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["maildirs", "spool", "out", "fwd"] {
        open_dir(&d.join(sub));
    }
    let me = me();
    let aliases = aliases
        .replace("DIR", &d.display().to_string())
        .replace("ME", &me);
    let spec = build_aliases(&d, &aliases);
    let extra = extra.replace("ME", &me);
    let main_cf = format!(
        "myhostname = {HOST}\nmydomain = example.com\nmydestination = $myhostname, localhost\n\
         alias_maps = {spec}\nmail_spool_directory = DIR/maildirs/\n\
         forward_path = DIR/fwd/${{user}}.forward\nrecipient_delimiter = +\n\
         deliver_lock_delay = 1s\n{extra}\n"
    )
    .replace("DIR", &d.display().to_string());
    fs::write(d.join("main.cf"), main_cf).unwrap();
    let cfg = Config::load(&d).unwrap();
    let ctx = LocalContext::new(&cfg).unwrap();
    (Site { dir, me }, ctx)
}

pub const MESSAGE: &[u8] =
    b"From: alice@example.org\r\nSubject: agent test\r\n\r\nFrom the body\r\nbye\r\n";

pub fn job(rcpts: &[&str], content: &[u8]) -> DeliveryJob {
    // Each job is another queued message (Maildir names are keyed by queue ID).
    static JOBS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = JOBS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    DeliveryJob {
        queue_id: format!("4AgEnT{n}"),
        transport: "local".into(),
        nexthop: HOST.into(),
        sender: "alice@example.org".into(),
        arrival: 0,
        active_since: 0.0,
        envid: None,
        ret: None,
        client: ClientInfo::default(),
        recipients: rcpts
            .iter()
            .enumerate()
            .map(|(i, a)| JobRecipient {
                index: i as u32,
                address: a.to_string(),
                orig_rcpt: None,
                notify: None,
                orcpt: None,
                retry: false,
            })
            .collect(),
        content: Arc::new(content.to_vec()),
    }
}

/// The files in a Maildir's `new/`.
pub fn maildir_messages(maildir: &Path) -> Vec<String> {
    match fs::read_dir(maildir.join("new")) {
        Ok(rd) => rd
            .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn one(site: &Site, ctx: &LocalContext, rcpt: &str, content: &[u8]) -> RecipientResult {
    let _ = site;
    let mut r = deliver(&job(&[rcpt], content), ctx);
    assert_eq!(r.recipients.len(), 1);
    r.recipients.remove(0)
}

fn bounce_text(r: &RecipientResult) -> (String, String) {
    match &r.outcome {
        Outcome::Bounced(d) => (d.status.to_string(), d.reason.clone()),
        other => panic!("expected a bounce, got {other:?} ({})", r.detail),
    }
}

#[test]
fn a_replaced_alias_table_brings_its_owner() {
    let (site, ctx) = site("", "postmaster: ME\n");
    let me = nix::unistd::geteuid().as_raw();
    assert_eq!(ctx.alias_owner().unwrap(), me);
    // postalias makes a new table file; as root, hand it to another user.
    let me_name = &site.me;
    build_aliases(
        site.dir.path(),
        &format!("postmaster: {me_name}\nabuse: {me_name}\n"),
    );
    let owner = if me == 0 {
        let nobody = nix::unistd::Uid::from_raw(65534);
        nix::unistd::chown(&site.path("aliases.db"), Some(nobody), None).unwrap();
        65534
    } else {
        me
    };
    assert_eq!(ctx.alias_owner().unwrap(), owner);
    let r = one(&site, &ctx, "abuse", MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{r:?}");
}

#[test]
fn alias_to_two_users_delivers_both_maildirs() {
    let (site, ctx) = site("", "team: ME, nobody\n");
    let r = one(&site, &ctx, &format!("team@{HOST}"), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    assert_eq!(r.relay, "local");
    assert_eq!(r.detail, "delivered to maildir");
    for user in [site.me.as_str(), "nobody"] {
        let msgs = maildir_messages(&site.path(&format!("maildirs/{user}")));
        assert_eq!(msgs.len(), 1, "{user}");
        // frozen_delivered_to: the top-level recipient, as Postfix writes it.
        assert!(
            msgs[0].contains(&format!("Delivered-To: team@{HOST}\n")),
            "{}",
            msgs[0]
        );
        assert!(msgs[0].contains("Return-Path: <alice@example.org>\n"));
        assert!(
            msgs[0].ends_with("From the body\nbye\n"),
            "CR removed, no quoting"
        );
    }
    if nix::unistd::geteuid().is_root() {
        // As root the Maildir of nobody is written with nobody's rights.
        let nobody = Identity::lookup("nobody").unwrap().unwrap();
        let new = site.path("maildirs/nobody/new");
        let file = fs::read_dir(&new).unwrap().next().unwrap().unwrap().path();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(fs::metadata(&file).unwrap().uid(), nobody.uid);
        assert_eq!(fs::metadata(&new).unwrap().uid(), nobody.uid);
    }
}

#[test]
fn alias_to_file_and_pipe() {
    let (site, ctx) = site(
        "",
        "files: DIR/out/file.mbox, \"|cat > DIR/out/pipe.txt\"\n",
    );
    let r = one(&site, &ctx, &format!("files@{HOST}"), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    let file = site.path("out/file.mbox");
    assert!(
        r.detail
            .contains(&format!("delivered to file: {}", file.display())),
        "{}",
        r.detail
    );
    assert!(
        r.detail.contains("delivered to command: cat > "),
        "{}",
        r.detail
    );
    let mbox = fs::read_to_string(&file).unwrap();
    assert!(mbox.starts_with("From alice@example.org  "), "{mbox}");
    assert!(mbox.contains("\n>From the body\n"), "{mbox}");
    let piped = fs::read_to_string(site.path("out/pipe.txt")).unwrap();
    assert!(piped.contains("Subject: agent test\n"), "{piped}");
}

#[test]
fn unknown_user_bounces_as_postfix() {
    let (site, ctx) = site("", "");
    let r = one(&site, &ctx, &format!("No-Such-User-4x@{HOST}"), MESSAGE);
    assert_eq!(
        bounce_text(&r),
        ("5.1.1".into(), "unknown user: \"no-such-user-4x\"".into())
    );
}

#[test]
fn luser_relay_takes_unknown_users() {
    let (site, ctx) = site("luser_relay = ME", "");
    let r = one(&site, &ctx, &format!("nobody-here-4x@{HOST}"), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    assert_eq!(
        maildir_messages(&site.path(&format!("maildirs/{}", site.me))).len(),
        1
    );
}

#[test]
fn delivered_to_loop_bounces() {
    let (site, ctx) = site("", "");
    let rcpt = format!("{}@{HOST}", site.me);
    let looped = format!("Delivered-To: {rcpt}\nSubject: loop\n\nbody\n");
    let r = one(&site, &ctx, &rcpt, looped.as_bytes());
    assert_eq!(
        bounce_text(&r),
        ("5.4.6".into(), format!("mail forwarding loop for {rcpt}"))
    );
    // What we delivered once is recognised the second time round.
    let r = one(&site, &ctx, &rcpt, MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered);
    let stored = maildir_messages(&site.path(&format!("maildirs/{}", site.me))).remove(0);
    let r = one(&site, &ctx, &rcpt, stored.as_bytes());
    assert!(matches!(r.outcome, Outcome::Bounced(_)));
}

#[test]
fn dot_forward_forwards_and_keeps_a_copy() {
    let (site, ctx) = site("", "");
    let fwd = site.path(&format!("fwd/{}.forward", site.me));
    fs::write(
        &fwd,
        format!("# comment\nelsewhere@remote.example, \\{}\n", site.me),
    )
    .unwrap();
    let r = one(&site, &ctx, &format!("{}@{HOST}", site.me), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    let me_addr = format!("{}@{HOST}", site.me);
    assert_eq!(
        r.forwarded,
        vec![Forwarded {
            address: "elsewhere@remote.example".into(),
            sender: "alice@example.org".into(),
            delivered_to: Some(me_addr.clone()),
        }]
    );
    assert_eq!(
        maildir_messages(&site.path(&format!("maildirs/{}", site.me))).len(),
        1
    );
}

#[test]
fn forward_only_is_reported_forwarded() {
    let (site, ctx) = site("", "");
    let fwd = site.path(&format!("fwd/{}.forward", site.me));
    fs::write(&fwd, "elsewhere@remote.example\n").unwrap();
    let r = one(&site, &ctx, &format!("{}@{HOST}", site.me), MESSAGE);
    assert_eq!(
        (r.outcome.clone(), r.detail.as_str()),
        (Outcome::Delivered, "forwarded")
    );
    assert!(maildir_messages(&site.path(&format!("maildirs/{}", site.me))).is_empty());
}

#[test]
fn mbox_in_the_spool_directory() {
    let (site, ctx) = site("mail_spool_directory = DIR/spool", "");
    let r = one(&site, &ctx, &format!("{}@{HOST}", site.me), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    assert_eq!(r.detail, "delivered to mailbox");
    let mbox = fs::read_to_string(site.path(&format!("spool/{}", site.me))).unwrap();
    assert!(mbox.starts_with("From alice@example.org  "), "{mbox}");
    assert!(mbox.contains(&format!("Delivered-To: {}@{HOST}\n", site.me)));
    assert!(mbox.ends_with(">From the body\nbye\n\n"), "{mbox}");
}

#[test]
fn owner_alias_becomes_the_sender() {
    let (site, ctx) = site("", "list: ME\nowner-list: ME\n");
    let r = one(&site, &ctx, &format!("list@{HOST}"), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    let msg = maildir_messages(&site.path(&format!("maildirs/{}", site.me))).remove(0);
    assert!(
        msg.contains(&format!("Return-Path: <owner-list@{HOST}>\n")),
        "{msg}"
    );
}

#[test]
fn extensions_follow_the_lookup_order() {
    let (site, ctx) = site("", "team: ME\nteam+special: nobody\n");
    // user+ext is looked up first...
    let r = one(&site, &ctx, &format!("team+special@{HOST}"), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    assert_eq!(maildir_messages(&site.path("maildirs/nobody")).len(), 1);
    // ...then user; and a password-file user takes any extension.
    let r = one(&site, &ctx, &format!("team+other@{HOST}"), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    let r = one(&site, &ctx, &format!("{}+x@{HOST}", site.me), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    assert_eq!(
        maildir_messages(&site.path(&format!("maildirs/{}", site.me))).len(),
        2
    );
}

#[test]
fn remote_alias_members_are_forwarded_and_loops_bounce() {
    let (site, ctx) = site("", "mixed: ME, friend@remote.example\na: b\nb: a\n");
    let r = one(&site, &ctx, &format!("mixed@{HOST}"), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    // Forwarded with Delivered-To: the alias (prepend_delivered_header has
    // forward by default), from the original sender (no owner-mixed alias).
    assert_eq!(
        r.forwarded,
        vec![Forwarded {
            address: "friend@remote.example".into(),
            sender: "alice@example.org".into(),
            delivered_to: Some(format!("mixed@{HOST}")),
        }]
    );
    let r = one(&site, &ctx, &format!("a@{HOST}"), MESSAGE);
    assert_eq!(bounce_text(&r).0, "5.4.6");
}

#[test]
fn duplicates_in_one_job_are_delivered_once() {
    let (site, ctx) = site("", "team: ME, nobody\nall: team, ME\n");
    let me = format!("{}@{HOST}", site.me);
    let r = deliver(&job(&[&format!("all@{HOST}"), &me], MESSAGE), &ctx);
    assert!(
        r.recipients.iter().all(|r| r.outcome == Outcome::Delivered),
        "{r:?}"
    );
    assert_eq!(
        maildir_messages(&site.path(&format!("maildirs/{}", site.me))).len(),
        1
    );
    assert_eq!(maildir_messages(&site.path("maildirs/nobody")).len(), 1);
}

#[test]
fn restricted_commands_bounce() {
    let (site, ctx) = site(
        "allow_mail_to_commands = forward",
        "cmd: \"|cat > /dev/null\"\n",
    );
    let r = one(&site, &ctx, &format!("cmd@{HOST}"), MESSAGE);
    let (code, reason) = bounce_text(&r);
    assert_eq!(code, "5.7.1");
    assert!(reason.contains("mail to command is restricted"), "{reason}");
}

#[test]
fn mailbox_command_gets_the_message_and_environment() {
    let (site, ctx) = site(
        "mailbox_command = /bin/sh -c 'echo \"$USER $EXTENSION\" > DIR/out/env.txt; cat > DIR/out/cmd.txt'",
        "",
    );
    let r = one(&site, &ctx, &format!("{}+ext@{HOST}", site.me), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    assert!(
        r.detail.starts_with("delivered to command: /bin/sh -c "),
        "{}",
        r.detail
    );
    let env = fs::read_to_string(site.path("out/env.txt")).unwrap();
    assert_eq!(env, format!("{} ext\n", site.me));
    let got = fs::read_to_string(site.path("out/cmd.txt")).unwrap();
    assert!(got.starts_with("From alice@example.org  "), "{got}");
}

#[test]
fn dot_forward_pipe_and_failing_command() {
    let (site, ctx) = site("", "fails: \"|exit 75\"\nbroken: \"|exit 1\"\n");
    let fwd = site.path(&format!("fwd/{}.forward", site.me));
    let out = site.path("out/fwd-pipe.txt");
    fs::write(&fwd, format!("\"|cat > {}\"\n", out.display())).unwrap();
    let r = one(&site, &ctx, &format!("{}@{HOST}", site.me), MESSAGE);
    assert_eq!(r.outcome, Outcome::Delivered, "{}", r.detail);
    assert!(fs::read_to_string(&out)
        .unwrap()
        .contains("Subject: agent test"));
    // EX_TEMPFAIL defers, other exit codes bounce (sys_exits.c).
    let r = one(&site, &ctx, &format!("fails@{HOST}"), MESSAGE);
    assert!(
        matches!(&r.outcome, Outcome::Deferred(d) if d.status.to_string().starts_with('4')),
        "{r:?}"
    );
    let r = one(&site, &ctx, &format!("broken@{HOST}"), MESSAGE);
    assert!(matches!(&r.outcome, Outcome::Bounced(_)), "{r:?}");
}
