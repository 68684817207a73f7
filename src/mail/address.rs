//! RFC 5321 envelope addresses: the `<path>` of MAIL FROM and RCPT TO, parsed into a
//! null path or a mailbox (local part in Postfix's unquoted internal form, domain
//! name or address literal), with the checks relay control relies on.
//!
//! Mirrors Postfix's global/quote_821_local.c, tok822 address parsing as used by
//! smtpd.c (source routes dropped), and util/valid_hostname.c. Reads no main.cf
//! parameters (callers decide with `strict_rfc821_envelopes`, `smtputf8_enable`).
//! Implements RFC 5321 sections 4.1.2 (Path, Mailbox, Local-part, address literals)
//! and 4.1.3, RFC 6531 section 3.3 (UTF-8 local parts and domains).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use thiserror::Error;

/// Why an address was refused; carries the offending text.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AddressError {
    #[error("malformed source route in {0:?}")]
    Route(String),
    #[error("unterminated or malformed quoted local part in {0:?}")]
    Quote(String),
    #[error("bad local part in {0:?}")]
    LocalPart(String),
    #[error("bad domain in {0:?}")]
    Domain(String),
    #[error("bad address literal in {0:?}")]
    Literal(String),
}

/// The part after `@`: a host name or an address literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// A host name as the client wrote it (case kept for logging; compare with
    /// `matches`).
    Name(String),
    /// `[1.2.3.4]` or `[IPv6:...]` (RFC 5321 section 4.1.3).
    Literal(IpAddr),
}

impl Domain {
    /// Case-insensitive equality with a host name, as DNS names compare
    /// (RFC 4343). An address literal matches its bracketed text.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Domain::Name(n) => n.eq_ignore_ascii_case(name.trim_end_matches('.')),
            Domain::Literal(_) => self.to_string().eq_ignore_ascii_case(name),
        }
    }

    /// The name lower-cased, the form lookup tables are keyed by.
    pub fn to_lowercase(&self) -> String {
        match self {
            Domain::Name(n) => n.to_lowercase(),
            Domain::Literal(_) => self.to_string().to_lowercase(),
        }
    }

    /// Fully qualified as `reject_non_fqdn_*` means it: a valid host name with at
    /// least one dot, or an address literal (as Postfix smtpd_check.c).
    pub fn is_fqdn(&self) -> bool {
        match self {
            Domain::Name(n) => n.contains('.'),
            Domain::Literal(_) => true,
        }
    }

    fn is_ascii(&self) -> bool {
        match self {
            Domain::Name(n) => n.is_ascii(),
            Domain::Literal(_) => true,
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Name(n) => f.write_str(n),
            Domain::Literal(IpAddr::V4(a)) => write!(f, "[{a}]"),
            Domain::Literal(IpAddr::V6(a)) => write!(f, "[IPv6:{a}]"),
        }
    }
}

/// A mailbox: local part (unquoted internal form) and an optional domain (RFC 5321
/// allows `<Postmaster>` without one in RCPT TO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    local: String,
    domain: Option<Domain>,
}

impl Mailbox {
    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> Option<&Domain> {
        self.domain.as_ref()
    }

    /// True when the domain is present and fully qualified (see `Domain::is_fqdn`).
    pub fn is_fqdn(&self) -> bool {
        self.domain.as_ref().is_some_and(Domain::is_fqdn)
    }

    /// Sender-specified routing in the local part: `user%elsewhere`,
    /// `elsewhere!user`, `"user@elsewhere"`. Such an address must never count as
    /// a local or relay-permitted destination, whatever its domain (as Postfix's
    /// permit_auth_destination and the resolver's "routed" flag).
    pub fn has_routing_chars(&self) -> bool {
        self.local.contains(['%', '!', '@'])
    }

    /// Non-ASCII in local part or domain: the transaction needs SMTPUTF8
    /// (RFC 6531 section 3.3).
    pub fn needs_smtputf8(&self) -> bool {
        !self.local.is_ascii() || self.domain.as_ref().is_some_and(|d| !d.is_ascii())
    }

    /// The local part as it must be written in SMTP: quoted when it is not a valid
    /// dot-string (as Postfix quote_821_local).
    pub fn quoted_local(&self) -> String {
        if is_dot_string(&self.local) {
            return self.local.clone();
        }
        let mut q = String::with_capacity(self.local.len() + 2);
        q.push('"');
        for c in self.local.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted_local())?;
        if let Some(d) = &self.domain {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// A reverse- or forward-path: the null path `<>` or a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    Null,
    Mailbox(Mailbox),
}

impl Path {
    pub fn is_null(&self) -> bool {
        matches!(self, Path::Null)
    }

    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            Path::Null => None,
            Path::Mailbox(m) => Some(m),
        }
    }
}

