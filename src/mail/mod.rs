//! Shared mail vocabulary used by every agent: envelope addresses, the envelope,
//! RFC 3463 status codes, delivery outcomes and DSN fields.
//!
//! Mirrors Postfix's src/global address and DSN helpers (quote_821_local, dsn,
//! xtext). Reads no main.cf parameters. Implements RFC 5321 section 4.1.2,
//! RFC 3461 and RFC 3463 (see each file).
//!
//! Public API: `address::{parse_path, parse_mailbox, parse_domain, Path, Mailbox,
//! Domain}`, `dsn::{StatusCode, Dsn, Outcome, Ret, Notify, OrigRcpt}`,
//! `envelope::{Envelope, Recipient, MailParams, RcptParams, Body}`,
//! `delivery::{DeliveryJob, JobRecipient, ClientInfo, DeliveryResult, RecipientResult}`,
//! `extension::Splitter` (where a local part's extension starts).
#![allow(dead_code)] // wired in by the daemon (issue 3)

pub mod address;
pub mod delivery;
pub mod dsn;
pub mod envelope;
pub mod extension;
