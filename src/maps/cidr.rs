//! `cidr:` tables: the first network that contains the key's IP address wins.
//!
//! Mirrors Postfix `util/dict_cidr.c` and cidr_table(5): `network/prefix result`,
//! a bare address (a /32 or /128), IPv6 optionally in brackets (`[::1]/128`),
//! `!pattern` negation, `if pattern` ... `endif` (nested). Keys are not folded;
//! a key that is not an IP address matches nothing. Unlike Postfix, a bad
//! pattern (bad address, bad prefix length, host bits set) is an error naming the
//! file and line rather than a skipped rule; the texts are Postfix's, without
//! its ": skipping this rule".
//!
//! main.cf parameters read: none.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::source::{for_each_logical_line, read_file, SourceFile};
use super::{Map, MapError};

/// A network pattern with optional negation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrPattern {
    pub net: IpNet,
    pub negate: bool,
}

impl CidrPattern {
    /// Whether `addr` satisfies the pattern. A pattern of the other address
    /// family never applies, negated or not (checked against Postfix 3.7:
    /// `!10.0.0.0/8` does not match `::1`).
    pub fn matches(&self, addr: &IpAddr) -> bool {
        let same_family = matches!(
            (&self.net, addr),
            (IpNet::V4(_), IpAddr::V4(_)) | (IpNet::V6(_), IpAddr::V6(_))
        );
        same_family && self.net.contains(addr) != self.negate
    }
}

/// Parses `[!]address[/len]`, IPv6 optionally as `[addr]` or `[addr]/len`.
pub fn parse_pattern(text: &str) -> Result<CidrPattern, String> {
    let (negate, body) = match text.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    let (addr_part, len_part) = match body.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (body, None),
    };
    // Postfix's texts (dict_cidr.c) for each way a pattern can be wrong.
    let addr_text = match addr_part.strip_prefix('[') {
        Some(inner) => inner
            .strip_suffix(']')
            .ok_or_else(|| format!("missing ']' character after \"{addr_part}\""))?,
        None => addr_part,
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| match len_part {
        Some(_) => format!("bad network value in \"{body}\""),
        None => format!("bad address pattern: \"{body}\""),
    })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len: u8 = match len_part {
        None => max,
        Some(l) => {
            if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("bad mask value in \"{body}\""));
            }
            l.parse()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("bad mask length in \"{body}\""))?
        }
    };
    let net = IpNet::new(addr, len).map_err(|_| format!("bad mask length in \"{body}\""))?;
    if net.network() != addr {
        let suggestion = if addr.is_ipv6() && addr_part.starts_with('[') {
            format!("[{}]/{len}", net.network())
        } else {
            format!("{}/{len}", net.network())
        };
        return Err(format!(
            "non-null host address bits in \"{body}\", perhaps you should use \"{suggestion}\" instead"
        ));
    }
    Ok(CidrPattern { net, negate })
}

enum Rule {
    Match { pat: CidrPattern, result: String },
    If { pat: CidrPattern, end: usize },
    Endif,
}

/// A `cidr:` table.
pub struct CidrMap {
    spec: String,
    file: SourceFile,
    rules: Vec<Rule>,
}

