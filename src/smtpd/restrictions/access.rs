//! check_client_access, check_helo_access, check_sender_access,
//! check_recipient_access and check_ccert_access: the keys each looks up, and
//! what an access(5) table's answer does (OK, REJECT text, DEFER, 4NN/5NN text,
//! HOLD, DISCARD, WARN, a restriction list...).
//!
//! Mirrors Postfix `smtpd/smtpd_check.c` (check_namadr_access, check_domain_access,
//! check_addr_access, check_mail_access, check_ccert_access, check_table_result)
//! and access(5). Reads, through `Restrictions`, `access_map_reject_code`,
//! `access_map_defer_code`, `recipient_delimiter`, `smtpd_null_access_lookup_key`,
//! `parent_domain_matches_subdomains`.

use crate::maps::keys::{access_address_keys, access_host_keys, access_ip_keys};

use super::evaluate::{Eval, Outcome, Stage};
use super::parse::{parse_runtime, AccessKind, MAX_DEPTH};
use super::reply::{self, dsn_fix, make, split_dsn};
use super::Verdict;

/// The lookup keys for `kind`, in groups: each group is a partial-key search
/// order (a pattern table sees only its first key); the groups are tried in
/// turn. `None` when the fact is not known yet (no HELO, no sender...).
fn keys(e: &Eval, kind: AccessKind) -> Option<(Stage, Vec<Vec<String>>)> {
    let r = e.r;
    let f = e.f;
    Some(match kind {
        AccessKind::Client => {
            let mut groups = Vec::new();
            if f.client_name != "unknown" {
                groups.push(access_host_keys(f.client_name, r.access_parent));
            }
            groups.push(access_ip_keys(&f.client_addr.to_string()));
            (e.client_stage(), groups)
        }
        AccessKind::Helo => {
            let h = f.helo?;
            (
                Stage {
                    name: h.to_string(),
                    class: reply::HELO,
                },
                vec![access_host_keys(h, r.access_parent)],
            )
        }
        AccessKind::Sender => {
            let s = f.sender?;
            let keys = if s.is_empty() {
                vec![r.null_sender_key.clone()]
            } else {
                access_address_keys(&lookup_form(s), &r.delimiter, r.access_parent)
            };
            (
                Stage {
                    name: s.to_string(),
                    class: reply::SENDER,
                },
                vec![keys],
            )
        }
        AccessKind::Recipient => {
            let s = f.recipient?;
            (
                Stage {
                    name: s.to_string(),
                    class: reply::RECIPIENT,
                },
                vec![access_address_keys(
                    &lookup_form(s),
                    &r.delimiter,
                    r.access_parent,
                )],
            )
        }
        AccessKind::Ccert => {
            let tls = f.tls.filter(|t| t.peer_cert_present)?;
            // Certificate fingerprint first, then public-key fingerprint
            // (Postfix 3.x check_ccert_access with both digests).
            let groups = [&tls.peer_cert_fingerprint, &tls.peer_pkey_fingerprint]
                .into_iter()
                .filter(|k| !k.is_empty())
                .map(|k| vec![k.clone()])
                .collect();
            (
                Stage {
                    name: tls.peer_cn.clone(),
                    class: reply::CCERT,
                },
                groups,
            )
        }
    })
}

/// The address as tables are keyed: unquoted local part, domain without a
/// trailing dot (Postfix looks up the canonical, resolved form).
fn lookup_form(addr: &str) -> String {
    match crate::mail::address::parse_path(addr) {
        Ok(crate::mail::address::Path::Mailbox(m)) => match m.domain() {
            Some(d) => format!("{}@{}", m.local(), d.to_lowercase()),
            None => m.local().to_string(),
        },
        _ => addr.to_string(),
    }
}

/// Runs one check_*_access restriction.
pub fn check(e: &mut Eval, kind: AccessKind, table: usize, depth: usize) -> Outcome {
    let Some((stage, groups)) = keys(e, kind) else {
        return Outcome::Dunno;
    };
    let Some(t) = e.r.tables.get(table) else {
        return Outcome::Stop(Verdict::Defer(reply::config_error()));
    };
    for group in &groups {
        match t.find_first(group) {
            Ok(Some((key, value))) => {
                ::log::debug!("{}: {key} = {value}", t.spec);
                return table_result(e, &value, &stage, depth);
            }
            Ok(None) => {}
            Err(err) => return e.lookup_failed(&t.spec, &stage.name, &err),
        }
    }
    Outcome::Dunno
}

fn or<'a>(text: &'a str, default: &'a str) -> &'a str {
    if text.is_empty() {
        default
    } else {
        text
    }
}

