//! Tests of the resolver against a real dnsmasq on loopback.
//!
//! Mirrors: Postfix's `dns/test_dns_lookup.c` and `smtp_addr` behaviour, checked
//! against real answers instead of canned ones.
//! main.cf parameters: none.
//! RFCs: those of the modules under test (RFC 1035, 2308, 5321 section 5.1, 6840,
//! 7505, 7766).

mod dnsmasq;
mod lookups;
mod nexthop;
mod transport;
