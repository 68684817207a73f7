//! Parses restriction lists (`permit_mynetworks, check_client_access
//! hash:/etc/postfix/access, reject`) into typed steps, opening the tables they
//! name, and checks that relay control is present.
//!
//! Mirrors the name table and argument handling of Postfix
//! `smtpd/smtpd_check.c` (generic_checks, smtpd_check_init, has_required,
//! fail_required). Reads the list parameters, `smtpd_restriction_classes` and
//! each class named there.

use std::collections::HashMap;

use crate::config::Config;
use crate::maps::OpenFlags;

use super::{names, RestrictionError, Table};

/// Which client fact an access table is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKind {
    Client,
    Helo,
    Sender,
    Recipient,
    Ccert,
}

/// One restriction of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    Permit,
    Reject,
    Defer,
    DeferIfPermit,
    DeferIfReject,
    WarnIfReject,
    PermitMynetworks,
    /// Without SASL nobody is authenticated: never matches.
    PermitSaslAuthenticated,
    RejectPlaintextSession,
    RejectUnauthPipelining,
    PermitTlsClientcerts,
    PermitTlsAllClientcerts,
    Access {
        kind: AccessKind,
        table: usize,
    },
    RejectUnauthDestination,
    DeferUnauthDestination,
    PermitAuthDestination,
    RejectUnlistedRecipient,
    RejectUnlistedSender,
    RejectNonFqdnSender,
    RejectNonFqdnRecipient,
    RejectNonFqdnHelo,
    RejectInvalidHelo,
    RejectMultiRecipientBounce,
    /// Accepted, does nothing (named for the debug log).
    NoOp(&'static str),
    /// A list from smtpd_restriction_classes.
    Class(String),
}

/// Restrictions Postfix has that need DNS, SASL or a policy server: refused
/// at construction, never silently skipped.
const NOT_IMPLEMENTED: &[&str] = &[
    "check_policy_service",
    "reject_rbl_client",
    "reject_rhsbl_client",
    "reject_rhsbl_sender",
    "reject_rhsbl_recipient",
    "reject_rhsbl_helo",
    "reject_rhsbl_reverse_client",
    "permit_dnswl_client",
    "permit_rhswl_client",
    "reject_unknown_client_hostname",
    "reject_unknown_client",
    "reject_unknown_reverse_client_hostname",
    "reject_unknown_helo_hostname",
    "reject_unknown_hostname",
    "reject_unverified_sender",
    "reject_unverified_recipient",
    "reject_sender_login_mismatch",
    "reject_authenticated_sender_login_mismatch",
    "reject_known_sender_login_mismatch",
    "reject_unauthenticated_sender_login_mismatch",
    "reject_unlisted_sender_login_mismatch",
    "permit_mx_backup",
    "check_client_mx_access",
    "check_client_ns_access",
    "check_client_a_access",
    "check_reverse_client_hostname_access",
    "check_reverse_client_hostname_mx_access",
    "check_reverse_client_hostname_ns_access",
    "check_reverse_client_hostname_a_access",
    "check_helo_mx_access",
    "check_helo_ns_access",
    "check_helo_a_access",
    "check_sender_mx_access",
    "check_sender_ns_access",
    "check_sender_a_access",
    "check_recipient_mx_access",
    "check_recipient_ns_access",
    "check_recipient_a_access",
    "check_sasl_access",
    "check_ccert_access_type",
    "reject_maps_rbl",
    "reject_rbl",
    "check_relay_domains",
    "permit_naked_ip_address",
    "sleep",
];

