//! Typed look-ups against dnsmasq: MX order and shuffling, null MX, CNAME, A/AAAA
//! per family, NXDOMAIN/NODATA, TLSA, TXT, the AD bit, the cache.
//!
//! Mirrors: Postfix `dns_lookup.c`, `dns_rr.c` behaviour.
//! main.cf parameters: none (`inet_protocols` as `Family`).
//! RFCs: RFC 5321 section 5.1, RFC 7505, RFC 1034 section 3.6.2, RFC 2308,
//! RFC 6840 section 5.7, RFC 7672 section 3.

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::rr::RecordType;

use super::dnsmasq::Dnsmasq;
use crate::dns::{DnsError, Family, MxAnswer, Severity};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn mx_sorted_by_preference_with_equal_preferences_shuffled() {
    let dns = Dnsmasq::start(&[
        "--mx-host=shuf.test,mx-c.shuf.test,20",
        "--mx-host=shuf.test,mx-a.shuf.test,10",
        "--mx-host=shuf.test,mx-b.shuf.test,10",
        "--mx-host=shuf.test,mx-first.shuf.test,5",
    ]);
    let mut resolver = dns.resolver();
    let mut orders = HashSet::new();
    for _ in 0..60 {
        let MxAnswer::Hosts { hosts, authentic } = resolver.mx("shuf.test").unwrap() else {
            panic!("MX hosts expected");
        };
        assert!(!authentic, "dnsmasq does not validate: AD must be clear");
        let names: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
        let prefs: Vec<u16> = hosts.iter().map(|h| h.preference).collect();
        assert_eq!(prefs, vec![5, 10, 10, 20]);
        assert_eq!(names[0], "mx-first.shuf.test");
        assert_eq!(names[3], "mx-c.shuf.test");
        orders.insert((names[1].to_string(), names[2].to_string()));
    }
    // 60 runs: the chance of seeing only one order is 2^-59.
    assert_eq!(
        orders.len(),
        2,
        "both orders of equal-preference MX hosts appear"
    );
}

#[test]
fn null_mx_is_its_own_answer() {
    let dns = Dnsmasq::start(&["--mx-host=nullmx.test,.,0"]);
    assert_eq!(dns.resolver().mx("nullmx.test").unwrap(), MxAnswer::NullMx);
}

#[test]
fn no_mx_records_is_no_mx_not_an_error() {
    let dns = Dnsmasq::start(&["--host-record=plain.test,192.0.2.20"]);
    assert_eq!(dns.resolver().mx("plain.test").unwrap(), MxAnswer::NoMx);
}

#[test]
fn nxdomain_is_permanent_not_found() {
    let dns = Dnsmasq::start(&["--host-record=exists.test,192.0.2.1"]);
    let mut resolver = dns.resolver();
    let err = resolver.mx("nope.test").unwrap_err();
    assert!(
        matches!(err, DnsError::NxDomain { ref name, rtype: RecordType::MX } if name == "nope.test")
    );
    assert_eq!(err.severity(), Severity::NotFound);
    assert!(!err.is_temporary());
    assert!(err
        .to_string()
        .contains("name=nope.test type=MX: Host not found"));
    let err = resolver.addresses("nope.test", Family::All).unwrap_err();
    assert!(matches!(err, DnsError::NxDomain { .. }));
}

