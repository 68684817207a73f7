//! SMTP access control: the `smtpd_*_restrictions` lists, run at each point of
//! the dialogue, with Postfix's replies; relay control by network, destination
//! and client certificate. Not for: logging the rejection (smtpd writes the
//! `NOQUEUE: reject:` line from the returned `Reply`), DNS-based checks.
//!
//! Mirrors Postfix `smtpd/smtpd_check.c` (generic_checks, smtpd_check_*),
//! `smtpd/smtpd_dsn_fix.c`, `util/match_list.c`, `global/mynetworks.c`,
//! `global/resolve_local.c` and the relay part of `trivial-rewrite/resolve.c`.
//!
//! main.cf parameters read: `smtpd_client_restrictions`, `smtpd_helo_restrictions`,
//! `smtpd_sender_restrictions`, `smtpd_relay_restrictions`,
//! `smtpd_recipient_restrictions`, `smtpd_data_restrictions`,
//! `smtpd_end_of_data_restrictions`, `smtpd_etrn_restrictions`,
//! `smtpd_restriction_classes`, `smtpd_delay_reject`,
//! `smtpd_relay_before_recipient_restrictions`, `smtpd_reject_unlisted_recipient`,
//! `smtpd_reject_unlisted_sender`, `mynetworks`, `mydestination`, `relay_domains`,
//! `virtual_alias_domains`, `virtual_mailbox_domains`, `inet_interfaces`,
//! `proxy_interfaces`, `parent_domain_matches_subdomains`, `relay_clientcerts`,
//! `local_recipient_maps`, `virtual_alias_maps`, `virtual_mailbox_maps`,
//! `relay_recipient_maps`, `allow_untrusted_routing`, `swap_bangpath`,
//! `allow_percent_hack`, `myorigin`, `recipient_delimiter`,
//! `smtpd_null_access_lookup_key`, `show_user_unknown_table_name`, `soft_bounce`,
//! `smtputf8_enable`, `double_bounce_sender`, `smtpd_tls_ask_ccert` (warning
//! only) and the reply codes (`reject_code`, `defer_code`,
//! `access_map_reject_code`, `access_map_defer_code`, `relay_domains_reject_code`,
//! `non_fqdn_reject_code`, `invalid_hostname_reject_code`, `plaintext_reject_code`,
//! `unknown_*_reject_code`, `multi_recipient_bounce_reject_code`). Client
//! certificate fingerprints arrive in `TlsFacts`, made with
//! `smtpd_tls_fingerprint_digest` by the tls module.
//!
//! Public API: `Restrictions::new(&Config)`, `check(Checkpoint, &Facts) -> Decision`,
//! `in_mynetworks(IpAddr)`; `Checkpoint`, `Facts`, `Decision`, `Verdict`,
//! `RestrictionError`.
//!
//! What smtpd passes in `Facts`: `recipient`/`sender` as Postfix's smtpd does,
//! without `<>`, source route dropped, local part unquoted (`"a b"@x` becomes
//! `a b@x`; the quoted form is understood too); reply texts echo it.
//! `recipient_count` counts recipients accepted before the one being checked;
//! for ETRN, `recipient` carries the ETRN domain. A bare `RCPT TO:<postmaster>`
//! passes every check (RFC 5321 section 4.5.1, as Postfix). WARN/INFO access
//! actions are logged here (Postfix log_whatsup form, with NOQUEUE); rejects,
//! holds and discards are for smtpd to log.
//!
//! Thread safety: `Restrictions` is built once per configuration and shared by
//! every session thread. A `Box<dyn Map>` is `Send` but not `Sync`, so each
//! table sits behind its own `Mutex`: lookups are short (an in-memory table or
//! one indexed read), and opening every table again for each connection would
//! cost far more than the rare wait for a lock.
//!
//! Where Postern differs from Postfix 3.7, failing closed:
//! - An unknown restriction, a table that cannot be opened, or a DNS/policy-based
//!   restriction Postern does not implement (`check_policy_service`,
//!   `reject_rbl_client`, ...) is a construction error, not a runtime 451.
//! - Quoted local parts are always searched for routing operators, as with
//!   `resolve_dequoted_address = yes`, whatever that parameter says.
//! - Access-table actions FILTER, REDIRECT and BCC cannot be honoured yet and
//!   answer `451 4.3.5 Server configuration error` rather than be ignored;
//!   PREPEND is ignored with a warning.
//!
//! Reply texts and the relay decisions for the address tricks in
//! tests/relay.rs were compared with a running Postfix 3.7.11.
//! - `reject_unknown_sender_domain`/`reject_unknown_recipient_domain` need DNS and
//!   are accepted as no-ops with a warning at construction.
#![allow(dead_code)] // called by the smtpd session (issue 3), built on another branch

