//! Nexthop resolution against dnsmasq: MX hosts then addresses, implicit MX,
//! `[host]`, address literals, null MX, duplicates, partial failures.
//!
//! Mirrors: Postfix `smtp_addr.c` behaviour.
//! main.cf parameters: `inet_protocols` (as `Family`).
//! RFCs: RFC 5321 section 5.1, RFC 7505.

use std::net::IpAddr;

use super::dnsmasq::Dnsmasq;
use crate::dns::{DnsError, Family, Nexthop, NexthopError, Target};

fn targets(dns: &Dnsmasq, nexthop: &str, family: Family) -> Result<Vec<Target>, NexthopError> {
    dns.resolver()
        .nexthop_targets(&Nexthop::parse(nexthop).unwrap(), family)
}

fn summary(list: &[Target]) -> Vec<(String, IpAddr, u16)> {
    list.iter()
        .map(|t| (t.host.clone(), t.addr, t.preference))
        .collect()
}

fn entry(host: &str, addr: &str, pref: u16) -> (String, IpAddr, u16) {
    (host.to_string(), addr.parse().unwrap(), pref)
}

const ZONE: &[&str] = &[
    "--mx-host=example.test,mx1.example.test,10",
    "--mx-host=example.test,mx2.example.test,20",
    "--host-record=mx1.example.test,192.0.2.1",
    "--host-record=mx1.example.test,192.0.2.2",
    "--host-record=mx2.example.test,192.0.2.2",
    "--host-record=mx2.example.test,192.0.2.3,2001:db8::3",
    "--host-record=example.test,192.0.2.99",
    "--host-record=nomx.test,192.0.2.20",
    "--mx-host=nullmx.test,.,0",
    "--mx-host=halfbroken.test,missing.halfbroken.test,5",
    "--mx-host=halfbroken.test,mx.halfbroken.test,10",
    "--host-record=mx.halfbroken.test,192.0.2.40",
    "--mx-host=allbroken.test,missing.allbroken.test,10",
];

#[test]
fn mx_hosts_in_order_then_addresses_without_duplicates() {
    let dns = Dnsmasq::start(ZONE);
    let list = targets(&dns, "example.test", Family::All).unwrap();
    let mut got = summary(&list);
    // dnsmasq may order one host's addresses either way; the MX order is fixed.
    got[..2].sort();
    assert_eq!(
        got,
        vec![
            entry("mx1.example.test", "192.0.2.1", 10),
            entry("mx1.example.test", "192.0.2.2", 10),
            entry("mx2.example.test", "192.0.2.3", 20),
            entry("mx2.example.test", "2001:db8::3", 20),
        ]
    );
    assert!(list.iter().all(|t| !t.authentic));
    let v4 = targets(&dns, "example.test", Family::Ipv4).unwrap();
    assert!(v4.iter().all(|t| t.addr.is_ipv4()));
    assert_eq!(v4.len(), 3);
}

#[test]
fn no_mx_falls_back_to_the_domain_address() {
    let dns = Dnsmasq::start(ZONE);
    let got = summary(&targets(&dns, "nomx.test", Family::All).unwrap());
    assert_eq!(got, vec![entry("nomx.test", "192.0.2.20", 0)]);
}

#[test]
fn bracketed_host_suppresses_mx() {
    let dns = Dnsmasq::start(ZONE);
    let got = summary(&targets(&dns, "[example.test]", Family::All).unwrap());
    assert_eq!(got, vec![entry("example.test", "192.0.2.99", 0)]);
}

#[test]
fn address_literal_used_as_is() {
    let dns = Dnsmasq::start(ZONE);
    let got = summary(&targets(&dns, "[192.0.2.77]", Family::All).unwrap());
    assert_eq!(got, vec![entry("192.0.2.77", "192.0.2.77", 0)]);
}

#[test]
fn null_mx_bounces() {
    let dns = Dnsmasq::start(ZONE);
    let err = targets(&dns, "nullmx.test", Family::All).unwrap_err();
    assert!(matches!(err, NexthopError::NullMx { ref domain } if domain == "nullmx.test"));
    assert!(!err.is_temporary());
    assert_eq!(
        err.to_string(),
        "Domain nullmx.test does not accept mail (nullMX)"
    );
}

#[test]
fn nonexistent_domain_bounces() {
    let dns = Dnsmasq::start(ZONE);
    let err = targets(&dns, "nosuch.test", Family::All).unwrap_err();
    assert!(
        matches!(err, NexthopError::Dns(DnsError::NxDomain { .. })),
        "{err:?}"
    );
    assert!(!err.is_temporary());
}

#[test]
fn unresolvable_mx_host_skipped_for_the_next() {
    let dns = Dnsmasq::start(ZONE);
    let got = summary(&targets(&dns, "halfbroken.test", Family::All).unwrap());
    assert_eq!(got, vec![entry("mx.halfbroken.test", "192.0.2.40", 10)]);
    let err = targets(&dns, "allbroken.test", Family::All).unwrap_err();
    assert!(
        matches!(err, NexthopError::Dns(DnsError::NxDomain { ref name, .. }) if name == "missing.allbroken.test"),
        "{err:?}"
    );
}
