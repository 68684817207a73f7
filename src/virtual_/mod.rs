//! The virtual(8) delivery agent: hosted mailboxes found by full recipient
//! address in `virtual_mailbox_maps`, written with the uid and gid of
//! `virtual_uid_maps`/`virtual_gid_maps`, Maildir when the path ends in `/`,
//! mbox otherwise. No aliases, `.forward`, commands or files (those belong to
//! `virtual_alias_maps` and local(8)).
//!
//! Mirrors Postfix src/virtual/ (virtual.c, recipient.c, mailbox.c, maildir.c,
//! unknown.c) and reuses the Maildir and mbox writers of `crate::local`. Reads
//! `virtual_mailbox_base`, `virtual_mailbox_maps`, `virtual_uid_maps`,
//! `virtual_gid_maps`, `virtual_minimum_uid`, `virtual_mailbox_limit`,
//! `virtual_mailbox_lock`, `recipient_delimiter`, `strict_mailbox_ownership`,
//! `enable_original_recipient`, `prepend_delivered_header`, the lock retry
//! parameters and `smtputf8_enable`. `virtual_mailbox_domains` is not read here:
//! as in Postfix it decides routing (qmgr sends those domains to this
//! transport); this agent only looks the address up.
//!
//! Public API: [`agent::VirtualContext::new`] (start and reload) and
//! [`agent::deliver`] (one job, one result per recipient).
#![allow(dead_code)] // wired in by qmgr (issue 4)

pub mod agent;
mod lookup;
#[cfg(test)]
mod tests;
