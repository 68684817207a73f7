//! Per-destination TLS policy of the smtp client: `smtp_tls_policy_maps`
//! looked up for a delivery's nexthop, the entry parsed into a
//! `tls::ClientPolicy`, and `smtp_tls_security_level` when there is none.
//!
//! Mirrors Postfix smtp_tls_policy.c (`tls_policy_lookup`,
//! `tls_policy_lookup_one`, `policy_create`, `smtp_tls_list_init`) with its
//! warning texts; a malformed entry fails closed (the caller defers with
//! 4.7.5 "client TLS configuration problem" and makes no connection).
//! Parameters read: `smtp_tls_policy_maps`, `smtp_tls_per_site` (refused, see
//! `TlsConfigError::PerSiteUnsupported`), and through `tls::ClientSettings`
//! `smtp_tls_security_level` and `smtp_tls_fingerprint_cert_match`.
//!
//! Postern differences: `dane`/`dane-only` are returned as written and act as
//! `encrypt` in the TLS layer (no DNSSEC/TLSA yet), with a warning; `tafile=`
//! is accepted at `verify`/`secure` and ignored with a warning.

// The smtp client workers (branch smtp) call this; until they merge, only
// tests do.
#![allow(dead_code)]

use std::sync::Mutex;

use super::tls_config::{valid_hostname, TlsConfigError};
use crate::config::Config;
use crate::maps::{keys, MapList, OpenFlags};
use crate::tls::{ClientPolicy, ClientSettings, TlsLevel};

/// The parameter whose tables are searched; also the title in warnings.
const POLICY_MAPS: &str = "smtp_tls_policy_maps";
const PER_SITE: &str = "smtp_tls_per_site";
/// Postfix's text for a `fingerprint` level with nothing to compare.
const NO_FINGERPRINTS: &str =
    "configured at fingerprint security level, but with no fingerprints to match.";

/// Why no policy could be had for a nexthop: which table (or parameter), the
/// key looked up, and the problem as Postfix words it. The warning is logged
/// by `lookup` before it returns this; the caller defers every recipient with
/// "4.7.5 client TLS configuration problem".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFailure {
    pub table: String,
    pub key: String,
    pub problem: String,
}

impl PolicyFailure {
    /// The warning line Postfix logs (`warning: ` prefix added by the logger):
    /// `smtp_tls_policy_maps, next-hop destination "example.com": invalid
    /// security level "foo"`.
    pub fn warning(&self) -> String {
        if self.problem == NO_FINGERPRINTS {
            // policy_create names the nexthop only, whatever gave the level.
            format!("nexthop domain {}: {}", self.key, self.problem)
        } else {
            format!(
                "{}, next-hop destination \"{}\": {}",
                self.table, self.key, self.problem
            )
        }
    }
}

/// smtp_tls_policy_maps, opened once per transport; Send + Sync (shared by
/// the transport's workers behind an Arc).
pub struct PolicyTables {
    /// `None` when smtp_tls_policy_maps is empty.
    maps: Option<Mutex<MapList>>,
    default_level: TlsLevel,
    /// smtp_tls_fingerprint_cert_match is empty: a `fingerprint` policy
    /// without `match=` has nothing to compare and fails closed.
    no_default_fingerprints: bool,
}

impl std::fmt::Debug for PolicyTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyTables")
            .field("tables", &self.maps.is_some())
            .field("default_level", &self.default_level)
            .finish()
    }
}

impl PolicyTables {
    /// Opens `smtp_tls_policy_maps` (Postfix `smtp_tls_list_init`). A table
    /// that cannot be opened is an error naming the parameter and table.
    pub fn open(cfg: &Config, settings: &ClientSettings) -> Result<PolicyTables, TlsConfigError> {
        let spec = cfg.get(POLICY_MAPS);
        let per_site = cfg.get(PER_SITE);
        let maps = if spec.trim().is_empty() {
            if !per_site.trim().is_empty() {
                return Err(TlsConfigError::PerSiteUnsupported { value: per_site });
            }
            None
        } else {
            if !per_site.trim().is_empty() {
                log::warn!("{PER_SITE} ignored when {POLICY_MAPS} is not empty.");
            }
            let list = MapList::open(&spec, OpenFlags::default()).map_err(|source| {
                TlsConfigError::Table {
                    param: POLICY_MAPS,
                    spec: spec.clone(),
                    source: Box::new(source),
                }
            })?;
            Some(Mutex::new(list))
        };
        Ok(PolicyTables {
            maps,
            default_level: settings.smtp_tls_security_level,
            no_default_fingerprints: settings.smtp_tls_fingerprint_cert_match.trim().is_empty(),
        })
    }

