//! Resolver settings: nameservers, timeouts, DNSSEC bits, cache size; read from
//! resolv.conf or built by the caller.
//!
//! Mirrors: the resolver options Postfix inherits from libc `res_init()` and sets
//! in `dns_lookup.c` (`RES_USE_DNSSEC`, `RES_USE_EDNS0`, the AD bit per
//! `smtp_dns_support_level`).
//! main.cf parameters: none read here; the smtp client maps `smtp_dns_support_level`
//! and `inet_protocols` onto these fields.
//! RFCs: RFC 6840 section 5.7 (AD in queries), RFC 3225 (DO bit), RFC 6891 (EDNS0).
//! Files: resolv.conf(5) as glibc and FreeBSD read it (`nameserver`, `options
//! timeout:N attempts:N`, `#` and `;` comments, at most three nameservers); other
//! keywords (`search`, `domain`, `sortlist`) and options (`rotate`, `ndots`,
//! `trust-ad`) are ignored: Postfix's smtp client does no search-list look-ups.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use super::error::DnsError;

/// At most this many nameservers are used, as `MAXNS` in glibc and FreeBSD libc.
const MAX_NAMESERVERS: usize = 3;
/// resolv.conf caps `timeout:` at 30 s and `attempts:` at 5 (glibc `RES_MAXRETRANS`,
/// `RES_MAXRETRY`); FreeBSD clamps the same way.
const MAX_TIMEOUT_SECS: u64 = 30;
const MAX_ATTEMPTS: u32 = 5;

/// Everything the stub resolver needs. Plain data: the caller (smtp client, tests)
/// fills it from resolv.conf or by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverSettings {
    /// Recursive servers, tried in order.
    pub nameservers: Vec<IpAddr>,
    /// Their port; 53 except in tests.
    pub port: u16,
    /// How long to wait for one reply from one server (libc `RES_TIMEOUT`: 5 s).
    pub timeout: Duration,
    /// Rounds over all servers (libc `RES_DFLRETRY`: 2).
    pub attempts: u32,
    /// Set AD in queries so that a validating resolver reports whether the answer
    /// was authenticated (RFC 6840 section 5.7). DANE relies on that bit.
    pub set_ad: bool,
    /// Set DO in the EDNS0 header (RFC 3225), as Postfix does with
    /// `smtp_dns_support_level = dnssec`.
    pub set_do: bool,
    /// Send EDNS0 with a 1232-byte payload (RFC 6891; 1232 as DNS Flag Day 2020).
    pub edns: bool,
    /// Entries the answer cache holds; 0 turns the cache off.
    pub cache_size: usize,
    /// How long a negative answer without an SOA record is cached (RFC 2308 section
    /// 5 gives no value for that case; a short time keeps a typo from being retried
    /// at every delivery attempt).
    pub negative_ttl: Duration,
}

impl Default for ResolverSettings {
    /// The libc defaults: the local host as nameserver (resolv.conf(5) "if no
    /// nameserver entries are present, the default is to use the name server on
    /// the local machine").
    fn default() -> Self {
        ResolverSettings {
            nameservers: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            port: 53,
            timeout: Duration::from_secs(5),
            attempts: 2,
            set_ad: true,
            set_do: false,
            edns: true,
            cache_size: 512,
            negative_ttl: Duration::from_secs(60),
        }
    }
}

impl ResolverSettings {
    /// Settings for one nameserver at `addr:port`, otherwise the defaults; what
    /// tests use with a dnsmasq on loopback.
    pub fn with_nameserver(addr: IpAddr, port: u16) -> Self {
        ResolverSettings {
            nameservers: vec![addr],
            port,
            ..ResolverSettings::default()
        }
    }

