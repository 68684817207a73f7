//! From a nexthop ("example.com", "[mail.example.com]", "[192.0.2.1]") to the
//! ordered list of (host, address, preference) the smtp client tries.
//!
//! Mirrors: Postfix `smtp_addr.c` (`smtp_domain_addr()`: MX hosts in preference
//! order then their addresses, fallback to the domain's own address, null MX;
//! `smtp_host_addr()`: `[host]` without MX; numerical addresses used as they are;
//! duplicate addresses removed as `dns_rr_remove()`).
//! main.cf parameters: `inet_protocols` (passed in as `Family`). Not yet:
//! `smtp_address_preference`, `smtp_mx_address_limit` (the caller may truncate),
//! and the "mail for X loops back to myself" check against `inet_interfaces`.
//! RFCs: RFC 5321 section 5.1 (MX order, implicit MX), RFC 5321 section 4.1.3
//! (address literals, `IPv6:` tag), RFC 7505 (null MX).

use std::net::IpAddr;

use super::error::DnsError;
use super::records::{Family, MxAnswer};
use super::resolver::Resolver;

/// Preference given to a destination reached without MX (implicit MX, `[host]` or
/// an address literal): there is only one, so any number would do; 0 as Postfix.
pub const IMPLICIT_PREFERENCE: u16 = 0;

/// What a nexthop names, per Postfix's syntax for transport and relayhost
/// destinations (the `:port` part is the caller's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nexthop {
    /// `example.com`: look up MX, fall back to the domain's address.
    Domain(String),
    /// `[mail.example.com]`: the host's own address, MX look-up suppressed.
    Host(String),
    /// `[192.0.2.1]`, `[IPv6:2001:db8::1]` (or a bare address): no DNS at all.
    Address(IpAddr),
}

/// One place to try delivery, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The name to log and to match certificates against (`relay=host[addr]`).
    pub host: String,
    pub addr: IpAddr,
    /// MX preference, or `IMPLICIT_PREFERENCE`.
    pub preference: u16,
    /// True when the MX answer (if any) and the host's address answer both had the
    /// AD bit: the condition for DANE to look up TLSA for this host (RFC 7672
    /// section 2.2).
    pub authentic: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum NexthopError {
    #[error("bad nexthop syntax: {nexthop:?}")]
    BadSyntax { nexthop: String },
    /// RFC 7505 section 4.2: bounce at once (Postfix: 5.1.0 and its text).
    #[error("Domain {domain} does not accept mail (nullMX)")]
    NullMx { domain: String },
    /// An address literal of a family that `inet_protocols` excludes.
    #[error("{addr}: address family disabled by inet_protocols")]
    FamilyDisabled { addr: IpAddr },
    #[error(transparent)]
    Dns(#[from] DnsError),
}

impl NexthopError {
    /// True when the mail should be deferred rather than bounced.
    pub fn is_temporary(&self) -> bool {
        match self {
            NexthopError::Dns(e) => e.is_temporary(),
            _ => false,
        }
    }
}

impl Nexthop {
    /// Parses the host part of a nexthop: brackets suppress MX look-ups; inside
    /// them an address (with an optional `IPv6:` tag) is used as it is.
    pub fn parse(text: &str) -> Result<Nexthop, NexthopError> {
        let bad = || NexthopError::BadSyntax {
            nexthop: text.to_string(),
        };
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(bad)?;
            let untagged = strip_ipv6_tag(inner);
            if let Ok(addr) = untagged.parse::<IpAddr>() {
                return Ok(Nexthop::Address(addr));
            }
            if inner.is_empty() || inner.contains(['[', ']', ':']) {
                return Err(bad());
            }
            return Ok(Nexthop::Host(inner.to_string()));
        }
        if let Ok(addr) = text.parse::<IpAddr>() {
            return Ok(Nexthop::Address(addr));
        }
        if text.is_empty() || text.contains(['[', ']', ':']) {
            return Err(bad());
        }
        Ok(Nexthop::Domain(text.to_string()))
    }
}

/// RFC 5321 section 4.1.3 writes IPv6 literals as `IPv6:addr`; the tag is case
/// insensitive.
fn strip_ipv6_tag(s: &str) -> &str {
    match s.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("ipv6:") => &s[5..],
        _ => s,
    }
}

fn family_allows(family: Family, addr: &IpAddr) -> bool {
    match family {
        Family::All => true,
        Family::Ipv4 => addr.is_ipv4(),
        Family::Ipv6 => addr.is_ipv6(),
    }
}

