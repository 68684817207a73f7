//! One binary, many names: dispatch on argv[0] (a symlink) and on the first
//! argument, `postern --help`, and commands that are not built yet.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_postern");

#[test]
fn help_lists_every_command() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "postfix",
        "postconf",
        "postmap",
        "postalias",
        "newaliases",
        "postqueue",
        "mailq",
        "postsuper",
        "postcat",
        "sendmail",
        "posttls-finger",
    ] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} missing in:\n{text}"
        );
    }
}

#[test]
fn symlink_name_selects_the_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.cf"), "").unwrap();
    let link = dir.path().join("postconf");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let out = Command::new(&link)
        .args(["-c", dir.path().to_str().unwrap(), "-d", "mail_name"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "mail_name = Postfix\n"
    );

    let by_arg = Command::new(BIN)
        .args([
            "postconf",
            "-c",
            dir.path().to_str().unwrap(),
            "-d",
            "mail_name",
        ])
        .output()
        .unwrap();
    assert_eq!(by_arg.stdout, out.stdout);
}

#[test]
fn unknown_command_fails() {
    let out = Command::new(BIN).arg("postfrob").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command"));
}
