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
use crate::maps::MapError;

use super::evaluate::{Eval, Outcome, Stage};
use super::parse::{parse_runtime, AccessKind, MAX_DEPTH};
use super::reply::{self, dsn_fix, make, split_dsn};
use super::Verdict;

/// What one access check looks up: the reply name and class, the key groups
/// (each a partial-key search order; a pattern table sees only its first key),
/// and whether an OK must be distrusted because the recipient is source-routed.
struct Lookup {
    stage: Stage,
    groups: Vec<Vec<String>>,
    suspicious: bool,
}

fn stage(name: &str, class: &'static str) -> Stage {
    Stage {
        name: name.to_string(),
        class,
    }
}

/// An address that could not be resolved, for the 451 reply.
type ResolveFailure = (String, MapError);

/// The lookup for `kind`; `None` when the fact is not known yet (no HELO, no
/// sender...) or the address does not resolve to `user@domain`.
fn keys(e: &Eval, kind: AccessKind) -> Result<Option<Lookup>, ResolveFailure> {
    let r = e.r;
    let f = e.f;
    let plain = |stage, groups| Lookup {
        stage,
        groups,
        suspicious: false,
    };
    Ok(Some(match kind {
        AccessKind::Client => {
            let mut groups = Vec::new();
            if f.client_name != "unknown" {
                groups.push(access_host_keys(f.client_name, r.access_parent));
            }
            groups.push(access_ip_keys(&f.client_addr.to_string()));
            plain(e.client_stage(), groups)
        }
        AccessKind::Helo => {
            let Some(h) = f.helo else { return Ok(None) };
            plain(
                stage(h, reply::HELO),
                vec![access_host_keys(h, r.access_parent)],
            )
        }
        AccessKind::Sender => match f.sender {
            None => return Ok(None),
            Some("") => plain(
                stage("", reply::SENDER),
                vec![vec![r.null_sender_key.clone()]],
            ),
            Some(s) => return address_lookup(e, s, reply::SENDER),
        },
        AccessKind::Recipient => match f.recipient {
            None => return Ok(None),
            Some(rcpt) => return address_lookup(e, rcpt, reply::RECIPIENT),
        },
        AccessKind::Ccert => {
            let Some(tls) = f.tls.filter(|t| t.peer_cert_present) else {
                return Ok(None);
            };
            // Certificate fingerprint first, then public-key fingerprint, each
            // a full key (Postfix check_ccert_access default search order).
            let groups = [&tls.peer_cert_fingerprint, &tls.peer_pkey_fingerprint]
                .into_iter()
                .filter(|k| !k.is_empty())
                .map(|k| vec![k.clone()])
                .collect();
            plain(stage(&tls.peer_cn, reply::CCERT), groups)
        }
    }))
}

/// Postfix check_mail_access(): the keys come from the *resolved* address, so
/// `user%remote@ourdomain` is looked up as `user@remote`, never as something
/// in our domain; and an OK for a recipient that is still source-routed is not
/// trusted (its SUSPICIOUS test).
fn address_lookup(
    e: &Eval,
    addr: &str,
    class: &'static str,
) -> Result<Option<Lookup>, ResolveFailure> {
    let r = e.r;
    let resolved = r
        .resolver
        .resolve(addr)
        .map_err(|err| (addr.to_string(), err))?;
    if resolved.domain.is_empty() {
        return Ok(None);
    }
    let canonical = format!("{}@{}", resolved.local, resolved.domain);
    Ok(Some(Lookup {
        stage: stage(addr, class),
        groups: vec![access_address_keys(&canonical, &r.split, r.access_parent)],
        suspicious: class == reply::RECIPIENT
            && resolved.routed
            && !r.resolver.allow_untrusted_routing,
    }))
}

/// Runs one check_*_access restriction.
pub fn check(e: &mut Eval, kind: AccessKind, table: usize, depth: usize) -> Outcome {
    let lookup = match keys(e, kind) {
        Ok(Some(lookup)) => lookup,
        Ok(None) => return Outcome::Dunno,
        Err((addr, err)) => return e.lookup_failed("address resolution", &addr, &err),
    };
    let Some(t) = e.r.tables.get(table) else {
        return Outcome::Stop(Verdict::Defer(reply::config_error()));
    };
    for group in &lookup.groups {
        let value = match t.find_first(group) {
            Ok(Some((key, value))) => {
                ::log::debug!("{}: {key} = {value}", t.spec);
                value
            }
            Ok(None) => continue,
            Err(err) => {
                // Postfix answers a table error with this access-table value.
                ::log::warn!("{}: table lookup failed: {err}", t.spec);
                "451 4.3.5 Server configuration error".to_string()
            }
        };
        let out = table_result(e, &value, &lookup.stage, depth);
        if out == Outcome::Permit && lookup.suspicious {
            return Outcome::Dunno;
        }
        return out;
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
    if value.is_empty() {
        // Postfix: "in the dark ages, an empty right-hand side meant OK".
        ::log::warn!("access table entry for <{name}> has empty value");
        return Outcome::Permit;
    }
    match cmd.to_ascii_uppercase().as_str() {
        "OK" | "RELAY" => Outcome::Permit,
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
        // Postfix not_in_client_helo(): with smtpd_delay_reject = no there is
        // no mail transaction yet for HOLD or DISCARD to act on.
        "HOLD" | "DISCARD" if e.f.sender.is_none() => {
            ::log::warn!("access table: with smtpd_delay_reject=no, action {cmd} is always skipped in Client host or Helo command restrictions");
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
                "NOQUEUE: {what}: {} from {}[{}]: {text}; from=<{}> to=<{}> proto={} helo=<{}>",
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
        // Postfix: an all-numerical value is OK (pop-before-smtp tables keep
        // time stamps there), checked before the reply-code form, so a bare
        // "450" permits, exactly as in Postfix (verified against 3.7).
        _ if value.bytes().all(|b| b.is_ascii_digit()) => Outcome::Permit,
        c if c.len() == 3
            && !text.is_empty()
            && c.starts_with(['4', '5'])
            && c.bytes().all(|b| b.is_ascii_digit()) =>
        {
            numeric(e, c, text, stage)
        }
        _ => restriction_list(e, value, stage, depth),
    }
}

/// `4NN text` / `5NN text`, with an optional RFC 3463 status after the code.
fn numeric(e: &mut Eval, code: &str, text: &str, stage: &Stage) -> Outcome {
    let n: u16 = code.parse().unwrap_or(450);
    let default = if n >= 500 { "5.7.1" } else { "4.7.1" };
    let (status, t) = split_dsn(default, text);
    let class = stage.class;
    e.reject(make(
        n,
        dsn_fix(status, class),
        format!(
            "<{}>: {class} rejected: {}",
            stage.name,
            or(t, "Access denied")
        ),
    ))
}

/// A value naming restrictions (`permit_mynetworks, reject`, a class name).
fn restriction_list(e: &mut Eval, value: &str, stage: &Stage, depth: usize) -> Outcome {
    if depth >= MAX_DEPTH {
        ::log::warn!("access table result \"{value}\": nesting too deep");
        return Outcome::Stop(Verdict::Defer(reply::config_error()));
    }
    match parse_runtime(value, &e.r.classes) {
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
