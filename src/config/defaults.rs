//! Computed defaults: the `@token` values of the parameter table, worked out as
//! Postfix does at start-up.
//!
//! Mirrors Postfix mail_params.c (check_myhostname, check_mydomainname),
//! mynetworks.c and inet_addr_local.c. Reads `mynetworks_style` and
//! `inet_protocols` (already expanded by the caller).

use std::net::IpAddr;

/// The value for a computed-default token, or `None` when `token` is not one.
pub fn computed(token: &str, style: &str, protocols: &str) -> Option<String> {
    Some(match token {
        "@myhostname" => myhostname(),
        "@mydomain" => mydomain_of(&myhostname()),
        "@mynetworks" => mynetworks(style, protocols),
        "@process_id" => std::process::id().to_string(),
        "@process_name" => process_name(),
        _ => return None,
    })
}

/// gethostname(), made fully qualified with `.localdomain` when it has no dot,
/// as Postfix 3.x check_myhostname() does.
pub fn myhostname() -> String {
    let name = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    if name.contains('.') {
        name
    } else {
        format!("{name}.localdomain")
    }
}

/// `myhostname` minus its first label (`mx.` gives the empty string, as in
/// Postfix), or `localdomain` for a name without a dot.
pub fn mydomain_of(host: &str) -> String {
    match host.split_once('.') {
        Some((_, rest)) => rest.to_string(),
        None => "localdomain".to_string(),
    }
}

static PROCESS_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the running command for the `process_name` default (`postconf`, not the
/// `postern` binary it runs in). Only the first call counts.
pub fn set_process_name(name: &str) {
    let _ = PROCESS_NAME.set(name.to_string());
}

fn process_name() -> String {
    if let Some(n) = PROCESS_NAME.get() {
        return n.clone();
    }
    std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "postern".into())
}

/// The local networks per `mynetworks_style` (`subnet`, `host` or `class`), IPv4
/// first then IPv6, IPv6 in Postfix's `[addr]/len` form, duplicates dropped.
pub fn mynetworks(style: &str, protocols: &str) -> String {
    let want_v4 = protocols.contains("all") || protocols.contains("ipv4");
    let want_v6 = protocols.contains("all") || protocols.contains("ipv6");
    let mut v4: Vec<String> = Vec::new();
    let mut v6: Vec<String> = Vec::new();
    for (addr, prefix) in interface_addresses() {
        let entry = match addr {
            IpAddr::V4(a) if want_v4 => {
                let (net, len) = match style {
                    "host" => (a, 32),
                    "class" => class_net(a, prefix),
                    _ => (mask_v4(a, prefix), prefix),
                };
                (true, format!("{net}/{len}"))
            }
            IpAddr::V6(a) if want_v6 => {
                let (net, len) = match style {
                    "host" => (a, 128),
                    _ => (mask_v6(a, prefix), prefix),
                };
                (false, format!("[{net}]/{len}"))
            }
            _ => continue,
        };
        let list = if entry.0 { &mut v4 } else { &mut v6 };
        if !list.contains(&entry.1) {
            list.push(entry.1);
        }
    }
    v4.extend(v6);
    v4.join(" ")
}

fn mask_v4(a: std::net::Ipv4Addr, prefix: u8) -> std::net::Ipv4Addr {
    let bits = u32::from(a);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    std::net::Ipv4Addr::from(bits & mask)
}

fn mask_v6(a: std::net::Ipv6Addr, prefix: u8) -> std::net::Ipv6Addr {
    let bits = u128::from(a);
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    };
    std::net::Ipv6Addr::from(bits & mask)
}

/// Class A/B/C network of an address, as Postfix's `mynetworks_style = class`
/// (class D and E addresses keep their own subnet).
fn class_net(a: std::net::Ipv4Addr, prefix: u8) -> (std::net::Ipv4Addr, u8) {
    let first = a.octets()[0];
    let len = match first {
        0..=127 => 8,
        128..=191 => 16,
        192..=223 => 24,
        _ => prefix,
    };
    (mask_v4(a, len), len)
}

/// Every configured interface address with its prefix length.
fn interface_addresses() -> Vec<(IpAddr, u8)> {
    let mut out = Vec::new();
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return out;
    };
    for ifa in addrs {
        let (Some(addr), Some(mask)) = (ifa.address, ifa.netmask) else {
            continue;
        };
        if let (Some(a), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
            let prefix = u32::from(m.ip()).count_ones() as u8;
            out.push((IpAddr::V4(a.ip()), prefix));
        } else if let (Some(a), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
            let prefix = u128::from(m.ip()).count_ones() as u8;
            out.push((IpAddr::V6(a.ip()), prefix));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_from_host() {
        assert_eq!(mydomain_of("vm.localdomain"), "localdomain");
        assert_eq!(mydomain_of("mx.a.example"), "a.example");
        assert_eq!(mydomain_of("x"), "localdomain");
        assert_eq!(mydomain_of("mx."), "");
    }

    #[test]
    fn loopback_in_subnet_style() {
        let n = mynetworks("subnet", "all");
        assert!(n.starts_with("127.0.0.0/8"), "{n}");
        let h = mynetworks("host", "ipv4");
        assert!(h.contains("127.0.0.1/32"), "{h}");
        assert!(!h.contains('['), "{h}");
    }

    #[test]
    fn masks() {
        assert_eq!(
            mask_v6("fe80::fc:ff:fe00:1".parse().unwrap(), 64).to_string(),
            "fe80::"
        );
        assert_eq!(class_net("10.1.2.3".parse().unwrap(), 24).1, 8);
    }
}
