//! `/file/name` delivery (Postfix local/file.c): allowed origins, mbox format with
//! locks, Maildir for a trailing `/`, devices, executables, a full device deferring.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{envelope, quick_locks, CONTENT};
use crate::local::file::{deliver_file, FileDelivered, FileError, FileSettings};
use crate::local::mbox::MboxSettings;
use crate::local::{Origin, Severity};

fn settings() -> FileSettings {
    FileSettings {
        mbox: MboxSettings {
            lock: quick_locks("fcntl, dotlock", 3),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn alias_file_destination_gets_an_mbox_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive");
    let done = deliver_file(
        &path,
        Origin::Alias,
        &envelope(),
        CONTENT,
        &settings(),
        None,
    )
    .unwrap();
    assert!(matches!(done, FileDelivered::Mbox(_)));
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("From alice@example.org  "));
    assert!(text.contains("\n>From here on it is body.\n"));
    assert!(text.ends_with("last line\n\n"));
}

#[test]
fn include_origin_is_refused_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive");
    let err = deliver_file(
        &path,
        Origin::Include,
        &envelope(),
        CONTENT,
        &settings(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, FileError::Restricted { .. }), "{err}");
    assert_eq!(err.dsn(), "5.7.1");
    assert_eq!(err.severity(), Severity::Permanent);
    assert!(!path.exists());

    let mut s = settings();
    s.allow_mail_to_files = crate::local::OriginMask::parse("alias, forward, include");
    deliver_file(&path, Origin::Include, &envelope(), CONTENT, &s, None).unwrap();
}

#[test]
fn trailing_slash_means_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let path = format!("{}/box/", dir.path().display());
    let done = deliver_file(
        Path::new(&path),
        Origin::Forward,
        &envelope(),
        CONTENT,
        &settings(),
        None,
    )
    .unwrap();
    match done {
        FileDelivered::Maildir(p) => assert!(p.starts_with(dir.path().join("box/new"))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dev_null_works_and_a_full_device_defers() {
    deliver_file(
        Path::new("/dev/null"),
        Origin::Alias,
        &envelope(),
        CONTENT,
        &settings(),
        None,
    )
    .unwrap();
    // /dev/full (Linux) answers every write with ENOSPC, a real full-disk error.
    if !Path::new("/dev/full").exists() {
        return;
    }
    let err = deliver_file(
        Path::new("/dev/full"),
        Origin::Alias,
        &envelope(),
        CONTENT,
        &settings(),
        None,
    )
    .unwrap_err();
    assert_eq!(err.dsn(), "4.3.0", "{err}");
    assert_eq!(err.severity(), Severity::Temporary);
    assert!(err.to_string().contains("/dev/full"), "{err}");
}

#[test]
fn executable_and_relative_destinations_bounce() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script");
    fs::write(&path, b"#!/bin/sh\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    let err = deliver_file(
        &path,
        Origin::Alias,
        &envelope(),
        CONTENT,
        &settings(),
        None,
    )
    .unwrap_err();
    assert_eq!(err.dsn(), "5.7.1", "{err}");
    assert_eq!(fs::read(&path).unwrap(), b"#!/bin/sh\n");

    let err = deliver_file(
        Path::new("relative/file"),
        Origin::Alias,
        &envelope(),
        CONTENT,
        &settings(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, FileError::NotAbsolute { .. }), "{err}");
}