impl Resolver {
    /// The ordered delivery targets for a nexthop. Hosts whose look-up fails are
    /// skipped while others remain; if none remains, the error returned is a
    /// temporary one if any look-up failed temporarily (defer, do not bounce).
    pub fn nexthop_targets(
        &mut self,
        nexthop: &Nexthop,
        family: Family,
    ) -> Result<Vec<Target>, NexthopError> {
        match nexthop {
            Nexthop::Address(addr) => {
                if !family_allows(family, addr) {
                    return Err(NexthopError::FamilyDisabled { addr: *addr });
                }
                Ok(vec![Target {
                    host: addr.to_string(),
                    addr: *addr,
                    preference: IMPLICIT_PREFERENCE,
                    authentic: false,
                }])
            }
            Nexthop::Host(host) => self.host_targets(host, IMPLICIT_PREFERENCE, true, family),
            Nexthop::Domain(domain) => match self.mx(domain)? {
                MxAnswer::NullMx => Err(NexthopError::NullMx {
                    domain: domain.clone(),
                }),
                // RFC 5321 section 5.1: no MX, so the domain is its own exchanger.
                MxAnswer::NoMx => self.host_targets(domain, IMPLICIT_PREFERENCE, true, family),
                MxAnswer::Hosts { hosts, authentic } => {
                    let mut targets: Vec<Target> = Vec::new();
                    let mut failure: Option<DnsError> = None;
                    for mx in hosts {
                        match self.host_targets(&mx.host, mx.preference, authentic, family) {
                            Ok(found) => {
                                for t in found {
                                    if !targets.iter().any(|seen| seen.addr == t.addr) {
                                        targets.push(t);
                                    }
                                }
                            }
                            Err(NexthopError::Dns(e)) => {
                                if failure.as_ref().is_none_or(|f| !f.is_temporary()) {
                                    failure = Some(e);
                                }
                            }
                            Err(other) => return Err(other),
                        }
                    }
                    match (targets.is_empty(), failure) {
                        (true, Some(e)) => Err(NexthopError::Dns(e)),
                        _ => Ok(targets),
                    }
                }
            },
        }
    }

    fn host_targets(
        &mut self,
        host: &str,
        preference: u16,
        mx_authentic: bool,
        family: Family,
    ) -> Result<Vec<Target>, NexthopError> {
        let found = self.addresses(host, family)?;
        let mut targets: Vec<Target> = Vec::new();
        for addr in found.addrs {
            if !targets.iter().any(|t| t.addr == addr) {
                targets.push(Target {
                    host: found.host.clone(),
                    addr,
                    preference,
                    authentic: mx_authentic && found.authentic,
                });
            }
        }
        Ok(targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_nexthops() {
        assert_eq!(
            Nexthop::parse("example.com").unwrap(),
            Nexthop::Domain("example.com".into())
        );
        assert_eq!(
            Nexthop::parse("[mail.example.com]").unwrap(),
            Nexthop::Host("mail.example.com".into())
        );
        assert_eq!(
            Nexthop::parse("[192.0.2.1]").unwrap(),
            Nexthop::Address("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            Nexthop::parse("[IPv6:2001:db8::1]").unwrap(),
            Nexthop::Address("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            Nexthop::parse("[ipv6:2001:db8::1]").unwrap(),
            Nexthop::Address("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            Nexthop::parse("[2001:db8::1]").unwrap(),
            Nexthop::Address("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            Nexthop::parse("192.0.2.7").unwrap(),
            Nexthop::Address("192.0.2.7".parse().unwrap())
        );
        for bad in [
            "",
            "[]",
            "[mail.example.com",
            "[a]b]",
            "host:25",
            "[IPv6:zz]",
        ] {
            assert!(
                matches!(Nexthop::parse(bad), Err(NexthopError::BadSyntax { .. })),
                "{bad:?} must be rejected"
            );
        }
    }

    #[test]
    fn literal_needs_no_dns_and_honours_family() {
        // No nameserver at all: a literal must not touch DNS.
        let mut settings = super::super::settings::ResolverSettings::default();
        settings.nameservers.clear();
        let mut resolver = Resolver::new(settings);
        let nexthop = Nexthop::parse("[192.0.2.1]").unwrap();
        let targets = resolver.nexthop_targets(&nexthop, Family::All).unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].host, "192.0.2.1");
        assert!(matches!(
            resolver.nexthop_targets(&nexthop, Family::Ipv6),
            Err(NexthopError::FamilyDisabled { .. })
        ));
    }
}
