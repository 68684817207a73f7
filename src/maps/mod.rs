//! Lookup tables behind one trait, opened by `type:name`.
//!
//! Mirrors Postfix's dict(3) layer (`dict_open.c` and one `dict_*.c` per type) and
//! DATABASE_README. Types: `hash`, `btree`, `lmdb` (an indexed file built by
//! `postmap`/`postalias`, stored as SQLite: see `indexed`), `texthash`, `inline`,
//! `static`, `regexp`, `pcre`, `cidr`, `unix` (passwd/group), `nis` (only on a
//! host without a NIS domain, where Postfix finds nothing either), and `proxy:`
//! as a transparent prefix. Other Postfix types (`ldap`, `mysql`, `cdb`,
//! ...) fail with Postfix's `unsupported dictionary type: NAME`.
//!
//! main.cf parameters read: none here; callers pass what `OpenFlags` needs
//! (`smtputf8_enable` for `utf8`) and `default_database_type`.
//!
//! Public API:
//! - `open(spec, flags) -> Result<Box<dyn Map>, MapError>`: a table for lookups;
//!   `Map::lookup(key) -> Result<Option<String>, MapError>` folds the key as the
//!   type does; `Map::changed()` says when the file behind it was replaced.
//! - `open_for_update(spec, flags)`: an indexed table for `insert`/`delete`,
//!   applied atomically by `commit`.
//! - `create(spec, flags) -> Result<indexed::Builder, MapError>`: build a new
//!   indexed table that replaces the old one atomically on `finish()`.
//! - `lookup_first(map, keys)`: the first key of an ordered list that is found.
//! - `MapList::open(parameter_value, flags)`, `find(key)`, `find_first(keys)`:
//!   a list of tables searched in order, as Postfix's maps(3).
//! - `keys`: the partial-key search orders of access(5) and smtp_tls_policy_maps.
//! - `alias`: aliases(5) source parsing; `source`: postmap source lines.
//!
//! A `Box<dyn Map>` is `Send` (one owner thread), not `Sync`: each thread that
//! looks up opens its own, as each Postfix process opens its own tables.

pub mod alias;
mod cidr;
mod error;
pub mod indexed;
mod inline;
pub mod keys;
mod list;
mod pattern;
mod pcre;
mod regexp;
pub mod source;
mod texthash;
mod unix;

pub use error::MapError;
#[allow(unused_imports)] // for the daemons, built on other branches
pub use list::{split_list, MapList};

/// What to do with a key that is already in the table (postmap `-r`, `-w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// Keep the first value and warn, as Postfix does by default.
    #[default]
    Warn,
    /// Keep the first value silently (`-w`).
    Ignore,
    /// Replace the value (`-r`).
    Replace,
}

/// How a table is opened: Postfix's DICT_FLAG_FOLD_FIX and DICT_FLAG_DUP_*.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFlags {
    /// Fold keys to lower case at build and query (off with postmap `-f`).
    pub fold: bool,
    /// Duplicate-key policy for builds and `insert`.
    pub duplicates: Duplicates,
    /// Fold non-ASCII letters too, as Postfix does when `smtputf8_enable = yes`;
    /// otherwise only ASCII letters are folded (Postfix's C-locale folding).
    pub utf8: bool,
}

impl Default for OpenFlags {
    fn default() -> Self {
        OpenFlags {
            fold: true,
            duplicates: Duplicates::Warn,
            utf8: true,
        }
    }
}

/// One lookup table. Lookups take `&self`; only indexed tables opened with
/// `open_for_update` accept `insert`/`delete`.
pub trait Map: Send {
    /// The table as the user named it (`hash:/etc/postfix/access`).
    fn spec(&self) -> &str;

    /// The value for `key`, or `None`. Case folding is done here, per the type.
    fn lookup(&self, key: &str) -> Result<Option<String>, MapError>;

    /// Calls `f` for every entry (postmap `-s`), in the table's own order.
    fn for_each(&self, _f: &mut dyn FnMut(&str, &str)) -> Result<(), MapError> {
        Err(MapError::Unsupported {
            table: self.spec().to_string(),
            operation: "sequence",
        })
    }

    /// Adds an entry; `Ok(false)` when the key existed and was kept (duplicate).
    fn insert(&mut self, _key: &str, _value: &str) -> Result<bool, MapError> {
        Err(MapError::ReadOnly {
            table: self.spec().to_string(),
        })
    }

    /// Deletes `key`; `Ok(false)` when it was not there.
    fn delete(&mut self, _key: &str) -> Result<bool, MapError> {
        Err(MapError::ReadOnly {
            table: self.spec().to_string(),
        })
    }

    /// Makes `insert`/`delete` changes durable. A table dropped without `commit`
    /// keeps its old contents.
    fn commit(&mut self) -> Result<(), MapError> {
        Ok(())
    }

    /// Whether keys are matched by pattern (`regexp`, `pcre`, `cidr`): such
    /// tables get only the full key of a partial-key search, as Postfix asks
    /// only DICT_FLAG_FIXED tables for partial keys.
    fn is_pattern(&self) -> bool {
        false
    }

    /// Whether the file behind the table was replaced or modified since it was
    /// opened, so a long-running service should reopen it (Postfix daemons exit
    /// and restart for this, dict_changed_name()). Tables without a file: false.
    #[allow(dead_code)] // for the daemons, built on other branches
    fn changed(&self) -> bool {
        false
    }
}