impl fmt::Display for Path {
    /// Without angle brackets, as Postfix logs it inside `from=<...>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Null => Ok(()),
            Path::Mailbox(m) => m.fmt(f),
        }
    }
}

/// Parses the text between `<` and `>`: empty is the null path; an
/// `@a,@b:` source route is dropped (RFC 5321 section 4.1.1.3 says to ignore it,
/// and Postfix does); the rest is `local@domain` or a bare local part.
pub fn parse_path(text: &str) -> Result<Path, AddressError> {
    if text.is_empty() {
        return Ok(Path::Null);
    }
    let rest = strip_source_route(text)?;
    parse_mailbox(rest).map(Path::Mailbox)
}

fn strip_source_route(text: &str) -> Result<&str, AddressError> {
    if !text.starts_with('@') {
        return Ok(text);
    }
    let bad = || AddressError::Route(text.to_string());
    let (route, rest) = text.split_once(':').ok_or_else(bad)?;
    for hop in route.split(',') {
        let name = hop.strip_prefix('@').ok_or_else(bad)?;
        parse_domain(name).map_err(|_| bad())?;
    }
    if rest.is_empty() {
        return Err(bad());
    }
    Ok(rest)
}

/// Parses `local@domain` or a bare local part (no source route).
pub fn parse_mailbox(text: &str) -> Result<Mailbox, AddressError> {
    let (local, domain_text) = if let Some(quoted) = text.strip_prefix('"') {
        let (local, after) = unquote(quoted).ok_or_else(|| AddressError::Quote(text.into()))?;
        match after {
            "" => (local, None),
            a => match a.strip_prefix('@') {
                Some(d) => (local, Some(d)),
                None => return Err(AddressError::Quote(text.into())),
            },
        }
    } else {
        // The rightmost '@' separates the domain, so `user@elsewhere@here` keeps
        // `user@elsewhere` as local part and is flagged by has_routing_chars
        // instead of being mistaken for a plain address at `here`.
        let (local, domain) = match text.rsplit_once('@') {
            Some((l, d)) => (l, Some(d)),
            None => (text, None),
        };
        if !local.split('@').all(is_dot_string) {
            return Err(AddressError::LocalPart(text.into()));
        }
        (local.to_string(), domain)
    };
    let domain = match domain_text {
        None => None,
        Some(d) => Some(parse_domain(d)?),
    };
    if local.is_empty() && domain.is_none() {
        return Err(AddressError::LocalPart(text.into()));
    }
    Ok(Mailbox { local, domain })
}

/// Reads a quoted string body up to the closing quote; returns the unquoted text
/// and what follows. Backslash escapes any printable character (RFC 5321
/// quoted-pairSMTP); control characters are refused.
fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                if e.is_control() {
                    return None;
                }
                out.push(e);
            }
            c if c.is_control() => return None,
            c => out.push(c),
        }
    }
    None
}

/// RFC 5321 Dot-string (atoms of atext joined by single dots), with UTF-8 allowed
/// in atoms per RFC 6531.
fn is_dot_string(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|atom| {
            !atom.is_empty()
                && atom.chars().all(|c| {
                    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
                })
        })
}

