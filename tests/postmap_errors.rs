//! Bad table sources, tables built by real Postfix, and readers racing a rebuild.
//!
//! A bad source line must name file and line, exit non-zero and leave the
//! previously built table byte-for-byte in place; a Berkeley DB or LMDB file
//! written by Postfix must be refused with the "run postmap" hint; a reader must
//! never see half of a table while postmap rebuilds it.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn postern(dir: &Path, tool: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
        .arg(tool)
        .arg("-c")
        .arg(dir)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut si = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        si.write_all(input.as_bytes()).unwrap();
    }
    drop(si);
    child.wait_with_output().unwrap()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("main.cf"), "").unwrap();
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Builds `good`, then tries `bad`: the error must name `want` and the old
/// table must survive unchanged.
fn rebuild_fails(tool: &str, table: &str, good: &[u8], bad: &[u8], want: &str) {
    let dir = setup();
    let (kind, name) = table.split_once(':').unwrap();
    let src = dir.path().join(name);
    let db = dir.path().join(format!(
        "{name}.{}",
        if kind == "lmdb" { "lmdb" } else { "db" }
    ));
    fs::write(&src, good).unwrap();
    let o = postern(dir.path(), tool, &[table], None);
    assert!(o.status.success(), "{tool} {table} (good): {}", stderr(&o));
    let before = fs::read(&db).unwrap();
    fs::write(&src, bad).unwrap();
    let o = postern(dir.path(), tool, &[table], None);
    assert_eq!(o.status.code(), Some(1), "{tool} {table} (bad) must fail");
    let err = stderr(&o);
    assert!(
        err.contains(want),
        "{tool} {table}: stderr {err:?} lacks {want:?}"
    );
    assert!(err.contains(&format!("{tool}: fatal: ")), "{err:?}");
    assert_eq!(fs::read(&db).unwrap(), before, "{table}: old table changed");
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let o = postern(dir.path(), tool, &["-q", "a", table], None);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1\n",
        "old table still answers"
    );
}

#[test]
fn line_without_value_keeps_old_table() {
    rebuild_fails(
        "postmap",
        "hash:access",
        b"a 1\nb 2\n",
        b"a 1\n# c\nb\n",
        "access, line 3: expected format: key whitespace value",
    );
}

#[test]
fn ten_megabyte_line_keeps_old_table() {
    let mut bad = b"a 1\nb ".to_vec();
    bad.extend(std::iter::repeat_n(b'x', 10 << 20));
    bad.push(b'\n');
    rebuild_fails(
        "postmap",
        "hash:access",
        b"a 1\nb 2\n",
        &bad,
        "access, line 2: logical line longer than 1048576 bytes",
    );
}

#[test]
fn non_utf8_keeps_old_table() {
    rebuild_fails(
        "postmap",
        "btree:access",
        b"a 1\n",
        b"a 1\nb \xff\xfe\n",
        "access, line 2: invalid UTF-8",
    );
    rebuild_fails(
        "postmap",
        "lmdb:access",
        b"a 1\n",
        b"a 2\n\xc3( x\n",
        "access, line 2: invalid UTF-8",
    );
}

#[test]
fn alias_without_colon_keeps_old_table() {
    rebuild_fails(
        "postalias",
        "hash:aliases",
        b"a: 1\n",
        b"a: 2\nnocolon value\n",
        "aliases, line 2: need name:value pair",
    );
}

#[test]
fn bad_patterns_name_file_and_line() {
    let dir = setup();
    let cases: &[(&str, &str, &str)] = &[
        ("regexp:r", "/ok/ X\n/x(/ bad\n", "regexp map r, line 2: "),
        (
            "regexp:r2",
            "/ok/ X\n\n/(a)/ $2\n",
            "regexp map r2, line 3: out of range replacement index \"2\"",
        ),
        (
            "regexp:r3",
            "if /a/\n/b/ X\n",
            "regexp map r3, line 1: IF has no matching ENDIF",
        ),
        (
            "pcre:p",
            "/ok/ X\n/x(/ bad\n",
            "pcre map p, line 2: error in regex at offset 2: missing closing parenthesis",
        ),
        (
            "pcre:p2",
            "/ok/q X\n",
            "pcre map p2, line 1: unknown regexp option \"q\"",
        ),
        (
            "cidr:c",
            "1.2.3.0/24 ok\n1.2.3.4/33 bad\n",
            "cidr map c, line 2: bad mask length in \"1.2.3.4/33\"",
        ),
        (
            "cidr:c2",
            "foo bar\n",
            "cidr map c2, line 1: bad address pattern: \"foo\"",
        ),
        (
            "cidr:c3",
            "1.2.3.5/24 x\n",
            "cidr map c3, line 1: non-null host address bits in \"1.2.3.5/24\"",
        ),
    ];
    for (table, text, want) in cases {
        let name = table.split_once(':').unwrap().1;
        fs::write(dir.path().join(name), text).unwrap();
        let o = postern(dir.path(), "postmap", &["-q", "ok", table], None);
        assert_eq!(o.status.code(), Some(1), "{table}");
        assert!(
            stderr(&o).contains(want),
            "{table}: {:?} lacks {want:?}",
            stderr(&o)
        );
    }
    fs::write(dir.path().join("r5"), b"/a/ x\n/b/ \xff\n").unwrap();
    let o = postern(dir.path(), "postmap", &["-q", "a", "regexp:r5"], None);
    assert!(
        stderr(&o).contains("regexp map r5, line 2: invalid UTF-8"),
        "{}",
        stderr(&o)
    );
}

