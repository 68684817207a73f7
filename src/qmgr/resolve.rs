//! Recipient -> (transport, nexthop), as trivial-rewrite(8) answers qmgr: the
//! address class decides the default transport, `transport_maps` overrides it.
//!
//! Mirrors Postfix trivial-rewrite `resolve.c` (address classes, relayhost, the
//! virtual-alias "User unknown" error) and `transport.c` (transport_maps search
//! order and the `transport:nexthop` result rules of transport(5)). The class
//! itself comes from smtpd's relay-control resolver, so both agree on what is
//! local. Reads `local_transport`, `virtual_transport`, `relay_transport`,
//! `default_transport`, `relayhost`, `transport_maps`, `recipient_delimiter`,
//! `owner_request_special`, `double_bounce_sender` (where an extension is
//! stripped, split_addr.c), `parent_domain_matches_subdomains`, and through the class resolver
//! `mydestination`, `inet_interfaces`, `proxy_interfaces`,
//! `virtual_alias_domains`, `virtual_mailbox_domains`, `relay_domains`.

use thiserror::Error;

use super::names;
use crate::config::{Config, ConfigError};
use crate::mail::extension::Splitter;
use crate::maps::keys::access_host_keys;
use crate::maps::{MapError, MapList, OpenFlags};
use crate::smtpd::restrictions::relay::{Class, Resolver};
use crate::smtpd::restrictions::{parent_matches, RestrictionError};

/// Where one recipient goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// A master.cf service name (`local`, `smtp`, `error`, ...).
    pub transport: String,
    /// Transport-specific: a domain or `[host]:port`, or the text of `error:`/`discard:`.
    pub nexthop: String,
}

