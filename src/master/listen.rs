//! Listening sockets for master.cf `inet` entries: the service field
//! (`smtp`, `2525`, `127.0.0.1:2525`, `[::1]:2525`, `host:port`) turned into
//! addresses, and each address bound with SO_REUSEADDR and a backlog.
//!
//! Mirrors Postfix master_ent.c (inet service names), master_listen.c,
//! util/inet_listen.c, util/find_inet.c, global/inet_proto.c and
//! inet_addr_local.c. Reads `inet_interfaces`, `inet_protocols`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

use super::error::MasterError;
use super::names;
use crate::config::master::Service;
use crate::config::Config;

/// Ports of the well-known mail services, when /etc/services does not list them.
const WELL_KNOWN: &[(&str, u16)] = &[
    ("smtp", 25),
    ("submission", 587),
    ("smtps", 465),
    ("submissions", 465),
];

/// Which IP versions `inet_protocols` asks for (and the host supports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    pub v4: bool,
    pub v6: bool,
}

impl Protocols {
    /// Parses `inet_protocols`; IPv6 is dropped with Postfix's warning when the
    /// kernel has no IPv6.
    pub fn from_config(cfg: &Config) -> Result<Protocols, MasterError> {
        let mut p = Protocols {
            v4: false,
            v6: false,
        };
        for word in cfg.get_list(names::INET_PROTOCOLS) {
            match word.to_ascii_lowercase().as_str() {
                "all" => {
                    p.v4 = true;
                    p.v6 = true;
                }
                "ipv4" => p.v4 = true,
                "ipv6" => p.v6 = true,
                _ => {
                    return Err(MasterError::Parameter {
                        name: names::INET_PROTOCOLS,
                        reason: format!("bad protocol name: \"{word}\""),
                    })
                }
            }
        }
        if p.v6 {
            if let Err(e) = Socket::new(Domain::IPV6, Type::STREAM, None) {
                ::log::warn!(
                    "inet_protocols: disabling IPv6 name/address support: {}",
                    crate::config::io_text(&e)
                );
                p.v6 = false;
            }
        }
        if !p.v4 && !p.v6 {
            return Err(MasterError::Parameter {
                name: names::INET_PROTOCOLS,
                reason: "no usable protocol".into(),
            });
        }
        Ok(p)
    }

    fn wants(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(_) => self.v4,
            IpAddr::V6(_) => self.v6,
        }
    }
}

/// The port of a service name: digits, an /etc/services entry, or a well-known name.
pub fn service_port(name: &str) -> Option<u16> {
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return name.parse().ok();
    }
    etc_services(name).or_else(|| WELL_KNOWN.iter().find(|(n, _)| *n == name).map(|(_, p)| *p))
}

/// getservbyname(name, "tcp") without the thread-unsafe libc call.
fn etc_services(name: &str) -> Option<u16> {
    let text = std::fs::read_to_string("/etc/services").ok()?;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let (Some(first), Some(port_proto)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((port, "tcp")) = port_proto.split_once('/') else {
            continue;
        };
        if first == name || words.any(|alias| alias == name) {
            return port.parse().ok();
        }
    }
    None
}

/// The endpoint as master(8) names it in its process-limit warning: the port
/// number alone for a host-less entry (`smtp` -> `25`), else `host:port`.
pub fn endpoint_label(name: &str) -> String {
    let (host, port) = split_service(name);
    let port = service_port(port).map_or_else(|| port.to_string(), |p| p.to_string());
    match host {
        Some(h) if !h.is_empty() => format!("{h}:{port}"),
        _ => port,
    }
}

/// Splits `host:port` / `[host]:port` / `port`; the host is `None` without a colon.
fn split_service(name: &str) -> (Option<&str>, &str) {
    if let Some(rest) = name.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once(']') {
            return (Some(host), port.strip_prefix(':').unwrap_or(port));
        }
    }
    match name.rsplit_once(':') {
        Some((host, port)) => (Some(host), port),
        None => (None, name),
    }
}

