//! The partial-key search orders other modules use on access and policy tables.
//!
//! Mirrors the lookup loops of Postfix `smtpd/smtpd_check.c` (check_domain_access,
//! check_addr_access, check_mail_access) as documented in access(5), and of
//! `smtp/smtp_tls_policy.c` as documented for `smtp_tls_policy_maps` in
//! postconf(5). Each function is pure: it returns the keys in the order they
//! are to be looked up; `maps::lookup_first` walks them. Partial keys make
//! sense for indexed tables (hash, btree, lmdb, texthash, inline); a caller using
//! a `regexp:`/`pcre:`/`cidr:` table looks up the full key only, as Postfix does.
//!
//! main.cf parameters read (passed in by the caller): `parent_domain_matches_subdomains`
//! (whether it lists `smtpd_access_maps`), `recipient_delimiter`.

// The daemons that call these (smtpd restrictions, smtp TLS policy) are being
// built on other branches; until they merge, only tests use them.
#![allow(dead_code)]

use std::net::IpAddr;

use crate::mail::extension::Splitter;

/// Host-name keys, access(5) "DOMAIN NAME PATTERNS": the full name, then each
/// parent domain — bare (`example.com`) when `parent_matches_subdomains` (the
/// Postfix 3.7 default lists `smtpd_access_maps`), else with a leading dot
/// (`.example.com`). A trailing dot on the name is dropped.
pub fn access_host_keys(host: &str, parent_matches_subdomains: bool) -> Vec<String> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let mut keys = vec![host.to_string()];
    let mut rest = host;
    while let Some(i) = rest[1.min(rest.len())..].find('.').map(|i| i + 1) {
        rest = &rest[i..];
        if parent_matches_subdomains {
            if rest.len() > 1 {
                keys.push(rest[1..].to_string());
            }
        } else {
            keys.push(rest.to_string());
        }
    }
    keys
}

/// IP-address keys, access(5) "HOST NAME/ADDRESS PATTERNS": IPv4 `1.2.3.4`,
/// `1.2.3`, `1.2`, `1`; IPv6 in compressed form, then repeatedly cut at the last
/// `:` (`2001:db8::1`, `2001:db8:`, `2001:db8`, `2001`). An IPv4-mapped IPv6
/// address is treated as IPv4, as Postfix does for the client address. Text that
/// is not an address gives itself only.
pub fn access_ip_keys(ip: &str) -> Vec<String> {
    let text = ip.trim_start_matches('[').trim_end_matches(']');
    let addr: Option<IpAddr> = text.parse().ok();
    let (text, sep) = match addr {
        Some(IpAddr::V4(v4)) => (v4.to_string(), '.'),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => (v4.to_string(), '.'),
            None => (v6.to_string(), ':'),
        },
        None => return vec![ip.to_string()],
    };
    let mut keys = vec![text.clone()];
    let mut cur = text.as_str();
    while let Some(i) = cur.rfind(sep) {
        cur = &cur[..i];
        if cur.is_empty() {
            break;
        }
        keys.push(cur.to_string());
    }
    keys
}

/// Email-address keys, access(5) "EMAIL ADDRESS PATTERNS": `user+ext@domain`,
/// `user@domain`, the domain and its parents (as `access_host_keys`),
/// `user+ext@`, `user@`. `split` says where the extension starts
/// (`recipient_delimiter`, split_addr.c). An address without `@` gives the local-part
/// forms only. The null sender is the caller's business
/// (`smtpd_null_access_lookup_key`).
pub fn access_address_keys(
    address: &str,
    split: &Splitter,
    parent_matches_subdomains: bool,
) -> Vec<String> {
    let (local, domain) = match address.rfind('@') {
        Some(i) => (&address[..i], Some(&address[i + 1..])),
        None => (address, None),
    };
    let base = split.base(local);
    let mut keys = Vec::new();
    match domain {
        Some(domain) => {
            keys.push(address.to_string());
            if let Some(b) = base {
                keys.push(format!("{b}@{domain}"));
            }
            if !domain.is_empty() {
                keys.extend(access_host_keys(domain, parent_matches_subdomains));
            }
        }
        None => keys.push(address.to_string()),
    }
    keys.push(format!("{local}@"));
    if let Some(b) = base {
        keys.push(format!("{b}@"));
    }
    keys
}