mod access;
mod ccert;
mod domains;
mod evaluate;
mod mynetworks;
mod parse;
mod recipient;
pub(crate) mod relay;
mod reply;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::config::{Config, ConfigError};
use crate::mail::extension::Splitter;
use crate::maps::{self, Map, MapError, OpenFlags};
use crate::smtpd::reply::Reply;
use crate::tls::TlsFacts;

use mynetworks::AddrList;
use parse::Restriction;

/// main.cf parameter names used here, in one place.
pub(crate) mod names {
    pub const CLIENT: &str = "smtpd_client_restrictions";
    pub const HELO: &str = "smtpd_helo_restrictions";
    pub const SENDER: &str = "smtpd_sender_restrictions";
    pub const RELAY: &str = "smtpd_relay_restrictions";
    pub const RECIPIENT: &str = "smtpd_recipient_restrictions";
    pub const DATA: &str = "smtpd_data_restrictions";
    pub const END_OF_DATA: &str = "smtpd_end_of_data_restrictions";
    pub const ETRN: &str = "smtpd_etrn_restrictions";
    pub const CLASSES: &str = "smtpd_restriction_classes";
    pub const DELAY_REJECT: &str = "smtpd_delay_reject";
    pub const RELAY_BEFORE_RCPT: &str = "smtpd_relay_before_recipient_restrictions";
    pub const REJECT_UNLISTED_RCPT: &str = "smtpd_reject_unlisted_recipient";
    pub const REJECT_UNLISTED_SENDER: &str = "smtpd_reject_unlisted_sender";
    pub const MYNETWORKS: &str = "mynetworks";
    pub const MYDESTINATION: &str = "mydestination";
    pub const RELAY_DOMAINS: &str = "relay_domains";
    pub const VIRTUAL_ALIAS_DOMAINS: &str = "virtual_alias_domains";
    pub const VIRTUAL_MAILBOX_DOMAINS: &str = "virtual_mailbox_domains";
    pub const INET_INTERFACES: &str = "inet_interfaces";
    pub const PROXY_INTERFACES: &str = "proxy_interfaces";
    pub const PARENT_MATCHES: &str = "parent_domain_matches_subdomains";
    pub const ACCESS_MAPS_FEATURE: &str = "smtpd_access_maps";
    pub const RELAY_CLIENTCERTS: &str = "relay_clientcerts";
    pub const LOCAL_RECIPIENT_MAPS: &str = "local_recipient_maps";
    pub const VIRTUAL_ALIAS_MAPS: &str = "virtual_alias_maps";
    pub const VIRTUAL_MAILBOX_MAPS: &str = "virtual_mailbox_maps";
    pub const RELAY_RECIPIENT_MAPS: &str = "relay_recipient_maps";
    pub const ALLOW_UNTRUSTED_ROUTING: &str = "allow_untrusted_routing";
    pub const SWAP_BANGPATH: &str = "swap_bangpath";
    pub const PERCENT_HACK: &str = "allow_percent_hack";
    pub const MYORIGIN: &str = "myorigin";
    pub const RECIPIENT_DELIMITER: &str = "recipient_delimiter";
    pub const NULL_ACCESS_KEY: &str = "smtpd_null_access_lookup_key";
    pub const SHOW_UNKNOWN_TABLE: &str = "show_user_unknown_table_name";
    pub const SOFT_BOUNCE: &str = "soft_bounce";
    pub const DOUBLE_BOUNCE_SENDER: &str = "double_bounce_sender";
    pub const ASK_CCERT: &str = "smtpd_tls_ask_ccert";
    pub const SMTPUTF8_ENABLE: &str = "smtputf8_enable";
    pub const REJECT_CODE: &str = "reject_code";
    pub const DEFER_CODE: &str = "defer_code";
    pub const ACCESS_MAP_REJECT_CODE: &str = "access_map_reject_code";
    pub const ACCESS_MAP_DEFER_CODE: &str = "access_map_defer_code";
    pub const RELAY_DOMAINS_REJECT_CODE: &str = "relay_domains_reject_code";
    pub const NON_FQDN_REJECT_CODE: &str = "non_fqdn_reject_code";
    pub const INVALID_HOSTNAME_REJECT_CODE: &str = "invalid_hostname_reject_code";
    pub const PLAINTEXT_REJECT_CODE: &str = "plaintext_reject_code";
    pub const UNKNOWN_LOCAL_CODE: &str = "unknown_local_recipient_reject_code";
    pub const UNKNOWN_RELAY_CODE: &str = "unknown_relay_recipient_reject_code";
    pub const UNKNOWN_VALIAS_CODE: &str = "unknown_virtual_alias_reject_code";
    pub const UNKNOWN_VMAILBOX_CODE: &str = "unknown_virtual_mailbox_reject_code";
    pub const MULTI_RCPT_BOUNCE_CODE: &str = "multi_recipient_bounce_reject_code";
}

