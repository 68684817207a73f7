//! virtual_alias_maps: each recipient rewritten, recursively, to the addresses
//! the tables give, with Postfix's recursion and expansion limits; the address
//! before rewriting is kept as the original recipient.
//!
//! Mirrors Postfix cleanup_map1n.c (`cleanup_map1n_internal`: look up
//! `user@domain`, then `@domain`; an address that maps to itself stops there;
//! "unreasonable virtual_alias_maps map expansion size/nesting for <addr>").
//! Reads, through its caller, `virtual_alias_maps`,
//! `virtual_alias_recursion_limit`, `virtual_alias_expansion_limit`. No RFC
//! (address rewriting is local policy; RFC 5321 section 3.9.1 describes aliases).

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

/// Expands `address` through `maps`.
pub fn expand(maps: &MapList, address: &str, limits: Limits) -> Result<Vec<String>, AliasError> {
    let mut out = Vec::new();
    walk(maps, address, 0, limits, address, &mut out)?;
    Ok(out)
}

fn lookup(maps: &MapList, address: &str) -> Result<Option<String>, AliasError> {
    let err = |source| AliasError::Lookup {
        address: address.to_string(),
        source,
    };
    if let Some(v) = maps.find(address).map_err(err)? {
        return Ok(Some(v));
    }
    match address.rsplit_once('@') {
        Some((_, domain)) => maps.find(&format!("@{domain}")).map_err(err),
        None => Ok(None),
    }
}

fn walk(
    maps: &MapList,
    address: &str,
    depth: usize,
    limits: Limits,
    top: &str,
    out: &mut Vec<String>,
) -> Result<(), AliasError> {
    if depth > limits.recursion {
        return Err(AliasError::Nesting(top.to_string()));
    }
    let Some(value) = lookup(maps, address)? else {
        push(out, address, limits, top)?;
        return Ok(());
    };
    for target in value
        .split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let target = target.trim_start_matches('<').trim_end_matches('>');
        if target.eq_ignore_ascii_case(address) {
            // Maps to itself: deliver here (Postfix's "a -> a, b" idiom).
            push(out, target, limits, top)?;
        } else {
            walk(maps, target, depth + 1, limits, top, out)?;
        }
    }
    Ok(())
}

fn push(out: &mut Vec<String>, address: &str, limits: Limits, top: &str) -> Result<(), AliasError> {
    if out.len() >= limits.expansion {
        return Err(AliasError::Size(top.to_string()));
    }
    out.push(address.to_string());
    Ok(())
}
