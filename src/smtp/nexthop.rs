//! The job's nexthop as qmgr gives it ("example.com", "[mx.example.com]",
//! "[192.0.2.1]:587", "example.com:2525") split into host part and port, and
//! turned into the ordered, limited list of addresses to try.
//!
//! Mirrors Postfix smtp_connect.c `smtp_connect_remote()` (`host:port` split with
//! `smtp_tcp_port` as default, `[host]` suppressing MX, `smtp_mx_address_limit`)
//! and smtp_addr.c through `crate::dns`. Reads no parameters itself (settings.rs).
//! RFCs: RFC 5321 section 5.1.

use crate::dns::{Family, Nexthop, NexthopError, Resolver, Target};

use super::settings::parse_port;

/// A parsed nexthop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// What DNS is asked about.
    pub host: Nexthop,
    pub port: u16,
    /// The nexthop domain without brackets or port, for TLS `nexthop` matching
    /// and the session cache.
    pub domain: String,
}

/// Splits `host:port` / `[host]:port`; the port may be a number or a service
/// name. Without a port, `default_port`.
pub fn parse(nexthop: &str, default_port: u16) -> Result<Destination, NexthopError> {
    let bad = || NexthopError::BadSyntax {
        nexthop: nexthop.to_string(),
    };
    let text = nexthop.trim();
    let (host_text, port_text) = if text.starts_with('[') {
        let end = text.find(']').ok_or_else(bad)?;
        let rest = &text[end + 1..];
        match rest {
            "" => (&text[..=end], None),
            r => (&text[..=end], Some(r.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match text.rsplit_once(':') {
            // A bare IPv6 address has colons of its own.
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (text, None),
        }
    };
    let port = match port_text {
        None => default_port,
        Some(p) => parse_port(p).ok_or_else(bad)?,
    };
    let host = Nexthop::parse(host_text)?;
    let domain = host_text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    Ok(Destination { host, port, domain })
}

/// The addresses to try, most preferred first, at most `address_limit` (0: no
/// limit) as `smtp_mx_address_limit`.
pub fn targets(
    resolver: &mut Resolver,
    dest: &Destination,
    family: Family,
    address_limit: usize,
) -> Result<Vec<Target>, NexthopError> {
    let mut found = resolver.nexthop_targets(&dest.host, family)?;
    if address_limit > 0 {
        found.truncate(address_limit);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let d = parse("example.com", 25).unwrap();
        assert_eq!(d.host, Nexthop::Domain("example.com".into()));
        assert_eq!((d.port, d.domain.as_str()), (25, "example.com"));
        let d = parse("[mx.example.com]:587", 25).unwrap();
        assert_eq!(d.host, Nexthop::Host("mx.example.com".into()));
        assert_eq!((d.port, d.domain.as_str()), (587, "mx.example.com"));
        let d = parse("[127.0.0.1]:2525", 25).unwrap();
        assert_eq!(d.host, Nexthop::Address("127.0.0.1".parse().unwrap()));
        assert_eq!(d.port, 2525);
        let d = parse("Example.COM:smtp", 465).unwrap();
        assert_eq!((d.port, d.domain.as_str()), (25, "example.com"));
        let d = parse("[IPv6:::1]:26", 25).unwrap();
        assert_eq!(d.host, Nexthop::Address("::1".parse().unwrap()));
        assert_eq!(d.port, 26);
        let d = parse("[192.0.2.1]", 465).unwrap();
        assert_eq!(d.port, 465);
        for bad in ["[x]y", "host:", "host:nope", "[x", ""] {
            assert!(parse(bad, 25).is_err(), "{bad:?}");
        }
    }
}