/// Splits `type:name`; `None` when there is no colon.
pub fn split_spec(spec: &str) -> Option<(&str, &str)> {
    spec.split_once(':')
}

impl OpenFlags {
    /// `key` folded as this table folds keys (unchanged when `fold` is off).
    pub fn fold_key<'a>(&self, key: &'a str) -> std::borrow::Cow<'a, str> {
        if self.fold {
            fold(key, self.utf8)
        } else {
            std::borrow::Cow::Borrowed(key)
        }
    }
}

/// Folds a key to lower case as Postfix does: all letters with `utf8`
/// (`smtputf8_enable = yes`), else ASCII letters only.
pub fn fold(key: &str, utf8: bool) -> std::borrow::Cow<'_, str> {
    if key.is_ascii() || !utf8 {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(key.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(key)
        }
    } else {
        std::borrow::Cow::Owned(key.to_lowercase())
    }
}

fn unsupported(kind: &str) -> MapError {
    MapError::UnsupportedType {
        kind: kind.to_string(),
    }
}

fn parse_spec(spec: &str) -> Result<(&str, &str), MapError> {
    split_spec(spec).ok_or_else(|| MapError::NoType {
        spec: spec.to_string(),
    })
}

/// Opens `type:name` for lookups.
pub fn open(spec: &str, flags: OpenFlags) -> Result<Box<dyn Map>, MapError> {
    let (kind, name) = parse_spec(spec)?;
    Ok(match kind {
        "hash" | "btree" | "lmdb" => Box::new(indexed::IndexedMap::open(kind, name, flags)?),
        "texthash" => Box::new(texthash::TexthashMap::open(name, flags)?),
        "inline" => Box::new(inline::InlineMap::open(name, flags)?),
        "static" => Box::new(inline::StaticMap::open(name)),
        "regexp" => Box::new(regexp::RegexpMap::open_kind("regexp", name, flags.utf8)?),
        "pcre" => Box::new(pcre::PcreMap::open_kind("pcre", name, flags.utf8)?),
        "cidr" => Box::new(cidr::CidrMap::open(name)?),
        "unix" => Box::new(unix::UnixMap::open(name, flags)?),
        "nis" => Box::new(unix::NisMap::open(name)?),
        // Postfix's proxymap(8) serves tables to chrooted daemons; in one
        // process Postern opens the table itself.
        "proxy" => return open(name, flags),
        other => return Err(unsupported(other)),
    })
}

/// Opens an existing indexed table for `insert`/`delete` (postmap `-i`, `-d`).
pub fn open_for_update(spec: &str, flags: OpenFlags) -> Result<Box<dyn Map>, MapError> {
    let (kind, name) = parse_spec(spec)?;
    match kind {
        "hash" | "btree" | "lmdb" => Ok(Box::new(indexed::IndexedMap::open_update(
            kind, name, flags,
        )?)),
        "texthash" | "inline" | "static" | "regexp" | "pcre" | "cidr" => Err(MapError::ReadOnly {
            table: spec.to_string(),
        }),
        other => Err(unsupported(other)),
    }
}

/// Starts building a new indexed table `type:name` from scratch (postmap without
/// `-i`). Other types cannot be built, as in Postfix.
pub fn create(spec: &str, flags: OpenFlags) -> Result<indexed::Builder, MapError> {
    let (kind, name) = parse_spec(spec)?;
    match kind {
        "hash" | "btree" | "lmdb" => indexed::Builder::new(kind, name, flags),
        "texthash" | "inline" | "static" | "regexp" | "pcre" | "cidr" | "unix" | "nis" => {
            Err(MapError::NoBulkCreate {
                kind: kind.to_string(),
            })
        }
        other => Err(unsupported(other)),
    }
}

/// The first of `keys` found in `map`, with the key that matched. `keys` is a
/// partial-key search order (see `keys`); a pattern table gets the first only.
#[allow(dead_code)] // for smtpd/smtp, built on other branches
pub fn lookup_first<S: AsRef<str>>(
    map: &dyn Map,
    keys: &[S],
) -> Result<Option<(String, String)>, MapError> {
    let keys = if map.is_pattern() {
        &keys[..keys.len().min(1)]
    } else {
        keys
    };
    for k in keys {
        if let Some(v) = map.lookup(k.as_ref())? {
            return Ok(Some((k.as_ref().to_string(), v)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_use_postfix_text() {
        let e = open("ldap:/etc/x", OpenFlags::default())
            .err()
            .map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("unsupported dictionary type: ldap"));
    }

    #[test]
    fn folding_follows_smtputf8() {
        // Checked against Postfix 3.7: "ÜNÏCODE" finds "ünïcode" only with
        // smtputf8_enable = yes.
        assert_eq!(fold("ÄBc", true), "äbc");
        assert_eq!(fold("ÄBc", false), "Äbc");
    }

    #[test]
    fn lookup_first_returns_first_hit() {
        let m = open("inline:{a=1, b=2}", OpenFlags::default()).unwrap();
        let hit = lookup_first(m.as_ref(), &["x", "b", "a"]).unwrap();
        assert_eq!(hit, Some(("b".to_string(), "2".to_string())));
    }
}
