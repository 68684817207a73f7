//! The smtp client delivery agent: delivers a qmgr job to the nexthop's mail
//! exchangers over SMTP, with the TLS the destination's policy demands.
//!
//! Mirrors Postfix smtp(8) (`src/smtp/`: smtp.c, smtp_connect.c, smtp_proto.c,
//! smtp_trouble.c, smtp_tls_policy.c). Reads the parameters listed in
//! settings.rs (non-TLS), tls_config.rs (smtp_tls_*) and policy.rs
//! (smtp_tls_policy_maps), with the service's master.cf `-o` overrides.
//! RFCs: RFC 5321, RFC 3207, RFC 2920, RFC 1870, RFC 6152, RFC 3461, RFC 7505.
//!
//! # API
//!
//! ```text
//! let ctx = Arc::new(SmtpContext::new(&cfg)?);   // once per transport
//! let mut agent = SmtpAgent::new(Arc::clone(&ctx)); // once per worker thread
//! let result: DeliveryResult = agent.deliver(&job);
//! agent.idle_deadline() / agent.expire_idle()      // connection cache upkeep
//! ```
//!
//! The context (TLS context with its session cache, policy tables, settings)
//! is shared by every worker of the transport, so a second connection to a
//! server resumes the first one's TLS session. Each worker owns its resolver
//! (see dns/mod.rs) and at most one idle connection kept for reuse.
//!
//! Not for: SASL, LMTP, DANE TLSA checks, header/body checks, generic maps.

mod conn;
mod deliver;
mod nexthop;
pub mod policy;
mod reply;
mod session;
mod settings;
pub mod tls_config;
mod transaction;
mod trouble;

pub use deliver::SmtpAgent;
pub use settings::Settings;

use crate::config::{Config, ConfigError};
use crate::tls::ClientContext;
use policy::PolicyTables;
use tls_config::TlsConfigError;

/// Why the agent cannot start: each variant names the parameter at fault.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("invalid {param} value \"{value}\"")]
    BadValue { param: &'static str, value: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    TlsConfig(#[from] TlsConfigError),
    #[error(transparent)]
    Tls(#[from] crate::tls::ConfigError),
}

/// What the workers of one smtp transport share.
pub struct SmtpContext {
    pub settings: Settings,
    pub tls: ClientContext,
    pub tls_loglevel: u8,
    pub policies: PolicyTables,
}

impl SmtpContext {
    pub fn new(cfg: &Config) -> Result<SmtpContext, SmtpError> {
        let settings = Settings::read(cfg)?;
        let tls_settings = tls_config::client_settings(cfg)?;
        let tls = ClientContext::new(&tls_settings)?;
        let policies = PolicyTables::open(cfg, &tls_settings)?;
        Ok(SmtpContext {
            settings,
            tls,
            tls_loglevel: tls_settings.smtp_tls_loglevel,
            policies,
        })
    }
}