/// Every address to listen on for an `inet` entry, in order, without duplicates.
pub fn addresses(
    svc: &Service,
    cfg: &Config,
    protocols: Protocols,
) -> Result<Vec<SocketAddr>, MasterError> {
    let path = cfg.dir().join("master.cf");
    let bad = |reason: String| MasterError::Service {
        path: path.clone(),
        line: svc.line,
        service: svc.name.clone(),
        reason,
    };
    let (host, port_name) = split_service(&svc.name);
    let port =
        service_port(port_name).ok_or_else(|| bad(format!("unknown service: {port_name}/tcp")))?;
    let hosts: Vec<String> = match host {
        Some(h) if !h.is_empty() && h != "*" => vec![h.to_string()],
        _ => cfg.get_list(names::INET_INTERFACES),
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for h in &hosts {
        for ip in interface_ips(h, protocols).ok_or_else(|| MasterError::Host {
            path: path.clone(),
            line: svc.line,
            service: svc.name.clone(),
            host: h.clone(),
        })? {
            let a = SocketAddr::new(ip, port);
            if seen.insert(a) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// The IP addresses one `inet_interfaces` word stands for (Postfix inet_proto.c:
/// `all` is the wildcard per protocol, `loopback-only` the loopback addresses).
fn interface_ips(word: &str, protocols: Protocols) -> Option<Vec<IpAddr>> {
    let mut ips: Vec<IpAddr> = match word.to_ascii_lowercase().as_str() {
        "all" => vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ],
        "loopback-only" => vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
        _ => {
            let bare = word
                .strip_prefix('[')
                .and_then(|w| w.strip_suffix(']'))
                .unwrap_or(word);
            match bare.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => (bare, 0u16)
                    .to_socket_addrs()
                    .ok()?
                    .map(|a| a.ip())
                    .collect(),
            }
        }
    };
    ips.retain(|ip| protocols.wants(ip));
    if ips.is_empty() && !matches!(word, "all" | "loopback-only") {
        return None;
    }
    Some(ips)
}

/// Binds one listener: SO_REUSEADDR so a restart does not wait for TIME_WAIT,
/// IPV6_V6ONLY so `[::]` and `0.0.0.0` can both be bound, non-blocking for the
/// poll-then-accept loop.
pub fn bind(addr: SocketAddr, backlog: i32) -> Result<TcpListener, MasterError> {
    let err = |source| MasterError::Bind {
        address: addr,
        source,
    };
    let sock =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    sock.set_reuse_address(true).map_err(err)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true).map_err(err)?;
    }
    sock.bind(&addr.into()).map_err(err)?;
    sock.listen(backlog).map_err(err)?;
    sock.set_nonblocking(true).map_err(err)?;
    Ok(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        assert_eq!(split_service("smtp"), (None, "smtp"));
        assert_eq!(split_service("127.0.0.1:2525"), (Some("127.0.0.1"), "2525"));
        assert_eq!(split_service("[::1]:2525"), (Some("::1"), "2525"));
        assert_eq!(
            split_service("mx.example:smtp"),
            (Some("mx.example"), "smtp")
        );
        assert_eq!(service_port("smtp"), Some(25));
        assert_eq!(service_port("submission"), Some(587));
        assert_eq!(service_port("smtps"), Some(465));
        assert_eq!(service_port("2525"), Some(2525));
        assert_eq!(service_port("no-such-service"), None);
        assert_eq!(endpoint_label("smtp"), "25");
        assert_eq!(endpoint_label("127.0.0.1:2525"), "127.0.0.1:2525");
    }

    #[test]
    fn interfaces_follow_protocols() {
        let v4 = Protocols {
            v4: true,
            v6: false,
        };
        let both = Protocols { v4: true, v6: true };
        assert_eq!(
            interface_ips("all", v4).unwrap(),
            [IpAddr::V4(Ipv4Addr::UNSPECIFIED)]
        );
        assert_eq!(interface_ips("loopback-only", both).unwrap().len(), 2);
        assert_eq!(
            interface_ips("[::1]", both).unwrap(),
            [IpAddr::V6(Ipv6Addr::LOCALHOST)]
        );
        assert!(interface_ips("::1", v4).is_none());
    }
}