    /// The policy for one nexthop exactly as qmgr gives it in
    /// DeliveryJob::nexthop: "example.com", "[mx.example.com]",
    /// "[192.0.2.1]:587", "example.com:2525". An explicit `[host]`, `:port` or
    /// other non-hostname is looked up as is and only so; a domain is looked
    /// up, then its parents as `.parent` (smtp_tls_policy.c
    /// `tls_policy_lookup`). No entry -> smtp_tls_security_level.
    pub fn lookup(&self, nexthop: &str) -> Result<ClientPolicy, PolicyFailure> {
        let result = self.find(nexthop).and_then(|found| {
            let (policy, from_table) = match found {
                Some(p) => (p, true),
                None => (ClientPolicy::level(self.default_level), false),
            };
            self.finish(nexthop, policy, from_table)
        });
        if let Err(failure) = &result {
            log::warn!("{}", failure.warning());
        }
        result
    }

    /// Whether a table file changed since it was opened (postmap rebuilt
    /// it): the transport should open the tables again, as a Postfix smtp
    /// process exits and restarts for this.
    pub fn changed(&self) -> bool {
        self.maps
            .as_ref()
            .is_some_and(|m| m.lock().unwrap_or_else(|p| p.into_inner()).changed())
    }

    /// The first table entry on the search path, parsed.
    fn find(&self, nexthop: &str) -> Result<Option<ClientPolicy>, PolicyFailure> {
        let Some(maps) = &self.maps else {
            return Ok(None);
        };
        let search = if valid_hostname(nexthop) {
            keys::tls_policy_keys(nexthop)
        } else {
            vec![nexthop.to_string()]
        };
        // A poisoned lock only means another worker panicked mid-lookup; the
        // tables are read-only, so keep using them.
        let maps = maps.lock().unwrap_or_else(|p| p.into_inner());
        for key in &search {
            // As maps_find(tls_policy, key, 0): every table gets every key.
            match maps.find(key) {
                Ok(Some(value)) => return parse_entry(key, &value).map(Some),
                Ok(None) => continue,
                Err(e) => {
                    log::warn!("{e}");
                    return Err(failure(key, "policy table lookup error"));
                }
            }
        }
        Ok(None)
    }

    /// The checks of `policy_create` after the look-up: fingerprints to
    /// compare, and the DANE warning.
    fn finish(
        &self,
        nexthop: &str,
        policy: ClientPolicy,
        from_table: bool,
    ) -> Result<ClientPolicy, PolicyFailure> {
        if policy.level == TlsLevel::Fingerprint
            && policy.matches.as_ref().is_none_or(|m| m.is_empty())
            && self.no_default_fingerprints
        {
            return Err(PolicyFailure {
                table: if from_table {
                    POLICY_MAPS
                } else {
                    "smtp_tls_fingerprint_cert_match"
                }
                .into(),
                key: nexthop.to_string(),
                problem: NO_FINGERPRINTS.into(),
            });
        }
        if policy.level.is_dane() {
            log::warn!(
                "{nexthop}: {} configured, but DANE is not available in Postern: \
                 using the \"encrypt\" security level",
                policy.level
            );
        }
        Ok(policy)
    }
}

fn failure(key: &str, problem: impl Into<String>) -> PolicyFailure {
    PolicyFailure {
        table: POLICY_MAPS.into(),
        key: key.to_string(),
        problem: problem.into(),
    }
}

/// Splits a policy value as Postfix `mystrtokq(&policy, CHARS_COMMA_SP,
/// CHARS_BRACE)`: at commas and whitespace outside `{...}`.
fn tokens(value: &str) -> Vec<String> {
    crate::util::split_list(value)
}

