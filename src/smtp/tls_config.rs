//! The smtp_tls_* parameters (and tls_* globals) into `tls::ClientSettings`.
//!
//! PLACEHOLDER written by the smtp helper so that branch compiles; the policy
//! helper owns this file and its full version replaces this one at merge.
//! Mirrors Postfix smtp.c/smtp_tls_policy.c parameter handling. Reads
//! `smtp_tls_security_level` (with the deprecated `smtp_use_tls`,
//! `smtp_enforce_tls`, `smtp_tls_enforce_peername`), `smtp_tls_CAfile`,
//! `smtp_tls_CApath`, `smtp_tls_cert_file`, `smtp_tls_key_file`,
//! `smtp_tls_fingerprint_digest`, `smtp_tls_loglevel`, the other
//! `smtp_tls_*` fields of `ClientSettings` and the `tls_*` globals.

use crate::config::{compat, Config, ConfigError};
use crate::tls::{ClientSettings, TlsGlobals, TlsLevel};

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("invalid {param} value \"{value}\"")]
    BadValue { param: &'static str, value: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn flag(cfg: &Config, name: &str) -> Result<bool, TlsConfigError> {
    Ok(cfg.get_bool(name)?)
}

/// Every smtp_tls_* parameter into `ClientSettings` (simplest version).
pub fn client_settings(cfg: &Config) -> Result<ClientSettings, TlsConfigError> {
    let level_text = compat::smtp_tls_security_level(cfg)?;
    let level = TlsLevel::lookup(&level_text).map_err(|_| TlsConfigError::BadValue {
        param: "smtp_tls_security_level",
        value: level_text.clone(),
    })?;
    let s = |n: &str| cfg.get(n);
    let loglevel = cfg.get_int("smtp_tls_loglevel")?;
    let depth = cfg.get_int("smtp_tls_scert_verifydepth")?;
    Ok(ClientSettings {
        smtp_tls_security_level: level,
        smtp_tls_cert_file: s("smtp_tls_cert_file"),
        smtp_tls_key_file: s("smtp_tls_key_file"),
        smtp_tls_CAfile: s("smtp_tls_CAfile"),
        smtp_tls_CApath: s("smtp_tls_CApath"),
        smtp_tls_protocols: s("smtp_tls_protocols"),
        smtp_tls_mandatory_protocols: s("smtp_tls_mandatory_protocols"),
        smtp_tls_ciphers: s("smtp_tls_ciphers"),
        smtp_tls_mandatory_ciphers: s("smtp_tls_mandatory_ciphers"),
        smtp_tls_exclude_ciphers: s("smtp_tls_exclude_ciphers"),
        smtp_tls_mandatory_exclude_ciphers: s("smtp_tls_mandatory_exclude_ciphers"),
        smtp_tls_servername: s("smtp_tls_servername"),
        smtp_tls_scert_verifydepth: u32::try_from(depth).unwrap_or(9),
        smtp_tls_verify_cert_match: s("smtp_tls_verify_cert_match"),
        smtp_tls_secure_cert_match: s("smtp_tls_secure_cert_match"),
        smtp_tls_fingerprint_cert_match: s("smtp_tls_fingerprint_cert_match"),
        smtp_tls_fingerprint_digest: s("smtp_tls_fingerprint_digest"),
        smtp_tls_session_cache_timeout: cfg.get_time("smtp_tls_session_cache_timeout")?,
        smtp_tls_loglevel: u8::try_from(loglevel).unwrap_or(0),
        tls: TlsGlobals {
            tls_high_cipherlist: s("tls_high_cipherlist"),
            tls_medium_cipherlist: s("tls_medium_cipherlist"),
            tls_low_cipherlist: s("tls_low_cipherlist"),
            tls_export_cipherlist: s("tls_export_cipherlist"),
            tls_null_cipherlist: s("tls_null_cipherlist"),
            tls_ssl_options: s("tls_ssl_options"),
            tls_preempt_cipherlist: flag(cfg, "tls_preempt_cipherlist")?,
            tls_wildcard_matches_multiple_labels: flag(
                cfg,
                "tls_wildcard_matches_multiple_labels",
            )?,
            tls_append_default_CA: flag(cfg, "tls_append_default_CA")?,
        },
    })
}