/// `smtp_tls_policy_maps` keys for a next-hop in transport syntax: an explicit
/// `[host]:port`, `[host]` or `host:port` is looked up as is and only so; a bare
/// domain is looked up, then `.parent` forms walking up (`.example.com`, `.com`),
/// as postconf(5) smtp_tls_policy_maps and Postfix smtp_tls_policy.c do.
pub fn tls_policy_keys(nexthop: &str) -> Vec<String> {
    if nexthop.starts_with('[') || nexthop.contains(':') {
        return vec![nexthop.to_string()];
    }
    let name = nexthop.strip_suffix('.').unwrap_or(nexthop);
    let mut keys = vec![name.to_string()];
    let mut rest = name;
    while let Some(i) = rest[1.min(rest.len())..].find('.').map(|i| i + 1) {
        rest = &rest[i..];
        if rest.len() > 1 {
            keys.push(rest.to_string());
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_with_parent_matching() {
        // access(5): "domain.tld also matches subdomains" when
        // parent_domain_matches_subdomains lists smtpd_access_maps (3.7 default).
        assert_eq!(
            access_host_keys("a.b.example.com", true),
            vec!["a.b.example.com", "b.example.com", "example.com", "com"]
        );
    }

    #[test]
    fn host_keys_with_dot_forms() {
        // access(5): ".domain.tld matches subdomains ... when smtpd_access_maps
        // is not listed".
        assert_eq!(
            access_host_keys("a.example.com.", false),
            vec!["a.example.com", ".example.com", ".com"]
        );
        assert_eq!(access_host_keys("localhost", false), vec!["localhost"]);
    }

    #[test]
    fn ipv4_keys_truncate_octets() {
        // access(5): "repeatedly truncating the last .octet".
        assert_eq!(
            access_ip_keys("1.2.3.4"),
            vec!["1.2.3.4", "1.2.3", "1.2", "1"]
        );
        assert_eq!(
            access_ip_keys("::ffff:10.0.0.1"),
            vec!["10.0.0.1", "10.0.0", "10.0", "10"]
        );
    }

    #[test]
    fn ipv6_keys_truncate_octet_pairs() {
        // access(5): "repeatedly truncating the last :octetpair from the
        // compressed-form remote IPv6 host address string".
        assert_eq!(
            access_ip_keys("2001:DB8:0:0:1:0:0:1"),
            vec![
                "2001:db8::1:0:0:1",
                "2001:db8::1:0:0",
                "2001:db8::1:0",
                "2001:db8::1",
                "2001:db8:",
                "2001:db8",
                "2001"
            ]
        );
        assert_eq!(access_ip_keys("not-ip"), vec!["not-ip"]);
    }

    #[test]
    fn address_keys_in_access_5_order() {
        let plus = Splitter::new("+", true, "double-bounce");
        let dash = Splitter::new("-", true, "double-bounce");
        assert_eq!(
            access_address_keys("user+ext@mail.example.com", &plus, true),
            vec![
                "user+ext@mail.example.com",
                "user@mail.example.com",
                "mail.example.com",
                "example.com",
                "com",
                "user+ext@",
                "user@",
            ]
        );
        assert_eq!(
            access_address_keys("user@example.com", &Splitter::default(), false),
            vec!["user@example.com", "example.com", ".com", "user@"]
        );
        // Mailing-list names are not split at "-" (Postfix split_addr).
        assert_eq!(
            access_address_keys("owner-list@x", &dash, true),
            vec!["owner-list@x", "x", "owner-list@"]
        );
        // Nor is MAILER-DAEMON; with + as the delimiter owner-list+x is split.
        assert_eq!(
            access_address_keys("MAILER-DAEMON@x", &dash, true),
            vec!["MAILER-DAEMON@x", "x", "MAILER-DAEMON@"]
        );
        assert_eq!(
            access_address_keys("owner-list+x@y", &plus, true),
            vec![
                "owner-list+x@y",
                "owner-list@y",
                "y",
                "owner-list+x@",
                "owner-list@"
            ]
        );
        assert_eq!(
            access_address_keys("root", &plus, true),
            vec!["root", "root@"]
        );
        // owner_request_special = no: the list convention splits at "-".
        assert_eq!(
            access_address_keys("owner-list@x", &Splitter::new("-", false, ""), true),
            vec!["owner-list@x", "owner@x", "x", "owner-list@", "owner@"]
        );
    }

    #[test]
    fn tls_policy_keys_as_postconf_5() {
        assert_eq!(
            tls_policy_keys("mail.example.com"),
            vec!["mail.example.com", ".example.com", ".com"]
        );
        assert_eq!(
            tls_policy_keys("[mx.example.com]:587"),
            vec!["[mx.example.com]:587"]
        );
        assert_eq!(
            tls_policy_keys("[mx.example.com]"),
            vec!["[mx.example.com]"]
        );
        assert_eq!(tls_policy_keys("example.com:25"), vec!["example.com:25"]);
    }
}
