//! The local delivery agent: takes a [`DeliveryJob`] from qmgr and returns one
//! [`RecipientResult`] per recipient, after aliases, `.forward` and the mailbox.
//!
//! Mirrors Postfix local/local.c (local_deliver: one state per request, the
//! duplicate filter shared by all recipients of the request, the Delivered-To
//! headers read once) and the per-recipient status of bounce_append/sent. The
//! walk through aliases and `.forward` is in `recipient.rs`; a single delivery
//! is in `exec.rs`. Reads every parameter listed in `settings.rs`, and
//! `alias_maps` tables are opened here.
//!
//! Privileges: with a privileged helper ([`LocalContext::with_helper`], a daemon
//! started as root) the whole job is run by the helper, as root with each
//! delivery made as its user; without one the job runs in-process as the
//! current user (tests, quickstart, a daemon not started as root). When the
//! process itself is root (the helper, or tests run as root), file deliveries
//! take the recipient's file-system identity (privs.rs) and commands run as the
//! recipient (command.rs).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use crate::config::Config;
use crate::mail::delivery::{
    DeliveredPart, DeliveryJob, DeliveryResult, Forwarded, RecipientResult,
};
use crate::mail::dsn::Outcome;
use crate::maps::{split_list, MapError, MapList, OpenFlags};

use super::delivered::DeliveredTo;
use super::exec::{self, Failure, Request};
use super::helper::HelperClient;
use super::recipient::{Attr, Walk};
use super::settings::{LocalSettings, SettingsError};
use super::wire::Agent;

/// Why the agent cannot be set up; the master reports it and does not start the
/// transport.
#[derive(Debug, thiserror::Error)]
pub enum LocalAgentError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("alias_maps: {0}")]
    AliasMaps(#[from] MapError),
}

/// Everything a delivery needs that outlives one job; `Send + Sync`, built from
/// Config at start and reload.
pub struct LocalContext {
    pub(super) settings: LocalSettings,
    /// Opened `alias_maps` lists. A table is `Send` but not `Sync`, so each
    /// delivery borrows a list from this pool and gives it back.
    alias_pool: Mutex<Vec<Aliases>>,
    /// The privileged helper, when the master started one (daemon run as root).
    helper: Option<HelperClient>,
}

impl LocalContext {
    /// Reads the settings and opens `alias_maps` once, so that a bad table is
    /// reported at start rather than at the first delivery.
    pub fn new(cfg: &Config) -> Result<LocalContext, LocalAgentError> {
        let settings = LocalSettings::from_config(cfg)?;
        let first = Aliases::open(&settings)?;
        Ok(LocalContext {
            settings,
            alias_pool: Mutex::new(vec![first]),
            helper: None,
        })
    }

    /// Sends every job to the privileged helper the master forked before it
    /// dropped root ([`super::helper::spawn`]).
    pub fn with_helper(mut self, helper: Option<HelperClient>) -> LocalContext {
        self.helper = helper;
        self
    }

    /// A list of alias tables from the pool, opened anew when all are in use or
    /// when a table file was replaced (postalias).
    fn take_aliases(&self) -> Result<Aliases, MapError> {
        let pooled = self
            .alias_pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match pooled {
            Some(aliases) if !aliases.list.changed() => Ok(aliases),
            _ => Aliases::open(&self.settings),
        }
    }

    /// The owner the next delivery's alias commands and files would get.
    #[cfg(test)]
    pub(super) fn alias_owner(&self) -> Result<u32, MapError> {
        let aliases = self.take_aliases()?;
        let owner = aliases.owner;
        self.give_back(aliases);
        Ok(owner)
    }

    fn give_back(&self, list: Aliases) {
        self.alias_pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(list);
    }

    /// Performs one final delivery (exec.rs), in this process.
    pub(super) fn run(&self, request: &Request, content: &[u8]) -> Result<String, Failure> {
        exec::execute(request, content, &self.settings)
    }
}

/// An opened `alias_maps` list with the owner of its first table file as it
/// was when opened (Postfix's dict->owner): commands and files named by
/// aliases run with this user's rights unless it is root (then
/// `default_privs`). A table replaced by postalias is opened again, and its
/// new owner read with it.
pub(super) struct Aliases {
    pub list: MapList,
    pub owner: u32,
}

impl Aliases {
    fn open(settings: &LocalSettings) -> Result<Aliases, MapError> {
        let list = MapList::open(&settings.alias_maps, open_flags(settings))?;
        let owner = split_list(&settings.alias_maps)
            .iter()
            .find_map(|spec| table_owner(spec))
            .unwrap_or(0);
        Ok(Aliases { list, owner })
    }
}

fn open_flags(settings: &LocalSettings) -> OpenFlags {
    OpenFlags {
        utf8: settings.smtputf8_enable,
        ..OpenFlags::default()
    }
}

/// Owner uid of the file behind `type:/path` (the indexed file for hash, btree
/// and lmdb, as Postfix takes dict->owner from the opened database).
fn table_owner(spec: &str) -> Option<u32> {
    let (kind, name) = spec.split_once(':')?;
    let kind = kind.strip_prefix("proxy:").unwrap_or(kind);
    if !name.starts_with('/') {
        return None;
    }
    let path = match kind {
        "hash" | "btree" => format!("{name}.db"),
        "lmdb" => format!("{name}.lmdb"),
        _ => name.to_string(),
    };
    std::fs::metadata(&path)
        .or_else(|_| std::fs::metadata(name))
        .ok()
        .map(|m| m.uid())
}

