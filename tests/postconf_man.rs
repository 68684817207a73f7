//! man/man5/postconf.5 is the output of `postconf --man`, generated from the
//! parameter table. Run with UPDATE_MAN=1 to rewrite the checked-in page.

mod config_util;

use config_util::postern;
use std::path::Path;

#[test]
fn checked_in_postconf_5_is_generated() {
    let o = postern("postconf", &["--man"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("man/man5/postconf.5");
    if std::env::var_os("UPDATE_MAN").is_some() {
        std::fs::write(&path, &o.stdout).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == o.stdout,
        "man/man5/postconf.5 differs from `postconf --man`; \
         run `UPDATE_MAN=1 cargo test --test postconf_man` and commit the result"
    );
}

#[test]
fn every_parameter_has_an_entry_and_doc_lines() {
    let man = postern("postconf", &["--man"]).stdout;
    let doc = postern("postconf", &["--doc"]).stdout;
    let dir = config_util::confdir("", Some(""));
    let names = postern(
        "postconf",
        &["-c", dir.path().to_str().unwrap(), "-d", "-H"],
    )
    .stdout;
    for n in names.lines() {
        assert!(
            man.contains(&format!(".B {}\n", n.replace('-', "\\-"))),
            "{n} missing from postconf.5"
        );
        assert!(
            doc.lines()
                .any(|l| l.starts_with(&format!("{n} =")) && l.contains("  # ")),
            "{n} missing from --doc"
        );
    }
    let one = postern("postconf", &["--doc", "maximal_queue_lifetime"]).stdout;
    assert!(one.starts_with("maximal_queue_lifetime = 5d  # "), "{one}");
}
