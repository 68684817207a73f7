//! The local delivery agent and its primitives: Maildir, mbox, `|command`,
//! `/file`, `.forward` and alias values, as Postfix's local(8) does them.
//!
//! Mirrors Postfix `src/local/` (local.c, recipient.c, alias.c, maildir.c,
//! mailbox.c, command.c, file.c, dotforward.c, include.c, token.c,
//! local_expand.c) and the global helpers they use
//! (mail_copy.c, mbox_open.c, dot_lockfile.c, deliver_flock.c, pipe_command.c,
//! sys_exits.c). Each file lists the `main.cf` parameters it reads; their values
//! arrive in plain settings structs (`MboxSettings`, `CommandSettings`, ...) whose
//! `Default` is Postfix's default; `settings.rs` fills them from Config once per
//! context (start and reload).
//!
//! What is here: the local delivery agent ([`agent::deliver`] with a
//! [`agent::LocalContext`] built from Config), the walk of a recipient through
//! aliases, `.forward` and the mailbox (`recipient.rs`), one call per destination
//! kind (each returning where the message landed or a typed error that says
//! whether the failure is temporary or permanent, with an RFC 3463 code), the
//! parsers for alias values and `.forward`/`:include:` files, the per-thread
//! file-system identity used as root ([`privs`]), and the privileged helper a
//! root daemon forks before it drops privileges ([`helper`], wire format in
//! [`wire`]). What is not here: resubmitting forwarded addresses and logging
//! (qmgr does both with the [`crate::mail::delivery::RecipientResult`]s).
//!
//! Public API:
//! - [`agent::LocalContext::new`], [`agent::LocalContext::with_helper`],
//!   [`agent::deliver`]: one job in, one result per recipient out;
//! - [`helper::spawn`] (master, as root, before threads) -> [`helper::HelperClient`];
//! - [`mailbox::mailbox_target`] picks `mailbox_command`, `home_mailbox` or
//!   `mail_spool_directory` for a user;
//! - [`maildir::deliver_maildir`], [`mbox::deliver_mbox`], [`file::deliver_file`],
//!   [`command::deliver_command`] deliver one message to one destination;
//! - [`alias_value::parse_value`] splits an alias value into
//!   [`alias_value::Destination`]s; [`forward::forward_paths`] and
//!   [`forward::find_forward`] find and read `.forward`;
//!   [`forward::expand_includes`] expands `:include:` files, tagging each
//!   destination with its [`Origin`] for `allow_mail_to_commands`/`_files`.
#![allow(dead_code)] // wired in by qmgr (issue 4)

pub mod agent;
pub mod alias_value;
pub mod command;
mod command_status;
pub mod copy;
pub mod delivered;
pub mod exec;
pub mod expand;
mod extension;
pub mod file;
pub mod forward;
pub mod helper;
pub mod lock;
pub mod mailbox;
pub mod maildir;
pub mod mbox;
pub mod privs;
mod recipient;
pub mod settings;
pub mod wire;

/// The message envelope as local delivery needs it. The queue's own types are mapped
/// onto this by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Queue ID, for log lines and error texts.
    pub queue_id: String,
    /// Envelope sender; empty for the null sender (bounces).
    pub sender: String,
    /// Final envelope recipient after aliasing (becomes `Delivered-To:`).
    pub recipient: String,
    /// Recipient as first given to Postfix (becomes `X-Original-To:`); empty when
    /// `enable_original_recipient = no`.
    pub original_recipient: String,
    /// Names this delivery across attempts: `ARRIVAL.QqueueidRindex` for a job
    /// from the queue (the message's arrival time, queue ID and job recipient
    /// index). A Maildir delivery with a key uses it as its file name, so that
    /// a retry after a crash finds the copy the interrupted attempt made
    /// instead of writing a second one (maildir.rs). Empty: no such check.
    pub delivery_key: String,
    /// An earlier attempt may have made this delivery
    /// ([`crate::mail::delivery::JobRecipient::retry`]): the Maildir check
    /// then also reads `cur/`, where a reader may have moved the copy. A first
    /// attempt only checks `new/` (a racing twin), so that a delivery does not
    /// read the whole `cur/` of a big mailbox.
    pub retry: bool,
}

impl Envelope {
    /// The [`Envelope::delivery_key`] of job recipient `index` of a message.
    pub fn delivery_key(arrival: i64, queue_id: &str, index: u32) -> String {
        format!("{arrival}.Q{queue_id}R{index}")
    }
}

/// Whether a failed delivery is retried later or returned to the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Defer: the queue tries again (RFC 3463 class 4).
    Temporary,
    /// Bounce: the sender gets a non-delivery notice (RFC 3463 class 5).
    Permanent,
}

impl Severity {
    /// The severity an RFC 3463 code such as `4.2.0` stands for.
    pub fn of_dsn(dsn: &str) -> Severity {
        if dsn.starts_with('4') {
            Severity::Temporary
        } else {
            Severity::Permanent
        }
    }
}

/// Where a destination came from: `allow_mail_to_commands` and
/// `allow_mail_to_files` name these classes (Postfix local.h EXPAND_TYPE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The right-hand side of an alias.
    Alias,
    /// A user's `.forward` file.
    Forward,
    /// A file named by `:include:`.
    Include,
}

/// A class list such as `allow_mail_to_commands = alias, forward`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginMask {
    pub alias: bool,
    pub forward: bool,
    pub include: bool,
}

impl OriginMask {
    /// Parses Postfix's comma/space separated class list; unknown words are ignored
    /// here (config validation reports them).
    pub fn parse(value: &str) -> OriginMask {
        let mut mask = OriginMask {
            alias: false,
            forward: false,
            include: false,
        };
        for word in value.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
            match word.to_ascii_lowercase().as_str() {
                "alias" => mask.alias = true,
                "forward" => mask.forward = true,
                "include" => mask.include = true,
                _ => {}
            }
        }
        mask
    }

    /// Whether destinations from `origin` are allowed.
    pub fn allows(&self, origin: Origin) -> bool {
        match origin {
            Origin::Alias => self.alias,
            Origin::Forward => self.forward,
            Origin::Include => self.include,
        }
    }
}

impl Default for OriginMask {
    /// Postfix's default for both `allow_mail_to_commands` and `allow_mail_to_files`:
    /// `alias, forward`.
    fn default() -> Self {
        OriginMask::parse("alias, forward")
    }
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn origin_mask_parses_postfix_lists() {
        let m = OriginMask::default();
        assert!(m.allows(Origin::Alias) && m.allows(Origin::Forward));
        assert!(!m.allows(Origin::Include));
        let m = OriginMask::parse("include");
        assert!(m.allows(Origin::Include) && !m.allows(Origin::Alias));
        assert_eq!(Severity::of_dsn("4.2.0"), Severity::Temporary);
        assert_eq!(Severity::of_dsn("5.2.2"), Severity::Permanent);
    }
}

#[cfg(test)]
pub(crate) mod tests;
