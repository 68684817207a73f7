//! `postconf -d`: Postern's defaults against real Postfix 3.7 for every parameter
//! Postern knows. Each difference must be listed, with its reason, in
//! tests/data/postconf-d-differences.txt, and every listed one must still differ.

mod config_util;

use config_util::{data, pairs, postern, postfix};
use std::collections::BTreeMap;

#[test]
fn defaults_match_postfix_or_are_listed() {
    // The table was taken from Postfix with its stock master.cf, whose services add
    // per-transport parameters (relay_destination_concurrency_limit, ...).
    let dir = config_util::confdir("", Some(&config_util::stock_master_cf()));
    let d = dir.path().to_str().unwrap();
    let ours = postern("postconf", &["-c", d, "-d"]);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    assert_eq!(ours.stderr, "");
    let theirs = postfix(&["-c", d, "-d"]);
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    let theirs: BTreeMap<String, String> = pairs(&theirs.stdout).into_iter().collect();

    let listed_text = std::fs::read_to_string(data("postconf-d-differences.txt")).unwrap();
    let mut listed = BTreeMap::new();
    for l in listed_text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, reason) = l.split_once('\t').unwrap_or((l, ""));
        assert!(!reason.trim().is_empty(), "no reason given for {name}");
        listed.insert(name.to_string(), reason.to_string());
    }

    let mut unlisted = Vec::new();
    let mut differing = Vec::new();
    for (name, value) in pairs(&ours.stdout) {
        let same = theirs.get(&name) == Some(&value);
        if !same {
            differing.push(name.clone());
            if !listed.contains_key(&name) {
                unlisted.push(format!(
                    "{name}: postern {value:?}, postfix {:?}",
                    theirs.get(&name)
                ));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "defaults differ from Postfix 3.7 and are not in postconf-d-differences.txt:\n{}",
        unlisted.join("\n")
    );
    let stale: Vec<&String> = listed.keys().filter(|n| !differing.contains(n)).collect();
    assert!(
        stale.is_empty(),
        "listed in postconf-d-differences.txt but no longer different: {stale:?}"
    );
}
