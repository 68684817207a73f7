//! virtual_alias_maps: each recipient rewritten, recursively, to the addresses
//! the tables give, with Postfix's recursion and expansion limits; the address
//! before rewriting is kept as the original recipient.
//!
//! Mirrors Postfix cleanup_map1n.c (`cleanup_map1n_internal`: an address
//! that maps to itself stops there; "unreasonable virtual_alias_maps map
//! expansion size/nesting for <addr>") with mail_addr_map.c: look up
//! `user+ext@domain`, then `user@domain`, then `@domain`; a result
//! `@otherdomain` keeps the user; an extension the matching key did not
//! have is carried over to every result when `propagate_unmatched_extensions`
//! names `virtual`. Reads, through its caller, `virtual_alias_maps`,
//! `virtual_alias_recursion_limit`, `virtual_alias_expansion_limit`,
//! `recipient_delimiter`, `owner_request_special`, `double_bounce_sender` and
//! `propagate_unmatched_extensions`. No RFC (address rewriting is local
//! policy; RFC 5321 section 3.9.1 describes aliases).

use crate::mail::extension::Splitter;
use crate::maps::{MapError, MapList};

/// Why the expansion was refused.
#[derive(Debug, thiserror::Error)]
pub enum AliasError {
    #[error("virtual_alias_maps lookup of {address}: {source}")]
    Lookup { address: String, source: MapError },
    #[error("unreasonable virtual_alias_maps map nesting for {0}")]
    Nesting(String),
    #[error("unreasonable virtual_alias_maps map expansion size for {0}")]
    Size(String),
}

/// Limits, from main.cf.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub recursion: usize,
    pub expansion: usize,
}

/// Address extensions in the look-ups, from main.cf.
#[derive(Debug, Clone, Default)]
pub struct Extensions {
    /// Where local parts split.
    pub split: Splitter,
    /// `propagate_unmatched_extensions` names `virtual`.
    pub propagate: bool,
}

/// Expands `address` through `maps`.
pub fn expand(
    maps: &MapList,
    address: &str,
    limits: Limits,
    extensions: &Extensions,
) -> Result<Vec<String>, AliasError> {
    let mut out = Vec::new();
    let rules = Rules {
        maps,
        limits,
        extensions,
        top: address,
    };
    rules.walk(address, 0, &mut out)?;
    Ok(out)
}

struct Rules<'a> {
    maps: &'a MapList,
    limits: Limits,
    extensions: &'a Extensions,
    /// The address being expanded, for errors.
    top: &'a str,
}

impl Rules<'_> {
    /// The addresses `address` maps to, if any (mail_addr_map.c).
    fn lookup(&self, address: &str) -> Result<Option<Vec<String>>, AliasError> {
        let err = |source| AliasError::Lookup {
            address: address.to_string(),
            source,
        };
        let find = |key: &str| self.maps.find(key).map_err(err);
        let stripped = self.extensions.split.strip(address);
        let (value, extension) = match find(address)? {
            Some(v) => (v, None),
            None => {
                let bare = match &stripped {
                    Some((bare, ext)) => find(bare)?.map(|v| (v, Some(*ext))),
                    None => None,
                };
                let domain = || address.rfind('@').map(|at| &address[at..]);
                match (bare, domain()) {
                    (Some(hit), _) => hit,
                    (None, Some(domain)) => match find(domain)? {
                        Some(v) => (v, stripped.as_ref().map(|(_, ext)| *ext)),
                        None => return Ok(None),
                    },
                    (None, None) => return Ok(None),
                }
            }
        };
        // `@otherdomain` keeps the user (without the extension).
        let user = match &stripped {
            Some((bare, _)) if extension.is_some() => bare.as_str(),
            _ => address,
        };
        let user = user.rfind('@').map_or(user, |at| &user[..at]);
        let carried = extension.filter(|_| self.extensions.propagate);
        let targets = value
            .split([',', ' ', '\t'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                let t = t.trim_start_matches('<').trim_end_matches('>');
                let t = if t.starts_with('@') {
                    format!("{user}{t}")
                } else {
                    t.to_string()
                };
                match carried {
                    Some(ext) => with_extension(&t, ext),
                    None => t,
                }
            })
            .collect();
        Ok(Some(targets))
    }

    fn walk(&self, address: &str, depth: usize, out: &mut Vec<String>) -> Result<(), AliasError> {
        if depth > self.limits.recursion {
            return Err(AliasError::Nesting(self.top.to_string()));
        }
        let Some(targets) = self.lookup(address)? else {
            return self.push(out, address);
        };
        for target in targets {
            if target.eq_ignore_ascii_case(address) {
                // Maps to itself: deliver here (Postfix's "a -> a, b" idiom).
                self.push(out, &target)?;
            } else {
                self.walk(&target, depth + 1, out)?;
            }
        }
        Ok(())
    }

    fn push(&self, out: &mut Vec<String>, address: &str) -> Result<(), AliasError> {
        if out.len() >= self.limits.expansion {
            return Err(AliasError::Size(self.top.to_string()));
        }
        out.push(address.to_string());
        Ok(())
    }
}

/// `address` with `extension` (`+ext`) at the end of its local part
/// (mail_addr_crunch.c).
fn with_extension(address: &str, extension: &str) -> String {
    match address.rfind('@') {
        Some(at) => format!("{}{extension}{}", &address[..at], &address[at..]),
        None => format!("{address}{extension}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::OpenFlags;

    const LIMITS: Limits = Limits {
        recursion: 10,
        expansion: 10,
    };

    fn plus(propagate: bool) -> Extensions {
        Extensions {
            split: Splitter::new("+", true, "double-bounce"),
            propagate,
        }
    }

    fn expanded(address: &str, extensions: &Extensions) -> Vec<String> {
        let maps = MapList::open(
            "inline:{ aa@example.com=bb@example.com, \
             { cc+ext@example.com = dd@example.com, ee@example.com }, \
             @example.org=@example.net }",
            OpenFlags::default(),
        )
        .unwrap();
        expand(&maps, address, LIMITS, extensions).unwrap()
    }

    /// The cases of Postfix's mail_addr_map tests, and `@domain` results.
    #[test]
    fn extensions_as_mail_addr_map() {
        assert_eq!(expanded("aa@example.com", &plus(true)), ["bb@example.com"]);
        // The extension the matching key did not have is carried over.
        assert_eq!(
            expanded("aa+ext@example.com", &plus(true)),
            ["bb+ext@example.com"]
        );
        assert_eq!(
            expanded("aa+ext@example.com", &plus(false)),
            ["bb@example.com"]
        );
        // Without recipient_delimiter nothing splits: no match.
        assert_eq!(
            expanded("aa+ext@example.com", &Extensions::default()),
            ["aa+ext@example.com"]
        );
        // A key with the extension matches whole: nothing to carry.
        assert_eq!(
            expanded("cc+ext@example.com", &plus(true)),
            ["dd@example.com", "ee@example.com"]
        );
        // `@otherdomain` keeps the user, and the extension when propagated.
        assert_eq!(
            expanded("joe@example.org", &plus(true)),
            ["joe@example.net"]
        );
        assert_eq!(
            expanded("joe+x@example.org", &plus(true)),
            ["joe+x@example.net"]
        );
        assert_eq!(
            expanded("joe+x@example.org", &plus(false)),
            ["joe@example.net"]
        );
        // A delimiter other than `+` is carried over as it was.
        let dot = Extensions {
            split: Splitter::new(".", true, ""),
            propagate: true,
        };
        assert_eq!(expanded("aa.ext@example.com", &dot), ["bb.ext@example.com"]);
    }
}
