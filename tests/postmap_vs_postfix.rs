//! Postern's postmap/postalias against Postfix 3.7's on the same tables.
//!
//! Builds every table in tests/data/maps with the real /usr/sbin/postmap and
//! /usr/sbin/postalias in one temporary directory and with Postern in another,
//! then requires the same stdout and exit status for a few hundred `-q` queries,
//! for `-q -` and for sorted `-s` dumps. Fails (never skips) when Postfix is not
//! installed: CI installs postfix, postfix-pcre and postfix-lmdb.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maps");

fn postfix_tool(name: &str) -> PathBuf {
    let p = PathBuf::from("/usr/sbin").join(name);
    assert!(
        p.exists(),
        "Postfix's {} is missing: these tests compare against real Postfix 3.7 \
         (apt-get install postfix postfix-pcre postfix-lmdb)",
        p.display()
    );
    p
}

/// One side of the comparison: a directory with a main.cf and the table sources.
struct Side {
    dir: tempfile::TempDir,
    postfix: bool,
}

/// stdout, stderr and exit status of one command.
#[derive(Debug, PartialEq, Eq)]
struct Out {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

impl Side {
    fn new(postfix: bool) -> Side {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("main.cf"), "").unwrap();
        for e in fs::read_dir(DATA).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
        // The same source with a different name, for the -f (no folding) build.
        fs::copy(dir.path().join("access"), dir.path().join("access_nofold")).unwrap();
        fs::copy(
            dir.path().join("transport"),
            dir.path().join("transport_lmdb"),
        )
        .unwrap();
        Side { dir, postfix }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, tool: &str, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = if self.postfix {
            Command::new(postfix_tool(tool))
        } else {
            let mut c = Command::new(env!("CARGO_BIN_EXE_postern"));
            c.arg(tool);
            c
        };
        cmd.current_dir(self.path())
            .arg("-c")
            .arg(self.path())
            .args(args)
            .env_remove("MAIL_CONFIG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            let mut si = child.stdin.take().unwrap();
            si.write_all(input.as_bytes()).unwrap();
        }
        let o = child.wait_with_output().unwrap();
        Out {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code(),
        }
    }
}

fn build_both(pf: &Side, pt: &Side) {
    let builds: &[(&str, &[&str])] = &[
        ("postmap", &["hash:access"]),
        ("postmap", &["-f", "hash:access_nofold"]),
        ("postmap", &["btree:transport"]),
        ("postmap", &["lmdb:transport_lmdb"]),
        ("postalias", &["hash:aliases"]),
        ("postalias", &["btree:aliases_tokens"]),
    ];
    for (tool, args) in builds {
        for side in [pf, pt] {
            let o = side.run(tool, args, None);
            assert_eq!(
                o.code,
                Some(0),
                "{tool} {args:?} (postfix={}): {o:?}",
                side.postfix
            );
        }
    }
}

