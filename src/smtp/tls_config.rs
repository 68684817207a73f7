//! The smtp client's TLS settings, read once from main.cf (and master.cf `-o`)
//! into `tls::ClientSettings`, with the deprecated switches mapped as Postfix
//! maps them and every value checked before the first delivery.
//!
//! Mirrors Postfix smtp.c (the `smtp_tls_*` entries of its parameter tables),
//! `global_tls_level()` in smtp_tls_policy.c ("invalid tls security level") and
//! the start-up checks of tls_client.c (`tls_validate_digest`, protocol and
//! cipher lists). Parameters read: `smtp_tls_security_level` (else
//! `smtp_enforce_tls`, `smtp_tls_enforce_peername`, `smtp_use_tls`),
//! `smtp_tls_cert_file`, `smtp_tls_key_file`, `smtp_tls_CAfile`,
//! `smtp_tls_CApath`, `smtp_tls_protocols`, `smtp_tls_mandatory_protocols`,
//! `smtp_tls_ciphers`, `smtp_tls_mandatory_ciphers`,
//! `smtp_tls_exclude_ciphers`, `smtp_tls_mandatory_exclude_ciphers`,
//! `smtp_tls_servername`, `smtp_tls_scert_verifydepth`,
//! `smtp_tls_verify_cert_match`, `smtp_tls_secure_cert_match`,
//! `smtp_tls_fingerprint_cert_match`, `smtp_tls_fingerprint_digest`,
//! `smtp_tls_session_cache_timeout`, `smtp_tls_loglevel`, and the `tls_*`
//! globals of `tls::TlsGlobals`.

// Also called by the smtp client workers (branch smtp); until they merge,
// posttls-finger and tests use part of it.
#![allow(dead_code)]

use crate::config::{compat, Config, ConfigError};
use crate::maps::MapError;
use crate::tls::{options, ClientSettings, FingerprintDigest, TlsGlobals, TlsLevel};

/// A smtp client TLS setting that cannot be used; each variant names the
/// parameter (or table) and the value at fault. The smtp client fails closed
/// on it: no delivery goes out below the configured policy.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A value main.cf's typed accessors refused (`bad boolean configuration:
    /// smtp_use_tls = maybe`, ...): the text names parameter and value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A value Postfix would also refuse, with the reason.
    #[error("invalid {param} value \"{value}\": {why}")]
    BadValue {
        param: &'static str,
        value: String,
        why: String,
    },
    /// A protocol list, cipher grade, exclusion or digest the TLS layer
    /// refused (the text names the parameter).
    #[error(transparent)]
    Tls(#[from] crate::tls::ConfigError),
    /// A policy table that cannot be opened.
    #[error("{param}: cannot open table \"{spec}\": {source}")]
    Table {
        param: &'static str,
        spec: String,
        source: Box<MapError>,
    },
    /// `smtp_tls_per_site` without `smtp_tls_policy_maps`: refused rather
    /// than half-implemented (see policy.rs and docs/DIFFERENCES.md).
    #[error(
        "smtp_tls_per_site = {value}: the obsolete per-site table is not supported by \
         Postern; convert it to smtp_tls_policy_maps (NONE -> none, MAY -> may, \
         MUST_NOPEERMATCH -> encrypt, MUST -> verify)"
    )]
    PerSiteUnsupported { value: String },
}

fn bad(param: &'static str, value: impl Into<String>, why: impl Into<String>) -> TlsConfigError {
    TlsConfigError::BadValue {
        param,
        value: value.into(),
        why: why.into(),
    }
}

/// The effective default level: `smtp_tls_security_level`, or what the
/// deprecated `smtp_use_tls`/`smtp_enforce_tls`/`smtp_tls_enforce_peername`
/// amount to (Postfix `global_tls_level`).
pub fn security_level(cfg: &Config) -> Result<TlsLevel, TlsConfigError> {
    let name = compat::smtp_tls_security_level(cfg)?;
    TlsLevel::lookup(&name).map_err(|_| {
        bad(
            "smtp_tls_security_level",
            name,
            "invalid tls security level",
        )
    })
}

