//! Runs restriction lists: which lists at which point of the dialogue, one
//! restriction at a time, with permit/reject flow and the defer_if_permit,
//! defer_if_reject and warn_if_reject modifiers.
//!
//! Mirrors Postfix `smtpd/smtpd_check.c`: generic_checks(), smtpd_check_reject()
//! (soft_bounce, warn_if_reject, defer_if_reject), and smtpd_check_client/helo/
//! mail/rcpt/data/eod/etrn with `smtpd_delay_reject`; the implicit
//! reject_unlisted_recipient/sender of smtpd.c (smtpd_check_rcptmap). Reads, through
//! `Restrictions`, `smtpd_delay_reject`, `smtpd_relay_before_recipient_restrictions`,
//! `smtpd_reject_unlisted_recipient`, `smtpd_reject_unlisted_sender`, `soft_bounce`
//! and the reply codes.

use crate::mail::address::{parse_path, Domain, Path};
use crate::smtpd::reply::Reply;

use super::parse::{Restriction, MAX_DEPTH};
use super::reply::{self, make, st};
use super::{access, ccert, recipient, relay, Checkpoint, Decision, Facts, Restrictions, Verdict};

/// What one restriction (or one list) said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No decision: go on with the next restriction.
    Dunno,
    /// OK/permit: this list is done, the next list runs.
    Permit,
    /// A final answer (reject, defer, discard).
    Stop(Verdict),
}

/// The name and class a stage's generic replies use (`<host[ip]>: Client host`).
pub struct Stage {
    pub name: String,
    pub class: &'static str,
}

/// The state of one `check` call.
pub struct Eval<'r, 'f> {
    pub r: &'r Restrictions,
    pub f: &'r Facts<'f>,
    pub point: Checkpoint,
    defer_if_permit: Option<Reply>,
    defer_if_reject: Option<Reply>,
    warn: bool,
    pub warnings: Vec<Reply>,
    pub hold: Option<String>,
    /// reject_unlisted_recipient ran explicitly: the implicit one is skipped.
    pub rcptmap_checked: bool,
    pub sendermap_checked: bool,
}

pub fn run(r: &Restrictions, point: Checkpoint, f: &Facts) -> Decision {
    let mut e = Eval {
        r,
        f,
        point,
        defer_if_permit: None,
        defer_if_reject: None,
        warn: false,
        warnings: Vec::new(),
        hold: None,
        rcptmap_checked: false,
        sendermap_checked: false,
    };
    let verdict = e.point();
    Decision {
        verdict,
        warnings: e.warnings,
    }
}

impl Eval<'_, '_> {
    pub fn client_stage(&self) -> Stage {
        Stage {
            name: format!("{}[{}]", self.f.client_name, self.f.client_addr),
            class: reply::CLIENT,
        }
    }

    fn stage(name: &str, class: &'static str) -> Stage {
        Stage {
            name: name.to_string(),
            class,
        }
    }