/// Parses a domain: an address literal in brackets or a host name of
/// letter/digit/hyphen labels (non-ASCII labels allowed for SMTPUTF8), as Postfix
/// valid_hostname: labels 1-63 octets, no leading or trailing hyphen, 255 in all.
pub fn parse_domain(text: &str) -> Result<Domain, AddressError> {
    if let Some(inner) = text.strip_prefix('[') {
        let bad = || AddressError::Literal(text.to_string());
        let inner = inner.strip_suffix(']').ok_or_else(bad)?;
        let ip = match inner.get(..5) {
            Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
                IpAddr::V6(inner[5..].parse::<Ipv6Addr>().map_err(|_| bad())?)
            }
            _ => IpAddr::V4(inner.parse::<Ipv4Addr>().map_err(|_| bad())?),
        };
        return Ok(Domain::Literal(ip));
    }
    let bad = || AddressError::Domain(text.to_string());
    // One trailing dot (the DNS root) is dropped, as Postfix's address rewriting
    // does; `example.com..` stays an error.
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() || text.len() > 255 {
        return Err(bad());
    }
    for label in text.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| {
                c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && !c.is_control())
            });
        if !ok {
            return Err(bad());
        }
    }
    // An all-numeric last label is an IP address written without brackets
    // (as Postfix valid_hostname refuses "1.2.3.4" as a host name).
    if text
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    Ok(Domain::Name(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(s: &str) -> Mailbox {
        match parse_path(s).unwrap() {
            Path::Mailbox(m) => m,
            Path::Null => panic!("null path for {s}"),
        }
    }

    #[test]
    fn plain_null_and_bare_local() {
        assert_eq!(parse_path("").unwrap(), Path::Null);
        let m = mb("User@Example.COM");
        assert_eq!(m.local(), "User");
        assert!(m.domain().unwrap().matches("example.com"));
        assert_eq!(m.domain().unwrap().to_lowercase(), "example.com");
        assert_eq!(m.to_string(), "User@Example.COM");
        assert!(m.is_fqdn());
        let p = mb("Postmaster");
        assert!(p.domain().is_none() && !p.is_fqdn());
        assert!(!mb("user@localhost").is_fqdn());
    }

    #[test]
    fn source_routes_are_dropped() {
        let m = mb("@relay.example,@b.example:user@example.org");
        assert_eq!(m.to_string(), "user@example.org");
        assert!(parse_path("@relay.example:").is_err());
        assert!(parse_path("@relay.example,b:user@x.org").is_err());
        assert!(parse_path("@:user@x.org").is_err());
    }

    #[test]
    fn quoted_local_parts_are_unquoted_and_flagged() {
        let m = mb("\"john doe\"@example.com");
        assert_eq!(m.local(), "john doe");
        assert_eq!(m.to_string(), "\"john doe\"@example.com");
        assert_eq!(mb("\"plain\"@example.com").to_string(), "plain@example.com");
        let trick = mb("\"user@elsewhere.example\"@mydomain.example");
        assert!(trick.has_routing_chars());
        assert_eq!(mb("\"a\\\"b\"@x.org").local(), "a\"b");
        assert!(parse_path("\"unterminated@x.org").is_err());
        assert!(parse_path("\"a\"b@x.org").is_err());
        assert!(parse_path("\"a\x01\"@x.org").is_err());
    }

    #[test]
    fn routing_tricks_are_flagged() {
        assert!(mb("user%elsewhere.example@mydomain.example").has_routing_chars());
        assert!(mb("elsewhere.example!user@mydomain.example").has_routing_chars());
        let m = mb("user@elsewhere.example@mydomain.example");
        assert_eq!(m.local(), "user@elsewhere.example");
        assert!(m.domain().unwrap().matches("mydomain.example"));
        assert!(m.has_routing_chars());
        assert!(!mb("first.last+tag@example.com").has_routing_chars());
    }

    #[test]
    fn address_literals() {
        let m = mb("user@[192.0.2.1]");
        assert_eq!(
            m.domain(),
            Some(&Domain::Literal("192.0.2.1".parse().unwrap()))
        );
        assert!(m.is_fqdn());
        let m = mb("user@[IPv6:2001:db8::1]");
        assert_eq!(m.to_string(), "user@[IPv6:2001:db8::1]");
        assert!(parse_path("user@[300.1.1.1]").is_err());
        assert!(
            parse_path("user@[2001:db8::1]").is_err(),
            "IPv6 needs its tag"
        );
        assert!(parse_path("user@[192.0.2.1").is_err());
        assert!(parse_path("user@192.0.2.1").is_err());
    }

    #[test]
    fn bad_syntax_is_refused() {
        for s in [
            "user@",
            "@example.com",
            "us er@example.com",
            "user@exa mple.com",
            "user@-example.com",
            "user@example..com",
            "a..b@example.com",
            ".a@example.com",
            "a<b@example.com",
            "a,b@example.com",
        ] {
            assert!(parse_path(s).is_err(), "{s}");
        }
        assert_eq!(mb("user@Example.COM.").to_string(), "user@Example.COM");
        assert!(parse_path("user@example.com..").is_err());
        assert!(parse_path("user@.").is_err());
        let long_label = format!("user@{}.com", "a".repeat(64));
        assert!(parse_path(&long_label).is_err());
    }

    #[test]
    fn smtputf8_addresses() {
        let m = mb("jöran@exämple.de");
        assert!(m.needs_smtputf8());
        assert!(m.is_fqdn());
        assert!(!mb("joran@example.de").needs_smtputf8());
    }
}