/// Delivers `jobs` one after the other, giving each result to `each` with the
/// job's position as soon as it is known; through the helper, the next job
/// is on its way while a result is reported.
pub fn deliver_batch(
    jobs: &[&DeliveryJob],
    ctx: &LocalContext,
    each: &mut dyn FnMut(usize, DeliveryResult),
) {
    let helper = ctx.helper.as_ref();
    super::helper::deliver_batch_via(helper, Agent::Local, jobs, each, |j| deliver(j, ctx));
}

/// Delivers `job` to its local recipients; one result per job recipient, in
/// order.
pub fn deliver(job: &DeliveryJob, ctx: &LocalContext) -> DeliveryResult {
    if let Some(helper) = &ctx.helper {
        return helper.deliver(Agent::Local, job);
    }
    let content = normalise(&job.content);
    let aliases = ctx.take_aliases();
    let mut results = Vec::with_capacity(job.recipients.len());
    match &aliases {
        Ok(list) => {
            let mut walk = Walk {
                ctx,
                job,
                aliases: list,
                content: &content,
                delivered_to: DeliveredTo::from_message(&content),
                seen: HashSet::new(),
                tally: Tally::default(),
                rcpt_index: 0,
                retry: false,
            };
            for rcpt in &job.recipients {
                walk.tally = Tally::default();
                walk.rcpt_index = rcpt.index;
                walk.retry = rcpt.retry;
                let original = if ctx.settings.enable_original_recipient {
                    rcpt.orig_rcpt
                        .clone()
                        .unwrap_or_else(|| rcpt.address.clone())
                } else {
                    String::new()
                };
                walk.recipient(Attr::top(&rcpt.address, &job.sender, original));
                results.push(std::mem::take(&mut walk.tally).result(rcpt.index));
            }
        }
        Err(e) => {
            log::warn!("alias_maps: {e}");
            for rcpt in &job.recipients {
                let mut tally = Tally::default();
                tally.fail(Failure::new("4.3.0", "alias database unavailable"));
                results.push(tally.result(rcpt.index));
            }
        }
    }
    if let Ok(list) = aliases {
        ctx.give_back(list);
    }
    DeliveryResult {
        queue_id: job.queue_id.clone(),
        transport: job.transport.clone(),
        recipients: results,
    }
}

/// The queue may store CRLF; mailboxes and commands get LF (Postfix stores
/// records without line ends and writes LF).
pub(crate) fn normalise(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len());
    let mut i = 0;
    while i < content.len() {
        if content[i] == b'\r' && content.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(content[i]);
        i += 1;
    }
    out
}

/// What happened to one job recipient across all its expansions.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Address expansions made so far (recipient.rs bounds them).
    pub steps: usize,
    /// Final deliveries: the address delivered at that level and the status text.
    pub delivered: Vec<DeliveredPart>,
    pub forwarded: Vec<Forwarded>,
    deferred: Option<Failure>,
    bounced: Option<Failure>,
}

impl Tally {
    /// Records a failed delivery. The first defer wins over everything (the
    /// recipient is tried again), then the first bounce.
    pub fn fail(&mut self, f: Failure) {
        if f.dsn.starts_with('4') {
            self.deferred.get_or_insert(f);
        } else {
            self.bounced.get_or_insert(f);
        }
    }

    /// One outcome for the job recipient: deferred if any part deferred, bounced
    /// if any part bounced, else delivered with the status texts of its parts.
    fn result(self, index: u32) -> RecipientResult {
        let (outcome, detail) = if let Some(f) = self.deferred {
            (Outcome::Deferred(f.to_dsn()), f.reason)
        } else if let Some(f) = self.bounced {
            (Outcome::Bounced(f.to_dsn()), f.reason)
        } else if self.delivered.is_empty() && !self.forwarded.is_empty() {
            (Outcome::Delivered, "forwarded".to_string())
        } else if self.delivered.is_empty() {
            // Every destination was a duplicate of one already delivered in this
            // job: Postfix reports the recipient as delivered.
            (Outcome::Delivered, "delivered".to_string())
        } else {
            let texts: Vec<String> = self.delivered.iter().map(|p| p.detail.clone()).collect();
            (Outcome::Delivered, dedup_join(&texts))
        };
        let parts = match &outcome {
            Outcome::Delivered => dedup_parts(self.delivered),
            _ => Vec::new(),
        };
        RecipientResult {
            index,
            outcome,
            relay: "local".to_string(),
            detail,
            forwarded: self.forwarded,
            tls: None,
            parts,
            success: Default::default(),
        }
    }
}

/// The parts without repeats (the same address and text twice is one line).
fn dedup_parts(parts: Vec<DeliveredPart>) -> Vec<DeliveredPart> {
    let mut out: Vec<DeliveredPart> = Vec::with_capacity(parts.len());
    for p in parts {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn dedup_join(texts: &[String]) -> String {
    let mut seen = HashSet::new();
    texts
        .iter()
        .filter(|t| seen.insert(t.as_str()))
        .cloned()
        .collect::<Vec<_>>()
        .join("; ")
}
