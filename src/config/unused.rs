//! Which parameters set in main.cf or by master.cf `-o` Postfix would not use:
//! the "unused parameter" warnings of `postconf` and `postfix check`.
//!
//! Mirrors Postfix postconf_unused.c, postconf_user.c and postconf_service.c: a
//! name is known when it is in the parameter table, when it is a per-transport
//! parameter of a master.cf delivery service (`relay_destination_concurrency_limit`),
//! or when a main.cf or `-o` value refers to it with `$name` (a user-defined
//! parameter). Reads no parameter values.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use super::{expand, params, Config};

/// One parameter Postfix would ignore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unused {
    /// main.cf or master.cf.
    pub path: PathBuf,
    pub name: String,
    pub value: String,
    pub line: usize,
}

impl fmt::Display for Unused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Postfix's text: `/etc/postfix/main.cf: unused parameter: foo=bar`.
        write!(
            f,
            "{}: unused parameter: {}={}",
            self.path.display(),
            self.name,
            self.value
        )
    }
}

/// Per-transport suffixes of delivery agents, as `man 5 postconf`
/// "transport_destination_concurrency_limit" and its siblings.
const DELIVERY_SUFFIXES: &[&str] = &[
    "_delivery_slot_cost",
    "_delivery_slot_discount",
    "_delivery_slot_loan",
    "_destination_concurrency_failed_cohort_limit",
    "_destination_concurrency_limit",
    "_destination_concurrency_negative_feedback",
    "_destination_concurrency_positive_feedback",
    "_destination_rate_delay",
    "_destination_recipient_limit",
    "_extra_recipient_limit",
    "_initial_destination_concurrency",
    "_minimum_delivery_slots",
    "_recipient_limit",
    "_recipient_refill_delay",
    "_recipient_refill_limit",
    "_transport_rate_delay",
];

/// Commands that are delivery agents (they get the suffixes above).
const DELIVERY_AGENTS: &[&str] = &[
    "discard", "error", "lmtp", "local", "pipe", "smtp", "virtual",
];

/// Commands with a per-service `_time_limit` (pipe(8), spawn(8)).
const TIME_LIMITED: &[&str] = &["pipe", "spawn"];

/// The default of a per-transport parameter that is not in the table
/// (`foo_destination_concurrency_limit` for a master.cf service `foo`): the
/// global parameter it overrides, as Postfix's `postconf -d` shows for stock
/// services (`$default_destination_concurrency_limit`, `$command_time_limit`).
pub fn per_transport_default(name: &str) -> Option<String> {
    if let Some(prefix) = name.strip_suffix("_time_limit") {
        return (!prefix.is_empty()).then(|| "$command_time_limit".to_string());
    }
    let sfx = DELIVERY_SUFFIXES
        .iter()
        .find(|s| name.len() > s.len() && name.ends_with(*s))?;
    Some(if *sfx == "_initial_destination_concurrency" {
        "$initial_destination_concurrency".to_string()
    } else {
        format!("$default{sfx}")
    })
}

/// Names made known by master.cf service names.
fn service_names(cfg: &Config) -> BTreeSet<String> {
    let mut known = BTreeSet::new();
    let Some(master) = cfg.master_cf() else {
        return known;
    };
    for s in &master.services {
        let cmd = s.command.rsplit('/').next().unwrap_or(&s.command);
        if DELIVERY_AGENTS.contains(&cmd) {
            for sfx in DELIVERY_SUFFIXES {
                known.insert(format!("{}{sfx}", s.name));
            }
        }
        if TIME_LIMITED.contains(&cmd) {
            known.insert(format!("{}_time_limit", s.name));
        }
    }
    known
}

/// Is `name` known to Postfix for this configuration?
pub fn is_known(name: &str, extra: &BTreeSet<String>) -> bool {
    params::lookup(name).is_some() || extra.contains(name)
}

/// The names that count as known beyond the table: per-transport names and
/// user-defined names referenced with `$name`.
pub fn extra_known(cfg: &Config) -> BTreeSet<String> {
    let mut known = service_names(cfg);
    for v in cfg.values.values() {
        known.extend(expand::references(v));
    }
    if let Some(master) = cfg.master_cf() {
        for s in &master.services {
            for (_, v) in &s.options {
                known.extend(expand::references(v));
            }
        }
    }
    known
}

/// Postfix's load-time warnings about main.cf values: `$name` references to
/// parameters defined nowhere ("undefined parameter") and assignments to
/// parameters Postfix computes itself ("read-only parameter assignment").
pub fn load_warnings(cfg: &Config) -> Vec<String> {
    let path = cfg.main_cf().path.display().to_string();
    let services = service_names(cfg);
    let mut out = Vec::new();
    let mut reported = BTreeSet::new();
    for e in cfg.main_cf().effective() {
        if params::READ_ONLY.contains(&e.name.as_str()) {
            out.push(format!(
                "{path}: read-only parameter assignment: {}={}",
                e.name, e.value
            ));
        }
        if params::is_raw(&e.name) {
            continue;
        }
        for r in expand::references(&e.value) {
            let known =
                params::lookup(&r).is_some() || services.contains(&r) || cfg.raw(&r).is_some();
            if !known && reported.insert(r.clone()) {
                out.push(format!("{path}: undefined parameter: {r}"));
            }
        }
    }
    out
}

/// Every unused main.cf entry (in file order) and then every unused `-o` name.
pub fn find(cfg: &Config) -> Vec<Unused> {
    let extra = extra_known(cfg);
    let mut out = Vec::new();
    for e in cfg.main_cf().effective() {
        if !is_known(&e.name, &extra) {
            out.push(Unused {
                path: cfg.main_cf().path.clone(),
                name: e.name.clone(),
                value: e.value.clone(),
                line: e.line,
            });
        }
    }
    if let Some(master) = cfg.master_cf() {
        for s in &master.services {
            for (n, v) in &s.options {
                if !is_known(n, &extra) {
                    out.push(Unused {
                        path: master.path.clone(),
                        name: n.clone(),
                        value: v.clone(),
                        line: s.line,
                    });
                }
            }
        }
    }
    out
}