    fn point(&mut self) -> Verdict {
        use Checkpoint::*;
        let r = self.r;
        let f = self.f;
        let delay = r.delay_reject;
        let mut stages: Vec<(&[Restriction], Stage)> = Vec::new();
        let client = (&r.lists.client[..], self.client_stage());
        let helo = f
            .helo
            .map(|h| (&r.lists.helo[..], Self::stage(h, reply::HELO)));
        let sender = f
            .sender
            .map(|s| (&r.lists.sender[..], Self::stage(s, reply::SENDER)));
        let mut sender_unlisted = false;
        match self.point {
            Connect if !delay => stages.push(client),
            Helo if !delay => stages.extend(helo),
            Mail if !delay => {
                stages.extend(sender);
                sender_unlisted = true;
            }
            // RFC 5321 section 4.5.1: a bare "postmaster" is always accepted;
            // Postfix skips every restriction for it.
            Rcpt | Vrfy
                if f.recipient
                    .is_some_and(|r| r.eq_ignore_ascii_case("postmaster")) =>
            {
                return Verdict::Continue;
            }
            Rcpt | Vrfy => {
                if delay {
                    stages.push(client);
                    stages.extend(helo);
                    stages.extend(sender);
                    sender_unlisted = true;
                }
                if let Some(rcpt) = f.recipient {
                    let relay = (&r.lists.relay[..], Self::stage(rcpt, reply::RECIPIENT));
                    let rcpt = (&r.lists.recipient[..], Self::stage(rcpt, reply::RECIPIENT));
                    if r.relay_before_recipient {
                        stages.extend([relay, rcpt]);
                    } else {
                        stages.extend([rcpt, relay]);
                    }
                }
            }
            Data => stages.push((&r.lists.data[..], Self::stage("DATA", reply::DATA))),
            EndOfData => stages.push((
                &r.lists.end_of_data[..],
                Self::stage("END-OF-MESSAGE", reply::EOD),
            )),
            Etrn => {
                if delay {
                    stages.push(client);
                    stages.extend(helo);
                }
                let name = f.recipient.unwrap_or("");
                stages.push((&r.lists.etrn[..], Self::stage(name, reply::ETRN)));
            }
            _ => {}
        }
        for (list, stage) in stages {
            // defer_if_reject and warn_if_reject hold within one stage, as
            // Postfix resets them at the start of each smtpd_check_*().
            self.defer_if_reject = None;
            if let Outcome::Stop(v) = self.list(list, &stage, 0) {
                return v;
            }
        }
        if let Some(reply) = self.defer_if_permit.take() {
            return Verdict::Defer(reply);
        }
        // smtpd.c: unknown senders/recipients in our own domains are refused
        // after the restrictions passed (smtpd_check_rcptmap).
        if sender_unlisted && r.reject_unlisted_sender && !self.sendermap_checked {
            if let Some(s) = f.sender.filter(|s| !s.is_empty()) {
                if let Outcome::Stop(v) = recipient::check(self, s, reply::SENDER) {
                    return v;
                }
            }
        }
        // smtpd_check_rcpt() serves VRFY too, with the same implicit check.
        if matches!(self.point, Rcpt | Vrfy) && r.reject_unlisted_recipient && !self.rcptmap_checked
        {
            if let Some(rcpt) = f.recipient {
                if let Outcome::Stop(v) = recipient::check(self, rcpt, reply::RECIPIENT) {
                    return v;
                }
            }
        }
        match self.hold.take() {
            Some(reason) => Verdict::Hold(reason),
            None => Verdict::Continue,
        }
    }

    /// generic_checks(): the first restriction that decides ends the list.
    pub fn list(&mut self, list: &[Restriction], stage: &Stage, depth: usize) -> Outcome {
        let mut warn_next = false;
        for r in list {
            if *r == Restriction::WarnIfReject {
                warn_next = true;
                continue;
            }
            let saved = self.warn;
            self.warn = saved || warn_next;
            warn_next = false;
            let out = self.one(r, stage, depth);
            self.warn = saved;
            ::log::debug!("restriction {r:?} for <{}>: {out:?}", stage.name);
            if out != Outcome::Dunno {
                return out;
            }
        }
        Outcome::Dunno
    }

    /// smtpd_check_reject(): soft_bounce, then warn_if_reject, then
    /// defer_if_reject turn the reply into what is actually done.
    pub fn reject(&mut self, reply: Reply) -> Outcome {
        let reply = if self.r.soft_bounce && reply.is_permanent() {
            let status = reply.status().unwrap_or(st("5.7.1"));
            make(reply.code() - 100, status, reply.text().to_string())
        } else {
            reply
        };
        if self.warn {
            self.warnings.push(reply);
            return Outcome::Dunno;
        }
        if reply.is_permanent() {
            if let Some(d) = &self.defer_if_reject {
                return Outcome::Stop(Verdict::Defer(d.clone()));
            }
            Outcome::Stop(Verdict::Reject(reply))
        } else {
            Outcome::Stop(Verdict::Defer(reply))
        }
    }