/// Whether `name` is a host name Postfix's `valid_hostname` accepts (letters,
/// digits, hyphens and underscores in dot-separated labels, not all-numeric).
pub fn valid_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii())
    });
    labels_ok && !name.chars().all(|c| c.is_ascii_digit() || c == '.')
}

fn uint(cfg: &Config, name: &'static str) -> Result<u32, TlsConfigError> {
    let v = cfg.get_int(name)?;
    u32::try_from(v).map_err(|_| bad(name, v.to_string(), "must not be negative"))
}

/// The `tls_*` globals shared with the server side.
pub fn tls_globals(cfg: &Config) -> Result<TlsGlobals, TlsConfigError> {
    let globals = TlsGlobals::read(|n| cfg.get(n), |n| cfg.get_bool(n))?;
    options::parse_ssl_options(&globals.tls_ssl_options)?;
    Ok(globals)
}

/// Every smtp_tls_* parameter (and the tls_* globals) into `ClientSettings`,
/// with the deprecated smtp_use_tls / smtp_enforce_tls /
/// smtp_tls_enforce_peername mapped as Postfix does. Values the TLS layer
/// would refuse at the first connection are refused here already.
pub fn client_settings(cfg: &Config) -> Result<ClientSettings, TlsConfigError> {
    let s = |n: &str| cfg.get(n);
    let loglevel = uint(cfg, "smtp_tls_loglevel")?;
    let settings = ClientSettings {
        smtp_tls_security_level: security_level(cfg)?,
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
        smtp_tls_scert_verifydepth: uint(cfg, "smtp_tls_scert_verifydepth")?,
        smtp_tls_verify_cert_match: s("smtp_tls_verify_cert_match"),
        smtp_tls_secure_cert_match: s("smtp_tls_secure_cert_match"),
        smtp_tls_fingerprint_cert_match: s("smtp_tls_fingerprint_cert_match"),
        smtp_tls_fingerprint_digest: s("smtp_tls_fingerprint_digest"),
        smtp_tls_session_cache_timeout: cfg.get_time("smtp_tls_session_cache_timeout")?,
        smtp_tls_loglevel: u8::try_from(loglevel).unwrap_or(u8::MAX),
        tls: tls_globals(cfg)?,
    };
    check(&settings)?;
    Ok(settings)
}

/// The start-up checks: what Postfix refuses at start (digest) or at the
/// first connection (protocols, ciphers, SNI name), refused before any
/// delivery so that the error names the parameter once.
pub fn check(s: &ClientSettings) -> Result<(), TlsConfigError> {
    FingerprintDigest::lookup(
        "smtp_tls_fingerprint_digest",
        &s.smtp_tls_fingerprint_digest,
    )?;
    options::parse_protocols("smtp_tls_protocols", &s.smtp_tls_protocols)?;
    options::parse_protocols(
        "smtp_tls_mandatory_protocols",
        &s.smtp_tls_mandatory_protocols,
    )?;
    let exclusions = [s.smtp_tls_exclude_ciphers.as_str()];
    options::cipher_list(
        &s.tls,
        "smtp_tls_ciphers",
        &s.smtp_tls_ciphers,
        "smtp_tls_exclude_ciphers",
        &exclusions,
    )?;
    let mandatory = [s.smtp_tls_mandatory_exclude_ciphers.as_str()];
    options::cipher_list(
        &s.tls,
        "smtp_tls_mandatory_ciphers",
        &s.smtp_tls_mandatory_ciphers,
        "smtp_tls_mandatory_exclude_ciphers",
        &mandatory,
    )?;
    let sni = s.smtp_tls_servername.trim();
    if !sni.is_empty() && !valid_hostname(sni) {
        // Postfix: "\"smtp_tls_servername = %s\" specifies an invalid hostname".
        return Err(bad(
            "smtp_tls_servername",
            sni,
            "specifies an invalid hostname",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "tls_config_tests.rs"]
mod tests;
