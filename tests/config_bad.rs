//! Bad main.cf files (chasquid style): each tests/bad-config/NAME.cf must give
//! exactly the one error in NAME.err (DIR stands for the config directory) and
//! a non-zero exit, and `postconf -e` must leave such a file untouched.

mod config_util;

use config_util::{confdir, postern};
use std::path::Path;

fn bad_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-config")
}

/// Runs `postconf -n` and `postfix check` on `main` and checks the error text.
fn expect_error(name: &str, main: &[u8], want: &str) {
    let dir = confdir("", Some(""));
    let d = dir.path().to_str().unwrap();
    std::fs::write(dir.path().join("main.cf"), main).unwrap();
    let want = want.replace("DIR", d);
    let o = postern("postconf", &["-c", d, "-n"]);
    assert_ne!(o.code, 0, "{name}: exit status");
    assert_eq!(o.stdout, "", "{name}");
    assert_eq!(o.stderr, want, "{name}");
    let o = postern("postfix", &["-c", d, "check"]);
    assert_ne!(o.code, 0, "{name}: postfix check exit status");
    assert_eq!(
        o.stderr,
        want.replace("postconf: fatal:", "postfix-script: fatal:"),
        "{name}"
    );

    let o = postern("postconf", &["-c", d, "-e", "relayhost = [mx.example.org]"]);
    assert_ne!(o.code, 0, "{name}: postconf -e on a bad main.cf");
    assert_eq!(
        std::fs::read(dir.path().join("main.cf")).unwrap(),
        main,
        "{name}: changed by -e"
    );
    let o = postern("postconf", &["-c", d, "-X", "myhostname"]);
    assert_ne!(o.code, 0, "{name}: postconf -X on a bad main.cf");
    assert_eq!(
        std::fs::read(dir.path().join("main.cf")).unwrap(),
        main,
        "{name}: changed by -X"
    );
}

#[test]
fn every_bad_config_gives_its_error() {
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(bad_dir()).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("cf") {
            continue;
        }
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let err = std::fs::read_to_string(p.with_extension("err"))
            .unwrap_or_else(|_| panic!("{name}.err is missing"));
        expect_error(&name, &std::fs::read(&p).unwrap(), &err);
        seen += 1;
    }
    assert!(seen >= 6, "only {seen} bad configs found");
}

#[test]
fn ten_megabyte_line_is_one_error() {
    let mut main = b"myhostname = mx.example.org\nsmtpd_banner = ".to_vec();
    main.resize(main.len() + 10 * 1024 * 1024, b'x');
    main.extend_from_slice(b"\nrelayhost = x\n");
    expect_error(
        "10 MB line",
        &main,
        "postconf: fatal: DIR/main.cf, line 2: logical line is longer than 1048576 bytes\n",
    );
}

#[test]
fn ten_megabytes_of_continuation_lines_are_one_error() {
    let mut main = b"smtpd_banner = start\n".to_vec();
    for _ in 0..(10 * 1024) {
        main.extend_from_slice(b" ");
        main.extend_from_slice(&[b'y'; 1023]);
        main.push(b'\n');
    }
    expect_error(
        "10 MB of continuation lines",
        &main,
        "postconf: fatal: DIR/main.cf, line 1: logical line is longer than 1048576 bytes\n",
    );
}

#[test]
fn missing_main_cf_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = postern("postconf", &["-c", d, "-n"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!("postconf: fatal: open {d}/main.cf: No such file or directory\n")
    );
    let o = postern("postfix", &["-c", d, "check"]);
    assert_eq!(o.code, 1);
}

#[test]
fn edit_that_would_break_main_cf_is_refused() {
    let dir = confdir("myhostname = mx.example.org\n", Some(""));
    let d = dir.path().to_str().unwrap();
    let o = postern("postconf", &["-c", d, "-e", "smtpd_banner = ${oops"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("truncated macro reference"),
        "{}",
        o.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("main.cf")).unwrap(),
        "myhostname = mx.example.org\n"
    );
}
