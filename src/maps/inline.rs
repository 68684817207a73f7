//! `inline:{...}` and `static:` tables, whose contents are in the table name.
//!
//! Mirrors Postfix `util/dict_inline.c` and `util/dict_static.c` (see
//! DATABASE_README and postconf(5)): `inline:{ key=value, { key = text with
//! spaces } }` — elements separated by commas or whitespace, a braced element
//! may hold spaces around `=` and in the value; keys folded unless `-f`.
//! `static:value` or `static:{ text }` returns that value for every key.
//!
//! main.cf parameters read: none.

use super::{Duplicates, Map, MapError, OpenFlags};

const INLINE_NEED: &str = "inline:{name=value...}";

/// Splits the inside of `{...}` into elements: runs without whitespace or
/// commas, or whole `{...}` groups (outer braces removed).
fn split_elements(body: &str) -> Result<Vec<&str>, &'static str> {
    let mut out = Vec::new();
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b',' || c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'{' {
            let mut depth = 0usize;
            let start = i + 1;
            let mut end = None;
            while i < bytes.len() {
                match bytes[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let end = end.ok_or("missing '}'")?;
            out.push(body[start..end].trim());
            i = end + 1;
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b',' && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            out.push(&body[start..i]);
        }
    }
    Ok(out)
}

/// Parses `{ key=value, ... }` into pairs in order, keys folded per `flags`.
pub fn parse_inline(name: &str, flags: OpenFlags) -> Result<Vec<(String, String)>, MapError> {
    let spec = format!("inline:{name}");
    let err = |reason: &str| MapError::Inline {
        spec: spec.clone(),
        reason: reason.to_string(),
        need: INLINE_NEED,
    };
    let body = name
        .trim()
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| err("bad syntax"))?;
    let mut pairs = Vec::new();
    for elem in split_elements(body).map_err(err)? {
        let (k, v) = elem
            .split_once('=')
            .ok_or_else(|| err("missing '=' after attribute name"))?;
        let k = k.trim();
        if k.is_empty() {
            return Err(err("missing attribute name"));
        }
        let k = flags.fold_key(k).into_owned();
        pairs.push((k, v.trim().to_string()));
    }
    if pairs.is_empty() {
        return Err(err("empty table"));
    }
    Ok(pairs)
}

/// An `inline:` table.
pub struct InlineMap {
    spec: String,
    flags: OpenFlags,
    pairs: Vec<(String, String)>,
}

impl InlineMap {
    /// Parses the table from its name.
    pub fn open(name: &str, flags: OpenFlags) -> Result<InlineMap, MapError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in parse_inline(name, flags)? {
            match pairs.iter_mut().find(|(pk, _)| *pk == k) {
                Some(p) if flags.duplicates == Duplicates::Replace => p.1 = v,
                Some(_) => {}
                None => pairs.push((k, v)),
            }
        }
        Ok(InlineMap {
            spec: format!("inline:{name}"),
            flags,
            pairs,
        })
    }
}

impl Map for InlineMap {
    fn spec(&self) -> &str {
        &self.spec
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, MapError> {
        let key = self.flags.fold_key(key);
        Ok(self
            .pairs
            .iter()
            .find(|(k, _)| k == key.as_ref())
            .map(|(_, v)| v.clone()))
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) -> Result<(), MapError> {
        for (k, v) in &self.pairs {
            f(k, v);
        }
        Ok(())
    }
}

/// A `static:` table: one value for every key.
pub struct StaticMap {
    spec: String,
    value: String,
}

impl StaticMap {
    /// `static:value`, or `static:{ text }` with the braces and outer spaces removed.
    pub fn open(name: &str) -> StaticMap {
        let trimmed = name.trim();
        let value = match trimmed.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) => inner.trim().to_string(),
            None => name.to_string(),
        };
        StaticMap {
            spec: format!("static:{name}"),
            value,
        }
    }
}

impl Map for StaticMap {
    fn spec(&self) -> &str {
        &self.spec
    }

    fn lookup(&self, _key: &str) -> Result<Option<String>, MapError> {
        Ok(Some(self.value.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_elements_and_braced_values() {
        // The example of postconf(5) "inline" and DATABASE_README.
        let m = InlineMap::open(
            "{ foo=bar, { Key = text with spaces } }",
            OpenFlags::default(),
        )
        .unwrap();
        assert_eq!(m.lookup("FOO").unwrap().as_deref(), Some("bar"));
        assert_eq!(
            m.lookup("key").unwrap().as_deref(),
            Some("text with spaces")
        );
        assert_eq!(m.lookup("other").unwrap(), None);
        let m = InlineMap::open("{a=1 b=2,c=}", OpenFlags::default()).unwrap();
        assert_eq!(m.lookup("b").unwrap().as_deref(), Some("2"));
        assert_eq!(m.lookup("c").unwrap().as_deref(), Some(""));
    }

    #[test]
    fn inline_errors_use_postfix_text() {
        let e = InlineMap::open("{ foo }", OpenFlags::default())
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "missing '=' after attribute name: \"inline:{ foo }\"; need \"inline:{name=value...}\""
        );
        assert!(InlineMap::open("foo=bar", OpenFlags::default()).is_err());
        assert!(InlineMap::open("{ {a=b }", OpenFlags::default()).is_err());
    }

    #[test]
    fn static_forms() {
        assert_eq!(
            StaticMap::open("a b").lookup("x").unwrap().as_deref(),
            Some("a b")
        );
        assert_eq!(
            StaticMap::open("{ a b }").lookup("x").unwrap().as_deref(),
            Some("a b")
        );
    }
}
