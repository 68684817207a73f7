//! Helpers shared by the config and postconf integration tests: run the real
//! Postern binary and the real Postfix 3.7 `postconf` on temporary config
//! directories (never /etc/postfix).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

fn run(mut cmd: Command) -> Out {
    cmd.env_remove("MAIL_CONFIG");
    let o = cmd.output().expect("run command");
    Out {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

/// Runs `postern CMD ARGS...`.
pub fn postern(cmd: &str, args: &[&str]) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_postern"));
    c.arg(cmd).args(args);
    run(c)
}

/// The real Postfix postconf; fails the test with a clear message when missing.
pub fn postfix_postconf() -> PathBuf {
    let p = PathBuf::from("/usr/sbin/postconf");
    assert!(
        p.exists(),
        "this test compares with real Postfix 3.7: /usr/sbin/postconf is missing \
         (install the postfix package, as CI does)"
    );
    p
}

/// Runs the real Postfix `postconf ARGS...`, with its stderr prefix
/// `/usr/sbin/postconf:` shortened to Postern's `postconf:`.
pub fn postfix(args: &[&str]) -> Out {
    let mut c = Command::new(postfix_postconf());
    c.args(args);
    let mut o = run(c);
    o.stderr = o.stderr.replace("/usr/sbin/postconf:", "postconf:");
    o
}

/// A temporary configuration directory with `main.cf` and, when given, `master.cf`.
pub fn confdir(main: &str, master: Option<&str>) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("main.cf"), main).expect("write main.cf");
    if let Some(m) = master {
        std::fs::write(d.path().join("master.cf"), m).expect("write master.cf");
    }
    d
}

/// The stock master.cf shipped with Debian's Postfix package.
pub fn stock_master_cf() -> String {
    let p = Path::new("/usr/share/postfix/master.cf.dist");
    std::fs::read_to_string(p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (install the postfix package, as CI does)",
            p.display()
        )
    })
}

/// The directory of `tests/data`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `name = value` lines parsed into pairs (for `postconf` output comparisons).
pub fn pairs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| match l.split_once(" = ") {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (l.trim_end_matches(" =").to_string(), String::new()),
        })
        .collect()
}
