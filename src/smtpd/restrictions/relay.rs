//! Where a recipient goes, as far as relay control cares: local (mydestination
//! or one of our own address literals), a virtual domain, a relay domain, or
//! elsewhere; and whether sender-specified routing (`%`, `!`, `@` in the local
//! part) was used. reject_unauth_destination, defer_unauth_destination and
//! permit_auth_destination decide on it.
//!
//! Mirrors Postfix `trivial-rewrite/resolve.c` (the local-domain loop that
//! strips our domain and follows `user@remote`, `user%remote`, `remote!user`,
//! and RESOLVE_FLAG_ROUTED), `global/resolve_local.c`, and
//! permit_auth_destination()/reject_unauth_destination() of
//! `smtpd/smtpd_check.c`. Reads `mydestination`, `relay_domains`,
//! `virtual_alias_domains`, `virtual_mailbox_domains`, `inet_interfaces`,
//! `proxy_interfaces`, `swap_bangpath`, `allow_percent_hack`,
//! `allow_untrusted_routing`, `myorigin`.

use std::net::IpAddr;

use crate::config::Config;
use crate::mail::address::{parse_domain, parse_path, Domain, Path};
use crate::maps::{MapError, OpenFlags};

use super::domains::DomainList;
use super::evaluate::{Eval, Outcome};
use super::names;
use super::reply::{make, st};

/// The address class, as Postfix's RESOLVE_CLASS_*.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// mydestination or our own address literal.
    Local,
    VirtualAlias,
    VirtualMailbox,
    Relay,
    /// Anywhere else.
    Default,
}

/// The outcome of resolving one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub local: String,
    /// Lower case, no trailing dot; `[addr]` for literals.
    pub domain: String,
    pub class: Class,
    /// Sender-specified routing remains in the local part of a non-local address.
    pub routed: bool,
}

pub struct Resolver {
    mydestination: DomainList,
    relay_domains: DomainList,
    virtual_alias_domains: DomainList,
    virtual_mailbox_domains: DomainList,
    own: Vec<IpAddr>,
    swap_bangpath: bool,
    percent_hack: bool,
    pub allow_untrusted_routing: bool,
    myorigin: String,
}

/// Our addresses per inet_interfaces (`all`: every interface) and proxy_interfaces.
fn own_addresses(cfg: &Config) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for w in cfg.get_list(names::INET_INTERFACES) {
        match w.to_ascii_lowercase().as_str() {
            "all" => {
                if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
                    for ifa in addrs {
                        let Some(a) = ifa.address else { continue };
                        if let Some(v4) = a.as_sockaddr_in() {
                            out.push(IpAddr::V4(v4.ip()));
                        } else if let Some(v6) = a.as_sockaddr_in6() {
                            out.push(IpAddr::V6(v6.ip()));
                        }
                    }
                }
            }
            "loopback-only" => out.extend(
                ["127.0.0.1", "::1"]
                    .iter()
                    .filter_map(|a| a.parse::<IpAddr>().ok()),
            ),
            _ => out.extend(w.trim_matches(['[', ']']).parse::<IpAddr>().ok()),
        }
    }
    for w in cfg.get_list(names::PROXY_INTERFACES) {
        out.extend(w.trim_matches(['[', ']']).parse::<IpAddr>().ok());
    }
    out
}

impl Resolver {
    pub fn new(cfg: &Config, flags: OpenFlags) -> Result<Resolver, super::RestrictionError> {
        Ok(Resolver {
            mydestination: DomainList::new(cfg, names::MYDESTINATION, flags)?,
            relay_domains: DomainList::new(cfg, names::RELAY_DOMAINS, flags)?,
            virtual_alias_domains: DomainList::new(cfg, names::VIRTUAL_ALIAS_DOMAINS, flags)?,
            virtual_mailbox_domains: DomainList::new(cfg, names::VIRTUAL_MAILBOX_DOMAINS, flags)?,
            own: own_addresses(cfg),
            swap_bangpath: cfg.get_bool(names::SWAP_BANGPATH)?,
            percent_hack: cfg.get_bool(names::PERCENT_HACK)?,
            allow_untrusted_routing: cfg.get_bool(names::ALLOW_UNTRUSTED_ROUTING)?,
            myorigin: cfg.get(names::MYORIGIN),
        })
    }

    /// resolve_local(): one of our domains or address literals.
    fn is_local(&self, domain: &str) -> Result<bool, MapError> {
        if domain.starts_with('[') {
            return Ok(match parse_domain(domain) {
                Ok(Domain::Literal(ip)) => self.own.contains(&ip),
                _ => false,
            });
        }
        self.mydestination.matches(domain)
    }

