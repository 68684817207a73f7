//! TLS security levels: the ordered enum behind `smtp_tls_security_level`,
//! `smtpd_tls_security_level` and the level column of `smtp_tls_policy_maps`.
//!
//! Mirrors Postfix `tls_level.c` (the name table) and the `TLS_LEV_*` values and
//! predicates in `tls.h`. Reads no parameter itself; the config and policy code
//! hand it the value of `smtp_tls_security_level`, `smtpd_tls_security_level` or a
//! policy-table entry.

use std::fmt;
use std::str::FromStr;

/// A TLS security level, ordered as in Postfix `tls.h`: a higher level never asks
/// for less than a lower one, so policy code may compare levels with `<`/`>=`.
///
/// Postfix's internal `TLS_LEV_HALF_DANE` (4, an MX host with TLSA records found
/// through an insecure MX look-up) has no name in `tls_level_table` and cannot be
/// configured; it is left out until DANE is built, keeping the discriminants of
/// the named levels equal to Postfix's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum TlsLevel {
    /// Plaintext only (`TLS_LEV_NONE`).
    #[default]
    None = 0,
    /// Opportunistic TLS (`TLS_LEV_MAY`).
    May = 1,
    /// Mandatory encryption, no peer authentication (`TLS_LEV_ENCRYPT`).
    Encrypt = 2,
    /// Peer certificate or public-key digest must match (`TLS_LEV_FPRINT`).
    Fingerprint = 3,
    /// Opportunistic DANE (`TLS_LEV_DANE`).
    Dane = 5,
    /// Mandatory DANE (`TLS_LEV_DANE_ONLY`).
    DaneOnly = 6,
    /// Trusted chain and a name match (`TLS_LEV_VERIFY`).
    Verify = 7,
    /// Trusted chain and a name match that DNS cannot forge (`TLS_LEV_SECURE`).
    Secure = 8,
}

/// The one name table, in level order (Postfix `tls_level_table`). Parsing and
/// printing both use it.
const NAMES: [(&str, TlsLevel); 8] = [
    ("none", TlsLevel::None),
    ("may", TlsLevel::May),
    ("encrypt", TlsLevel::Encrypt),
    ("fingerprint", TlsLevel::Fingerprint),
    ("dane", TlsLevel::Dane),
    ("dane-only", TlsLevel::DaneOnly),
    ("verify", TlsLevel::Verify),
    ("secure", TlsLevel::Secure),
];

/// A level name that is not in the table; Postfix's `tls_level_lookup` returns
/// `TLS_LEV_INVALID` for it and the caller reports it with the parameter or table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TLS security level \"{0}\"")]
pub struct UnknownLevel(pub String);

impl TlsLevel {
    /// Every named level, lowest first.
    pub fn all() -> impl Iterator<Item = TlsLevel> {
        NAMES.iter().map(|(_, level)| *level)
    }

    /// The Postfix name of this level.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, level)| *level == self)
            .map(|(name, _)| *name)
            .unwrap_or("none") // ok: every variant is in NAMES (tested)
    }

    /// Looks a name up as Postfix does (`name_code` with `NAME_CODE_FLAG_NONE`:
    /// exact, case-sensitive).
    pub fn lookup(name: &str) -> Result<TlsLevel, UnknownLevel> {
        NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, level)| *level)
            .ok_or_else(|| UnknownLevel(name.to_string()))
    }

    /// TLS is used at all (`may` and higher).
    pub fn tls_enabled(self) -> bool {
        self >= TlsLevel::May
    }

    /// Encryption is mandatory: no plaintext fallback (`TLS_REQUIRED`).
    pub fn must_encrypt(self) -> bool {
        self > TlsLevel::May
    }

    /// The peer certificate must match a name or digest (`TLS_MUST_MATCH`).
    pub fn must_match(self) -> bool {
        self > TlsLevel::Encrypt
    }

    /// The peer chain must verify against the CA store (`TLS_MUST_PKIX`).
    pub fn must_verify_chain(self) -> bool {
        self >= TlsLevel::Verify
    }

    /// The level is decided by DANE TLSA records (`TLS_DANE_BASED`).
    pub fn is_dane(self) -> bool {
        matches!(self, TlsLevel::Dane | TlsLevel::DaneOnly)
    }

    /// Failure to get this level lets delivery go on at a lower one
    /// (`TLS_OPPORTUNISTIC`).
    pub fn is_opportunistic(self) -> bool {
        matches!(self, TlsLevel::May | TlsLevel::Dane)
    }

    /// Mandatory protocol and cipher settings apply (`smtp*_tls_mandatory_*`
    /// are used from `encrypt` up, as Postfix smtp.c and smtpd.c do).
    pub fn uses_mandatory_settings(self) -> bool {
        self >= TlsLevel::Encrypt
    }
}

impl fmt::Display for TlsLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TlsLevel {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TlsLevel::lookup(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_round_trips() {
        for name in [
            "none",
            "may",
            "encrypt",
            "fingerprint",
            "dane",
            "dane-only",
            "verify",
            "secure",
        ] {
            let level: TlsLevel = name.parse().unwrap();
            assert_eq!(level.to_string(), name);
        }
        assert_eq!(TlsLevel::all().count(), 8);
    }

    #[test]
    fn order_and_numbers_follow_postfix_tls_h() {
        let numbers: Vec<i32> = TlsLevel::all().map(|l| l as i32).collect();
        assert_eq!(numbers, vec![0, 1, 2, 3, 5, 6, 7, 8]);
        let mut sorted: Vec<TlsLevel> = TlsLevel::all().collect();
        sorted.sort();
        assert_eq!(sorted, TlsLevel::all().collect::<Vec<_>>());
        assert!(TlsLevel::Fingerprint < TlsLevel::Dane);
        assert!(TlsLevel::DaneOnly < TlsLevel::Verify);
    }

    #[test]
    fn predicates() {
        assert!(!TlsLevel::None.tls_enabled());
        assert!(!TlsLevel::May.must_encrypt());
        assert!(TlsLevel::Encrypt.must_encrypt() && !TlsLevel::Encrypt.must_match());
        assert!(TlsLevel::Fingerprint.must_match());
        assert!(!TlsLevel::Fingerprint.must_verify_chain());
        assert!(TlsLevel::Verify.must_verify_chain() && TlsLevel::Secure.must_verify_chain());
        assert!(TlsLevel::Dane.is_dane() && TlsLevel::DaneOnly.is_dane());
        assert!(!TlsLevel::Verify.is_dane());
        assert!(TlsLevel::May.is_opportunistic() && TlsLevel::Dane.is_opportunistic());
        assert!(!TlsLevel::DaneOnly.is_opportunistic());
    }

    #[test]
    fn unknown_name_is_an_error_that_names_it() {
        let err = "Secure".parse::<TlsLevel>().unwrap_err();
        assert_eq!(err.to_string(), "unknown TLS security level \"Secure\"");
        assert!("half-dane".parse::<TlsLevel>().is_err());
        assert!("".parse::<TlsLevel>().is_err());
    }
}
