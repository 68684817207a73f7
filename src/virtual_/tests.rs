//! The virtual agent against real files: Maildir and mbox mailboxes under
//! `virtual_mailbox_base`, uid/gid from `static:` maps (owned by that uid when
//! the tests run as root), unknown users, the uid floor and loops.
//!
//! Exercises src/virtual_ (Postfix virtual(8)).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::config::Config;
use crate::local::exec::Identity;
use crate::local::tests::agent::{job, maildir_messages, MESSAGE};
use crate::mail::dsn::Outcome;
use crate::virtual_::agent::{deliver, VirtualContext};

/// The uid/gid deliveries are made as: nobody's when root (above
/// virtual_minimum_uid), else our own.
fn owner() -> (u32, u32) {
    let me = nix::unistd::geteuid();
    if me.is_root() {
        let nobody = Identity::lookup("nobody").unwrap().unwrap();
        (nobody.uid, nobody.gid)
    } else {
        (me.as_raw(), nix::unistd::getegid().as_raw())
    }
}

fn site(extra: &str) -> (tempfile::TempDir, VirtualContext) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    let hosted = d.join("vmail/hosted.example");
    fs::create_dir_all(&hosted).unwrap();
    fs::set_permissions(&hosted, fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(
        d.join("vmailbox"),
        "alice@hosted.example hosted.example/alice/\n\
         bob@hosted.example hosted.example/bob.mbox\n\
         @catchall.example hosted.example/catchall/\n",
    )
    .unwrap();
    let (uid, gid) = owner();
    let main_cf = format!(
        "virtual_mailbox_base = {base}\nvirtual_mailbox_maps = texthash:{map}\n\
         virtual_uid_maps = static:{uid}\nvirtual_gid_maps = static:{gid}\n\
         virtual_minimum_uid = 100\nrecipient_delimiter = +\n{extra}\n",
        base = d.join("vmail").display(),
        map = d.join("vmailbox").display(),
    );
    fs::write(d.join("main.cf"), main_cf).unwrap();
    let ctx = VirtualContext::new(&Config::load(d).unwrap()).unwrap();
    (dir, ctx)
}

#[test]
fn maildir_and_mbox_with_static_ids() {
    let (dir, ctx) = site("");
    let j = job(
        &[
            "alice+tag@hosted.example",
            "bob@hosted.example",
            "x@catchall.example",
        ],
        MESSAGE,
    );
    let r = deliver(&j, &ctx);
    let texts: Vec<_> = r
        .recipients
        .iter()
        .map(|r| (r.outcome.clone(), r.detail.as_str(), r.relay.as_str()))
        .collect();
    assert_eq!(
        texts,
        vec![
            (Outcome::Delivered, "delivered to maildir", "virtual"),
            (Outcome::Delivered, "delivered to mailbox", "virtual"),
            (Outcome::Delivered, "delivered to maildir", "virtual"),
        ]
    );
    let base = dir.path().join("vmail/hosted.example");
    let alice = maildir_messages(&base.join("alice"));
    assert_eq!(alice.len(), 1);
    assert!(
        alice[0].contains("Delivered-To: alice+tag@hosted.example\n"),
        "{}",
        alice[0]
    );
    let mbox = fs::read_to_string(base.join("bob.mbox")).unwrap();
    assert!(mbox.starts_with("From alice@example.org  "), "{mbox}");
    assert!(mbox.contains(">From the body\n"));
    assert_eq!(maildir_messages(&base.join("catchall")).len(), 1);
    let (uid, gid) = owner();
    let meta = fs::metadata(base.join("bob.mbox")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    let new = base.join("alice/new");
    let file = fs::read_dir(&new).unwrap().next().unwrap().unwrap().path();
    assert_eq!(fs::metadata(file).unwrap().uid(), uid);
}

#[test]
fn unknown_users_bounce_and_bad_uids_defer() {
    let (_dir, ctx) = site("");
    let r = deliver(&job(&["Carol@Hosted.example"], MESSAGE), &ctx);
    match &r.recipients[0].outcome {
        Outcome::Bounced(d) => {
            assert_eq!(d.status.to_string(), "5.1.1");
            assert_eq!(d.reason, "unknown user: \"carol@hosted.example\"");
        }
        other => panic!("{other:?}"),
    }
    let (_dir, ctx) = site("virtual_uid_maps = static:5");
    let r = deliver(&job(&["alice@hosted.example"], MESSAGE), &ctx);
    match &r.recipients[0].outcome {
        Outcome::Deferred(d) => {
            assert_eq!(d.status.to_string(), "4.3.5");
            assert_eq!(d.reason, "mail system configuration error");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn loops_and_size_limit() {
    let (_dir, ctx) = site("virtual_mailbox_limit = 20");
    let looped = b"Delivered-To: alice@hosted.example\n\nbody\n";
    let r = deliver(&job(&["alice@hosted.example"], looped), &ctx);
    assert!(
        matches!(&r.recipients[0].outcome, Outcome::Bounced(d) if d.reason == "mail forwarding loop for alice@hosted.example"),
        "{r:?}"
    );
    let r = deliver(&job(&["bob@hosted.example"], MESSAGE), &ctx);
    assert!(
        matches!(&r.recipients[0].outcome, Outcome::Bounced(d) if d.status.to_string() == "5.2.2"),
        "{r:?}"
    );
}
