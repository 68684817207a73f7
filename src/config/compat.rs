//! Deprecated TLS switches mapped to the security levels that replaced them.
//!
//! Mirrors Postfix smtpd.c and smtp.c start-up (Postfix 2.3 and later): an
//! explicit `*_tls_security_level` wins; otherwise `smtpd_enforce_tls`,
//! `smtpd_use_tls`, `smtp_enforce_tls`, `smtp_tls_enforce_peername` and
//! `smtp_use_tls` decide, as the seed guides (2001, 2013) still set them.

use super::params::names;
use super::{Config, ConfigError};

/// The effective server level: `smtpd_tls_security_level` when set, else
/// `encrypt` for `smtpd_enforce_tls = yes`, `may` for `smtpd_use_tls = yes`, else `none`.
pub fn smtpd_tls_security_level(cfg: &Config) -> Result<String, ConfigError> {
    Ok(smtpd_level(
        &cfg.try_get(names::SMTPD_TLS_SECURITY_LEVEL)?,
        cfg.get_bool(names::SMTPD_ENFORCE_TLS)?,
        cfg.get_bool(names::SMTPD_USE_TLS)?,
    ))
}

/// The effective client level: `smtp_tls_security_level` when set, else for
/// `smtp_enforce_tls = yes` `verify` (or `encrypt` with
/// `smtp_tls_enforce_peername = no`), `may` for `smtp_use_tls = yes`, else `none`.
pub fn smtp_tls_security_level(cfg: &Config) -> Result<String, ConfigError> {
    Ok(smtp_level(
        &cfg.try_get(names::SMTP_TLS_SECURITY_LEVEL)?,
        cfg.get_bool(names::SMTP_ENFORCE_TLS)?,
        cfg.get_bool(names::SMTP_TLS_ENFORCE_PEERNAME)?,
        cfg.get_bool(names::SMTP_USE_TLS)?,
    ))
}

/// The server rule on plain values.
pub fn smtpd_level(level: &str, enforce_tls: bool, use_tls: bool) -> String {
    let level = level.trim();
    if !level.is_empty() {
        level.to_string()
    } else if enforce_tls {
        "encrypt".into()
    } else if use_tls {
        "may".into()
    } else {
        "none".into()
    }
}

/// The client rule on plain values.
pub fn smtp_level(level: &str, enforce_tls: bool, enforce_peername: bool, use_tls: bool) -> String {
    let level = level.trim();
    if !level.is_empty() {
        level.to_string()
    } else if enforce_tls && enforce_peername {
        "verify".into()
    } else if enforce_tls {
        "encrypt".into()
    } else if use_tls {
        "may".into()
    } else {
        "none".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MainCf;
    use std::path::Path;

    fn cfg(text: &str) -> Config {
        let main = MainCf::parse(Path::new("/x/main.cf"), text.as_bytes()).unwrap();
        Config::from_main(Path::new("/x"), main).unwrap()
    }

    #[test]
    fn smtpd_rows() {
        assert_eq!(smtpd_level("may", true, true), "may");
        assert_eq!(smtpd_level("", true, false), "encrypt");
        assert_eq!(smtpd_level("", true, true), "encrypt");
        assert_eq!(smtpd_level("", false, true), "may");
        assert_eq!(smtpd_level("", false, false), "none");
    }

    #[test]
    fn smtp_rows() {
        assert_eq!(smtp_level("dane", true, true, true), "dane");
        assert_eq!(smtp_level("", true, true, false), "verify");
        assert_eq!(smtp_level("", true, false, false), "encrypt");
        assert_eq!(smtp_level("", false, true, true), "may");
        assert_eq!(smtp_level("", false, false, false), "none");
    }

    #[test]
    fn from_main_cf() {
        // Seed 000 (2001): only the old switches.
        let c = cfg("smtpd_use_tls = yes\nsmtp_use_tls = yes\n");
        assert_eq!(smtpd_tls_security_level(&c).unwrap(), "may");
        assert_eq!(smtp_tls_security_level(&c).unwrap(), "may");
        let c = cfg("smtpd_enforce_tls = yes\nsmtp_enforce_tls = yes\n");
        assert_eq!(smtpd_tls_security_level(&c).unwrap(), "encrypt");
        assert_eq!(smtp_tls_security_level(&c).unwrap(), "verify");
        let c = cfg("smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no\n");
        assert_eq!(smtp_tls_security_level(&c).unwrap(), "encrypt");
        // Seed 002: an explicit level beside smtpd_use_tls wins.
        let c = cfg("smtpd_use_tls = yes\nsmtpd_tls_security_level = encrypt\n");
        assert_eq!(smtpd_tls_security_level(&c).unwrap(), "encrypt");
        let c = cfg("");
        assert_eq!(smtpd_tls_security_level(&c).unwrap(), "none");
        let c = cfg("smtpd_use_tls = maybe\n");
        assert_eq!(
            smtpd_tls_security_level(&c).unwrap_err().to_string(),
            "bad boolean configuration: smtpd_use_tls = maybe"
        );
    }
}
