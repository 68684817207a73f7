//! The SMTP client (issue 5). This placeholder declares only the TLS
//! policy and settings files of the `policy` branch; the `smtp` branch owns
//! the real mod.rs, which the lead takes at merge.

pub mod policy;
pub mod tls_config;
