//! Stock Postfix configuration files (Debian's main.cf.dist, main.cf.debian,
//! main.cf.tls and master.cf.dist) load with no warning at all, and `postconf`
//! shows them as real Postfix 3.7 does.

mod config_util;

use config_util::{confdir, postern, postfix, stock_master_cf};

fn stock(name: &str) -> String {
    let p = std::path::Path::new("/usr/share/postfix").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (install the postfix package, as CI does)",
            p.display()
        )
    })
}

fn check(name: &str) {
    let dir = confdir(&stock(name), Some(&stock_master_cf()));
    let d = dir.path().to_str().unwrap();
    for args in [&["-n"][..], &[][..], &["-x", "-n"][..]] {
        let mut a = vec!["-c", d];
        a.extend_from_slice(args);
        let ours = postern("postconf", &a);
        assert_eq!(ours.code, 0, "{name} {args:?}");
        assert_eq!(ours.stderr, "", "{name} {args:?}: warnings");
        // -x output holds process_id, which differs between the two runs.
        if args == ["-n"] {
            let theirs = postfix(&a);
            assert_eq!(ours.stdout, theirs.stdout, "{name} {args:?}");
        }
    }
}

#[test]
fn main_cf_dist_loads_cleanly() {
    check("main.cf.dist");
}

#[test]
fn main_cf_debian_loads_cleanly() {
    check("main.cf.debian");
}

#[test]
fn main_cf_tls_loads_cleanly() {
    check("main.cf.tls");
}

#[test]
fn postfix_check_accepts_stock_files() {
    let dir = confdir(&stock("main.cf.debian"), Some(&stock_master_cf()));
    let o = postern("postfix", &["-c", dir.path().to_str().unwrap(), "check"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("unused parameter"), "{}", o.stderr);
    assert!(!o.stderr.contains("error:"), "{}", o.stderr);
}
