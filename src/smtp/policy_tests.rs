//! Unit tests of policy.rs with real tables in a temporary directory (a
//! `hash:` table built as postmap builds it, `texthash:`, `regexp:`): the
//! search order of smtp_tls_policy.c and every warning of an entry that
//! fails closed.

use super::*;
use crate::config::MainCf;
use crate::maps::create;
use std::path::Path;

struct Fixture {
    _dir: tempfile::TempDir,
    tables: PolicyTables,
}

fn config(text: &str) -> Config {
    let main = MainCf::parse(Path::new("/x/main.cf"), text.as_bytes()).unwrap();
    Config::from_main(Path::new("/x"), main).unwrap()
}

fn settings(main_cf: &str) -> ClientSettings {
    crate::smtp::tls_config::client_settings(&config(main_cf)).unwrap()
}

/// A texthash table holding `source`, with `extra` main.cf lines.
fn texthash(source: &str, extra: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tls_policy");
    std::fs::write(&path, source).unwrap();
    let main = format!(
        "smtp_tls_policy_maps = texthash:{}\n{extra}",
        path.display()
    );
    let tables = PolicyTables::open(&config(&main), &settings(&main)).unwrap();
    Fixture { _dir: dir, tables }
}

fn entry(value: &str) -> Fixture {
    texthash(&format!("example.com {value}\n"), "")
}

fn fails(value: &str) -> PolicyFailure {
    entry(value).tables.lookup("example.com").unwrap_err()
}

fn problem(value: &str) -> String {
    fails(value).problem
}

#[test]
fn hash_table_search_order_as_smtp_tls_policy_c() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("hash:{}", dir.path().join("tls_policy").display());
    let mut b = create(&spec, OpenFlags::default()).unwrap();
    for (i, (k, v)) in [
        ("example.com", "secure match=nexthop"),
        (".example.com", "verify"),
        ("[mx.example.net]", "fingerprint match=AB:CD"),
        ("[192.0.2.1]:587", "encrypt protocols=>=TLSv1.2"),
        ("relay.example.org:2525", "may ciphers=high"),
        (".org", "none"),
    ]
    .iter()
    .enumerate()
    {
        b.add(k, v, i + 1);
    }
    b.finish().unwrap();
    let main = format!("smtp_tls_policy_maps = {spec}\nsmtp_tls_security_level = may\n");
    let t = PolicyTables::open(&config(&main), &settings(&main)).unwrap();
    let level = |n: &str| t.lookup(n).unwrap().level;
    // Exact domain, case folded by the table.
    assert_eq!(level("example.com"), TlsLevel::Secure);
    assert_eq!(level("Example.COM"), TlsLevel::Secure);
    // Parent domains as ".parent", nearest first.
    assert_eq!(level("mx.example.com"), TlsLevel::Verify);
    assert_eq!(level("a.b.example.com"), TlsLevel::Verify);
    assert_eq!(level("www.example.org"), TlsLevel::None);
    // [host], [host]:port and host:port only as written, no parents.
    let fp = t.lookup("[mx.example.net]").unwrap();
    assert_eq!(fp.level, TlsLevel::Fingerprint);
    assert_eq!(fp.matches, Some(vec!["AB:CD".to_string()]));
    assert_eq!(level("mx.example.net"), TlsLevel::May);
    assert_eq!(level("[mx.example.net]:25"), TlsLevel::May);
    let p = t.lookup("[192.0.2.1]:587").unwrap();
    assert_eq!(p.level, TlsLevel::Encrypt);
    assert_eq!(p.protocols.as_deref(), Some(">=TLSv1.2"));
    assert_eq!(level("[192.0.2.1]"), TlsLevel::May);
    let p = t.lookup("relay.example.org:2525").unwrap();
    assert_eq!(
        (p.level, p.ciphers.as_deref()),
        (TlsLevel::May, Some("high"))
    );
    // "relay.example.org:2525" is no host name: its parent ".org" is not tried
    // for another port.
    assert_eq!(level("relay.example.org:26"), TlsLevel::May);
    // No entry: smtp_tls_security_level.
    assert_eq!(
        t.lookup("example.net").unwrap(),
        ClientPolicy::level(TlsLevel::May)
    );
}

#[test]
fn no_tables_means_the_main_cf_level() {
    let s = settings("smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no\n");
    let t = PolicyTables::open(&config(""), &s).unwrap();
    assert_eq!(t.lookup("example.com").unwrap().level, TlsLevel::Encrypt);
}