    /// A table could not be read: defer, never permit.
    pub fn lookup_failed(&mut self, what: &str, name: &str, e: &dyn std::fmt::Display) -> Outcome {
        ::log::warn!("{what}: table lookup failed: {e}");
        Outcome::Stop(Verdict::Defer(reply::lookup_failure(name)))
    }

    pub fn set_defer_if_permit(&mut self, reply: Reply) {
        if self.defer_if_permit.is_none() {
            self.defer_if_permit = Some(reply);
        }
    }

    pub fn set_defer_if_reject(&mut self, reply: Reply) {
        if self.defer_if_reject.is_none() {
            self.defer_if_reject = Some(reply);
        }
    }

    fn denied(&self, code: u16, dsn: &str, stage: &Stage, what: &str) -> Reply {
        make(
            code,
            st(dsn),
            format!("<{}>: {} rejected: {what}", stage.name, stage.class),
        )
    }

    fn one(&mut self, r: &Restriction, stage: &Stage, depth: usize) -> Outcome {
        use Restriction::*;
        let codes = self.r.codes;
        match r {
            Permit => Outcome::Permit,
            Reject => self.reject(self.denied(codes.reject, "5.7.1", stage, "Access denied")),
            Defer => self.reject(self.denied(codes.defer, "4.3.2", stage, "Try again later")),
            // Postfix uses a fixed 450 4.7.0 for these two.
            DeferIfPermit => {
                let reply = self.denied(450, "4.7.0", stage, "defer_if_permit requested");
                if self.warn {
                    return self.reject(reply);
                }
                self.set_defer_if_permit(reply);
                Outcome::Dunno
            }
            DeferIfReject => {
                let reply = self.denied(450, "4.7.0", stage, "defer_if_reject requested");
                self.set_defer_if_reject(reply);
                Outcome::Dunno
            }
            WarnIfReject | PermitSaslAuthenticated | NoOp(_) => Outcome::Dunno,
            PermitMynetworks => match self
                .r
                .mynetworks
                .matches(Some(self.f.client_name), self.f.client_addr)
            {
                Ok(true) => Outcome::Permit,
                Ok(false) => Outcome::Dunno,
                Err(e) => self.lookup_failed("mynetworks", &self.client_stage().name, &e),
            },
            RejectPlaintextSession => match self.f.tls {
                Some(_) => Outcome::Dunno,
                None => self.reject(make(
                    codes.plaintext,
                    st("4.7.1"),
                    "Session encryption is required",
                )),
            },
            RejectUnauthPipelining if self.f.pipelining_violation => self.reject(self.denied(
                503,
                "5.5.0",
                stage,
                "Improper use of SMTP command pipelining",
            )),
            RejectUnauthPipelining => Outcome::Dunno,
            PermitTlsClientcerts => ccert::permit_listed(self),
            PermitTlsAllClientcerts => ccert::permit_trusted(self),
            Access { kind, table } => access::check(self, *kind, *table, depth),
            RejectUnauthDestination => relay::reject_unauth(self, codes.relay, "5.7.1"),
            // Postfix: relay_domains_reject_code - 100 (554 -> 454).
            DeferUnauthDestination => {
                let code = if codes.relay >= 500 {
                    codes.relay - 100
                } else {
                    codes.relay
                };
                relay::reject_unauth(self, code, "4.7.1")
            }
            PermitAuthDestination => relay::permit_auth(self),
            RejectUnlistedRecipient => match self.f.recipient {
                Some(rcpt) => {
                    self.rcptmap_checked = true;
                    recipient::check(self, rcpt, reply::RECIPIENT)
                }
                None => Outcome::Dunno,
            },
            RejectUnlistedSender => match self.f.sender.filter(|s| !s.is_empty()) {
                Some(s) => {
                    self.sendermap_checked = true;
                    recipient::check(self, s, reply::SENDER)
                }
                None => Outcome::Dunno,
            },
            RejectNonFqdnSender => match self.f.sender.filter(|s| !s.is_empty()) {
                Some(s) => self.non_fqdn_address(s, reply::SENDER),
                None => Outcome::Dunno,
            },
            RejectNonFqdnRecipient => match self.f.recipient {
                Some(s) => self.non_fqdn_address(s, reply::RECIPIENT),
                None => Outcome::Dunno,
            },
            RejectNonFqdnHelo | RejectInvalidHelo
                if self.f.helo.is_some_and(|h| h.starts_with('[')) =>
            {
                self.helo_literal(codes.invalid_hostname)
            }
            RejectNonFqdnHelo => match self.f.helo {
                Some(h) if !helo_is_fqdn(h) => self.reject(make(
                    codes.non_fqdn,
                    st("5.5.2"),
                    format!("<{h}>: Helo command rejected: need fully-qualified hostname"),
                )),
                _ => Outcome::Dunno,
            },
            RejectInvalidHelo => match self.f.helo {
                Some(h) if !helo_is_valid(h) => self.reject(make(
                    codes.invalid_hostname,
                    st("5.5.2"),
                    format!("<{h}>: Helo command rejected: Invalid name"),
                )),
                _ => Outcome::Dunno,
            },
            RejectMultiRecipientBounce => self.multi_recipient_bounce(stage),
            Class(name) => {
                let Some(list) = self.r.classes.get(name) else {
                    return Outcome::Stop(Verdict::Defer(reply::config_error()));
                };
                if depth >= MAX_DEPTH {
                    ::log::warn!("restriction class {name}: nesting too deep");
                    return Outcome::Stop(Verdict::Defer(reply::config_error()));
                }
                self.list(list, stage, depth + 1)
            }
        }
    }

