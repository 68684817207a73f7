//! File modes of built tables, compared with Postfix 3.7's postmap.
//!
//! postmap(1): new tables get "the same group and other read permissions as
//! their source file"; a rebuilt table keeps its own mode.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn build(postfix: bool, dir: &Path, table: &str) {
    let status = if postfix {
        let pm = "/usr/sbin/postmap";
        assert!(
            Path::new(pm).exists(),
            "Postfix's {pm} is missing: this test compares with real Postfix 3.7 (apt-get install postfix)"
        );
        Command::new(pm)
            .arg("-c")
            .arg(dir)
            .arg(table)
            .current_dir(dir)
            .status()
    } else {
        Command::new(env!("CARGO_BIN_EXE_postern"))
            .args(["postmap", "-c"])
            .arg(dir)
            .arg(table)
            .current_dir(dir)
            .status()
    };
    assert!(
        status.unwrap().success(),
        "postmap {table} (postfix={postfix})"
    );
}

#[test]
fn table_modes_follow_postfix() {
    for postfix in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("main.cf"), "").unwrap();
        for (name, m) in [("m640", 0o640), ("m600", 0o600), ("m755", 0o755)] {
            fs::write(d.join(name), "a b\n").unwrap();
            fs::set_permissions(d.join(name), fs::Permissions::from_mode(m)).unwrap();
            build(postfix, d, &format!("hash:{name}"));
        }
        assert_eq!(mode(&d.join("m640.db")), 0o640, "postfix={postfix}");
        assert_eq!(mode(&d.join("m600.db")), 0o600, "postfix={postfix}");
        assert_eq!(mode(&d.join("m755.db")), 0o644, "postfix={postfix}");
        // A rebuild keeps the table's own mode.
        fs::set_permissions(d.join("m755.db"), fs::Permissions::from_mode(0o600)).unwrap();
        build(postfix, d, "hash:m755");
        assert_eq!(mode(&d.join("m755.db")), 0o600, "postfix={postfix}");
    }
}