#[test]
fn attributes_are_honoured() {
    let f = entry(
        "secure ciphers=high protocols=!SSLv2:!SSLv3 exclude=RC4 \
         match=nexthop:dot-nexthop match=.example.net servername=mx.example.com",
    );
    let p = f.tables.lookup("example.com").unwrap();
    assert_eq!(p.level, TlsLevel::Secure);
    assert_eq!(p.ciphers.as_deref(), Some("high"));
    assert_eq!(p.protocols.as_deref(), Some("!SSLv2:!SSLv3"));
    assert_eq!(p.exclude.as_deref(), Some("RC4"));
    assert_eq!(
        p.matches,
        Some(vec![
            "nexthop".to_string(),
            "dot-nexthop".to_string(),
            ".example.net".to_string()
        ])
    );
    assert_eq!(p.servername.as_deref(), Some("mx.example.com"));
    // Fingerprints split at "|", and several match= are combined.
    let p = entry("fingerprint match=AA:BB|CC:DD MATCH=EE:FF")
        .tables
        .lookup("example.com")
        .unwrap();
    assert_eq!(
        p.matches,
        Some(vec!["AA:BB".into(), "CC:DD".into(), "EE:FF".into()])
    );
    // The { name = value } form, with whitespace inside the value.
    let p = entry("verify { match = hostname:nexthop }, { ciphers = high }")
        .tables
        .lookup("example.com")
        .unwrap();
    assert_eq!(p.matches, Some(vec!["hostname".into(), "nexthop".into()]));
    assert_eq!(p.ciphers.as_deref(), Some("high"));
    // connection_reuse and tafile are accepted (tafile ignored, see DIFFERENCES).
    let p = entry("secure connection_reuse=yes tafile=/etc/ta.pem")
        .tables
        .lookup("example.com")
        .unwrap();
    assert_eq!(p, ClientPolicy::level(TlsLevel::Secure));
    // Attributes after none are ignored with a warning, not an error.
    let p = entry("none ciphers=high")
        .tables
        .lookup("example.com")
        .unwrap();
    assert_eq!(p, ClientPolicy::level(TlsLevel::None));
}

#[test]
fn dane_levels_are_returned_as_written() {
    assert_eq!(
        entry("dane").tables.lookup("example.com").unwrap().level,
        TlsLevel::Dane
    );
    assert_eq!(
        entry("dane-only")
            .tables
            .lookup("example.com")
            .unwrap()
            .level,
        TlsLevel::DaneOnly
    );
}

#[test]
fn malformed_entries_fail_closed_with_postfix_warnings() {
    let f = fails("foo");
    assert_eq!(
        f,
        PolicyFailure {
            table: "smtp_tls_policy_maps".into(),
            key: "example.com".into(),
            problem: "invalid security level \"foo\"".into(),
        }
    );
    assert_eq!(
        f.warning(),
        "smtp_tls_policy_maps, next-hop destination \"example.com\": invalid security level \"foo\""
    );
    // Levels are case-sensitive, as tls_level_lookup.
    assert_eq!(problem("Secure"), "invalid security level \"Secure\"");
    assert_eq!(problem("half-dane"), "invalid security level \"half-dane\"");
    assert_eq!(problem("secure foo=bar"), "invalid attribute name: \"foo\"");
    assert_eq!(
        problem("secure ciphers"),
        "malformed attribute/value pair \"ciphers\": missing '=' after attribute name"
    );
    assert_eq!(
        problem("secure =high"),
        "malformed attribute/value pair \"=high\": missing attribute name"
    );
    assert_eq!(
        problem("secure ciphers="),
        "attribute \"ciphers\" has empty value"
    );
    assert_eq!(
        problem("verify match="),
        "attribute \"match\" has empty value"
    );
    assert_eq!(
        problem("secure tafile="),
        "attribute \"tafile\" has empty value"
    );
    assert_eq!(
        problem("may match=nexthop"),
        "attribute \"match\" invalid at security level \"may\""
    );
    assert_eq!(
        problem("encrypt match=nexthop"),
        "attribute \"match\" invalid at security level \"encrypt\""
    );
    assert_eq!(
        problem("dane match=nexthop"),
        "attribute \"match\" invalid at security level \"dane\""
    );
    assert_eq!(
        problem("fingerprint tafile=/ta.pem match=AB"),
        "attribute \"tafile\" invalid at security level \"fingerprint\""
    );
    assert_eq!(
        problem("secure ciphers=high ciphers=medium"),
        "attribute \"ciphers\" is specified multiple times"
    );
    assert_eq!(
        problem("secure protocols=TLSv1.2 protocols=TLSv1.3"),
        "attribute \"protocols\" is specified multiple times"
    );
    assert_eq!(
        problem("secure exclude=RC4 exclude=MD5"),
        "attribute \"exclude\" is specified multiple times"
    );
    assert_eq!(
        problem("secure servername=a.example servername=b.example"),
        "attribute \"servername\" is specified multiple times"
    );
    assert_eq!(
        problem("secure servername=bad..name"),
        "\"servername=bad..name\" specifies an invalid hostname"
    );
    assert_eq!(
        problem("secure connection_reuse=maybe"),
        "attribute \"connection_reuse\" has bad value: \"maybe\""
    );
    assert_eq!(
        problem("secure {ciphers=high"),
        "malformed attribute/value pair \"{ciphers=high\": missing '}' in \"{ciphers=high\""
    );
}

