//! The walk of one recipient through local(8): loop check, address extension,
//! aliases (with `owner-` senders), the password file, `.forward`, the mailbox,
//! and the unknown-user bounce or `luser_relay`.
//!
//! Mirrors Postfix local/recipient.c (deliver_recipient, deliver_switch),
//! local/alias.c (deliver_alias: full local part first, then without extension;
//! `owner-name` as envelope sender; "alias database loop"), local/dotforward.c,
//! local/resolve.c (local addresses are delivered in-process, others are
//! forwarded), local/unknown.c and the mailbox choice of local/mailbox.c.
//! Duplicate elimination keys follow Postfix's been_here() strings. Reads the
//! settings in `settings.rs`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::mail::delivery::{DeliveredPart, DeliveryJob, Forwarded};

use super::agent::{Aliases, LocalContext, Tally};
use super::alias_value::{self, Destination};
use super::command::CommandContext;
use super::delivered::DeliveredTo;
use super::exec::{Failure, Identity, Operation, Request};
use super::expand::{self, ExpandAttrs};
use super::extension::split_extension;
use super::forward::{self, ForwardFile, Routed};
use super::mailbox::{self, MailboxTarget};
use super::{Envelope, Origin};

/// Nesting deeper than this is an alias or forwarding loop (Postfix's limit of
/// 100 levels in alias.c).
const MAX_LEVEL: usize = 100;

/// Address expansions allowed for one job recipient, so that a table such as
/// `a: b, b` / `b: a, a` cannot blow up exponentially before the level limit.
const MAX_STEPS: usize = 10_000;

/// The attributes of one delivery level (Postfix DELIVER_ATTR).
#[derive(Debug, Clone)]
pub(super) struct Attr {
    /// The address delivered at this level.
    address: String,
    /// The top-level recipient: the `Delivered-To:` value (frozen_delivered_to).
    delivered: String,
    /// `X-Original-To:`; empty with `enable_original_recipient = no`.
    original: String,
    /// Envelope sender; an `owner-` alias replaces it below that alias.
    sender: String,
    level: usize,
    /// `\user`: no alias or `.forward` expansion.
    literal: bool,
    /// Local names whose expansion led here, for loop detection.
    ancestors: Vec<String>,
    /// An extension that no lookup matched, for propagate_unmatched_extensions.
    unmatched: Option<String>,
}

impl Attr {
    /// The attributes of a job recipient.
    pub fn top(address: &str, sender: &str, original: String) -> Attr {
        Attr {
            address: address.to_string(),
            delivered: address.to_string(),
            original,
            sender: sender.to_string(),
            level: 0,
            literal: false,
            ancestors: Vec::new(),
            unmatched: None,
        }
    }

    fn child(&self, address: String, literal: bool, from: &str) -> Attr {
        let mut ancestors = self.ancestors.clone();
        ancestors.push(from.to_string());
        Attr {
            address,
            level: self.level + 1,
            literal,
            ancestors,
            unmatched: None,
            ..self.clone()
        }
    }
}

/// An address split as recipient.c splits it.
struct Parts {
    /// The whole local part, lower-cased.
    local: String,
    /// The local part without extension.
    user: String,
    extension: Option<String>,
    /// The delimiter character that separated the extension.
    delimiter: String,
    domain: String,
}

/// One job's walk: the shared duplicate filter and Delivered-To set, and the
/// tally of the job recipient being delivered.
pub(super) struct Walk<'a> {
    pub ctx: &'a LocalContext,
    pub job: &'a DeliveryJob,
    pub aliases: &'a Aliases,
    pub content: &'a [u8],
    pub delivered_to: DeliveredTo,
    pub seen: HashSet<String>,
    pub tally: Tally,
    /// The index of the job recipient being delivered (for delivery keys).
    pub rcpt_index: u32,
    /// The job recipient's [`JobRecipient::retry`](crate::mail::delivery::JobRecipient::retry).
    pub retry: bool,
}