#[test]
fn name_with_only_aaaa() {
    let dns = Dnsmasq::start(&["--host-record=six.test,2001:db8::6"]);
    let mut resolver = dns.resolver();
    let all = resolver.addresses("six.test", Family::All).unwrap();
    assert_eq!(all.addrs, vec![ip("2001:db8::6")]);
    assert_eq!(all.host, "six.test");
    let v6 = resolver.addresses("six.test", Family::Ipv6).unwrap();
    assert_eq!(v6.addrs, vec![ip("2001:db8::6")]);
    let err = resolver.addresses("six.test", Family::Ipv4).unwrap_err();
    assert!(
        matches!(
            err,
            DnsError::NoData {
                rtype: RecordType::A,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.severity(), Severity::NotFound);
}

#[test]
fn both_families_in_order() {
    let dns = Dnsmasq::start(&[
        "--host-record=dual.test,192.0.2.5,2001:db8::5",
        "--host-record=dual.test,192.0.2.6",
    ]);
    let mut resolver = dns.resolver();
    let all = resolver.addresses("dual.test", Family::All).unwrap();
    let v4: HashSet<IpAddr> = all.addrs[..2].iter().copied().collect();
    assert_eq!(v4, HashSet::from([ip("192.0.2.5"), ip("192.0.2.6")]));
    assert_eq!(all.addrs[2], ip("2001:db8::5"));
    let only4 = resolver.addresses("dual.test", Family::Ipv4).unwrap();
    assert!(only4.addrs.iter().all(IpAddr::is_ipv4));
}

#[test]
fn cname_chain_followed() {
    let dns = Dnsmasq::start(&[
        "--host-record=real.test,192.0.2.30",
        "--cname=alias.test,real.test",
        "--cname=alias2.test,alias.test",
    ]);
    let mut resolver = dns.resolver();
    let lookup = resolver.lookup("alias2.test", RecordType::A).unwrap();
    assert_eq!(lookup.canonical.to_ascii(), "real.test.");
    assert_eq!(lookup.records.len(), 1);
    let addrs = resolver.addresses("alias.test", Family::Ipv4).unwrap();
    assert_eq!(addrs.addrs, vec![ip("192.0.2.30")]);
    assert_eq!(
        addrs.host, "alias.test",
        "the name asked for is the name logged"
    );
}

#[test]
fn tlsa_for_port_25() {
    let digest = "a".repeat(64);
    let rr = format!("--dns-rr=_25._tcp.mx.tlsa.test,52,030101{digest}");
    let dns = Dnsmasq::start(&[&rr]);
    let answer = dns.resolver().tlsa("mx.tlsa.test", 25).unwrap();
    assert_eq!(answer.qname, "_25._tcp.mx.tlsa.test");
    assert_eq!(answer.records.len(), 1);
    let t = &answer.records[0];
    assert_eq!((t.usage, t.selector, t.matching), (3, 1, 1));
    assert_eq!(t.data, vec![0xaa; 32]);
    assert!(
        !answer.authentic,
        "no DNSSEC in dnsmasq: DANE must not trust this"
    );
}

#[test]
fn txt_strings_joined() {
    let dns = Dnsmasq::start(&["--txt-record=txt.test,v=spf1 ,-all"]);
    let txt = dns.resolver().txt("txt.test").unwrap();
    assert_eq!(txt, vec!["v=spf1 -all".to_string()]);
}

#[test]
fn ad_bit_requested_and_recorded_clear() {
    // dnsmasq serves its local records without DNSSEC, so even though we set AD in
    // the query (RFC 6840 section 5.7) the reply's AD is clear. (--proxy-dnssec
    // only copies an upstream's AD bit; it cannot mark local data authentic.)
    let dns = Dnsmasq::start(&["--host-record=ad.test,192.0.2.40"]);
    let mut settings = dns.settings();
    assert!(settings.set_ad);
    settings.set_do = true;
    let mut resolver = crate::dns::Resolver::new(settings);
    let lookup = resolver.lookup("ad.test", RecordType::A).unwrap();
    assert!(!lookup.authentic);
}

#[test]
fn refused_is_temporary() {
    // Outside --local=/test/ and with no upstream, dnsmasq refuses.
    let dns = Dnsmasq::start(&[]);
    let err = dns.resolver().mx("example.com").unwrap_err();
    assert!(matches!(err, DnsError::Refused { .. }), "{err:?}");
    assert!(err.is_temporary());
}

#[test]
fn cached_answer_served_after_server_stops() {
    let mut dns = Dnsmasq::start(&[
        "--local-ttl=300",
        "--mx-host=cache.test,mx.cache.test,10",
        "--host-record=mx.cache.test,192.0.2.50",
    ]);
    let mut resolver = dns.resolver();
    let first = resolver.mx("cache.test").unwrap();
    let addrs = resolver.addresses("mx.cache.test", Family::Ipv4).unwrap();
    let nx = resolver.mx("gone.test").unwrap_err();
    assert!(matches!(nx, DnsError::NxDomain { .. }));
    dns.stop();
    assert_eq!(resolver.mx("cache.test").unwrap(), first);
    assert_eq!(
        resolver.addresses("mx.cache.test", Family::Ipv4).unwrap(),
        addrs
    );
    // The negative answer is cached too (RFC 2308).
    assert!(matches!(
        resolver.mx("gone.test").unwrap_err(),
        DnsError::NxDomain { .. }
    ));
    // Something never asked is not: the stopped server gives no reply.
    let err = resolver.mx("other.test").unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
}

#[test]
fn zero_ttl_answers_are_not_cached() {
    // dnsmasq's default TTL for local data is 0: such answers must be asked again.
    let mut dns = Dnsmasq::start(&["--host-record=ttl0.test,192.0.2.60"]);
    let mut resolver = dns.resolver();
    resolver.addresses("ttl0.test", Family::Ipv4).unwrap();
    dns.stop();
    assert!(resolver
        .addresses("ttl0.test", Family::Ipv4)
        .unwrap_err()
        .is_temporary());
}

#[test]
fn servfail_is_temporary() {
    // A validating dnsmasq with the real root trust anchor (KSK-2017) forwards to
    // an unsigned dnsmasq: the answer cannot be proven, so it is bogus and the
    // validator answers SERVFAIL (RFC 4035 section 5.5).
    let upstream = Dnsmasq::start(&["--host-record=signed.example,192.0.2.1"]);
    let forward = format!("--server=127.0.0.1#{}", upstream.port);
    let validator = Dnsmasq::start(&[
        &forward,
        "--dnssec",
        "--trust-anchor=.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ]);
    let err = validator
        .resolver()
        .lookup("signed.example", RecordType::A)
        .unwrap_err();
    assert!(
        matches!(err, DnsError::ServFail { ref name, .. } if name == "signed.example"),
        "{err:?}"
    );
    assert_eq!(err.severity(), Severity::Retry);
}

#[test]
fn cname_chain_longer_than_limit_fails() {
    // dnsmasq rejects CNAME loops at start-up, so test the hop limit with a chain
    // of 11 aliases (Postfix dns_lookup.c gives up after 10).
    let mut opts: Vec<String> = (0..11)
        .map(|i| format!("--cname=c{i}.test,c{}.test", i + 1))
        .collect();
    opts.push("--host-record=c11.test,192.0.2.1".to_string());
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let dns = Dnsmasq::start(&opts);
    let mut resolver = dns.resolver();
    let err = resolver.lookup("c0.test", RecordType::A).unwrap_err();
    assert!(
        matches!(err, DnsError::CnameLoop { limit: 10, .. }),
        "{err:?}"
    );
    assert_eq!(err.severity(), Severity::Fail);
    let ten = resolver.lookup("c1.test", RecordType::A).unwrap();
    assert_eq!(ten.canonical.to_ascii(), "c11.test.");
}

#[test]
fn mx_through_cname() {
    let dns = Dnsmasq::start(&[
        "--mx-host=realmx.test,mx.realmx.test,10",
        "--cname=mxalias.test,realmx.test",
    ]);
    let MxAnswer::Hosts { hosts, .. } = dns.resolver().mx("mxalias.test").unwrap() else {
        panic!("MX hosts expected");
    };
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].host, "mx.realmx.test");
}

#[test]
fn cached_answer_expires_at_its_ttl() {
    let mut dns = Dnsmasq::start(&["--local-ttl=1", "--host-record=short.test,192.0.2.80"]);
    let mut resolver = dns.resolver();
    resolver.addresses("short.test", Family::Ipv4).unwrap();
    dns.stop();
    assert!(resolver.addresses("short.test", Family::Ipv4).is_ok());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let err = resolver.addresses("short.test", Family::Ipv4).unwrap_err();
    assert!(
        err.is_temporary(),
        "expired, and the server is gone: {err:?}"
    );
}

#[test]
fn negative_answer_cached_for_the_soa_minimum() {
    // In authoritative mode dnsmasq puts the zone's SOA (TTL and MINIMUM from
    // --auth-ttl) in negative answers; RFC 2308 section 5 says to cache them for
    // that long, not for our fallback.
    let mut dns = Dnsmasq::start(&[
        "--auth-server=ns.auth.example,127.0.0.1",
        "--auth-zone=auth.example",
        "--auth-ttl=1",
        "--host-record=mx.auth.example,192.0.2.90",
    ]);
    let mut settings = dns.settings();
    settings.negative_ttl = std::time::Duration::from_secs(300);
    let mut resolver = crate::dns::Resolver::new(settings);
    let err = resolver.mx("nx.auth.example").unwrap_err();
    assert!(matches!(err, DnsError::NxDomain { .. }), "{err:?}");
    assert_eq!(resolver.mx("mx.auth.example").unwrap(), MxAnswer::NoMx);
    dns.stop();
    assert!(resolver.mx("nx.auth.example").unwrap_err().is_not_found());
    assert_eq!(resolver.mx("mx.auth.example").unwrap(), MxAnswer::NoMx);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(resolver.mx("nx.auth.example").unwrap_err().is_temporary());
    assert!(resolver.mx("mx.auth.example").unwrap_err().is_temporary());
}
