//! Maildir delivery (Postfix local/maildir.c): file names, headers, directory
//! creation, uniqueness under concurrent deliveries, nothing left behind on failure.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::{envelope, CONTENT};
use crate::local::maildir::{deliver_maildir, MaildirError, MaildirSettings};
use crate::local::Severity;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `time.VdevIinodeMusec.host`: decimal seconds, hex device and inode, decimal
/// microseconds (maildir.c).
fn assert_new_name(name: &str) {
    let mut parts = name.splitn(3, '.');
    let secs = parts.next().unwrap();
    let unique = parts.next().unwrap();
    let host = parts.next().unwrap();
    assert!(secs.bytes().all(|b| b.is_ascii_digit()), "{name}");
    assert!(!host.is_empty() && !host.contains('/'), "{name}");
    let rest = unique.strip_prefix('V').expect(name);
    let (dev, rest) = rest.split_once('I').expect(name);
    let (ino, usec) = rest.split_once('M').expect(name);
    assert!(u64::from_str_radix(dev, 16).is_ok(), "{name}");
    assert!(u64::from_str_radix(ino, 16).is_ok(), "{name}");
    assert!(
        usec.parse::<u32>().map(|u| u < 1_000_000).unwrap_or(false),
        "{name}"
    );
}

#[test]
fn delivers_into_new_with_postfix_headers_and_creates_directories() {
    let home = tempfile::tempdir().unwrap();
    let settings = MaildirSettings {
        home_mailbox: "Maildir/".into(),
        ..Default::default()
    };
    let maildir = settings.home_maildir(home.path()).unwrap();
    let path = deliver_maildir(&maildir, &envelope(), CONTENT, &settings).unwrap();

    assert_eq!(path.parent().unwrap(), maildir.join("new"));
    assert_new_name(path.file_name().unwrap().to_str().unwrap());
    assert!(maildir.join("cur").is_dir());
    assert!(names(&maildir.join("tmp")).is_empty(), "tmp/ must be empty");

    let text = fs::read_to_string(&path).unwrap();
    let expected_head = "Return-Path: <alice@example.org>\nX-Original-To: postmaster@example.com\nDelivered-To: bob@example.com\n";
    assert!(text.starts_with(expected_head), "{text}");
    // No envelope line and no quoting in Maildir files.
    assert_eq!(&text.as_bytes()[expected_head.len()..], CONTENT);
    let mode = fs::metadata(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[test]
fn delivered_to_follows_prepend_delivered_header() {
    let dir = tempfile::tempdir().unwrap();
    let settings = MaildirSettings {
        prepend_delivered_header: crate::local::copy::DeliveredHeader::parse("forward"),
        ..Default::default()
    };
    let mut env = envelope();
    env.original_recipient.clear();
    let path = deliver_maildir(&dir.path().join("md"), &env, b"x\n", &settings).unwrap();
    assert_eq!(
        fs::read_to_string(path).unwrap(),
        "Return-Path: <alice@example.org>\nx\n"
    );
}

#[test]
fn names_stay_unique_under_concurrent_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Arc::new(dir.path().join("Maildir"));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let maildir = Arc::clone(&maildir);
            std::thread::spawn(move || {
                let settings = MaildirSettings::default();
                (0..25)
                    .map(|i| {
                        let body = format!("Subject: {t}-{i}\n\nbody {t} {i}\n");
                        let path =
                            deliver_maildir(&maildir, &envelope(), body.as_bytes(), &settings)
                                .unwrap();
                        (path, body)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for t in threads {
        for (path, body) in t.join().unwrap() {
            assert!(seen.insert(path.clone()), "duplicate {}", path.display());
            assert!(fs::read_to_string(&path).unwrap().ends_with(&body));
        }
    }
    assert_eq!(names(&maildir.join("new")).len(), 200);
    assert!(names(&maildir.join("tmp")).is_empty());
}

#[test]
fn size_limit_bounces_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let settings = MaildirSettings {
        mailbox_size_limit: 100,
        ..Default::default()
    };
    let maildir = dir.path().join("Maildir");
    let err = deliver_maildir(&maildir, &envelope(), CONTENT, &settings).unwrap_err();
    assert!(matches!(err, MaildirError::SizeLimit { .. }), "{err}");
    assert_eq!(err.dsn(), "5.2.2");
    assert_eq!(err.severity(), Severity::Permanent);
    assert!(names(&maildir.join("new")).is_empty());
}

#[test]
fn unusable_maildir_fails_with_the_path_and_no_message_in_new() {
    let dir = tempfile::tempdir().unwrap();
    // A plain file where the Maildir should be: even root cannot create tmp/ in it.
    let maildir = dir.path().join("Maildir");
    fs::write(&maildir, b"not a directory").unwrap();
    let err =
        deliver_maildir(&maildir, &envelope(), CONTENT, &MaildirSettings::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Maildir"), "{text}");
    assert!(text.starts_with("maildir delivery failed: "), "{text}");
    // ENOTDIR is neither a full disk nor a stale handle: maildir.c bounces it.
    assert_eq!(err.severity(), Severity::Permanent);
}

#[test]
fn a_keyed_delivery_is_made_once_across_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let mut env = envelope();
    env.delivery_key = crate::local::Envelope::delivery_key(1_700_000_000, "4ABC", 2);
    let settings = MaildirSettings::default();
    let first = deliver_maildir(&md, &env, CONTENT, &settings).unwrap();
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("1700000000.Q4ABCR2."), "{name}");
    // A retry (after a crash before the result was recorded) finds it.
    let again = deliver_maildir(&md, &env, CONTENT, &settings).unwrap();
    assert_eq!(again, first);
    assert_eq!(names(&md.join("new")), std::slice::from_ref(&name));
    assert!(names(&md.join("tmp")).is_empty());
    // Also once a reader has moved it to cur/ with flags, when the job says an
    // earlier attempt may have made it.
    let seen = md.join("cur").join(format!("{name}:2,S"));
    fs::rename(&first, &seen).unwrap();
    env.retry = true;
    assert_eq!(
        deliver_maildir(&md, &env, CONTENT, &settings).unwrap(),
        seen
    );
    assert!(names(&md.join("new")).is_empty());
    // A first attempt does not read cur/ (it cannot hold a copy yet; a big
    // mailbox would make every delivery read it).
    env.retry = false;
    let fresh = deliver_maildir(&md, &env, CONTENT, &settings).unwrap();
    assert_eq!(fresh, first);
    fs::remove_file(&fresh).unwrap();
    // Another job recipient of the same message is another copy.
    env.delivery_key = crate::local::Envelope::delivery_key(1_700_000_000, "4ABC", 3);
    deliver_maildir(&md, &env, CONTENT, &settings).unwrap();
    assert_eq!(names(&md.join("new")).len(), 1);
}