    /// Reads `nameserver` lines and the `timeout:` / `attempts:` options from a
    /// resolv.conf. Unknown keywords and options are ignored, as libc does.
    pub fn from_resolv_conf(path: &Path) -> Result<Self, DnsError> {
        let text = fs::read_to_string(path).map_err(|source| DnsError::ResolvConf {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::parse_resolv_conf(&text))
    }

    /// The parsing half of [`from_resolv_conf`](Self::from_resolv_conf).
    pub fn parse_resolv_conf(text: &str) -> Self {
        let mut settings = ResolverSettings::default();
        let mut servers = Vec::new();
        for line in text.lines() {
            // glibc and FreeBSD libc take lines starting with '#' or ';' as
            // comments and end a nameserver address at either character.
            let line = line.split(['#', ';']).next().unwrap_or(""); // ok: split yields at least one item
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(addr) = words.next().and_then(parse_nameserver) {
                        if servers.len() < MAX_NAMESERVERS {
                            servers.push(addr);
                        }
                    }
                }
                Some("options") => {
                    for option in words {
                        settings.apply_option(option);
                    }
                }
                _ => {}
            }
        }
        if !servers.is_empty() {
            settings.nameservers = servers;
        }
        settings
    }

    fn apply_option(&mut self, option: &str) {
        if let Some(value) = option.strip_prefix("timeout:") {
            if let Ok(secs) = value.parse::<u64>() {
                self.timeout = Duration::from_secs(secs.clamp(1, MAX_TIMEOUT_SECS));
            }
        } else if let Some(value) = option.strip_prefix("attempts:") {
            if let Ok(n) = value.parse::<u32>() {
                self.attempts = n.clamp(1, MAX_ATTEMPTS);
            }
        }
    }
}

/// A nameserver address: plain IPv4/IPv6, IPv6 with a `%zone` (glibc; the zone is
/// dropped, link-local resolvers are not supported), or `[addr]` as OpenBSD
/// writes it (a `:port` after the bracket is ignored: one port for all servers).
fn parse_nameserver(word: &str) -> Option<IpAddr> {
    let word = word
        .strip_prefix('[')
        .and_then(|w| w.split(']').next())
        .unwrap_or(word);
    let word = word.split('%').next().unwrap_or(word); // ok: split yields at least one item
    word.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn linux_resolv_conf() {
        let text = "# generated by NetworkManager\nsearch example.org\n\
                    nameserver 192.0.2.53\nnameserver 2001:db8::53\n\
                    options edns0 trust-ad timeout:2 attempts:3 rotate\n";
        let s = ResolverSettings::parse_resolv_conf(text);
        assert_eq!(
            s.nameservers,
            vec![
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53)),
                IpAddr::V6("2001:db8::53".parse::<Ipv6Addr>().unwrap())
            ]
        );
        assert_eq!(s.timeout, Duration::from_secs(2));
        assert_eq!(s.attempts, 3);
        assert_eq!(s.port, 53);
    }

    #[test]
    fn freebsd_resolv_conf() {
        let text = "; resolvconf\ndomain example.org\nnameserver [::1]\n\
                    nameserver 127.0.0.1 # local unbound\noptions timeout:99 attempts:0\n";
        let s = ResolverSettings::parse_resolv_conf(text);
        assert_eq!(
            s.nameservers,
            vec![
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            ]
        );
        assert_eq!(s.timeout, Duration::from_secs(MAX_TIMEOUT_SECS));
        assert_eq!(s.attempts, 1);
    }

    #[test]
    fn at_most_three_servers_and_zone_dropped() {
        let text = "nameserver fe80::1%eth0\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n\
                    nameserver 10.0.0.3\nnameserver not-an-address\n";
        let s = ResolverSettings::parse_resolv_conf(text);
        assert_eq!(s.nameservers.len(), 3);
        assert_eq!(s.nameservers[0], "fe80::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn empty_file_means_local_server() {
        let s = ResolverSettings::parse_resolv_conf("");
        assert_eq!(s.nameservers, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.attempts, 2);
    }

    #[test]
    fn missing_file_is_named() {
        let err =
            ResolverSettings::from_resolv_conf(Path::new("/nonexistent/resolv.conf")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/resolv.conf"));
    }
}
