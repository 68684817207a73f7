//! Per-destination TLS policy (`smtp_tls_policy_maps`).
//!
//! PLACEHOLDER written by the smtp helper so that branch compiles; the policy
//! helper owns this file and its full version replaces this one at merge.
//! Mirrors Postfix smtp_tls_policy.c. This stand-in reads no table: every
//! nexthop gets `smtp_tls_security_level`.

use super::tls_config::TlsConfigError;
use crate::config::Config;
use crate::tls::{ClientPolicy, ClientSettings, TlsLevel};

/// smtp_tls_policy_maps, opened once per transport.
pub struct PolicyTables {
    default_level: TlsLevel,
}

/// A failed look-up: the table, the key and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFailure {
    pub table: String,
    pub key: String,
    pub problem: String,
}

impl PolicyTables {
    pub fn open(_cfg: &Config, settings: &ClientSettings) -> Result<PolicyTables, TlsConfigError> {
        Ok(PolicyTables {
            default_level: settings.smtp_tls_security_level,
        })
    }

    /// The policy for one nexthop as qmgr gives it.
    pub fn lookup(&self, _nexthop: &str) -> Result<ClientPolicy, PolicyFailure> {
        Ok(ClientPolicy::level(self.default_level))
    }
}