/// Why the router could not be built; each variant names the parameter.
#[derive(Debug, Error)]
pub enum ResolveError {
    #[error("address classes: {0}")]
    Classes(#[from] RestrictionError),
    #[error("parameter {param}: {source}")]
    Table { param: String, source: MapError },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The reason Postfix gives for an address in a virtual alias domain that
/// cleanup did not rewrite (resolve.c, RESOLVE_CLASS_ALIAS).
pub const UNKNOWN_VIRTUAL_ALIAS: &str = "5.1.1 User unknown in virtual alias table";

/// trivial-rewrite's resolver for qmgr.
pub struct Router {
    classes: Resolver,
    transport_maps: Option<MapList>,
    local_transport: String,
    virtual_transport: String,
    relay_transport: String,
    default_transport: String,
    relayhost: String,
    split: Splitter,
    parent: bool,
}

/// Splits `transport:nexthop` at the first colon; no colon means no nexthop.
fn split(value: &str) -> (&str, &str) {
    value.split_once(':').unwrap_or((value, ""))
}

impl Router {
    pub fn new(cfg: &Config) -> Result<Router, ResolveError> {
        let maps = cfg.get(names::TRANSPORT_MAPS);
        let transport_maps = if maps.trim().is_empty() {
            None
        } else {
            Some(
                MapList::open(&maps, OpenFlags::default()).map_err(|source| {
                    ResolveError::Table {
                        param: names::TRANSPORT_MAPS.into(),
                        source,
                    }
                })?,
            )
        };
        Ok(Router {
            classes: Resolver::new(cfg, OpenFlags::default())?,
            transport_maps,
            local_transport: cfg.try_get(names::LOCAL_TRANSPORT)?,
            virtual_transport: cfg.try_get(names::VIRTUAL_TRANSPORT)?,
            relay_transport: cfg.try_get(names::RELAY_TRANSPORT)?,
            default_transport: cfg.try_get(names::DEFAULT_TRANSPORT)?,
            relayhost: cfg.try_get(names::RELAYHOST)?,
            split: cfg.address_splitter()?,
            parent: parent_matches(cfg, names::TRANSPORT_MAPS),
        })
    }

    /// Resolves one envelope recipient (no angle brackets).
    pub fn route(&self, rcpt: &str) -> Result<Route, MapError> {
        let r = self.classes.resolve(rcpt)?;
        let domain = r.domain.clone();
        // The transport parameter's own nexthop wins over relayhost, which wins
        // over the recipient domain (postconf(5) default_transport).
        let with_default = |param: &str, relayhost: bool| {
            let (t, n) = split(param);
            let nexthop = if !n.is_empty() {
                n.to_string()
            } else if relayhost && !self.relayhost.is_empty() {
                self.relayhost.clone()
            } else {
                domain.clone()
            };
            Route {
                transport: t.to_string(),
                nexthop,
            }
        };
        let route = match r.class {
            Class::Local => with_default(&self.local_transport, false),
            // resolve.c: transport_maps never override this class.
            Class::VirtualAlias => {
                return Ok(Route {
                    transport: "error".into(),
                    nexthop: UNKNOWN_VIRTUAL_ALIAS.into(),
                })
            }
            Class::VirtualMailbox => with_default(&self.virtual_transport, false),
            Class::Relay => with_default(&self.relay_transport, true),
            Class::Default => with_default(&self.default_transport, true),
        };
        let address = if r.domain.is_empty() {
            r.local.clone()
        } else {
            format!("{}@{}", r.local, r.domain)
        };
        match self.lookup(&address, &r.domain)? {
            Some(value) => Ok(apply(route, &value, &r.domain)),
            None => Ok(route),
        }
    }

    /// transport(5) search order: `user+ext@domain`, `user@domain`, `domain`,
    /// `.parent` (or bare parents with parent matching), `*`.
    fn lookup(&self, address: &str, domain: &str) -> Result<Option<String>, MapError> {
        let Some(maps) = &self.transport_maps else {
            return Ok(None);
        };
        let address = address.to_lowercase();
        let mut keys = vec![address.clone()];
        if address.contains('@') {
            if let Some((stripped, _)) = self.split.strip(&address) {
                keys.push(stripped);
            }
        }
        if !domain.is_empty() {
            keys.extend(access_host_keys(domain, self.parent));
        }
        keys.push("*".into());
        Ok(maps.find_first(&keys)?.map(|(_, v)| v))
    }
}

/// transport(5) "RESULT FORMAT": a null field keeps the default; a transport
/// without a nexthop resets the nexthop to the recipient domain.
fn apply(default: Route, value: &str, domain: &str) -> Route {
    let (t, n) = split(value.trim());
    match (t.is_empty(), n.is_empty()) {
        (true, true) => default,
        (true, false) => Route {
            transport: default.transport,
            nexthop: n.to_string(),
        },
        (false, true) => Route {
            transport: t.to_string(),
            nexthop: domain.to_string(),
        },
        (false, false) => Route {
            transport: t.to_string(),
            nexthop: n.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn router(main: &str) -> Router {
        let text = format!(
            "myhostname = mx.example.com\nmydomain = example.com\ninet_interfaces = 127.0.0.1\n{main}\n"
        );
        let main = crate::config::MainCf::parse(Path::new("main.cf"), text.as_bytes()).unwrap();
        let cfg = Config::from_main(Path::new("/nonexistent"), main).unwrap();
        Router::new(&cfg).unwrap()
    }

    fn route(r: &Router, rcpt: &str) -> (String, String) {
        let x = r.route(rcpt).unwrap();
        (x.transport, x.nexthop)
    }

    fn pair(t: &str, n: &str) -> (String, String) {
        (t.into(), n.into())
    }

    #[test]
    fn address_classes() {
        let r = router(
            "virtual_alias_domains = alias.example\nvirtual_mailbox_domains = hosted.example\n\
             relay_domains = relayed.example",
        );
        assert_eq!(
            route(&r, "u@mx.example.com"),
            pair("local", "mx.example.com")
        );
        assert_eq!(route(&r, "u@localhost"), pair("local", "mx.example.com"));
        assert_eq!(route(&r, "u@[127.0.0.1]"), pair("local", "mx.example.com"));
        assert_eq!(
            route(&r, "u@alias.example"),
            pair("error", "5.1.1 User unknown in virtual alias table")
        );
        assert_eq!(
            route(&r, "u@hosted.example"),
            pair("virtual", "hosted.example")
        );
        assert_eq!(
            route(&r, "u@relayed.example"),
            pair("relay", "relayed.example")
        );
        assert_eq!(route(&r, "u@Other.Example"), pair("smtp", "other.example"));
    }

    #[test]
    fn relayhost_and_transport_nexthops() {
        let r = router("relayhost = [smarthost.example]:587\nrelay_domains = relayed.example");
        assert_eq!(
            route(&r, "u@other.example"),
            pair("smtp", "[smarthost.example]:587")
        );
        assert_eq!(
            route(&r, "u@relayed.example"),
            pair("relay", "[smarthost.example]:587")
        );
        let r = router("relayhost = [smarthost.example]\ndefault_transport = smtp:[out.example]");
        assert_eq!(route(&r, "u@other.example"), pair("smtp", "[out.example]"));
        let r = router("local_transport = local");
        assert_eq!(route(&r, "u@localhost"), pair("local", "localhost"));
    }

    #[test]
    fn transport_maps_search_order_and_results() {
        let r = router(
            "recipient_delimiter = +\nvirtual_alias_domains = alias.example\n\
             transport_maps = inline:{ {full+x@a.example=discard:full}, \
             {user@a.example=error:5.1.2 base}, {a.example=retry:domain}, \
             {.b.example=slow:}, {c.example=:[gw.example]}, {d.example=:}, \
             {alias.example=discard:}, {*=error:star} }",
        );
        assert_eq!(route(&r, "full+x@a.example"), pair("discard", "full"));
        assert_eq!(route(&r, "user+y@a.example"), pair("error", "5.1.2 base"));
        assert_eq!(route(&r, "other@a.example"), pair("retry", "domain"));
        assert_eq!(route(&r, "u@x.b.example"), pair("slow", "x.b.example"));
        assert_eq!(route(&r, "u@b.example"), pair("error", "star"));
        assert_eq!(route(&r, "u@c.example"), pair("smtp", "[gw.example]"));
        assert_eq!(route(&r, "u@d.example"), pair("smtp", "d.example"));
        assert_eq!(
            route(&r, "u@alias.example"),
            pair("error", UNKNOWN_VIRTUAL_ALIAS),
            "transport_maps do not override the virtual alias class"
        );
        assert_eq!(route(&r, "u@localhost"), pair("error", "star"));
    }

    #[test]
    fn parent_matching_for_transport_maps() {
        let r = router(
            "parent_domain_matches_subdomains = transport_maps\n\
             transport_maps = inline:{ {b.example=discard:parent} }",
        );
        assert_eq!(route(&r, "u@x.b.example"), pair("discard", "parent"));
        assert_eq!(route(&r, "u@b.example"), pair("discard", "parent"));
    }
}
