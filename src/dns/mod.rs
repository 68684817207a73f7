//! A small blocking DNS stub resolver for the smtp client: MX, A/AAAA, TLSA and TXT
//! look-ups, and the nexthop logic that turns a destination into addresses.
//!
//! Mirrors: Postfix `src/dns/` (`dns_lookup.c`, `dns_rr.c`, `dns_strerror.c`) and
//! `src/smtp/smtp_addr.c`.
//! main.cf parameters: none read here. The caller maps `inet_protocols` to
//! [`Family`] and `smtp_dns_support_level` to the AD/DO fields of
//! [`ResolverSettings`]; nameservers come from resolv.conf.
//! RFCs: RFC 1034/1035, RFC 2308 (negative caching), RFC 5321 section 5.1 (MX),
//! RFC 5452 (reply matching), RFC 6698/7672 (TLSA), RFC 6840 section 5.7 (AD bit),
//! RFC 6891 (EDNS0), RFC 7505 (null MX), RFC 7766 (TCP).
//!
//! Not for: reverse (PTR) look-ups and SPF/DKIM policy; DNSSEC validation itself,
//! which, as in Postfix, is left to the recursive server: we only record its AD bit.
//!
//! # API
//!
//! ```text
//! let mut resolver = Resolver::new(ResolverSettings::from_resolv_conf(path)?);
//! let targets = resolver.nexthop_targets(&Nexthop::parse("example.com")?, Family::All)?;
//! resolver.mx(domain) / addresses(host, family) / tlsa(host, port) / txt(name)
//! resolver.lookup(name, RecordType) for anything else
//! ```
//!
//! # Who owns the resolver
//!
//! A `Resolver` holds its cache by value and its look-ups take `&mut self`: there
//! is no lock. Each smtp worker thread creates its own, as each Postfix smtp
//! process has its own resolver state. The cost is that workers do not share
//! cached answers; the cache only spares repeated questions within one worker
//! (the next message to the same domain), and the local recursive server, which
//! every Postfix deployment already relies on, caches for all of them. Sharing one
//! cache would need a lock taken on every look-up or an owner thread with a
//! request channel, both more machinery than a few hundred saved queries warrant.
#![allow(dead_code, unused_imports)] // wired in by the smtp client (issue 5)

mod cache;
mod error;
mod mx;
mod records;
mod resolver;
mod settings;
mod transport;

#[cfg(test)]
mod tests;

pub use error::{DnsError, Severity, TransportError};
pub use mx::{Nexthop, NexthopError, Target, IMPLICIT_PREFERENCE};
pub use records::{Family, HostAddrs, MxAnswer, MxHost, Tlsa, TlsaAnswer};
pub use resolver::{display_name, parse_name, Lookup, Resolver, Response, EDNS_PAYLOAD};
pub use settings::ResolverSettings;
