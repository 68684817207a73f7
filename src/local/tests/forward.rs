//! `.forward` files and `:include:` expansion (Postfix local/dotforward.c,
//! local/include.c) on real files: `forward_path` order, which files are ignored,
//! comments and continuation lines, recursive includes with origin and owner,
//! loops ended by the duplicate filter, the nesting limit.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::local::alias_value::Destination;
use crate::local::expand::ExpandAttrs;
use crate::local::forward::{
    expand_includes, find_forward, forward_paths, ForwardError, ForwardFile, ForwardSettings,
};
use crate::local::{Origin, Severity};

fn attrs(home: &Path, extension: &str) -> ExpandAttrs {
    ExpandAttrs {
        home: home.display().to_string(),
        user: "bob".into(),
        extension: extension.into(),
        recipient_delimiter: if extension.is_empty() { "" } else { "+" }.into(),
        local: format!("bob+{extension}"),
        domain: "example.com".into(),
        ..Default::default()
    }
}

fn addr(a: &str) -> Destination {
    Destination::Address {
        address: a.into(),
        literal: false,
    }
}

fn me() -> u32 {
    nix::unistd::geteuid().as_raw()
}

fn found(f: ForwardFile) -> (PathBuf, Vec<Destination>) {
    match f {
        ForwardFile::Found { path, destinations } => (path, destinations),
        other => panic!("expected a forward file, got {other:?}"),
    }
}

#[test]
fn forward_path_prefers_the_extension_file() {
    let home = tempfile::tempdir().unwrap();
    let s = ForwardSettings::default();
    let with_ext = forward_paths(&s, &attrs(home.path(), "lists")).unwrap();
    assert_eq!(
        with_ext,
        vec![
            home.path().join(".forward+lists"),
            home.path().join(".forward")
        ]
    );
    let without = forward_paths(&s, &attrs(home.path(), "")).unwrap();
    assert_eq!(without, vec![home.path().join(".forward")]);

    assert_eq!(find_forward(&with_ext, me()).unwrap(), ForwardFile::Absent);
    fs::write(home.path().join(".forward"), "carol\n").unwrap();
    fs::write(
        home.path().join(".forward+lists"),
        "# lists go elsewhere\nlists@example.net\n",
    )
    .unwrap();
    let (path, dests) = found(find_forward(&with_ext, me()).unwrap());
    assert_eq!(path, home.path().join(".forward+lists"));
    assert_eq!(dests, vec![addr("lists@example.net")]);
    let (_, dests) = found(find_forward(&without, me()).unwrap());
    assert_eq!(dests, vec![addr("carol")]);
}

#[test]
fn forward_file_with_comments_continuations_and_every_kind() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join(".forward");
    fs::write(
        &path,
        "# keep a copy\n\\bob,\n  \"|/usr/bin/vacation bob\"\n\n/home/bob/mail/archive, dave@example.net\n",
    )
    .unwrap();
    let (_, dests) = found(find_forward(&[path], me()).unwrap());
    assert_eq!(
        dests,
        vec![
            Destination::Address {
                address: "bob".into(),
                literal: true
            },
            Destination::Command("/usr/bin/vacation bob".into()),
            Destination::File(PathBuf::from("/home/bob/mail/archive")),
            addr("dave@example.net"),
        ]
    );
}

#[test]
fn unsafe_forward_files_are_ignored_not_followed() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join(".forward");
    let ignored = |paths: &[PathBuf], uid: u32| {
        matches!(
            find_forward(paths, uid).unwrap(),
            ForwardFile::Ignored { .. }
        )
    };
    // A directory, a symlink, a world-writable file, a file of another user, and a
    // file without destinations: each is skipped in favour of the mailbox.
    fs::create_dir(&path).unwrap();
    assert!(ignored(std::slice::from_ref(&path), me()));
    fs::remove_dir(&path).unwrap();

    let real = home.path().join("real");
    fs::write(&real, "carol\n").unwrap();
    std::os::unix::fs::symlink(&real, &path).unwrap();
    assert!(ignored(std::slice::from_ref(&path), me()));
    fs::remove_file(&path).unwrap();

    fs::write(&path, "carol\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    assert!(ignored(std::slice::from_ref(&path), me()));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

    if nix::unistd::geteuid().is_root() {
        // Owned by uid 65534: fine for that user, not for uid 1234.
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        assert!(ignored(std::slice::from_ref(&path), 1234));
        found(find_forward(std::slice::from_ref(&path), 65534).unwrap());
    }
    fs::write(&path, "# nothing here\n").unwrap();
    assert!(ignored(std::slice::from_ref(&path), me()));
}

