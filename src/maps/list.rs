//! A list of tables searched in order, as a main.cf parameter names them
//! (`alias_maps = hash:/etc/aliases, nis:mail.aliases`).
//!
//! Mirrors Postfix `global/maps.c` (maps_create, maps_find): the list is split
//! at commas and whitespace outside `{...}` (so `inline:{ a=b, c=d }` stays
//! one table); a lookup asks each table in turn and the first answer wins.
//! With several keys of a partial-key search order (`keys`), every table is
//! asked for the first (full) key before any table is asked for the next, and
//! pattern tables (`regexp`, `pcre`, `cidr`) are asked for the full key only,
//! as Postfix skips tables without DICT_FLAG_FIXED for partial keys.
//!
//! main.cf parameters read: none (callers pass the parameter's value).

// The daemons that use lists (smtpd, local, smtp) are being built on other
// branches; until they merge, only tests use this.
#![allow(dead_code)]

use super::{open, Map, MapError, OpenFlags};

pub use crate::util::split_list;

/// Tables searched in order.
pub struct MapList {
    maps: Vec<Box<dyn Map>>,
}

impl MapList {
    /// Opens every table of `value`; the first that cannot be opened is the error.
    pub fn open(value: &str, flags: OpenFlags) -> Result<MapList, MapError> {
        let maps = split_list(value)
            .iter()
            .map(|spec| open(spec, flags))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MapList { maps })
    }

    /// Whether the list has no tables (an empty parameter).
    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }

    /// The first table's answer for `key`.
    pub fn find(&self, key: &str) -> Result<Option<String>, MapError> {
        for m in &self.maps {
            if let Some(v) = m.lookup(key)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// Walks a partial-key search order (first key the full one): the first
    /// hit, with the key that matched.
    pub fn find_first<S: AsRef<str>>(
        &self,
        keys: &[S],
    ) -> Result<Option<(String, String)>, MapError> {
        for (i, key) in keys.iter().enumerate() {
            for m in &self.maps {
                if i > 0 && m.is_pattern() {
                    continue;
                }
                if let Some(v) = m.lookup(key.as_ref())? {
                    return Ok(Some((key.as_ref().to_string(), v)));
                }
            }
        }
        Ok(None)
    }

    /// Whether any table's file changed since it was opened.
    pub fn changed(&self) -> bool {
        self.maps.iter().any(|m| m.changed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_braces_together() {
        assert_eq!(
            split_list("hash:/etc/aliases, nis:mail.aliases inline:{ a=b, { c = d e } },static:x"),
            vec![
                "hash:/etc/aliases",
                "nis:mail.aliases",
                "inline:{ a=b, { c = d e } }",
                "static:x"
            ]
        );
        assert!(split_list("  ,  ").is_empty());
    }

    #[test]
    fn full_key_in_every_table_before_partial_keys() {
        let dir = tempfile::tempdir().unwrap();
        let re = dir.path().join("re");
        std::fs::write(&re, "/^example\\.com$/ PATTERN\n/^mail\\./ FULL\n").unwrap();
        let spec = format!("inline:{{ example.com=INLINE }}, regexp:{}", re.display());
        let list = MapList::open(&spec, OpenFlags::default()).unwrap();
        // The full key reaches the regexp table before the inline table gets
        // the parent domain.
        assert_eq!(
            list.find_first(&["mail.example.com", "example.com", "com"])
                .unwrap(),
            Some(("mail.example.com".into(), "FULL".into()))
        );
        assert_eq!(
            list.find_first(&["www.example.com", "example.com", "com"])
                .unwrap(),
            Some(("example.com".into(), "INLINE".into()))
        );
        // A regexp table never sees partial keys.
        let list =
            MapList::open(&format!("regexp:{}", re.display()), OpenFlags::default()).unwrap();
        assert_eq!(
            list.find_first(&["www.example.com", "example.com"])
                .unwrap(),
            None
        );
        assert_eq!(
            list.find("example.com").unwrap().as_deref(),
            Some("PATTERN")
        );
    }
}