/// Why the restrictions could not be set up; each variant names the parameter.
#[derive(Debug, thiserror::Error)]
pub enum RestrictionError {
    #[error("parameter {param}: unknown restriction \"{name}\"")]
    Unknown { param: String, name: String },
    #[error("parameter {param}: restriction \"{name}\" is not implemented in Postern")]
    NotImplemented { param: String, name: String },
    #[error("parameter {param}: restriction \"{name}\" needs a type:table argument")]
    MissingTable { param: String, name: String },
    #[error("parameter {param}: table {spec}: {source}")]
    Table {
        param: String,
        spec: String,
        // Boxed to keep every Result of construction small.
        source: Box<MapError>,
    },
    #[error("parameter {param}: {why}: \"{pattern}\"")]
    BadPattern {
        param: String,
        pattern: String,
        why: String,
    },
    #[error("parameter {param}: open {path}: {}", crate::config::io_text(.source))]
    File {
        param: String,
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(Box<ConfigError>),
    #[error("parameter {param}: bad SMTP reply code {value}: must be 4XX or 5XX")]
    BadCode { param: String, value: i32 },
    #[error("restriction class `{name}' needs a definition")]
    EmptyClass { name: String },
    #[error("parameter {param}: table \"{spec}\" needs a check_*_access restriction before it")]
    BareTable { param: String, spec: String },
    #[error("in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains")]
    NoRelayControl,
}

impl From<ConfigError> for RestrictionError {
    fn from(e: ConfigError) -> Self {
        // Boxed: ConfigError is large and every constructor returns this type.
        RestrictionError::Config(Box::new(e))
    }
}

/// Where in the SMTP dialogue the session asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    Connect,
    Helo,
    Mail,
    Rcpt,
    Data,
    EndOfData,
    Etrn,
    Vrfy,
}

/// What the session knows when it asks.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// "unknown" when not resolved.
    pub client_name: &'a str,
    pub client_addr: IpAddr,
    pub helo: Option<&'a str>,
    /// The MAIL FROM address without <>, "" for the null sender.
    pub sender: Option<&'a str>,
    /// The RCPT TO address being checked (for ETRN: the ETRN domain).
    pub recipient: Option<&'a str>,
    /// SMTP, ESMTP, ESMTPS, ESMTPSA...
    pub protocol: &'a str,
    /// Present after STARTTLS / wrapper mode.
    pub tls: Option<&'a TlsFacts>,
    /// The client sent a command before the reply it had to wait for.
    pub pipelining_violation: bool,
    pub recipient_count: usize,
}

