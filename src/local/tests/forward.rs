//! `.forward` files and `:include:` expansion (Postfix local/dotforward.c,
//! local/include.c) on real files: `forward_path` order, comments and continuation
//! lines, recursive includes with their origin, loops.

use std::fs;
use std::path::PathBuf;

use crate::local::alias_value::Destination;
use crate::local::expand::ExpandAttrs;
use crate::local::forward::{
    expand_includes, forward_paths, read_first_forward, read_forward, ForwardError, ForwardSettings,
};
use crate::local::{Origin, Severity};

fn attrs(home: &std::path::Path, extension: &str) -> ExpandAttrs {
    ExpandAttrs {
        home: home.display().to_string(),
        user: "bob".into(),
        extension: extension.into(),
        recipient_delimiter: if extension.is_empty() {
            "".into()
        } else {
            "+".into()
        },
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

    assert_eq!(read_first_forward(&with_ext).unwrap(), None, "no files yet");
    fs::write(home.path().join(".forward"), "carol\n").unwrap();
    fs::write(
        home.path().join(".forward+lists"),
        "# lists go elsewhere\nlists@example.net\n",
    )
    .unwrap();
    let (path, dests) = read_first_forward(&with_ext).unwrap().unwrap();
    assert_eq!(path, home.path().join(".forward+lists"));
    assert_eq!(dests, vec![addr("lists@example.net")]);
    let (_, dests) = read_first_forward(&without).unwrap().unwrap();
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
    let dests = read_forward(&path).unwrap().unwrap();
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
fn includes_expand_recursively_and_mark_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    let staff = dir.path().join("staff");
    let admins = dir.path().join("admins");
    fs::write(
        &staff,
        format!("alice, :include:{}\n|/bin/logger staff\n", admins.display()),
    )
    .unwrap();
    fs::write(
        &admins,
        format!(
            "root\n:include:{}\n",
            admins
                .display()
                .to_string()
                .replace("admins", "nobody-else")
        ),
    )
    .unwrap();
    fs::write(dir.path().join("nobody-else"), "# empty list\n").unwrap();

    let top = vec![addr("boss"), Destination::Include(staff.clone())];
    let routed = expand_includes(top, Origin::Alias).unwrap();
    let got: Vec<(Destination, Origin)> = routed
        .into_iter()
        .map(|r| (r.destination, r.origin))
        .collect();
    assert_eq!(
        got,
        vec![
            (addr("boss"), Origin::Alias),
            (addr("alice"), Origin::Include),
            (addr("root"), Origin::Include),
            (
                Destination::Command("/bin/logger staff".into()),
                Origin::Include
            ),
        ]
    );
}

#[test]
fn include_loops_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    fs::write(&a, format!("x, :include:{}\n", b.display())).unwrap();
    fs::write(&b, format!("y, :include:{}\n", a.display())).unwrap();
    let err = expand_includes(vec![Destination::Include(a.clone())], Origin::Alias).unwrap_err();
    assert!(matches!(err, ForwardError::Loop { .. }), "{err}");
    assert_eq!(err.dsn(), "5.4.6");
    assert_eq!(err.severity(), Severity::Permanent);
}

#[test]
fn missing_include_bounces_and_relative_include_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = expand_includes(
        vec![Destination::Include(dir.path().join("gone"))],
        Origin::Alias,
    )
    .unwrap_err();
    assert!(err.to_string().contains("gone"), "{err}");
    assert_eq!(err.severity(), Severity::Permanent);
    let err =
        expand_includes(vec![Destination::Include("rel/list".into())], Origin::Alias).unwrap_err();
    assert!(matches!(err, ForwardError::NotAbsolute { .. }), "{err}");
}

#[test]
fn a_directory_named_forward_is_not_read() {
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".forward")).unwrap();
    let err = read_forward(&home.path().join(".forward")).unwrap_err();
    assert!(matches!(err, ForwardError::NotRegular { .. }), "{err}");
}