/// The simple names, with no argument.
fn simple(name: &str) -> Option<Restriction> {
    use Restriction::*;
    Some(match name {
        "permit" => Permit,
        "reject" => Reject,
        "defer" => Defer,
        "defer_if_permit" => DeferIfPermit,
        "defer_if_reject" => DeferIfReject,
        "warn_if_reject" => WarnIfReject,
        "permit_mynetworks" => PermitMynetworks,
        "permit_sasl_authenticated" => PermitSaslAuthenticated,
        "reject_plaintext_session" => RejectPlaintextSession,
        "reject_unauth_pipelining" => RejectUnauthPipelining,
        "permit_tls_clientcerts" => PermitTlsClientcerts,
        "permit_tls_all_clientcerts" => PermitTlsAllClientcerts,
        "reject_unauth_destination" => RejectUnauthDestination,
        "defer_unauth_destination" => DeferUnauthDestination,
        "permit_auth_destination" => PermitAuthDestination,
        "reject_unlisted_recipient" | "check_recipient_maps" => RejectUnlistedRecipient,
        "reject_unlisted_sender" => RejectUnlistedSender,
        "reject_non_fqdn_sender" => RejectNonFqdnSender,
        "reject_non_fqdn_recipient" => RejectNonFqdnRecipient,
        "reject_non_fqdn_helo_hostname" | "reject_non_fqdn_hostname" => RejectNonFqdnHelo,
        "reject_invalid_helo_hostname" | "reject_invalid_hostname" => RejectInvalidHelo,
        "reject_multi_recipient_bounce" => RejectMultiRecipientBounce,
        "reject_unknown_sender_domain" => NoOp("reject_unknown_sender_domain"),
        "reject_unknown_recipient_domain" => NoOp("reject_unknown_recipient_domain"),
        _ => return None,
    })
}

fn access_kind(name: &str) -> Option<AccessKind> {
    Some(match name {
        "check_client_access" => AccessKind::Client,
        "check_helo_access" => AccessKind::Helo,
        "check_sender_access" => AccessKind::Sender,
        "check_recipient_access" => AccessKind::Recipient,
        "check_ccert_access" => AccessKind::Ccert,
        _ => return None,
    })
}

/// Limit on class-in-class nesting, as Postfix's "nesting too deep" guard.
pub const MAX_DEPTH: usize = 100;

/// Collects lists and the tables they open (each spec opened once).
pub struct Parser<'a> {
    cfg: &'a Config,
    flags: OpenFlags,
    class_names: Vec<String>,
    classes: HashMap<String, Vec<Restriction>>,
    tables: Vec<Table>,
    index: HashMap<String, usize>,
}