/// The answer to one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// From warn_if_reject: logged by smtpd as "reject_warning:".
    pub warnings: Vec<Reply>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing rejected: go on.
    Continue,
    /// 5xx.
    Reject(Reply),
    /// 4xx (defer, defer_if_permit/defer_if_reject outcomes, 4NN access actions).
    Defer(Reply),
    /// HOLD action: accept, put the message on hold; reason for the log.
    Hold(String),
    /// DISCARD action: accept and drop; reason for the log.
    Discard(String),
}

/// One lookup table shared by all sessions (see the module note on `Mutex`).
pub(crate) struct Table {
    pub spec: String,
    map: Mutex<Box<dyn Map>>,
}

impl Table {
    fn open(param: &str, spec: &str, flags: OpenFlags) -> Result<Table, RestrictionError> {
        let map = maps::open(spec, flags).map_err(|source| RestrictionError::Table {
            param: param.to_string(),
            spec: spec.to_string(),
            source: Box::new(source),
        })?;
        Ok(Table {
            spec: spec.to_string(),
            map: Mutex::new(map),
        })
    }

    /// The first key of a partial-key order that the table has, with its value.
    pub fn find_first<S: AsRef<str>>(
        &self,
        keys: &[S],
    ) -> Result<Option<(String, String)>, MapError> {
        let map = self.lock()?;
        maps::lookup_first(map.as_ref(), keys)
    }