impl CidrMap {
    /// Reads `name`.
    pub fn open(name: &str) -> Result<CidrMap, MapError> {
        let file = SourceFile::new(name);
        let path = Path::new(name);
        let bytes = read_file(path)?;
        let place = format!("cidr map {name}");
        let syntax = |line: usize, reason: String| MapError::Syntax {
            place: place.clone(),
            file: path.to_path_buf(),
            line,
            reason,
        };
        let mut rules = Vec::new();
        let mut open_ifs: Vec<(usize, usize)> = Vec::new();
        for_each_logical_line(&bytes, path, &place, |line, text| {
            let (word, rest) = match text.find(|c: char| c.is_ascii_whitespace()) {
                Some(i) => (&text[..i], text[i..].trim()),
                None => (text, ""),
            };
            if word.eq_ignore_ascii_case("endif") {
                let (idx, _) = open_ifs
                    .pop()
                    .ok_or_else(|| syntax(line, "ENDIF without matching IF".into()))?;
                let end = rules.len();
                if let Some(Rule::If { end: e, .. }) = rules.get_mut(idx) {
                    *e = end;
                }
                rules.push(Rule::Endif);
            } else if word.eq_ignore_ascii_case("if") {
                let pat = parse_pattern(rest).map_err(|r| syntax(line, r))?;
                open_ifs.push((rules.len(), line));
                rules.push(Rule::If { pat, end: 0 });
            } else {
                // `! pattern result` may put whitespace after the `!`.
                let (neg, body) = match text.strip_prefix('!') {
                    Some(r) => ("!", r.trim_start()),
                    None => ("", text),
                };
                let (word, rest) = match body.find(|c: char| c.is_ascii_whitespace()) {
                    Some(i) => (&body[..i], body[i..].trim()),
                    None => (body, ""),
                };
                let word = format!("{neg}{word}");
                let pat = parse_pattern(&word).map_err(|r| syntax(line, r))?;
                if rest.is_empty() {
                    return Err(syntax(line, "no lookup result".into()));
                }
                rules.push(Rule::Match {
                    pat,
                    result: rest.to_string(),
                });
            }
            Ok(())
        })?;
        if let Some((_, line)) = open_ifs.pop() {
            return Err(syntax(line, "IF has no matching ENDIF".into()));
        }
        Ok(CidrMap {
            spec: format!("cidr:{name}"),
            file,
            rules,
        })
    }
}

impl Map for CidrMap {
    fn spec(&self) -> &str {
        &self.spec
    }

    fn changed(&self) -> bool {
        self.file.changed()
    }

    fn is_pattern(&self) -> bool {
        true
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, MapError> {
        let Ok(addr) = key.parse::<IpAddr>() else {
            return Ok(None);
        };
        let mut i = 0;
        while i < self.rules.len() {
            match &self.rules[i] {
                Rule::If { pat, end } => {
                    if !pat.matches(&addr) {
                        i = *end;
                    }
                }
                Rule::Endif => {}
                Rule::Match { pat, result } => {
                    if pat.matches(&addr) {
                        return Ok(Some(result.clone()));
                    }
                }
            }
            i += 1;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_as_cidr_table_5() {
        let p = parse_pattern("192.168.1.0/24").unwrap();
        assert!(p.matches(&"192.168.1.77".parse().unwrap()));
        assert!(!p.matches(&"192.168.2.1".parse().unwrap()));
        let p = parse_pattern("[2001:db8::]/32").unwrap();
        assert!(p.matches(&"2001:db8:1::1".parse().unwrap()));
        let p = parse_pattern("!10.0.0.1").unwrap();
        assert!(!p.matches(&"10.0.0.1".parse().unwrap()));
        assert!(p.matches(&"10.0.0.2".parse().unwrap()));
        assert!(!p.matches(&"::1".parse().unwrap()));
        assert_eq!(
            parse_pattern("1.2.3.4/33").unwrap_err(),
            "bad mask length in \"1.2.3.4/33\""
        );
        assert_eq!(
            parse_pattern("foo").unwrap_err(),
            "bad address pattern: \"foo\""
        );
        assert_eq!(
            parse_pattern("1.2.3.5/24").unwrap_err(),
            "non-null host address bits in \"1.2.3.5/24\", perhaps you should use \"1.2.3.0/24\" instead"
        );
    }

    #[test]
    fn first_match_and_if_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        std::fs::write(
            &p,
            "if 10.0.0.0/8\n10.1.0.0/16 inner\nendif\n10.1.2.3 never\n0.0.0.0/0 any\n[::1] six\n",
        )
        .unwrap();
        let m = CidrMap::open(p.to_str().unwrap()).unwrap();
        assert_eq!(m.lookup("10.1.2.3").unwrap().as_deref(), Some("inner"));
        assert_eq!(m.lookup("10.2.0.1").unwrap().as_deref(), Some("any"));
        assert_eq!(m.lookup("::1").unwrap().as_deref(), Some("six"));
        assert_eq!(m.lookup("::2").unwrap(), None);
        assert_eq!(m.lookup("not-an-ip").unwrap(), None);
    }
}
