//! Who the client is: its address as logged (`host[addr]`, `[IPv6:...]` in
//! Received), and its name by reverse lookup confirmed by a forward lookup, as
//! Postfix's smtpd_peer.c does through the system resolver.
//!
//! Mirrors Postfix smtpd_peer.c (`smtpd_peer_from_default`, "unknown" when the
//! lookup fails or the forward name does not map back, `localhost` for the
//! loopback address) and its "hostname X does not resolve to address Y"
//! warning. Reads, through the session, `smtpd_peername_lookup` and
//! `smtpd_client_port_logging`. RFC 5321 section 4.4 (the address literal in the
//! Received `from` clause), RFC 5321 section 4.1.3 (`IPv6:` literals).

use std::ffi::CStr;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The client as smtpd names it.
#[derive(Debug, Clone)]
pub struct Client {
    /// Verified host name or `unknown`.
    pub name: String,
    pub addr: IpAddr,
    pub port: u16,
    /// `name[addr]` (with `:port` when `smtpd_client_port_logging`).
    pub namaddr: String,
}

impl Client {
    /// Looks the client up (when `lookup`) and builds its names.
    pub fn identify(peer: SocketAddr, lookup: bool, port_logging: bool) -> Client {
        let addr = canonical(peer.ip());
        let name = if lookup {
            verified_name(addr).unwrap_or_else(|| "unknown".into())
        } else {
            "unknown".into()
        };
        let mut namaddr = format!("{name}[{addr}]");
        if port_logging {
            namaddr.push_str(&format!(":{}", peer.port()));
        }
        Client {
            name,
            addr,
            port: peer.port(),
            namaddr,
        }
    }

    /// The address as written in the Received header: `1.2.3.4`, `IPv6:::1`.
    pub fn rfc_addr(&self) -> String {
        match self.addr {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("IPv6:{a}"),
        }
    }
}

/// `::ffff:1.2.3.4` is the IPv4 client it stands for, as Postfix logs it.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Reverse lookup, then forward confirmation: the name counts only when one of
/// its addresses is the client's (Postfix: "hostname X does not resolve to
/// address Y" and the client stays `unknown`).
fn verified_name(addr: IpAddr) -> Option<String> {
    if addr.is_loopback() {
        // Postfix's smtpd_peer.c: loopback clients are "localhost" without DNS.
        return Some("localhost".into());
    }
    let name = reverse(addr)?;
    let forward = (name.as_str(), 0u16).to_socket_addrs().ok()?;
    let confirmed = forward.map(|sa| canonical(sa.ip())).any(|ip| ip == addr);
    if confirmed {
        Some(name)
    } else {
        ::log::warn!("hostname {name} does not resolve to address {addr}");
        None
    }
}

/// getnameinfo(3) with NI_NAMEREQD: the PTR name, or None.
fn reverse(addr: IpAddr) -> Option<String> {
    let mut host = [0 as libc::c_char; 1025];
    let rc = match addr {
        IpAddr::V4(a) => {
            // SAFETY: an all-zero sockaddr_in is valid; we fill family and address.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
            name_info(
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>(),
                &mut host,
            )
        }
        IpAddr::V6(a) => {
            // SAFETY: an all-zero sockaddr_in6 is valid; we fill family and address.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = a.octets();
            name_info(
                (&sa as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>(),
                &mut host,
            )
        }
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo NUL-terminates `host` on success.
    let name = unsafe { CStr::from_ptr(host.as_ptr()) };
    let name = name
        .to_str()
        .ok()?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    // A PTR that is itself an address literal is no name (Postfix valid_hostname).
    if name.is_empty() || name.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some(name)
}

/// getnameinfo(3) on a sockaddr the caller built.
fn name_info(sa: *const libc::sockaddr, len: usize, host: &mut [libc::c_char; 1025]) -> i32 {
    // SAFETY: `sa` points to a live sockaddr of `len` bytes (built by the caller
    // on its stack); `host` is a writable buffer whose length we pass.
    unsafe {
        libc::getnameinfo(
            sa,
            len as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_localhost_and_lookup_can_be_off() {
        let sa: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let c = Client::identify(sa, true, false);
        assert_eq!(c.namaddr, "localhost[127.0.0.1]");
        let c = Client::identify(sa, false, true);
        assert_eq!(c.namaddr, "unknown[127.0.0.1]:4321");
        assert_eq!(c.rfc_addr(), "127.0.0.1");
    }

    #[test]
    fn mapped_ipv4_is_logged_as_ipv4_and_ipv6_literal_in_received() {
        let sa: SocketAddr = "[::ffff:192.0.2.7]:25".parse().unwrap();
        let c = Client::identify(sa, false, false);
        assert_eq!(c.namaddr, "unknown[192.0.2.7]");
        let sa: SocketAddr = "[2001:db8::1]:25".parse().unwrap();
        let c = Client::identify(sa, false, false);
        assert_eq!(c.rfc_addr(), "IPv6:2001:db8::1");
    }

    #[test]
    fn documentation_address_has_no_verified_name() {
        // 192.0.2.0/24 (RFC 5737) has no PTR records: the client stays unknown.
        let sa: SocketAddr = "192.0.2.55:25".parse().unwrap();
        assert_eq!(Client::identify(sa, true, false).name, "unknown");
    }
}