    /// Postfix reject_invalid_hostaddr(): a HELO `[address]` must hold a
    /// valid IPv4 or `IPv6:` address.
    fn helo_literal(&mut self, code: u16) -> Outcome {
        let h = self.f.helo.unwrap_or("");
        if matches!(
            crate::mail::address::parse_domain(h),
            Ok(Domain::Literal(_))
        ) {
            return Outcome::Dunno;
        }
        self.reject(make(
            code,
            st("5.5.2"),
            format!("<{h}>: Helo command rejected: invalid ip address"),
        ))
    }

    /// Postfix reject_non_fqdn_address(): the domain must be a dotted host
    /// name or an address literal.
    fn non_fqdn_address(&mut self, addr: &str, class: &'static str) -> Outcome {
        let fqdn = matches!(parse_path(addr), Ok(Path::Mailbox(m)) if m.is_fqdn());
        if fqdn {
            return Outcome::Dunno;
        }
        let status = reply::dsn_fix(st("4.5.2"), class);
        self.reject(make(
            self.r.codes.non_fqdn,
            status,
            format!("<{addr}>: {class} rejected: need fully-qualified address"),
        ))
    }

    /// A bounce (null sender) may have one recipient. `recipient_count` counts
    /// recipients accepted before the one being checked.
    fn multi_recipient_bounce(&mut self, stage: &Stage) -> Outcome {
        let limit = match self.point {
            Checkpoint::Data | Checkpoint::EndOfData => 1,
            _ => 0,
        };
        if self.f.sender == Some("") && self.f.recipient_count > limit {
            let reply = make(
                self.r.codes.multi_rcpt_bounce,
                st("5.5.3"),
                format!(
                    "<{}>: {} rejected: Multi-recipient bounce",
                    stage.name, stage.class
                ),
            );
            return self.reject(reply);
        }
        Outcome::Dunno
    }
}

/// A HELO name is fully qualified when it is a valid host name with a dot
/// (Postfix reject_non_fqdn_hostname; literals are checked apart).
fn helo_is_fqdn(helo: &str) -> bool {
    let name = helo.strip_suffix('.').unwrap_or(helo);
    name.contains('.') && helo_is_valid(helo)
}

/// valid_hostname() or valid_hostaddr(), as reject_invalid_helo_hostname.
fn helo_is_valid(helo: &str) -> bool {
    if helo.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    matches!(
        crate::mail::address::parse_domain(helo),
        Ok(Domain::Name(_)) | Ok(Domain::Literal(_))
    )
}