/// Keys of a source file (first word of each entry line) plus case variants.
fn source_keys(file: &str) -> Vec<String> {
    let text = fs::read_to_string(Path::new(DATA).join(file)).unwrap();
    let mut keys = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.starts_with([' ', '\t']) || line.is_empty() {
            continue;
        }
        let k = line.split([' ', '\t', ':']).next().unwrap_or_default();
        if !k.is_empty() && !k.starts_with('"') {
            keys.push(k.to_string());
            keys.push(k.to_uppercase());
            keys.push(k.to_lowercase());
        }
    }
    keys
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// (tool, table, queries) to compare.
fn cases() -> Vec<(&'static str, &'static str, Vec<String>)> {
    let mut access = source_keys("access");
    access.extend(strs(&[
        ".example.com",
        "sub.example.com",
        "mail.example.org",
        "MAIL.EXAMPLE.ORG",
        "USER@",
        "User@Example.Net",
        "1.2",
        "2001:DB8::1",
        "2001:db8:",
        "nope",
        "example",
        "com",
        "ÜNÏCODE.EXAMPLE",
        "[192.0.2.1]:25",
        "multi first",
    ]));
    let regexp = strs(&[
        "Subject: buy viagra now",
        "subject: VIAGRA",
        "Subject: hello",
        "joe@example.com",
        "JOE@EXAMPLE.COM",
        "joe@example.com.au",
        "from: MAILER-DAEMON@x",
        "from: someone",
        "from: a@b",
        "From: nobody",
        "X-Foo: hello",
        "x-foo: hello",
        "x-bar: y z",
        "CaseSensitive",
        "casesensitive",
        "12345",
        "12a",
        "a word here",
        "awordb",
        "aaab",
        "ab",
        "b",
        "pipe delimited",
        "PIPE DELIMITED",
        "basicbasic",
        "basic",
        "multiple",
        "multi ple",
        "with/slash",
        ".dot",
        "xdot",
        "nothing",
        "WORD",
    ]);
    let pcre = strs(&[
        "joe@example.org",
        "JOE@EXAMPLE.ORG",
        "12.34",
        "1.2.3",
        "abc",
        "ABC",
        "foobar",
        "foobaz",
        "axb",
        "a\u{e9}b",
        "x   y",
        "xy",
        "x y",
        "c",
        "C",
        "qq",
        "aq",
        "aaa",
        "a",
        "skip keep",
        "keepme",
        "skipkeep",
        "prefix",
        "fix",
        "FIX",
        "nothing",
    ]);
    let cidr = strs(&[
        "192.168.1.1",
        "192.168.255.255",
        "10.0.0.1",
        "10.0.0.2",
        "11.0.0.1",
        "172.16.1.5",
        "172.16.2.5",
        "172.32.0.1",
        "2001:db8::5",
        "2001:DB8::5",
        "::1",
        "::2",
        "2001:db9:1::1",
        "[::1]",
        "not-an-ip",
        "192.168.1",
        "::ffff:192.168.1.1",
        "0.0.0.0",
        "255.255.255.255",
        "1.2.3.4",
    ]);
    let mut texthash = source_keys("texthash");
    texthash.extend(strs(&["delta", "Beta", "continued"]));
    let mut transport = source_keys("transport");
    transport.extend(strs(&["sub.example.com", "example.org", "EXAMPLE.COM"]));
    let mut aliases = source_keys("aliases");
    aliases.extend(strs(&[
        "quoted name",
        "QUOTED NAME",
        "spaced",
        "@",
        "nobody",
        "YP_MASTER_NAME",
        "yp_master_name",
        "mailer-daemon",
    ]));
    let mut nofold = source_keys("access");
    nofold.extend(strs(&["mail.example.org", "Mail.Example.ORG"]));
    vec![
        ("postmap", "hash:access", access.clone()),
        ("postmap", "access", access),
        ("postmap", "hash:access_nofold", nofold),
        ("postmap", "btree:transport", transport.clone()),
        ("postmap", "lmdb:transport_lmdb", transport),
        ("postmap", "texthash:texthash", texthash),
        ("postmap", "regexp:checks.regexp", regexp),
        ("postmap", "pcre:checks.pcre", pcre),
        ("postmap", "cidr:clients.cidr", cidr),
        ("postalias", "hash:aliases", aliases),
        (
            "postmap",
            "unix:passwd.byname",
            strs(&["root", "ROOT", "daemon", "mail", "no-such-user"]),
        ),
        (
            "postmap",
            "unix:group.byname",
            strs(&["root", "mail", "MAIL", "no-such-group"]),
        ),
        (
            "postmap",
            "inline:{ A=1, { b = two words }, c=3 }",
            strs(&["a", "B", "c", "d"]),
        ),
        ("postmap", "static:{ fixed text }", strs(&["anything", "x"])),
    ]
}

#[test]
fn queries_match_postfix() {
    let (pf, pt) = (Side::new(true), Side::new(false));
    build_both(&pf, &pt);
    let mut count = 0;
    for (tool, table, keys) in cases() {
        let mut flags: Vec<&str> = Vec::new();
        if table.contains("nofold") {
            flags.push("-f");
        }
        for key in &keys {
            let mut args = flags.clone();
            args.extend(["-q", key.as_str(), table]);
            let a = pf.run(tool, &args, None);
            let b = pt.run(tool, &args, None);
            assert_eq!(
                (&a.stdout, a.code),
                (&b.stdout, b.code),
                "{tool} -q {key:?} {table}: Postfix (left) vs Postern (right); stderr {:?} / {:?}",
                a.stderr,
                b.stderr
            );
            count += 1;
        }
        // The same keys through one process with `-q -`.
        let input: String = keys.iter().map(|k| format!("{k}\n")).collect();
        let mut args = flags.clone();
        args.extend(["-q", "-", table]);
        let a = pf.run(tool, &args, Some(&input));
        let b = pt.run(tool, &args, Some(&input));
        assert_eq!(
            (&a.stdout, a.code),
            (&b.stdout, b.code),
            "{tool} -q - {table}"
        );
    }
    assert!(count > 300, "only {count} queries compared");
}

