//! Command-line tools log to `maillog_file` in Postfix's format, under
//! `syslog_name`, besides stderr — the lines pflogsumm and fail2ban read.

use std::process::Command;

#[test]
fn postmap_fatal_goes_to_maillog_in_postfix_format() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("maillog");
    std::fs::write(
        dir.path().join("main.cf"),
        format!(
            "maillog_file = {}\nsyslog_name = postfix-test\nmyhostname = mx.example.com\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("access"), "a b\nlonely\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_postern"))
        .current_dir(dir.path())
        .args(["postmap", "-c", dir.path().to_str().unwrap(), "hash:access"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "postmap: fatal: access, line 2: expected format: key whitespace value\n"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let re = regex::Regex::new(
        r"^[A-Z][a-z]{2} [0-3][0-9] \d\d:\d\d:\d\d mx postfix-test/postmap\[\d+\]: fatal: access, line 2: expected format: key whitespace value\n$",
    )
    .unwrap();
    assert!(re.is_match(&text), "{text:?}");
}