#[test]
fn empty_policy_fails_closed() {
    // texthash cannot hold an empty value; an inline table can.
    let main = "smtp_tls_policy_maps = inline:{ { example.com = } }\n";
    let t = PolicyTables::open(&config(main), &settings(main)).unwrap();
    let f = t.lookup("example.com").unwrap_err();
    assert_eq!(f.problem, "invalid empty policy");
}

#[test]
fn failure_is_reported_at_the_parent_key_that_matched() {
    let f = texthash(".example.com bogus\n", "");
    let failure = f.tables.lookup("mx.example.com").unwrap_err();
    assert_eq!(failure.key, ".example.com");
    assert_eq!(
        failure.warning(),
        "smtp_tls_policy_maps, next-hop destination \".example.com\": invalid security level \"bogus\""
    );
}

#[test]
fn fingerprint_without_fingerprints_fails_closed() {
    let f = entry("fingerprint");
    let failure = f.tables.lookup("example.com").unwrap_err();
    assert_eq!(
        failure.warning(),
        "nexthop domain example.com: configured at fingerprint security level, but with no \
         fingerprints to match."
    );
    assert_eq!(failure.table, "smtp_tls_policy_maps");
    // With smtp_tls_fingerprint_cert_match the entry is fine.
    let f = texthash(
        "example.com fingerprint\n",
        "smtp_tls_fingerprint_cert_match = AB:CD\n",
    );
    let p = f.tables.lookup("example.com").unwrap();
    assert_eq!((p.level, p.matches), (TlsLevel::Fingerprint, None));
    // The main.cf level alone, without fingerprints, fails too.
    let s = settings("smtp_tls_security_level = fingerprint\n");
    let t = PolicyTables::open(&config(""), &s).unwrap();
    let failure = t.lookup("example.com").unwrap_err();
    assert_eq!(
        failure.warning(),
        "nexthop domain example.com: configured at fingerprint security level, but with no \
         fingerprints to match."
    );
}

#[test]
fn regexp_tables_get_every_key_as_maps_find_with_no_flags() {
    let dir = tempfile::tempdir().unwrap();
    let re = dir.path().join("tls_policy.re");
    std::fs::write(&re, "/^\\.example\\.com$/ secure\n").unwrap();
    let main = format!("smtp_tls_policy_maps = regexp:{}\n", re.display());
    let t = PolicyTables::open(&config(&main), &settings(&main)).unwrap();
    assert_eq!(t.lookup("mx.example.com").unwrap().level, TlsLevel::Secure);
}

#[test]
fn table_errors() {
    // A table that cannot be opened is an error naming the parameter.
    let main = "smtp_tls_policy_maps = texthash:/nonexistent/tls_policy\n";
    let e = PolicyTables::open(&config(main), &settings(main)).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(
            "smtp_tls_policy_maps: cannot open table \"texthash:/nonexistent/tls_policy\""
        ),
        "{text}"
    );
    // smtp_tls_per_site alone is refused, never silently ignored.
    let main = "smtp_tls_per_site = hash:/etc/postfix/tls_per_site\n";
    let e = PolicyTables::open(&config(main), &settings(main)).unwrap_err();
    assert!(
        matches!(e, TlsConfigError::PerSiteUnsupported { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("smtp_tls_policy_maps"), "{e}");
}

#[test]
fn tables_are_shared_between_threads() {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<PolicyTables>();
}

#[test]
fn a_rebuilt_table_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("hash:{}", dir.path().join("tls_policy").display());
    let build = |value: &str| {
        let mut b = create(&spec, OpenFlags::default()).unwrap();
        b.add("example.com", value, 1);
        b.finish().unwrap();
    };
    build("may");
    let main = format!("smtp_tls_policy_maps = {spec}\n");
    let t = PolicyTables::open(&config(&main), &settings(&main)).unwrap();
    assert!(!t.changed());
    build("secure");
    assert!(t.changed());
    let t = PolicyTables::open(&config(&main), &settings(&main)).unwrap();
    assert_eq!(t.lookup("example.com").unwrap().level, TlsLevel::Secure);
    assert!(!PolicyTables::open(&config(""), &settings(""))
        .unwrap()
        .changed());
}
