//! The main.cf lines of the four seed guides: `postconf -n` must print exactly
//! what real Postfix 3.7 prints for the same file, with the same warnings.

mod config_util;

use config_util::{confdir, data, postern, postfix, stock_master_cf};
use std::collections::BTreeSet;

/// Warning lines as a set: Postfix prints unused parameters in hash order and
/// repeats some warnings as it re-reads main.cf.
fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_string).collect()
}

fn check_seed(name: &str) {
    let main = std::fs::read_to_string(data(name)).unwrap();
    let dir = confdir(&main, Some(&stock_master_cf()));
    let d = dir.path().to_str().unwrap();
    for args in [&["-n"][..], &["-n", "-x"][..]] {
        let mut a = vec!["-c", d];
        a.extend_from_slice(args);
        let ours = postern("postconf", &a);
        let theirs = postfix(&a);
        assert_eq!(ours.code, theirs.code, "{name} {args:?}: {}", ours.stderr);
        assert_eq!(ours.stdout, theirs.stdout, "{name} {args:?}");
        assert_eq!(
            lines(&ours.stderr),
            lines(&theirs.stderr),
            "{name} {args:?}"
        );
    }
}

#[test]
fn seed_000_hostile_world_2001() {
    check_seed("seed-000.cf");
}

#[test]
fn seed_001_server_to_server_2014() {
    check_seed("seed-001.cf");
}

#[test]
fn seed_002_securing_transport_2013() {
    check_seed("seed-002.cf");
}

#[test]
fn seed_003_initial_motivation() {
    check_seed("seed-003.cf");
}

#[test]
fn seed_000_misspellings_are_reported() {
    let main = std::fs::read_to_string(data("seed-000.cf")).unwrap();
    let dir = confdir(&main, Some(&stock_master_cf()));
    let o = postern("postconf", &["-c", dir.path().to_str().unwrap(), "-n"]);
    assert!(
        o.stderr.contains("unused parameter: smptd_use_tls=yes"),
        "{}",
        o.stderr
    );
}

#[test]
fn unknown_names_warn_as_postfix() {
    let dir = confdir("x = 1\n", Some(&stock_master_cf()));
    let a = [
        "-c",
        dir.path().to_str().unwrap(),
        "nosuch",
        "mail_name",
        "-h",
    ];
    let ours = postern("postconf", &a);
    let theirs = postfix(&a);
    assert_eq!(ours.code, theirs.code);
    assert_eq!(ours.stdout, theirs.stdout);
    assert_eq!(lines(&ours.stderr), lines(&theirs.stderr));
}

#[test]
fn mail_config_selects_the_directory() {
    let main = std::fs::read_to_string(data("seed-001.cf")).unwrap();
    let dir = confdir(&main, Some(&stock_master_cf()));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["postconf", "-n"])
        .env("MAIL_CONFIG", dir.path())
        .output()
        .unwrap();
    let theirs = postfix(&["-c", dir.path().to_str().unwrap(), "-n"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), theirs.stdout);
}

#[test]
fn command_line_overrides_as_postfix() {
    let main = std::fs::read_to_string(data("seed-001.cf")).unwrap();
    let dir = confdir(&main, Some(&stock_master_cf()));
    let d = dir.path().to_str().unwrap();
    for args in [
        &["-c", d, "-n", "-o", "relayhost=[x]", "-o", "foo=bar"][..],
        &[
            "-c",
            d,
            "-x",
            "-o",
            "smtpd_tls_cert_file=/o.pem",
            "smtpd_tls_key_file",
        ][..],
    ] {
        let ours = postern("postconf", args);
        let theirs = postfix(args);
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
        assert_eq!(lines(&ours.stderr), lines(&theirs.stderr), "{args:?}");
    }
}

/// The whole parameter listing, with and without -x, equals Postfix's except
/// for lines that hold the process id (which differs between two runs) and the
/// parameters whose defaults differ on purpose (tests/data/postconf-d-differences.txt,
/// checked on their own by postconf_defaults.rs).
#[test]
fn full_listing_as_postfix() {
    let differences = std::fs::read_to_string(data("postconf-d-differences.txt")).unwrap();
    let listed: Vec<String> = differences
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').next())
        .map(|name| format!("{name} ="))
        .collect();
    let without_pid = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("debugger_command = "))
            .filter(|l| !listed.iter().any(|p| l.starts_with(p.as_str())))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    for seed in ["seed-000.cf", "seed-002.cf", "seed-003.cf"] {
        let main = std::fs::read_to_string(data(seed)).unwrap();
        let dir = confdir(&main, Some(&stock_master_cf()));
        let d = dir.path().to_str().unwrap();
        for args in [&["-c", d][..], &["-c", d, "-x"][..]] {
            let ours = postern("postconf", args);
            let theirs = postfix(args);
            assert_eq!(ours.code, theirs.code, "{seed} {args:?}");
            assert_eq!(
                without_pid(&ours.stdout),
                without_pid(&theirs.stdout),
                "{seed} {args:?}"
            );
            assert!(ours.stdout.lines().count() > 1000);
        }
    }
}
