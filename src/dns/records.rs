//! Typed look-ups over the resolver: MX (sorted, equal preferences shuffled, null
//! MX recognised), A/AAAA per address family, TLSA and TXT.
//!
//! Mirrors: Postfix `dns_rr.c` (`dns_rr_sort()`, `dns_rr_shuffle()`: random order
//! among equal preferences), `dns_lookup.c` (`dns_lookup_l()` for A and AAAA per
//! `inet_protocols`), `smtp_addr.c` (null MX test).
//! main.cf parameters: `inet_protocols` (as `Family`, filled in by the caller).
//! RFCs: RFC 1035 section 3.3.9 (MX), RFC 5321 section 5.1 (equal preferences in
//! random order), RFC 7505 section 3 (null MX: one MX, preference 0, exchange "."),
//! RFC 3596 (AAAA), RFC 6698 section 2 and RFC 7672 section 3 (TLSA at
//! `_port._tcp.host`), RFC 1035 section 3.3.14 (TXT).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

use hickory_proto::rr::{RData, RecordType};

use super::error::DnsError;
use super::resolver::{display_name, Resolver};

/// Which address families to look up, as `inet_protocols` (ipv4, ipv6, all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
    All,
}

impl Family {
    /// Reads an `inet_protocols` value: `all`, `ipv4`, `ipv6`, or both listed
    /// (separated by commas or spaces, as Postfix lists). `None` for anything else.
    pub fn from_inet_protocols(value: &str) -> Option<Family> {
        let (mut v4, mut v6) = (false, false);
        for word in value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            match word.to_ascii_lowercase().as_str() {
                "all" => (v4, v6) = (true, true),
                "ipv4" => v4 = true,
                "ipv6" => v6 = true,
                _ => return None,
            }
        }
        match (v4, v6) {
            (true, true) => Some(Family::All),
            (true, false) => Some(Family::Ipv4),
            (false, true) => Some(Family::Ipv6),
            (false, false) => None,
        }
    }
}

/// One mail exchanger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// Host name, ASCII, without the trailing dot.
    pub host: String,
    pub preference: u16,
}

/// The result of an MX look-up for a domain that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// Exchangers, most preferred first; equal preferences in random order.
    Hosts { hosts: Vec<MxHost>, authentic: bool },
    /// RFC 7505 null MX: the domain accepts no mail; bounce at once (Postfix uses 5.1.0).
    NullMx,
    /// NOERROR without MX records: deliver to the domain's own address
    /// (RFC 5321 section 5.1).
    NoMx,
}

/// Addresses of one host, IPv4 first then IPv6, in the server's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddrs {
    pub host: String,
    pub addrs: Vec<IpAddr>,
    /// True only when every reply used had the AD bit.
    pub authentic: bool,
}

/// One TLSA record (RFC 6698 section 2.1), fields kept as numbers for DANE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

/// The TLSA RRset of one `_port._tcp.host` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsaAnswer {
    /// The name asked for (`_25._tcp.mx.example.com`).
    pub qname: String,
    pub records: Vec<Tlsa>,
    /// DANE may use the records only when this is true (RFC 7672 section 2.2).
    pub authentic: bool,
}

