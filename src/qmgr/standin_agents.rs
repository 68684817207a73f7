//! TEMPORARY stand-ins for the local(8) and virtual(8) delivery agents, with the
//! signatures the real `crate::local::agent` and `crate::virtual_::agent` have;
//! the lead swaps them for the real modules at merge. They deliver nothing: every
//! recipient is deferred, so mail waits in the queue instead of being lost.
//!
//! Mirrors nothing in Postfix. Reads no parameters.

use crate::config::Config;
use crate::mail::delivery::{DeliveryJob, DeliveryResult, RecipientResult};
use crate::mail::dsn::{Dsn, Outcome, StatusCode};

/// Why a stand-in context could not be made (never happens).
#[derive(Debug, thiserror::Error)]
#[error("stand-in agent")]
pub struct StandinError;

fn not_built(job: &DeliveryJob, relay: &str) -> DeliveryResult {
    DeliveryResult {
        queue_id: job.queue_id.clone(),
        transport: job.transport.clone(),
        recipients: job
            .recipients
            .iter()
            .map(|r| RecipientResult {
                index: r.index,
                outcome: Outcome::Deferred(Dsn::new(
                    StatusCode::new(4, 3, 0),
                    "delivery agent not built",
                )),
                relay: relay.to_string(),
                detail: String::new(),
                forwarded: Vec::new(),
            })
            .collect(),
    }
}

pub mod local {
    use super::*;

    pub struct LocalContext;

    impl LocalContext {
        pub fn new(_cfg: &Config) -> Result<LocalContext, StandinError> {
            Ok(LocalContext)
        }
    }

    pub fn deliver(job: &DeliveryJob, _ctx: &LocalContext) -> DeliveryResult {
        not_built(job, "local")
    }
}

pub mod virtual_ {
    use super::*;

    pub struct VirtualContext;

    impl VirtualContext {
        pub fn new(_cfg: &Config) -> Result<VirtualContext, StandinError> {
            Ok(VirtualContext)
        }
    }

    pub fn deliver(job: &DeliveryJob, _ctx: &VirtualContext) -> DeliveryResult {
        not_built(job, "virtual")
    }
}