/// Postfix's postmap, required (CI installs it).
fn real_postmap() -> &'static str {
    let p = "/usr/sbin/postmap";
    assert!(
        Path::new(p).exists(),
        "Postfix's {p} is missing: this test needs real Postfix 3.7 \
         (apt-get install postfix postfix-lmdb)"
    );
    p
}

#[test]
fn tables_built_by_postfix_are_refused_with_a_hint() {
    for (kind, file, format) in [
        ("hash", "t.db", "Berkeley DB hash"),
        ("btree", "t.db", "Berkeley DB btree"),
        ("lmdb", "t.lmdb", "LMDB"),
    ] {
        let dir = setup();
        fs::write(dir.path().join("t"), "a 1\n").unwrap();
        let st = Command::new(real_postmap())
            .arg("-c")
            .arg(dir.path())
            .arg(format!("{kind}:t"))
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "Postfix postmap {kind}:t failed");
        assert!(dir.path().join(file).exists());
        let o = postern(
            dir.path(),
            "postmap",
            &["-q", "a", &format!("{kind}:t")],
            None,
        );
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("was built by Postfix ({format})"))
                && err.contains(&format!("run \"postmap {kind}:t\"")),
            "{kind}: {err:?}"
        );
        // Rebuilding with Postern replaces it.
        let o = postern(dir.path(), "postmap", &[&format!("{kind}:t")], None);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = postern(
            dir.path(),
            "postmap",
            &["-q", "a", &format!("{kind}:t")],
            None,
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout), "1\n");
    }
}

#[test]
fn stale_table_is_warned_about() {
    let dir = setup();
    let src = dir.path().join("t");
    fs::write(&src, "a 1\n").unwrap();
    assert!(postern(dir.path(), "postmap", &["hash:t"], None)
        .status
        .success());
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(&src)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let o = postern(dir.path(), "postmap", &["-q", "a", "hash:t"], None);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "1\n");
    assert!(
        stderr(&o).contains("postmap: warning: database t.db is older than source file t"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn readers_never_see_a_half_built_table() {
    const ENTRIES: usize = 20_000;
    let dir = setup();
    let write_gen = |g: usize| {
        let mut s = String::with_capacity(ENTRIES * 20);
        for i in 0..ENTRIES {
            s.push_str(&format!("key{i} gen{g}\n"));
        }
        fs::write(dir.path().join("t"), s).unwrap();
    };
    write_gen(0);
    assert!(postern(dir.path(), "postmap", &["hash:t"], None)
        .status
        .success());
    // Keys spread over the table, so a partial table would miss some.
    let probe: String = (0..ENTRIES)
        .step_by(997)
        .map(|i| format!("key{i}\n"))
        .collect();
    let expected_lines = probe.lines().count();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        let path = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) || reads < 5 {
                let o = postern(&path, "postmap", &["-q", "-", "hash:t"], Some(&probe));
                assert!(o.status.success(), "reader failed: {}", stderr(&o));
                let out = String::from_utf8_lossy(&o.stdout).into_owned();
                let gens: std::collections::BTreeSet<&str> =
                    out.lines().filter_map(|l| l.split('\t').nth(1)).collect();
                assert_eq!(out.lines().count(), expected_lines, "partial table seen");
                assert_eq!(gens.len(), 1, "mixed generations seen: {gens:?}");
                reads += 1;
            }
            reads
        })
    };
    for g in 1..=6 {
        write_gen(g);
        // Alternate full rebuilds with in-place style updates of every key.
        let o = if g % 2 == 0 {
            let input = fs::read_to_string(dir.path().join("t")).unwrap();
            postern(dir.path(), "postmap", &["-r", "-i", "hash:t"], Some(&input))
        } else {
            postern(dir.path(), "postmap", &["hash:t"], None)
        };
        assert!(o.status.success(), "{}", stderr(&o));
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads >= 5);
    let o = postern(dir.path(), "postmap", &["-q", "key1", "hash:t"], None);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "gen6\n");
}
