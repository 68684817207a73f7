//! Table look-ups of virtual(8): the search order by full address, address
//! without extension, then `@domain`; and the numeric uid/gid answers.
//!
//! Mirrors Postfix global/mail_addr_find.c as virtual/mailbox.c calls it and
//! the uid/gid checks of virtual/mailbox.c. Reads `recipient_delimiter` and
//! `virtual_minimum_uid` (passed in).

use crate::mail::extension::Splitter;
use crate::maps::{MapError, MapList};

/// A table that could not be searched, or gave a value virtual(8) refuses.
/// Every variant defers: the recipient exists, the configuration is wrong.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{param} lookup of {address}: {source}")]
    Table {
        param: &'static str,
        address: String,
        source: Box<MapError>,
    },
    #[error("recipient {address}: not found in {param}")]
    NotFound {
        param: &'static str,
        address: String,
    },
    #[error("recipient {address}: bad {what} {value} in {param}")]
    BadNumber {
        param: &'static str,
        address: String,
        what: &'static str,
        value: String,
    },
    #[error("recipient {address}: uid {uid} < virtual_minimum_uid {minimum}")]
    LowUid {
        address: String,
        uid: u32,
        minimum: u32,
    },
}

/// The keys in virtual(8)'s order: `user+ext@domain`, `user@domain`, `@domain`
/// (regexp and pcre tables see only the first; MapList::find_first skips them).
pub fn address_keys(address: &str, split: &Splitter) -> Vec<String> {
    let address = address.to_lowercase();
    let Some(at) = address.rfind('@') else {
        return vec![address];
    };
    let (local, domain) = (&address[..at], &address[at..]);
    let mut keys = vec![address.clone()];
    if let Some(base) = split.base(local) {
        keys.push(format!("{base}{domain}"));
    }
    keys.push(domain.to_string());
    keys
}

/// The first answer of `maps` for `keys`.
pub fn find(
    maps: &MapList,
    param: &'static str,
    address: &str,
    keys: &[String],
) -> Result<Option<String>, LookupError> {
    maps.find_first(keys)
        .map(|hit| hit.map(|(_, value)| value))
        .map_err(|source| LookupError::Table {
            param,
            address: address.to_string(),
            source: Box::new(source),
        })
}

/// A uid or gid from `virtual_uid_maps`/`virtual_gid_maps`: found, numeric, and
/// for uids at least `minimum`.
pub fn number(
    maps: &MapList,
    param: &'static str,
    what: &'static str,
    address: &str,
    keys: &[String],
    minimum: u32,
) -> Result<u32, LookupError> {
    let value = find(maps, param, address, keys)?.ok_or_else(|| LookupError::NotFound {
        param,
        address: address.to_string(),
    })?;
    let n: u32 = value.trim().parse().map_err(|_| LookupError::BadNumber {
        param,
        address: address.to_string(),
        what,
        value: value.clone(),
    })?;
    if n < minimum {
        return Err(LookupError::LowUid {
            address: address.to_string(),
            uid: n,
            minimum,
        });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::address_keys;
    use crate::mail::extension::Splitter;

    #[test]
    fn search_order_of_virtual_8() {
        let plus = Splitter::new("+", true, "double-bounce");
        assert_eq!(
            address_keys("Bob+Spam@Example.COM", &plus),
            ["bob+spam@example.com", "bob@example.com", "@example.com"]
        );
        assert_eq!(
            address_keys("bob@example.com", &Splitter::default()),
            ["bob@example.com", "@example.com"]
        );
        // split_addr.c: double_bounce_sender never splits.
        let dash = Splitter::new("-", true, "double-bounce");
        assert_eq!(
            address_keys("double-bounce@example.com", &dash),
            ["double-bounce@example.com", "@example.com"]
        );
    }
}