#[test]
fn includes_expand_recursively_with_origin_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    let staff = dir.path().join("staff");
    let admins = dir.path().join("admins");
    let empty = dir.path().join("nobody-else");
    fs::write(
        &staff,
        format!("alice, :include:{}\n|/bin/logger staff\n", admins.display()),
    )
    .unwrap();
    fs::write(&admins, format!("root\n:include:{}\n", empty.display())).unwrap();
    fs::write(&empty, "# empty list\n").unwrap();
    let owner = fs::metadata(&staff).unwrap().uid();

    let top = vec![addr("boss"), Destination::Include(staff.clone())];
    let routed = expand_includes(top, Origin::Alias).unwrap();
    let got: Vec<_> = routed
        .into_iter()
        .map(|r| (r.destination, r.origin, r.include_owner))
        .collect();
    assert_eq!(
        got,
        vec![
            (addr("boss"), Origin::Alias, None),
            (addr("alice"), Origin::Include, Some(owner)),
            (addr("root"), Origin::Include, Some(owner)),
            (
                Destination::Command("/bin/logger staff".into()),
                Origin::Include,
                Some(owner)
            ),
        ]
    );
}

#[test]
fn include_loops_end_at_the_duplicate_filter() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    fs::write(&a, format!("x, :include:{}\n", b.display())).unwrap();
    fs::write(&b, format!("y, :include:{}\n", a.display())).unwrap();
    let routed = expand_includes(
        vec![Destination::Include(a.clone()), Destination::Include(a)],
        Origin::Alias,
    )
    .unwrap();
    let got: Vec<_> = routed.into_iter().map(|r| r.destination).collect();
    assert_eq!(got, vec![addr("x"), addr("y")]);
}

#[test]
fn nesting_limit_bounces() {
    let dir = tempfile::tempdir().unwrap();
    // f0 includes f1 includes ... f101: all different files, so no duplicates.
    for i in 0..=101 {
        let next = dir.path().join(format!("f{}", i + 1));
        fs::write(
            dir.path().join(format!("f{i}")),
            format!("u{i}, :include:{}\n", next.display()),
        )
        .unwrap();
    }
    fs::write(dir.path().join("f102"), "last\n").unwrap();
    let err = expand_includes(
        vec![Destination::Include(dir.path().join("f0"))],
        Origin::Alias,
    )
    .unwrap_err();
    assert!(matches!(err, ForwardError::TooDeep { .. }), "{err}");
    assert_eq!(err.dsn(), "5.4.6");
}

#[test]
fn unusable_include_files_bounce_as_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = expand_includes(
        vec![Destination::Include(dir.path().join("gone"))],
        Origin::Alias,
    )
    .unwrap_err();
    assert!(err.to_string().contains("gone"), "{err}");
    assert_eq!(err.dsn(), "5.3.5");
    assert_eq!(err.severity(), Severity::Permanent);

    let err =
        expand_includes(vec![Destination::Include("rel/list".into())], Origin::Alias).unwrap_err();
    assert!(matches!(err, ForwardError::NotAbsolute { .. }), "{err}");

    let open = dir.path().join("open");
    fs::write(&open, "x\n").unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o666)).unwrap();
    let err = expand_includes(vec![Destination::Include(open)], Origin::Alias).unwrap_err();
    assert!(matches!(err, ForwardError::WorldWritable { .. }), "{err}");
}