impl<'a> Parser<'a> {
    /// Reads smtpd_restriction_classes and parses each class.
    pub fn new(cfg: &'a Config, flags: OpenFlags) -> Result<Parser<'a>, RestrictionError> {
        // Class names are matched without regard to case in lists, but the
        // parameter that defines a class is looked up as written.
        let declared = cfg.get_list(names::CLASSES);
        let mut p = Parser {
            cfg,
            flags,
            class_names: declared.iter().map(|c| c.to_ascii_lowercase()).collect(),
            classes: HashMap::new(),
            tables: Vec::new(),
            index: HashMap::new(),
        };
        for class in declared {
            let value = cfg.get(&class);
            if value.trim().is_empty() {
                return Err(RestrictionError::EmptyClass { name: class });
            }
            let list = p.parse_text(&class, &value, None)?;
            p.classes.insert(class.to_ascii_lowercase(), list);
        }
        Ok(p)
    }

    /// Parses the list in parameter `param`. A bare `type:table` in it is the
    /// list's own access check (`default`), as Postfix's def_acl: in
    /// smtpd_client_restrictions it means check_client_access, and so on.
    pub fn list(
        &mut self,
        param: &str,
        default: Option<AccessKind>,
    ) -> Result<Vec<Restriction>, RestrictionError> {
        let value = self.cfg.get(param);
        self.parse_text(param, &value, default)
    }

    fn parse_text(
        &mut self,
        param: &str,
        value: &str,
        default: Option<AccessKind>,
    ) -> Result<Vec<Restriction>, RestrictionError> {
        let words = crate::maps::split_list(value);
        let mut out = Vec::new();
        let mut it = words.iter();
        while let Some(word) = it.next() {
            let name = word.to_ascii_lowercase();
            if let Some(r) = simple(&name) {
                if let Restriction::NoOp(n) = r {
                    // As `postfix check` would: say that it has no effect here.
                    ::log::warn!("{param}: {n} needs DNS look-ups that Postern does not make; it has no effect");
                }
                out.push(r);
            } else if let Some(kind) = access_kind(&name) {
                let spec = it.next().ok_or_else(|| RestrictionError::MissingTable {
                    param: param.to_string(),
                    name: name.clone(),
                })?;
                let table = self.table(param, spec)?;
                out.push(Restriction::Access { kind, table });
            } else if self.class_names.contains(&name) {
                out.push(Restriction::Class(name));
            } else if word.contains(':') {
                let kind = default.ok_or_else(|| RestrictionError::BareTable {
                    param: param.to_string(),
                    spec: word.clone(),
                })?;
                let table = self.table(param, word)?;
                out.push(Restriction::Access { kind, table });
            } else if NOT_IMPLEMENTED.contains(&name.as_str()) {
                return Err(RestrictionError::NotImplemented {
                    param: param.to_string(),
                    name,
                });
            } else {
                return Err(RestrictionError::Unknown {
                    param: param.to_string(),
                    name: word.clone(),
                });
            }
        }
        Ok(out)
    }

    fn table(&mut self, param: &str, spec: &str) -> Result<usize, RestrictionError> {
        if let Some(&i) = self.index.get(spec) {
            return Ok(i);
        }
        let t = Table::open(param, spec, self.flags)?;
        self.tables.push(t);
        let i = self.tables.len() - 1;
        self.index.insert(spec.to_string(), i);
        Ok(i)
    }

    /// Classes, tables and the spec -> table index.
    #[allow(clippy::type_complexity)]
    pub fn finish(
        self,
    ) -> (
        HashMap<String, Vec<Restriction>>,
        Vec<Table>,
        HashMap<String, usize>,
    ) {
        (self.classes, self.tables, self.index)
    }
}

/// Parses a restriction list that an access table returned, at lookup time.
/// No table may be named (Postfix check_table_result refuses them too); an
/// error is for the caller to turn into `451 4.3.5 Server configuration error`.
pub fn parse_runtime(
    value: &str,
    classes: &HashMap<String, Vec<Restriction>>,
) -> Result<Vec<Restriction>, String> {
    let words = crate::maps::split_list(value);
    let mut out = Vec::new();
    for word in &words {
        let name = word.to_ascii_lowercase();
        if let Some(r) = simple(&name) {
            out.push(r);
        } else if access_kind(&name).is_some() || word.contains(':') {
            // As Postfix: tables are opened at start-up only; a table result
            // must name a restriction class instead.
            return Err(format!(
                "do not specify lookup tables inside SMTPD access maps ({word}); define a restriction class and specify its name instead"
            ));
        } else if classes.contains_key(&name) {
            out.push(Restriction::Class(name));
        } else {
            return Err(format!("unknown smtpd restriction: \"{word}\""));
        }
    }
    Ok(out)
}

/// Postfix has_required(): the list (with the classes it names) holds a
/// restriction that can refuse relaying.
pub fn has_relay_control(
    list: &[Restriction],
    classes: &HashMap<String, Vec<Restriction>>,
) -> bool {
    // A `permit` ends the search (what follows never runs), and the
    // restriction after warn_if_reject does not count (it only warns).
    fn walk(
        list: &[Restriction],
        classes: &HashMap<String, Vec<Restriction>>,
        depth: usize,
    ) -> bool {
        let mut it = list.iter();
        while let Some(r) = it.next() {
            match r {
                Restriction::WarnIfReject => {
                    it.next();
                }
                Restriction::Permit => return false,
                Restriction::RejectUnauthDestination
                | Restriction::DeferUnauthDestination
                | Restriction::Reject
                | Restriction::Defer
                | Restriction::DeferIfPermit => return true,
                Restriction::Class(c)
                    if depth < MAX_DEPTH
                        && classes.get(c).is_some_and(|l| walk(l, classes, depth + 1)) =>
                {
                    return true;
                }
                _ => {}
            }
        }
        false
    }
    walk(list, classes, 0)
}