/// check_table_result(): what an access table's value does.
pub fn table_result(e: &mut Eval, value: &str, stage: &Stage, depth: usize) -> Outcome {
    let value = value.trim();
    let (cmd, text) = match value.split_once([' ', '\t']) {
        Some((c, t)) => (c, t.trim()),
        None => (value, ""),
    };
    let codes = e.r.codes;
    let (name, class) = (&stage.name, stage.class);
    let denied = |code: u16, default_dsn: &str, text: &str, default_text: &str| {
        let (status, t) = split_dsn(default_dsn, text);
        make(
            code,
            dsn_fix(status, class),
            format!("<{name}>: {class} rejected: {}", or(t, default_text)),
        )
    };
    match cmd.to_ascii_uppercase().as_str() {
        "OK" | "PERMIT" => Outcome::Permit,
        "DUNNO" => Outcome::Dunno,
        "REJECT" => e.reject(denied(codes.map_reject, "5.7.1", text, "Access denied")),
        "DEFER" => e.reject(denied(codes.map_defer, "4.7.1", text, "Access denied")),
        "DEFER_IF_REJECT" => {
            e.set_defer_if_reject(denied(
                codes.map_defer,
                "4.7.1",
                text,
                "Service unavailable",
            ));
            Outcome::Dunno
        }
        "DEFER_IF_PERMIT" => {
            e.set_defer_if_permit(denied(
                codes.map_defer,
                "4.7.1",
                text,
                "Service unavailable",
            ));
            Outcome::Dunno
        }
        "HOLD" => {
            if e.hold.is_none() {
                e.hold = Some(format!(
                    "<{name}>: {class} {}",
                    or(text, "triggers HOLD action")
                ));
            }
            Outcome::Dunno
        }
        "DISCARD" => Outcome::Stop(Verdict::Discard(format!(
            "<{name}>: {class} {}",
            or(text, "triggers DISCARD action")
        ))),
        "WARN" | "INFO" => {
            // Postfix logs these through smtpd's log_whatsup(); the interface
            // has no slot for them, so they are logged here.
            let what = cmd.to_ascii_lowercase();
            ::log::info!(
                "NOQUEUE: {what}: {} from {}[{}]: <{name}>: {class} {text}; from=<{}> to=<{}> proto={} helo=<{}>",
                command_name(e),
                e.f.client_name,
                e.f.client_addr,
                e.f.sender.unwrap_or(""),
                e.f.recipient.unwrap_or(""),
                e.f.protocol,
                e.f.helo.unwrap_or("")
            );
            Outcome::Dunno
        }
        "PREPEND" => {
            ::log::warn!(
                "access table action PREPEND is not supported in Postern; ignored for <{name}>"
            );
            Outcome::Dunno
        }
        "FILTER" | "REDIRECT" | "BCC" => {
            // Cannot be honoured: refuse rather than deliver where the
            // administrator said not to.
            ::log::warn!("access table action {cmd} is not supported in Postern");
            Outcome::Stop(Verdict::Defer(reply::config_error()))
        }
        c if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => numeric(e, c, text, class),
        _ if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() => {
            // Postfix: an all-numerical result is OK (old style tables).
            Outcome::Permit
        }
        _ => restriction_list(e, value, stage, depth),
    }
}

/// `4NN text` / `5NN text`: the code and the text as they are.
fn numeric(e: &mut Eval, code: &str, text: &str, class: &str) -> Outcome {
    let n: u16 = code.parse().unwrap_or(0);
    match n {
        400..=599 => {
            let default = if n >= 500 { "5.7.1" } else { "4.7.1" };
            let (status, t) = split_dsn(default, text);
            e.reject(make(
                n,
                dsn_fix(status, class),
                or(t, "Access denied").to_string(),
            ))
        }
        // Other three-digit codes: an old-style numeric OK, as Postfix.
        _ => Outcome::Permit,
    }
}

/// A value naming restrictions (`permit_mynetworks, reject`, a class name).
fn restriction_list(e: &mut Eval, value: &str, stage: &Stage, depth: usize) -> Outcome {
    if depth >= MAX_DEPTH {
        ::log::warn!("access table result \"{value}\": nesting too deep");
        return Outcome::Stop(Verdict::Defer(reply::config_error()));
    }
    match parse_runtime(value, &e.r.classes, &e.r.table_index) {
        Ok(list) => e.list(&list, stage, depth + 1),
        Err(why) => {
            ::log::warn!("access table result \"{value}\": {why}");
            Outcome::Stop(Verdict::Defer(reply::config_error()))
        }
    }
}

/// The SMTP command name Postfix logs for the check point.
fn command_name(e: &Eval) -> &'static str {
    use super::Checkpoint::*;
    match e.point {
        Connect => "CONNECT",
        Helo => "HELO",
        Mail => "MAIL",
        Rcpt => "RCPT",
        Data => "DATA",
        EndOfData => "END-OF-MESSAGE",
        Etrn => "ETRN",
        Vrfy => "VRFY",
    }
}