impl Resolver {
    /// MX records of `domain`. NXDOMAIN is an error (`NotFound`); NODATA is
    /// `MxAnswer::NoMx`, so the caller can fall back to the domain's address.
    pub fn mx(&mut self, domain: &str) -> Result<MxAnswer, DnsError> {
        let lookup = match self.lookup(domain, RecordType::MX) {
            Ok(lookup) => lookup,
            Err(DnsError::NoData { .. }) => return Ok(MxAnswer::NoMx),
            Err(e) => return Err(e),
        };
        let mut hosts: Vec<MxHost> = lookup
            .records
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.is_root(), mx)),
                _ => None,
            })
            .map(|(preference, root, mx)| MxHost {
                host: if root {
                    String::new()
                } else {
                    display_name(&mx.exchange)
                },
                preference,
            })
            .collect();
        // RFC 7505 section 3: a null MX is the only MX of its domain. A "." among
        // other exchangers is a misconfiguration; skip it and use the others.
        if let [only] = hosts.as_slice() {
            if only.host.is_empty() {
                return Ok(MxAnswer::NullMx);
            }
        }
        hosts.retain(|h| !h.host.is_empty());
        if hosts.is_empty() {
            return Ok(MxAnswer::NoMx);
        }
        // As dns_rr_shuffle() then dns_rr_sort(): a random order, then a stable
        // sort, leaves equal preferences shuffled (RFC 5321 section 5.1).
        shuffle(&mut hosts);
        hosts.sort_by_key(|h| h.preference);
        Ok(MxAnswer::Hosts {
            hosts,
            authentic: lookup.authentic,
        })
    }

    /// A and/or AAAA records of `host` per `family`. With `Family::All`, one family
    /// missing is fine; if both fail, a temporary failure of either wins over "not
    /// found", so that mail is deferred rather than bounced.
    pub fn addresses(&mut self, host: &str, family: Family) -> Result<HostAddrs, DnsError> {
        let types: &[RecordType] = match family {
            Family::Ipv4 => &[RecordType::A],
            Family::Ipv6 => &[RecordType::AAAA],
            Family::All => &[RecordType::A, RecordType::AAAA],
        };
        let mut addrs = Vec::new();
        let mut authentic = true;
        let mut failure: Option<DnsError> = None;
        for &rtype in types {
            match self.lookup(host, rtype) {
                Ok(lookup) => {
                    authentic &= lookup.authentic;
                    addrs.extend(lookup.records.iter().filter_map(|r| match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                        _ => None,
                    }));
                }
                Err(e) => {
                    let keep = match &failure {
                        None => true,
                        Some(prev) => e.is_temporary() && !prev.is_temporary(),
                    };
                    if keep {
                        failure = Some(e);
                    }
                }
            }
        }
        if addrs.is_empty() {
            return Err(failure.unwrap_or_else(|| DnsError::NoData {
                name: host.trim_end_matches('.').to_string(),
                rtype: types[0],
            }));
        }
        Ok(HostAddrs {
            host: host.trim_end_matches('.').to_string(),
            addrs,
            authentic,
        })
    }

    /// The TLSA records for a TCP service: `_port._tcp.host` (RFC 7672 section 3).
    pub fn tlsa(&mut self, host: &str, port: u16) -> Result<TlsaAnswer, DnsError> {
        let qname = format!("_{port}._tcp.{}", host.trim_end_matches('.'));
        let lookup = self.lookup(&qname, RecordType::TLSA)?;
        let records = lookup
            .records
            .iter()
            .filter_map(|r| match &r.data {
                RData::TLSA(t) => Some(Tlsa {
                    usage: t.cert_usage.into(),
                    selector: t.selector.into(),
                    matching: t.matching.into(),
                    data: t.cert_data.clone(),
                }),
                _ => None,
            })
            .collect();
        Ok(TlsaAnswer {
            qname,
            records,
            authentic: lookup.authentic,
        })
    }

    /// TXT records of `name`, each one's character-strings joined without a
    /// separator (RFC 7208 section 3.3 does so for SPF; RFC 6376 for DKIM keys).
    /// Bytes that are not UTF-8 are replaced.
    pub fn txt(&mut self, name: &str) -> Result<Vec<String>, DnsError> {
        let lookup = self.lookup(name, RecordType::TXT)?;
        Ok(lookup
            .records
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => {
                    let joined: Vec<u8> = txt
                        .txt_data
                        .iter()
                        .flat_map(|s| s.iter().copied())
                        .collect();
                    Some(String::from_utf8_lossy(&joined).into_owned())
                }
                _ => None,
            })
            .collect())
    }
}

/// Fisher-Yates shuffle. The randomness is SipHash keyed by `RandomState`, whose
/// keys come from the OS once per thread and change with each `new()`: enough to
/// spread load over equal MX hosts, which needs no secrecy.
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(i);
        let j = (hasher.finish() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_protocols_values() {
        assert_eq!(Family::from_inet_protocols("all"), Some(Family::All));
        assert_eq!(Family::from_inet_protocols("ipv4"), Some(Family::Ipv4));
        assert_eq!(Family::from_inet_protocols("IPv6"), Some(Family::Ipv6));
        assert_eq!(Family::from_inet_protocols("ipv4, ipv6"), Some(Family::All));
        assert_eq!(Family::from_inet_protocols(""), None);
        assert_eq!(Family::from_inet_protocols("ipv5"), None);
    }

    #[test]
    fn shuffle_keeps_items_and_varies_order() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut v = vec![1, 2, 3];
            shuffle(&mut v);
            let mut sorted = v.clone();
            sorted.sort();
            assert_eq!(sorted, vec![1, 2, 3]);
            seen.insert(v);
        }
        assert_eq!(seen.len(), 6, "all permutations of three items appear");
    }
}
