//! Client address lists (`mynetworks`): CIDR blocks, single addresses, IPv6 in
//! brackets (`[::1]/128`), `type:table` (looked up by address), `/file/name`,
//! host-name patterns, `!` negation; first match wins.
//!
//! Mirrors Postfix `util/match_list.c` with match_hostaddr/match_hostname
//! (`global/namadr_list.c`), `util/cidr_match.c` and `global/mynetworks.c`
//! (the default text comes from config, per `mynetworks_style`). Reads the
//! parameter it is given and `parent_domain_matches_subdomains`.

use std::net::IpAddr;
use std::sync::Mutex;

use ipnet::IpNet;

use crate::config::Config;
use crate::maps::{Map, MapError, OpenFlags};

use super::domains::{is_table, name_matches, open_table, words};
use super::{parent_matches, RestrictionError};

enum Pattern {
    Net(IpNet),
    Name(String),
    Table(Mutex<Box<dyn Map>>),
}

/// An address (and host-name) list.
pub struct AddrList {
    entries: Vec<(bool, Pattern)>,
    parent: bool,
}

/// IPv4-mapped IPv6 clients are IPv4 clients, as Postfix normalises them.
fn normal(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        a => a,
    }
}

fn parse_net(param: &str, text: &str) -> Result<Option<IpNet>, RestrictionError> {
    // "[::1]/128" and "[::1]" as postconf(5) asks for IPv6.
    let unbracketed = match text.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((a, len)) => format!("{a}{len}"),
            None => {
                return Err(RestrictionError::BadPattern {
                    param: param.to_string(),
                    pattern: text.to_string(),
                    why: "missing ']'".into(),
                })
            }
        },
        None => text.to_string(),
    };
    if let Ok(a) = unbracketed.parse::<IpAddr>() {
        return Ok(Some(IpNet::from(a)));
    }
    if !unbracketed.contains('/') {
        return Ok(None);
    }
    let net: IpNet = unbracketed
        .parse()
        .map_err(|_| RestrictionError::BadPattern {
            param: param.to_string(),
            pattern: text.to_string(),
            why: "bad address/prefix".into(),
        })?;
    if net.trunc() != net {
        // Postfix cidr_match_parse() refuses these outright.
        return Err(RestrictionError::BadPattern {
            param: param.to_string(),
            pattern: text.to_string(),
            why: format!(
                "non-null host address bits, perhaps you should use \"{}\" instead",
                net.trunc()
            ),
        });
    }
    Ok(Some(net))
}

impl AddrList {
    pub fn new(cfg: &Config, param: &str, flags: OpenFlags) -> Result<AddrList, RestrictionError> {
        Self::from_value(param, &cfg.get(param), parent_matches(cfg, param), flags)
    }

    pub fn from_value(
        param: &str,
        value: &str,
        parent: bool,
        flags: OpenFlags,
    ) -> Result<AddrList, RestrictionError> {
        let mut entries = Vec::new();
        for w in words(param, value)? {
            let p = if is_table(&w.text) {
                Pattern::Table(open_table(param, &w.text, flags)?)
            } else if let Some(net) = parse_net(param, &w.text)? {
                Pattern::Net(net)
            } else {
                Pattern::Name(w.text.trim_end_matches('.').to_ascii_lowercase())
            };
            entries.push((w.negate, p));
        }
        Ok(AddrList { entries, parent })
    }

    /// Does the client match? `name` is its verified host name (or
    /// "unknown"/None, which no name pattern matches).
    pub fn matches(&self, name: Option<&str>, addr: IpAddr) -> Result<bool, MapError> {
        let addr = normal(addr);
        let name = name
            .filter(|n| *n != "unknown")
            .map(|n| n.trim_end_matches('.').to_lowercase());
        for (negate, p) in &self.entries {
            let hit = match p {
                Pattern::Net(net) => net.contains(&addr),
                Pattern::Name(pat) => name
                    .as_deref()
                    .is_some_and(|n| name_matches(pat, n, self.parent)),
                Pattern::Table(t) => {
                    let map = t.lock().unwrap_or_else(|p| p.into_inner());
                    let by_name = match &name {
                        Some(n) => map.lookup(n)?.is_some(),
                        None => false,
                    };
                    by_name || map.lookup(&addr.to_string())?.is_some()
                }
            };
            if hit {
                return Ok(!negate);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &str) -> AddrList {
        AddrList::from_value("mynetworks", v, true, OpenFlags::default()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_ipv6_and_negation() {
        let l = list("!127.0.0.2, 127.0.0.0/8 [::1]/128, [2001:db8::]/32 192.0.2.7");
        assert!(l.matches(None, ip("127.0.0.1")).unwrap());
        assert!(!l.matches(None, ip("127.0.0.2")).unwrap());
        assert!(l.matches(None, ip("::1")).unwrap());
        assert!(l.matches(None, ip("::ffff:127.0.0.9")).unwrap());
        assert!(l.matches(None, ip("2001:db8:1::5")).unwrap());
        assert!(l.matches(None, ip("192.0.2.7")).unwrap());
        assert!(!l.matches(None, ip("192.0.2.8")).unwrap());
        assert!(!l.matches(None, ip("10.0.0.1")).unwrap());
    }

    #[test]
    fn tables_files_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let cidr = dir.path().join("nets.cidr");
        std::fs::write(&cidr, "10.1.0.0/16 OK\n").unwrap();
        let file = dir.path().join("nets");
        std::fs::write(&file, "# trusted\n198.51.100.0/24\n").unwrap();
        let l = list(&format!(
            "cidr:{}, {}, .trusted.example",
            cidr.display(),
            file.display()
        ));
        assert!(l.matches(None, ip("10.1.2.3")).unwrap());
        assert!(l.matches(None, ip("198.51.100.9")).unwrap());
        assert!(l
            .matches(Some("a.trusted.example"), ip("203.0.113.1"))
            .unwrap());
        assert!(!l.matches(Some("unknown"), ip("203.0.113.1")).unwrap());
    }

    #[test]
    fn host_bits_are_an_error() {
        let e = AddrList::from_value("mynetworks", "192.168.1.5/24", true, OpenFlags::default());
        let text = e.err().unwrap().to_string();
        assert!(
            text.contains("mynetworks") && text.contains("192.168.1.0/24"),
            "{text}"
        );
    }
}