#[test]
fn dumps_match_postfix() {
    let (pf, pt) = (Side::new(true), Side::new(false));
    build_both(&pf, &pt);
    let dumps: &[(&str, &str)] = &[
        ("postmap", "hash:access"),
        ("postmap", "btree:transport"),
        ("postmap", "lmdb:transport_lmdb"),
        ("postmap", "texthash:texthash"),
        ("postalias", "hash:aliases"),
        ("postalias", "btree:aliases_tokens"),
    ];
    for (tool, table) in dumps {
        let sorted = |o: Out| {
            let mut v: Vec<String> = o
                .stdout
                .lines()
                .filter(|l| !l.starts_with("YP_LAST_MODIFIED"))
                .map(String::from)
                .collect();
            v.sort();
            (v, o.code)
        };
        let a = sorted(pf.run(tool, &["-s", table], None));
        let b = sorted(pt.run(tool, &["-s", table], None));
        assert_eq!(a, b, "{tool} -s {table}");
        assert!(a.0.len() >= 3, "{tool} -s {table}: {a:?}");
    }
}

#[test]
fn errors_match_postfix() {
    let (pf, pt) = (Side::new(true), Side::new(false));
    build_both(&pf, &pt);
    let cases: &[&[&str]] = &[
        &["-q", "x", "ldap:foo"],
        &["-q", "x", "hash:nonexistent"],
        &["nonexistent"],
        &["-s", "regexp:checks.regexp"],
        &["-s", "-q", "x", "hash:access"],
        &["-d", "x", "texthash:texthash"],
        &["texthash:texthash"],
        &["-i", "texthash:texthash"],
        &["-i", "regexp:checks.regexp"],
        &["-q"],
        &["-Z", "hash:access"],
        &[],
        &["-q", "x", "inline:{ foo }"],
        &["-q", "x", "nis:mail.aliases"],
        &["-q", "root", "unix:foo"],
        &["-s", "static:x"],
    ];
    for args in cases {
        let a = pf.run("postmap", args, None);
        let b = pt.run("postmap", args, None);
        let last = |s: &str| s.lines().last().unwrap_or_default().to_string();
        assert_eq!(
            (&a.stdout, a.code, last(&a.stderr)),
            (&b.stdout, b.code, last(&b.stderr)),
            "postmap {args:?}"
        );
    }
}

#[test]
fn updates_match_postfix() {
    let (pf, pt) = (Side::new(true), Side::new(false));
    build_both(&pf, &pt);
    let steps: &[(&[&str], Option<&str>)] = &[
        (&["-d", "example.com", "hash:access"], None),
        (&["-d", "example.com", "hash:access"], None),
        (&["-d", "-", "hash:access"], Some("dup\nnope\nUSER@\n")),
        (
            &["-i", "hash:access"],
            Some("new.example value one\nmulti replaced?\n"),
        ),
        (&["-i", "-r", "hash:access"], Some("spaces replaced\n")),
        (
            &["-i", "-w", "hash:access"],
            Some("1.2.3 ignored\nfresh entry\n"),
        ),
        (&["-i", "hash:brandnew"], Some("a b\n")),
    ];
    for (args, input) in steps {
        let a = pf.run("postmap", args, *input);
        let b = pt.run("postmap", args, *input);
        assert_eq!((&a.stdout, a.code), (&b.stdout, b.code), "postmap {args:?}");
    }
    for table in ["hash:access", "hash:brandnew"] {
        let sorted = |o: Out| {
            let mut v: Vec<String> = o.stdout.lines().map(String::from).collect();
            v.sort();
            v
        };
        assert_eq!(
            sorted(pf.run("postmap", &["-s", table], None)),
            sorted(pt.run("postmap", &["-s", table], None)),
            "-s {table} after updates"
        );
    }
}

#[test]
fn message_lookups_match_postfix() {
    let (pf, pt) = (Side::new(true), Side::new(false));
    let message = "Subject: buy viagra\n now\nFrom: MAILER-DAEMON@x\nX-Bar: a b\n\nbody 12345\na word\n\naaab\n";
    for flags in [&["-h"][..], &["-b"], &["-h", "-b"], &["-hb"]] {
        for table in ["regexp:checks.regexp", "pcre:checks.pcre"] {
            let mut args = flags.to_vec();
            args.extend(["-q", "-", table]);
            let a = pf.run("postmap", &args, Some(message));
            let b = pt.run("postmap", &args, Some(message));
            assert_eq!((&a.stdout, a.code), (&b.stdout, b.code), "postmap {args:?}");
        }
    }
}