    pub fn lookup(&self, key: &str) -> Result<Option<String>, MapError> {
        self.lock()?.lookup(key)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Box<dyn Map>>, MapError> {
        // A poisoned lock means a lookup panicked in another thread; the table
        // itself is read-only, so its state is still sound.
        Ok(self.map.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A list of tables (`local_recipient_maps = a, b`), searched in order.
pub(crate) struct TableList {
    pub param: &'static str,
    tables: Vec<Table>,
}

impl TableList {
    fn open(
        cfg: &Config,
        param: &'static str,
        flags: OpenFlags,
    ) -> Result<TableList, RestrictionError> {
        let tables = maps::split_list(&cfg.get(param))
            .iter()
            .map(|spec| Table::open(param, spec, flags))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TableList { param, tables })
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// maps(3) order: each key in every table before the next key.
    pub fn find_first<S: AsRef<str>>(&self, keys: &[S]) -> Result<Option<String>, MapError> {
        for (i, key) in keys.iter().enumerate() {
            for t in &self.tables {
                let map = t.lock()?;
                if i > 0 && map.is_pattern() {
                    continue;
                }
                if let Some(v) = map.lookup(key.as_ref())? {
                    return Ok(Some(v));
                }
            }
        }
        Ok(None)
    }
}

/// Reply codes from main.cf, checked once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Codes {
    pub reject: u16,
    pub defer: u16,
    pub map_reject: u16,
    pub map_defer: u16,
    pub relay: u16,
    pub non_fqdn: u16,
    pub invalid_hostname: u16,
    pub plaintext: u16,
    pub unknown_local: u16,
    pub unknown_relay: u16,
    pub unknown_valias: u16,
    pub unknown_vmailbox: u16,
    pub multi_rcpt_bounce: u16,
}

fn code(cfg: &Config, param: &str) -> Result<u16, RestrictionError> {
    let v = cfg.get_int(param)?;
    if (400..600).contains(&v) {
        Ok(v as u16) // ok: range checked above
    } else {
        Err(RestrictionError::BadCode {
            param: param.to_string(),
            value: v,
        })
    }
}

impl Codes {
    fn read(cfg: &Config) -> Result<Codes, RestrictionError> {
        use names::*;
        Ok(Codes {
            reject: code(cfg, REJECT_CODE)?,
            defer: code(cfg, DEFER_CODE)?,
            map_reject: code(cfg, ACCESS_MAP_REJECT_CODE)?,
            map_defer: code(cfg, ACCESS_MAP_DEFER_CODE)?,
            relay: code(cfg, RELAY_DOMAINS_REJECT_CODE)?,
            non_fqdn: code(cfg, NON_FQDN_REJECT_CODE)?,
            invalid_hostname: code(cfg, INVALID_HOSTNAME_REJECT_CODE)?,
            plaintext: code(cfg, PLAINTEXT_REJECT_CODE)?,
            unknown_local: code(cfg, UNKNOWN_LOCAL_CODE)?,
            unknown_relay: code(cfg, UNKNOWN_RELAY_CODE)?,
            unknown_valias: code(cfg, UNKNOWN_VALIAS_CODE)?,
            unknown_vmailbox: code(cfg, UNKNOWN_VMAILBOX_CODE)?,
            multi_rcpt_bounce: code(cfg, MULTI_RCPT_BOUNCE_CODE)?,
        })
    }
}

/// The restriction lists of one stage.
#[derive(Default)]
pub(crate) struct Lists {
    pub client: Vec<Restriction>,
    pub helo: Vec<Restriction>,
    pub sender: Vec<Restriction>,
    pub relay: Vec<Restriction>,
    pub recipient: Vec<Restriction>,
    pub data: Vec<Restriction>,
    pub end_of_data: Vec<Restriction>,
    pub etrn: Vec<Restriction>,
}

/// Everything the checks need, built once from a configuration snapshot.
pub struct Restrictions {
    pub(crate) lists: Lists,
    pub(crate) classes: HashMap<String, Vec<Restriction>>,
    /// Access tables named by check_*_access, by spec.
    pub(crate) tables: Vec<Table>,
    pub(crate) table_index: HashMap<String, usize>,
    pub(crate) delay_reject: bool,
    pub(crate) relay_before_recipient: bool,
    pub(crate) reject_unlisted_recipient: bool,
    pub(crate) reject_unlisted_sender: bool,
    pub(crate) mynetworks: AddrList,
    pub(crate) resolver: relay::Resolver,
    pub(crate) rcpt_maps: recipient::RecipientMaps,
    pub(crate) relay_clientcerts: TableList,
    pub(crate) codes: Codes,
    pub(crate) soft_bounce: bool,
    /// Where local parts split (`recipient_delimiter`, `owner_request_special`,
    /// `double_bounce_sender`).
    pub(crate) split: Splitter,
    /// parent_domain_matches_subdomains lists smtpd_access_maps.
    pub(crate) access_parent: bool,
    pub(crate) null_sender_key: String,
}

/// Postfix warns at each use when a client-certificate restriction is listed
/// but smtpd never asks for a certificate; Postern says it once, at start.
fn warn_without_ccerts(
    cfg: &Config,
    lists: &Lists,
    classes: &HashMap<String, Vec<Restriction>>,
) -> Result<(), RestrictionError> {
    if cfg.get_bool(names::ASK_CCERT)? {
        return Ok(());
    }
    let wants_cert = |r: &Restriction| {
        matches!(
            r,
            Restriction::PermitTlsClientcerts
                | Restriction::PermitTlsAllClientcerts
                | Restriction::Access {
                    kind: parse::AccessKind::Ccert,
                    ..
                }
        )
    };
    let all = [
        &lists.client,
        &lists.helo,
        &lists.sender,
        &lists.relay,
        &lists.recipient,
        &lists.data,
        &lists.end_of_data,
        &lists.etrn,
    ];
    if all
        .into_iter()
        .chain(classes.values())
        .any(|l| l.iter().any(wants_cert))
    {
        ::log::warn!(
            "client certificate restrictions are listed, but \"{} = no\": no client sends a certificate",
            names::ASK_CCERT
        );
    }
    Ok(())
}

/// Whether `parent_domain_matches_subdomains` names `feature`.
pub(crate) fn parent_matches(cfg: &Config, feature: &str) -> bool {
    cfg.get_list(names::PARENT_MATCHES)
        .iter()
        .any(|f| f.eq_ignore_ascii_case(feature))
}

impl Restrictions {
    /// Parses every smtpd_*_restrictions list, opens the tables they name and
    /// mynetworks/relay_domains/mydestination/relay_clientcerts/local_recipient_maps...
    /// An unknown restriction or a table that cannot be opened is an error naming
    /// the parameter.
    pub fn new(cfg: &Config) -> Result<Restrictions, RestrictionError> {
        let flags = OpenFlags {
            utf8: cfg.get_bool(names::SMTPUTF8_ENABLE)?,
            ..OpenFlags::default()
        };
        let mut parser = parse::Parser::new(cfg, flags)?;
        use parse::AccessKind as K;
        let lists = Lists {
            client: parser.list(names::CLIENT, Some(K::Client))?,
            helo: parser.list(names::HELO, Some(K::Helo))?,
            sender: parser.list(names::SENDER, Some(K::Sender))?,
            relay: parser.list(names::RELAY, Some(K::Recipient))?,
            recipient: parser.list(names::RECIPIENT, Some(K::Recipient))?,
            data: parser.list(names::DATA, None)?,
            end_of_data: parser.list(names::END_OF_DATA, None)?,
            etrn: parser.list(names::ETRN, None)?,
        };
        let (classes, tables, table_index) = parser.finish();
        warn_without_ccerts(cfg, &lists, &classes)?;
        // The recipient tables first: virtual_alias_domains defaults to
        // $virtual_alias_maps, and a bad table should be reported under the
        // parameter the administrator actually wrote.
        let rcpt_maps = recipient::RecipientMaps::new(cfg, flags)?;
        if !parse::has_relay_control(&lists.relay, &classes)
            && !parse::has_relay_control(&lists.recipient, &classes)
        {
            return Err(RestrictionError::NoRelayControl);
        }
        Ok(Restrictions {
            lists,
            classes,
            tables,
            table_index,
            delay_reject: cfg.get_bool(names::DELAY_REJECT)?,
            relay_before_recipient: cfg.get_bool(names::RELAY_BEFORE_RCPT)?,
            reject_unlisted_recipient: cfg.get_bool(names::REJECT_UNLISTED_RCPT)?,
            reject_unlisted_sender: cfg.get_bool(names::REJECT_UNLISTED_SENDER)?,
            mynetworks: AddrList::new(cfg, names::MYNETWORKS, flags)?,
            resolver: relay::Resolver::new(cfg, flags)?,
            rcpt_maps,
            relay_clientcerts: TableList::open(cfg, names::RELAY_CLIENTCERTS, flags)?,
            codes: Codes::read(cfg)?,
            soft_bounce: cfg.get_bool(names::SOFT_BOUNCE)?,
            split: cfg.address_splitter()?,
            access_parent: parent_matches(cfg, names::ACCESS_MAPS_FEATURE),
            null_sender_key: cfg.get(names::NULL_ACCESS_KEY),
        })
    }

    /// Runs what Postfix runs at this point of the dialogue (taking
    /// smtpd_delay_reject into account: with the default `yes`, client/helo/sender
    /// lists are evaluated at RCPT time).
    pub fn check(&self, point: Checkpoint, facts: &Facts) -> Decision {
        evaluate::run(self, point, facts)
    }

    /// Is the client in mynetworks (for smtpd's own use: e.g.
    /// smtpd_forbid_bare_newline_exclusions, XCLIENT). Host-name patterns in
    /// mynetworks need the client name and do not match here.
    pub fn in_mynetworks(&self, addr: IpAddr) -> bool {
        match self.mynetworks.matches(None, addr) {
            Ok(m) => m,
            Err(e) => {
                // Fail closed: a table we cannot read trusts nobody.
                ::log::warn!("{}: table lookup failed: {e}", names::MYNETWORKS);
                false
            }
        }
    }
}