impl Walk<'_> {
    /// deliver_recipient(): one address at one level.
    pub fn recipient(&mut self, attr: Attr) {
        let steps = self.tally.steps;
        self.tally.steps += 1;
        if attr.level > MAX_LEVEL || steps > MAX_STEPS {
            let name = attr.ancestors.last().cloned().unwrap_or_default();
            log::warn!("alias database loop for {name}");
            return self.fail("5.4.6", format!("alias database loop for {name}"));
        }
        // recipient.c: a Delivered-To: header naming this address means the
        // message was here before.
        if self.delivered_to.contains(&attr.address) {
            return self.fail(
                "5.4.6",
                format!("mail forwarding loop for {}", attr.address),
            );
        }
        let parts = self.split(&attr.address);
        if !self.is_local_domain(&parts.domain) {
            return self.forward_address(&attr);
        }
        if attr
            .ancestors
            .iter()
            .any(|a| a == &parts.local || a == &parts.user)
        {
            // An alias or .forward that names itself: its own mailbox (aliases(5),
            // dotforward.c), not another round of expansion.
            if attr.ancestors.last() != Some(&parts.user) {
                return self.fail(
                    "5.4.6",
                    format!("mail forwarding loop for {}", attr.address),
                );
            }
            return self.user(attr, &parts, true);
        }
        if !attr.literal && self.alias(&attr, &parts) {
            return;
        }
        let literal = attr.literal;
        self.user(attr, &parts, literal)
    }

    /// deliver_alias(): the full local part, then the local part without
    /// extension. Returns whether an alias was found (and handled).
    fn alias(&mut self, attr: &Attr, parts: &Parts) -> bool {
        let mut names = vec![(parts.local.clone(), None)];
        if parts.extension.is_some() {
            let unmatched = if self.ctx.settings.propagate.alias {
                parts.extension.clone()
            } else {
                None
            };
            names.push((parts.user.clone(), unmatched));
        }
        for (name, unmatched) in names {
            let value = match self.aliases.list.find(&name) {
                Ok(Some(v)) => v,
                Ok(None) => continue,
                Err(e) => {
                    log::warn!("alias_maps lookup of {name}: {e}");
                    self.fail("4.3.0", "alias database unavailable".to_string());
                    return true;
                }
            };
            let mut attr = attr.clone();
            attr.unmatched = unmatched;
            if let Some(owner) = self.owner_sender(&name) {
                attr.sender = owner;
            }
            let dests = match alias_value::parse_value(&value) {
                Ok(d) => d,
                Err(e) => {
                    self.fail("4.3.5", e.to_string());
                    return true;
                }
            };
            let privs = match self.alias_privs() {
                Ok(p) => p,
                Err(f) => {
                    self.tally.fail(f);
                    return true;
                }
            };
            self.expand(&attr, dests, Origin::Alias, &privs, &name);
            return true;
        }
        false
    }

    /// alias.c: with `owner-name` in the aliases, mail for `name` is sent with
    /// `owner-name@$myorigin` (or its expansion) as envelope sender.
    fn owner_sender(&self, name: &str) -> Option<String> {
        let s = &self.ctx.settings;
        if !s.owner_request_special || name.starts_with("owner-") {
            return None;
        }
        let owner = format!("owner-{name}");
        let value = self.aliases.list.find(&owner).ok()??;
        let chosen = if s.expand_owner_alias {
            value.split(',').next().unwrap_or(&owner).trim().to_string()
        } else {
            owner
        };
        Some(if chosen.contains('@') {
            chosen
        } else {
            format!("{chosen}@{}", s.myorigin)
        })
    }

    /// Rights for commands and files named by aliases: the owner of the alias
    /// table, or `default_privs` when root owns it (local(8) "alias" rights).
    fn alias_privs(&self) -> Result<Identity, Failure> {
        if self.aliases.owner != 0 {
            return Ok(Identity::by_uid(self.aliases.owner));
        }
        let name = &self.ctx.settings.command.default_privs;
        match Identity::lookup(name) {
            Ok(Some(id)) => Ok(id),
            _ => Err(Failure::new(
                "4.3.5",
                format!("mail system configuration error: default_privs user {name} not found"),
            )),
        }
    }

    /// Delivers the destinations of an alias, `.forward` or `:include:` with the
    /// rights of `privs`; `from` is the local name they belong to.
    fn expand(
        &mut self,
        attr: &Attr,
        dests: Vec<Destination>,
        origin: Origin,
        privs: &Identity,
        from: &str,
    ) {
        let routed = match forward::expand_includes(dests, origin) {
            Ok(r) => r,
            Err(e) => return self.fail(e.dsn(), e.to_string()),
        };
        for Routed {
            destination,
            origin,
            include_owner,
        } in routed
        {
            // include.c: a non-root owner of an :include: file lends its rights.
            let privs = match include_owner {
                Some(uid) if uid != 0 => Identity::by_uid(uid),
                _ => privs.clone(),
            };
            match destination {
                Destination::Address { address, literal } => {
                    let address = self.with_unmatched(address, attr.unmatched.as_deref());
                    let child = attr.child(address, literal, from);
                    self.recipient(child);
                }
                Destination::Command(command) => {
                    let key = format!("command {} {command}", privs.uid);
                    if self.seen_before(key) {
                        continue;
                    }
                    let parts = self.split(&attr.address);
                    let operation = Operation::Command {
                        command,
                        origin: Some(origin),
                        context: Box::new(self.command_context(&parts)),
                    };
                    self.run(attr, operation, privs);
                }
                Destination::File(path) => self.file(attr, path, origin, privs),
                Destination::HomeFile(rel) => match privs.home.clone() {
                    Some(home) => {
                        let path = Destination::home_file(&rel, &home);
                        self.file(attr, path, origin, privs)
                    }
                    None => self.fail(
                        "5.3.5",
                        format!("no home directory for ~/{}", rel.display()),
                    ),
                },
                Destination::Include(path) => {
                    // expand_includes() replaced every include; keep the mail.
                    self.fail("4.3.5", format!("unexpanded :include:{}", path.display()));
                }
            }
        }
    }

    fn file(&mut self, attr: &Attr, path: PathBuf, origin: Origin, privs: Identity) {
        if self.seen_before(format!("file {}", path.display())) {
            return;
        }
        self.run(attr, Operation::File { path, origin }, privs);
    }

    /// The password-file user: `.forward` unless `literal`, then the mailbox;
    /// unknown users go to `luser_relay` or bounce.
    fn user(&mut self, attr: Attr, parts: &Parts, literal: bool) {
        let id = match Identity::lookup(&parts.user) {
            Ok(Some(id)) => id,
            Ok(None) => return self.unknown(attr, parts),
            Err(e) => return self.fail("4.3.0", format!("user lookup of {}: {e}", parts.user)),
        };
        let home = id.home.clone().unwrap_or_else(|| PathBuf::from("/"));
        if self.ctx.settings.require_home_directory {
            if let Err(e) = std::fs::metadata(&home) {
                return self.fail(
                    "4.3.0",
                    format!("cannot access home directory {}: {e}", home.display()),
                );
            }
        }
        if !literal && self.dot_forward(&attr, parts, &id, &home) {
            return;
        }
        self.mailbox(&attr, parts, id, &home)
    }

    /// deliver_dotforward(): whether a usable `.forward` took the mail.
    fn dot_forward(&mut self, attr: &Attr, parts: &Parts, id: &Identity, home: &Path) -> bool {
        let attrs = self.expand_attrs(attr, parts, id, home);
        let paths = match forward::forward_paths(&self.ctx.settings.forward, &attrs) {
            Ok(p) => p,
            Err(e) => {
                self.fail("4.3.5", e.to_string());
                return true;
            }
        };
        match forward::find_forward(&paths, id.uid) {
            Ok(ForwardFile::Found { destinations, .. }) => {
                let mut attr = attr.clone();
                if parts.extension.is_some() && self.ctx.settings.propagate.forward {
                    attr.unmatched = parts.extension.clone();
                }
                self.expand(&attr, destinations, Origin::Forward, id, &parts.user);
                true
            }
            Ok(_) => false,
            Err(e) => {
                self.fail(e.dsn(), e.to_string());
                true
            }
        }
    }

    /// deliver_mailbox(): `mailbox_command`, `home_mailbox` or the spool.
    fn mailbox(&mut self, attr: &Attr, parts: &Parts, id: Identity, home: &Path) {
        if self.seen_before(format!("mailbox {}", parts.user)) {
            return;
        }
        let operation = match mailbox::mailbox_target(&self.ctx.settings.mailbox, &id.name, home) {
            MailboxTarget::Command(command) => Operation::Command {
                command,
                origin: None,
                context: Box::new(self.command_context(parts)),
            },
            MailboxTarget::Maildir(path) => Operation::Maildir(path),
            MailboxTarget::Mbox(path) => Operation::Mbox(path),
        };
        self.run(attr, operation, id)
    }

    /// deliver_unknown(): `luser_relay` when set, else the 5.1.1 bounce.
    fn unknown(&mut self, attr: Attr, parts: &Parts) {
        let relay = &self.ctx.settings.luser_relay;
        if !relay.is_empty() && attr.level < MAX_LEVEL {
            let id = Identity {
                name: parts.user.clone(),
                uid: 0,
                gid: 0,
                home: None,
                shell: None,
            };
            let attrs = self.expand_attrs(&attr, parts, &id, Path::new(""));
            let filter = &self.ctx.settings.forward.forward_expansion_filter;
            match expand::expand(relay, &attrs, filter) {
                Ok(Some(target)) if !target.is_empty() => {
                    let child = attr.child(target, false, &parts.user);
                    return self.recipient(child);
                }
                Ok(_) => {}
                Err(e) => return self.fail("4.3.5", e.to_string()),
            }
        }
        self.fail("5.1.1", format!("unknown user: \"{}\"", parts.user))
    }

    /// An address that is not ours: qmgr resubmits it (deliver_indirect,
    /// forward_append): from the sender at this level (an `owner-` alias
    /// when there is one), with `Delivered-To:` naming the top-level
    /// recipient when `prepend_delivered_header` has `forward`.
    fn forward_address(&mut self, attr: &Attr) {
        let address = &attr.address;
        if self.seen_before(format!("forward {}", address.to_lowercase())) {
            return;
        }
        let delivered_to = self
            .ctx
            .settings
            .delivered_header
            .forward
            .then(|| attr.delivered.to_lowercase());
        self.tally.forwarded.push(Forwarded {
            address: address.to_string(),
            sender: attr.sender.clone(),
            delivered_to,
        });
    }

    fn run(&mut self, attr: &Attr, operation: Operation, identity: Identity) {
        let request = Request {
            operation,
            identity,
            envelope: Envelope {
                queue_id: self.job.queue_id.clone(),
                sender: attr.sender.clone(),
                recipient: attr.delivered.clone(),
                original_recipient: attr.original.clone(),
                delivery_key: Envelope::delivery_key(
                    self.job.arrival,
                    &self.job.queue_id,
                    self.rcpt_index,
                ),
                retry: self.retry,
            },
        };
        match self.ctx.run(&request, self.content) {
            Ok(text) => {
                let address = self.qualified(&attr.address);
                self.tally.delivered.push(DeliveredPart {
                    address,
                    detail: text,
                })
            }
            Err(f) => self.tally.fail(f),
        }
    }

    fn fail(&mut self, dsn: &str, reason: String) {
        self.tally.fail(Failure::new(dsn, reason));
    }

    /// been_here(): true when `key` was handled earlier in this job. Past
    /// `duplicate_filter_limit` entries nothing more is remembered.
    fn seen_before(&mut self, key: String) -> bool {
        if self.seen.contains(&key) {
            return true;
        }
        if self.seen.len() < self.ctx.settings.duplicate_filter_limit {
            self.seen.insert(key);
        }
        false
    }

    /// `address` with `@$myorigin` when it is a bare local part, as Postfix
    /// logs the address of an expansion.
    fn qualified(&self, address: &str) -> String {
        if address.contains('@') {
            address.to_string()
        } else {
            format!("{address}@{}", self.ctx.settings.myorigin)
        }
    }

    /// Splits `address`; a bare local part gets `$myorigin` (canon_addr_internal).
    fn split(&self, address: &str) -> Parts {
        let s = &self.ctx.settings;
        let (local, domain) = match address.rfind('@') {
            Some(at) => (&address[..at], address[at + 1..].to_ascii_lowercase()),
            None => (address, s.myorigin.clone()),
        };
        let local = local.to_lowercase();
        let (user, extension, delimiter) = split_extension(&local, &s.split);
        Parts {
            local: local.clone(),
            user,
            extension,
            delimiter,
            domain: domain.trim_end_matches('.').to_string(),
        }
    }

    /// resolve_local(): `mydestination` names and `$myhostname`.
    fn is_local_domain(&self, domain: &str) -> bool {
        let s = &self.ctx.settings;
        domain.is_empty() || domain == s.myhostname || s.mydestination.iter().any(|d| d == domain)
    }

    fn with_unmatched(&self, address: String, unmatched: Option<&str>) -> String {
        let (Some(ext), Some(delim)) = (
            unmatched,
            self.ctx.settings.recipient_delimiter.chars().next(),
        ) else {
            return address;
        };
        match address.rfind('@') {
            Some(at) => format!("{}{delim}{ext}{}", &address[..at], &address[at..]),
            None => format!("{address}{delim}{ext}"),
        }
    }

    fn command_context(&self, parts: &Parts) -> CommandContext {
        let c = &self.job.client;
        CommandContext {
            local: parts.local.clone(),
            domain: parts.domain.clone(),
            extension: parts.extension.clone(),
            client_hostname: c.name.clone(),
            client_address: c.addr.clone(),
            client_helo: c.helo.clone(),
            client_protocol: c.protocol.clone(),
            ..CommandContext::default()
        }
    }

    fn expand_attrs(&self, attr: &Attr, parts: &Parts, id: &Identity, home: &Path) -> ExpandAttrs {
        ExpandAttrs {
            home: home.to_string_lossy().into_owned(),
            user: id.name.clone(),
            shell: id.shell.clone().unwrap_or_default(),
            recipient: attr.address.clone(),
            extension: parts.extension.clone().unwrap_or_default(),
            domain: parts.domain.clone(),
            local: parts.local.clone(),
            recipient_delimiter: parts.delimiter.clone(),
            mailbox: parts.user.clone(),
        }
    }
}
