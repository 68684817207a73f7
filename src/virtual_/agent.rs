//! The virtual delivery agent's context and per-job loop: loop check, mailbox
//! look-up, uid/gid, then a Maildir or mbox delivery as that uid/gid.
//!
//! Mirrors Postfix virtual/virtual.c (parameters, local_deliver), recipient.c
//! ("mail forwarding loop"), mailbox.c (path from `virtual_mailbox_base` and
//! the table, uid/gid checks, `unknown user`) and maildir.c. Reads the
//! parameters listed in this module's `mod.rs`.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::config::{Config, ConfigError};
use crate::local::copy::DeliveredHeader;
use crate::local::delivered::DeliveredTo;
use crate::local::exec::{self, Failure, Identity, Operation, Request};
use crate::local::helper::HelperClient;
use crate::local::lock::{LockError, LockSettings, LockStyle};
use crate::local::settings::{LocalSettings, SettingsError};
use crate::local::wire::Agent;
use crate::local::Envelope;
use crate::mail::delivery::{DeliveryJob, DeliveryResult, JobRecipient, RecipientResult};
use crate::mail::dsn::Outcome;
use crate::mail::extension::Splitter;
use crate::maps::{MapError, MapList, OpenFlags};

use super::lookup::{self, LookupError};

/// Parameter names, so that none is a bare string elsewhere.
pub mod names {
    pub const VIRTUAL_MAILBOX_BASE: &str = "virtual_mailbox_base";
    pub const VIRTUAL_MAILBOX_MAPS: &str = "virtual_mailbox_maps";
    pub const VIRTUAL_UID_MAPS: &str = "virtual_uid_maps";
    pub const VIRTUAL_GID_MAPS: &str = "virtual_gid_maps";
    pub const VIRTUAL_MINIMUM_UID: &str = "virtual_minimum_uid";
    pub const VIRTUAL_MAILBOX_LIMIT: &str = "virtual_mailbox_limit";
    pub const VIRTUAL_MAILBOX_LOCK: &str = "virtual_mailbox_lock";
}

/// Why the agent cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum VirtualAgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("parameter {param}: {source}")]
    Lock {
        param: &'static str,
        source: LockError,
    },
    #[error("parameter {param}: {value} is out of range")]
    Range { param: &'static str, value: i64 },
    #[error("{param}: {source}")]
    Table {
        param: &'static str,
        source: MapError,
    },
}

/// The three table lists of one delivery thread (tables are not `Sync`).
struct Tables {
    mailbox: MapList,
    uid: MapList,
    gid: MapList,
}

/// What a virtual delivery needs; `Send + Sync`, built at start and reload.
pub struct VirtualContext {
    base: PathBuf,
    minimum_uid: u32,
    split: Splitter,
    enable_original_recipient: bool,
    specs: [String; 3],
    flags: OpenFlags,
    /// The local agent's writers, with the virtual_* limit and lock in place of
    /// the mailbox_* ones.
    writers: LocalSettings,
    pool: Mutex<Vec<Tables>>,
    /// The privileged helper, when the master started one (daemon run as root).
    helper: Option<HelperClient>,
}

impl VirtualContext {
    /// Reads the parameters and opens the tables once, so that a bad table is
    /// reported at start.
    pub fn new(cfg: &Config) -> Result<VirtualContext, VirtualAgentError> {
        use names::*;
        let mut writers = LocalSettings::from_config(cfg)?;
        let limit = cfg.get_long(VIRTUAL_MAILBOX_LIMIT)?;
        let limit = u64::try_from(limit).map_err(|_| VirtualAgentError::Range {
            param: VIRTUAL_MAILBOX_LIMIT,
            value: limit,
        })?;
        let minimum = cfg.get_int(VIRTUAL_MINIMUM_UID)?;
        let minimum_uid = u32::try_from(minimum).map_err(|_| VirtualAgentError::Range {
            param: VIRTUAL_MINIMUM_UID,
            value: minimum.into(),
        })?;
        let style = LockStyle::parse(&cfg.get(VIRTUAL_MAILBOX_LOCK)).map_err(|source| {
            VirtualAgentError::Lock {
                param: VIRTUAL_MAILBOX_LOCK,
                source,
            }
        })?;
        // virtual(8) always prepends Delivered-To: (its manual page), and has no
        // mailbox_size_limit of its own but virtual_mailbox_limit.
        let delivered = DeliveredHeader::parse("command, file, forward");
        writers.maildir.mailbox_size_limit = limit;
        writers.maildir.prepend_delivered_header = delivered;
        writers.mbox.mailbox_size_limit = limit;
        writers.mbox.prepend_delivered_header = delivered;
        writers.mbox.lock = LockSettings {
            mailbox_delivery_lock: style,
            ..writers.mbox.lock.clone()
        };
        let flags = OpenFlags {
            utf8: writers.smtputf8_enable,
            ..OpenFlags::default()
        };
        let ctx = VirtualContext {
            base: PathBuf::from(cfg.get(VIRTUAL_MAILBOX_BASE)),
            minimum_uid,
            split: writers.split.clone(),
            enable_original_recipient: writers.enable_original_recipient,
            specs: [
                cfg.get(VIRTUAL_MAILBOX_MAPS),
                cfg.get(VIRTUAL_UID_MAPS),
                cfg.get(VIRTUAL_GID_MAPS),
            ],
            flags,
            writers,
            pool: Mutex::new(Vec::new()),
            helper: None,
        };
        let first = ctx.open()?;
        ctx.give_back(first);
        Ok(ctx)
    }

