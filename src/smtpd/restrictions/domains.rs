//! Domain lists as main.cf writes them (`mydestination`, `relay_domains`,
//! `virtual_alias_domains`, ...): names, `.parent` and parent-matching rules,
//! `!` negation, `type:table` and `/file/name` entries, first match wins.
//!
//! Mirrors Postfix `util/match_list.c` and `util/match_ops.c` (match_hostname)
//! as used by `global/domain_list.c`. Reads the list parameter it is given and
//! `parent_domain_matches_subdomains`.

use std::sync::Mutex;

use crate::config::Config;
use crate::maps::{self, keys::access_host_keys, Map, MapError, OpenFlags};

use super::{parent_matches, RestrictionError};

/// A list word after `/file` expansion, with its negation.
pub struct Word {
    pub negate: bool,
    pub text: String,
}

/// Splits a list value into words, reading `/file/name` entries (their lines,
/// `#` comments dropped) in place, as match_list.c does.
pub fn words(param: &str, value: &str) -> Result<Vec<Word>, RestrictionError> {
    let mut out = Vec::new();
    expand(param, value, &mut out, 0)?;
    Ok(out)
}

fn expand(
    param: &str,
    value: &str,
    out: &mut Vec<Word>,
    depth: usize,
) -> Result<(), RestrictionError> {
    for w in maps::split_list(value) {
        if w.starts_with('/') && depth < 10 {
            let text = std::fs::read_to_string(&w).map_err(|source| RestrictionError::File {
                param: param.to_string(),
                path: w.clone(),
                source,
            })?;
            let lines: Vec<&str> = text
                .lines()
                .map(|l| l.split('#').next().unwrap_or(""))
                .collect();
            expand(param, &lines.join(" "), out, depth + 1)?;
            continue;
        }
        let (negate, text) = match w.strip_prefix('!') {
            Some(rest) => (true, rest.to_string()),
            None => (false, w),
        };
        out.push(Word { negate, text });
    }
    Ok(())
}

/// Whether a list word names a table (`type:name`) rather than a pattern.
/// Bracketed and bare IP addresses (with `:` in IPv6) are patterns.
pub fn is_table(text: &str) -> bool {
    !text.starts_with('[')
        && text.contains(':')
        && text.parse::<std::net::IpAddr>().is_err()
        && text.parse::<ipnet::IpNet>().is_err()
}

pub fn open_table(
    param: &str,
    spec: &str,
    flags: OpenFlags,
) -> Result<Mutex<Box<dyn Map>>, RestrictionError> {
    maps::open(spec, flags)
        .map(Mutex::new)
        .map_err(|source| RestrictionError::Table {
            param: param.to_string(),
            spec: spec.to_string(),
            source: Box::new(source),
        })
}

enum Pattern {
    Name(String),
    Table(Mutex<Box<dyn Map>>),
}

/// A host-name list.
pub struct DomainList {
    entries: Vec<(bool, Pattern)>,
    parent: bool,
}

impl DomainList {
    /// The list in parameter `param`.
    pub fn new(
        cfg: &Config,
        param: &str,
        flags: OpenFlags,
    ) -> Result<DomainList, RestrictionError> {
        Self::from_value(param, &cfg.get(param), parent_matches(cfg, param), flags)
    }

    pub fn from_value(
        param: &str,
        value: &str,
        parent: bool,
        flags: OpenFlags,
    ) -> Result<DomainList, RestrictionError> {
        let mut entries = Vec::new();
        for w in words(param, value)? {
            let p = if is_table(&w.text) {
                Pattern::Table(open_table(param, &w.text, flags)?)
            } else {
                Pattern::Name(w.text.trim_end_matches('.').to_ascii_lowercase())
            };
            entries.push((w.negate, p));
        }
        Ok(DomainList { entries, parent })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Does `host` match? The first matching entry decides; `!` means no.
    pub fn matches(&self, host: &str) -> Result<bool, MapError> {
        let host = host.trim_end_matches('.').to_lowercase();
        for (negate, p) in &self.entries {
            let hit = match p {
                Pattern::Name(n) => name_matches(n, &host, self.parent),
                Pattern::Table(t) => {
                    let map = t.lock().unwrap_or_else(|p| p.into_inner());
                    maps::lookup_first(map.as_ref(), &access_host_keys(&host, self.parent))?
                        .is_some()
                }
            };
            if hit {
                return Ok(!negate);
            }
        }
        Ok(false)
    }
}

/// match_hostname(): exact name; `.parent` matches any subdomain; with parent
/// matching, `parent` also matches its subdomains.
pub fn name_matches(pattern: &str, host: &str, parent: bool) -> bool {
    if pattern == host {
        return true;
    }
    if pattern.starts_with('.') {
        return host.ends_with(pattern);
    }
    parent
        && host.len() > pattern.len()
        && host.ends_with(pattern)
        && host.as_bytes()[host.len() - pattern.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &str, parent: bool) -> DomainList {
        DomainList::from_value("relay_domains", v, parent, OpenFlags::default()).unwrap()
    }

    #[test]
    fn names_parents_and_negation() {
        let l = list("example.com, !bad.example.org, .example.org", true);
        assert!(l.matches("example.com").unwrap());
        assert!(l.matches("Mail.Example.COM.").unwrap());
        assert!(l.matches("x.example.org").unwrap());
        assert!(!l.matches("bad.example.org").unwrap());
        assert!(!l.matches("example.org").unwrap());
        assert!(!l.matches("notexample.com").unwrap());
        let l = list("example.com", false);
        assert!(!l.matches("mail.example.com").unwrap());
    }

    #[test]
    fn tables_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("domains");
        std::fs::write(&file, "# ours\nexample.net\n  hosted.example # comment\n").unwrap();
        let l = list(
            &format!("{}, inline:{{ example.info=x }}", file.display()),
            true,
        );
        assert!(l.matches("hosted.example").unwrap());
        assert!(l.matches("example.net").unwrap());
        assert!(l.matches("sub.example.info").unwrap());
        assert!(!l.matches("comment").unwrap());
        let e =
            DomainList::from_value("mydestination", "/no/such/file", true, OpenFlags::default());
        assert!(e
            .err()
            .unwrap()
            .to_string()
            .starts_with("parameter mydestination: open /no/such/file"));
    }
}