    /// Resolves `addr` (RCPT TO text without `<>`). An address that does not
    /// parse is resolved as routed mail to nowhere of ours.
    pub fn resolve(&self, addr: &str) -> Result<Resolved, MapError> {
        let parsed = match parse_path(addr) {
            Ok(Path::Mailbox(m)) => Some(match m.domain() {
                Some(d) => (m.local().to_string(), d.to_lowercase()),
                // Postfix appends @$myorigin to a bare local part.
                None => (m.local().to_string(), self.myorigin.to_lowercase()),
            }),
            // smtpd may hand over the internal form, as Postfix logs it: the
            // local part unquoted (`john doe@localhost`); split at the last @.
            _ => addr
                .rsplit_once('@')
                .filter(|(l, d)| !l.is_empty() && parse_domain(d).is_ok())
                .map(|(l, d)| (l.to_string(), d.to_lowercase())),
        };
        let (mut local, mut domain) = match parsed {
            Some(p) => p,
            None => {
                return Ok(Resolved {
                    local: addr.to_string(),
                    domain: String::new(),
                    class: Class::Default,
                    routed: true,
                })
            }
        };
        // Each pass strips one local domain; a local part cannot hold more
        // operators than characters, so this ends.
        for _ in 0..=addr.len() {
            domain = domain.trim_end_matches('.').to_lowercase();
            if domain.is_empty() || !self.is_local(&domain)? {
                break;
            }
            // Our domain: what is left of the local part decides where it goes.
            if let Some((l, d)) = local.rsplit_once('@') {
                (local, domain) = (l.to_string(), d.to_string());
            } else if self.swap_bangpath && local.contains('!') {
                let (site, user) = local.split_once('!').unwrap_or(("", &local)); // ok: contains '!'
                (local, domain) = (user.to_string(), site.to_string());
            } else if self.percent_hack && local.contains('%') {
                let (l, d) = local.rsplit_once('%').unwrap_or((&local, "")); // ok: contains '%'
                (local, domain) = (l.to_string(), d.to_string());
            } else {
                return Ok(Resolved {
                    local,
                    domain,
                    class: Class::Local,
                    routed: false,
                });
            }
        }
        // Not ours. Routing operators left in the local part mean the sender
        // chose the path: Postfix's RESOLVE_FLAG_ROUTED (whatever swap_bangpath
        // and allow_percent_hack say, the next hop might honour them).
        let routed = domain.is_empty() || local.contains(['@', '!', '%']);
        let class = if domain.is_empty() {
            Class::Default
        } else if self.virtual_alias_domains.matches(&domain)? {
            Class::VirtualAlias
        } else if self.virtual_mailbox_domains.matches(&domain)? {
            Class::VirtualMailbox
        } else if self.relay_domains.matches(&domain)? {
            Class::Relay
        } else {
            Class::Default
        };
        Ok(Resolved {
            local,
            domain,
            class,
            routed,
        })
    }

    /// permit_auth_destination's question: may anyone send mail to `addr`?
    pub fn is_auth_destination(&self, addr: &str) -> Result<bool, MapError> {
        let r = self.resolve(addr)?;
        if r.routed && !self.allow_untrusted_routing {
            return Ok(false);
        }
        Ok(r.class != Class::Default)
    }
}

/// permit_auth_destination.
pub fn permit_auth(e: &mut Eval) -> Outcome {
    let Some(rcpt) = e.f.recipient else {
        return Outcome::Dunno;
    };
    match e.r.resolver.is_auth_destination(rcpt) {
        Ok(true) => Outcome::Permit,
        Ok(false) => Outcome::Dunno,
        Err(err) => e.lookup_failed("relay", rcpt, &err),
    }
}

/// reject_unauth_destination (`relay_domains_reject_code`, 5.7.1) and
/// defer_unauth_destination (`defer_code`, 4.7.1).
pub fn reject_unauth(e: &mut Eval, code: u16, dsn: &str) -> Outcome {
    let Some(rcpt) = e.f.recipient else {
        return Outcome::Dunno;
    };
    match e.r.resolver.is_auth_destination(rcpt) {
        Ok(true) => Outcome::Dunno,
        Ok(false) => e.reject(make(
            code,
            st(dsn),
            format!("<{rcpt}>: Relay access denied"),
        )),
        Err(err) => e.lookup_failed("relay", rcpt, &err),
    }
}