    /// Sends every job to the privileged helper the master forked before it
    /// dropped root ([`crate::local::helper::spawn`]).
    pub fn with_helper(mut self, helper: Option<HelperClient>) -> VirtualContext {
        self.helper = helper;
        self
    }

    fn open(&self) -> Result<Tables, VirtualAgentError> {
        let open = |param: &'static str, spec: &str| {
            MapList::open(spec, self.flags)
                .map_err(|source| VirtualAgentError::Table { param, source })
        };
        Ok(Tables {
            mailbox: open(names::VIRTUAL_MAILBOX_MAPS, &self.specs[0])?,
            uid: open(names::VIRTUAL_UID_MAPS, &self.specs[1])?,
            gid: open(names::VIRTUAL_GID_MAPS, &self.specs[2])?,
        })
    }

    fn take(&self) -> Result<Tables, VirtualAgentError> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(t) if !(t.mailbox.changed() || t.uid.changed() || t.gid.changed()) => Ok(t),
            _ => self.open(),
        }
    }

    fn give_back(&self, tables: Tables) {
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tables);
    }
}

/// Delivers `jobs` one after the other, giving each result to `each` with the
/// job's position as soon as it is known (see `local::agent::deliver_batch`).
pub fn deliver_batch(
    jobs: &[&DeliveryJob],
    ctx: &VirtualContext,
    each: &mut dyn FnMut(usize, DeliveryResult),
) {
    let helper = ctx.helper.as_ref();
    crate::local::helper::deliver_batch_via(helper, Agent::Virtual, jobs, each, |j| {
        deliver(j, ctx)
    });
}

/// Delivers `job` to hosted mailboxes; one result per recipient, in order.
pub fn deliver(job: &DeliveryJob, ctx: &VirtualContext) -> DeliveryResult {
    if let Some(helper) = &ctx.helper {
        return helper.deliver(Agent::Virtual, job);
    }
    let content = crate::local::agent::normalise(&job.content);
    let delivered_to = DeliveredTo::from_message(&content);
    let tables = ctx.take();
    let recipients = job
        .recipients
        .iter()
        .map(|rcpt| {
            let done = match &tables {
                Ok(t) => one(job, rcpt, ctx, t, &delivered_to, &content),
                Err(e) => {
                    log::warn!("{e}");
                    Err(Failure::new("4.3.0", "mail system configuration error"))
                }
            };
            result(rcpt.index, done)
        })
        .collect();
    if let Ok(t) = tables {
        ctx.give_back(t);
    }
    DeliveryResult {
        queue_id: job.queue_id.clone(),
        transport: job.transport.clone(),
        recipients,
    }
}

/// One recipient: loop check, mailbox, uid/gid, delivery.
fn one(
    job: &DeliveryJob,
    rcpt: &JobRecipient,
    ctx: &VirtualContext,
    tables: &Tables,
    delivered_to: &DeliveredTo,
    content: &[u8],
) -> Result<String, Failure> {
    let address = &rcpt.address;
    if delivered_to.contains(address) {
        return Err(Failure::new(
            "5.4.6",
            format!("mail forwarding loop for {address}"),
        ));
    }
    let keys = lookup::address_keys(address, &ctx.split);
    let config_error = |e: LookupError| {
        log::warn!("{e}");
        Failure::new("4.3.5", "mail system configuration error")
    };
    let Some(path) = lookup::find(&tables.mailbox, names::VIRTUAL_MAILBOX_MAPS, address, &keys)
        .map_err(|e| {
            log::warn!("{e}");
            Failure::new("4.3.0", "table lookup failure")
        })?
    else {
        return Err(Failure::new(
            "5.1.1",
            format!("unknown user: \"{}\"", address.to_lowercase()),
        ));
    };
    let uid = lookup::number(
        &tables.uid,
        names::VIRTUAL_UID_MAPS,
        "uid",
        address,
        &keys,
        ctx.minimum_uid,
    )
    .map_err(config_error)?;
    let gid = lookup::number(
        &tables.gid,
        names::VIRTUAL_GID_MAPS,
        "gid",
        address,
        &keys,
        0,
    )
    .map_err(config_error)?;
    // mailbox.c: concatenate(virtual_mailbox_base, "/", result).
    let full = format!("{}/{}", ctx.base.display(), path.trim());
    let operation = if full.ends_with('/') {
        Operation::Maildir(PathBuf::from(full))
    } else {
        Operation::Mbox(PathBuf::from(full))
    };
    let original = if ctx.enable_original_recipient {
        rcpt.orig_rcpt.clone().unwrap_or_else(|| address.clone())
    } else {
        String::new()
    };
    let request = Request {
        operation,
        identity: Identity {
            name: address.clone(),
            uid,
            gid,
            home: None,
            shell: None,
        },
        envelope: Envelope {
            queue_id: job.queue_id.clone(),
            sender: job.sender.clone(),
            recipient: address.clone(),
            original_recipient: original,
            delivery_key: Envelope::delivery_key(job.arrival, &job.queue_id, rcpt.index),
            retry: rcpt.retry,
        },
    };
    exec::execute(&request, content, &ctx.writers)
}

fn result(index: u32, done: Result<String, Failure>) -> RecipientResult {
    let (outcome, detail) = match done {
        Ok(text) => (Outcome::Delivered, text),
        Err(f) if f.dsn.starts_with('4') => (Outcome::Deferred(f.to_dsn()), f.reason),
        Err(f) => (Outcome::Bounced(f.to_dsn()), f.reason),
    };
    RecipientResult {
        index,
        outcome,
        relay: "virtual".to_string(),
        detail,
        forwarded: Vec::new(),
        tls: None,
        parts: Vec::new(),
        success: Default::default(),
    }
}