/// `name=value`, or `{ name = value }` with the braces stripped and
/// whitespace runs folded (Postfix `extpar` with EXTPAR_FLAG_STRIP |
/// EXTPAR_FLAG_NORMAL_WS, then `split_nameval`).
fn name_value(token: &str) -> Result<(String, String), String> {
    let text = if let Some(inner) = token.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| format!("missing '}}' in \"{token}\""))?;
        inner.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        token.to_string()
    };
    let text = text.trim_start();
    if text.is_empty() || text.starts_with('=') {
        return Err("missing attribute name".into());
    }
    let name_end = text
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(text.len());
    let rest = text[name_end..].trim_start();
    let Some(value) = rest.strip_prefix('=') else {
        return Err("missing '=' after attribute name".into());
    };
    Ok((text[..name_end].to_string(), value.trim().to_string()))
}

/// Parses one table entry (`tls_policy_lookup_one`): a level, then
/// attributes. Every error is one of Postfix's warnings; the caller logs it.
fn parse_entry(key: &str, value: &str) -> Result<ClientPolicy, PolicyFailure> {
    let fail = |problem: String| failure(key, problem);
    let mut toks = tokens(value).into_iter();
    let Some(first) = toks.next() else {
        return Err(fail("invalid empty policy".into()));
    };
    let level = TlsLevel::lookup(&first)
        .map_err(|_| fail(format!("invalid security level \"{first}\"")))?;
    let mut policy = ClientPolicy::level(level);
    if !level.tls_enabled() {
        for tok in toks {
            log::warn!(
                "{POLICY_MAPS}, next-hop destination \"{key}\": ignoring attribute \"{tok}\" \
                 with TLS disabled"
            );
        }
        return Ok(policy);
    }
    for tok in toks {
        let (name, val) = name_value(&tok)
            .map_err(|err| fail(format!("malformed attribute/value pair \"{tok}\": {err}")))?;
        apply_attribute(&mut policy, key, &name, val).map_err(fail)?;
    }
    Ok(policy)
}

/// One attribute of an entry at an enabled level; the error is the
/// problem text of Postfix's warning.
fn apply_attribute(
    policy: &mut ClientPolicy,
    key: &str,
    name: &str,
    val: String,
) -> Result<(), String> {
    let level = policy.level;
    let twice = || format!("attribute \"{name}\" is specified multiple times");
    let empty = || format!("attribute \"{name}\" has empty value");
    let bad_level = || format!("attribute \"{name}\" invalid at security level \"{level}\"");
    let set_once = |slot: &mut Option<String>, val: String| {
        if slot.is_some() {
            return Err(twice());
        }
        *slot = Some(val);
        Ok(())
    };
    match name.to_ascii_lowercase().as_str() {
        "ciphers" => {
            if val.is_empty() {
                return Err(empty());
            }
            set_once(&mut policy.ciphers, val)
        }
        "protocols" => set_once(&mut policy.protocols, val),
        "exclude" => set_once(&mut policy.exclude, val),
        "servername" => {
            if policy.servername.is_some() {
                return Err(twice());
            }
            if !valid_hostname(&val) {
                return Err(format!("\"{name}={val}\" specifies an invalid hostname"));
            }
            policy.servername = Some(val);
            Ok(())
        }
        "match" => {
            if val.is_empty() {
                return Err(empty());
            }
            let sep = match level {
                TlsLevel::Fingerprint => '|',
                TlsLevel::Verify | TlsLevel::Secure => ':',
                _ => return Err(bad_level()),
            };
            policy
                .matches
                .get_or_insert_with(Vec::new)
                .extend(val.split(sep).filter(|m| !m.is_empty()).map(str::to_string));
            Ok(())
        }
        "tafile" => {
            if !level.must_verify_chain() {
                return Err(bad_level());
            }
            if val.is_empty() {
                return Err(empty());
            }
            log::warn!(
                "{POLICY_MAPS}, next-hop destination \"{key}\": attribute \"{name}\" is not \
                 supported by Postern and is ignored: the server chain is verified against \
                 smtp_tls_CAfile and smtp_tls_CApath"
            );
            Ok(())
        }
        "connection_reuse" => {
            // Accepted as Postfix does; Postern's connection reuse does not
            // depend on it (smtp_connection_cache_on_demand decides).
            if val.eq_ignore_ascii_case("yes") || val.eq_ignore_ascii_case("no") {
                Ok(())
            } else {
                Err(format!("attribute \"{name}\" has bad value: \"{val}\""))
            }
        }
        _ => Err(format!("invalid attribute name: \"{name}\"")),
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
