//! Postfix's TLS knobs shared by client and server: protocol lists, cipher
//! grades with exclusions, and `tls_ssl_options`.
//!
//! Mirrors Postfix `tls_misc.c` (`tls_protocol_mask`, `tls_proto_mask_lims`,
//! `tls_set_ciphers`, `tls_bug_bits`). Reads the global parameters
//! `tls_high_cipherlist`, `tls_medium_cipherlist`, `tls_low_cipherlist`,
//! `tls_export_cipherlist`, `tls_null_cipherlist`, `tls_ssl_options`,
//! `tls_preempt_cipherlist`, `tls_wildcard_matches_multiple_labels`,
//! `tls_append_default_CA`; the
//! per-role `*_tls_protocols`, `*_tls_ciphers` and `*_tls_exclude_ciphers` values
//! are passed in by server.rs and client.rs.

use openssl::ssl::{SslOptions, SslVersion};

use super::error::ConfigError;

/// The `tls_*` parameters of main.cf that both roles read, with Postfix 3.7's
/// defaults.
#[allow(non_snake_case)] // field names are the Postfix parameter names
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsGlobals {
    /// OpenSSL cipher list for grade `high`.
    pub tls_high_cipherlist: String,
    /// OpenSSL cipher list for grade `medium`.
    pub tls_medium_cipherlist: String,
    /// OpenSSL cipher list for grade `low`.
    pub tls_low_cipherlist: String,
    /// OpenSSL cipher list for grade `export`.
    pub tls_export_cipherlist: String,
    /// OpenSSL cipher list for grade `null` (no encryption, authentication only).
    pub tls_null_cipherlist: String,
    /// Extra OpenSSL options by name (`NO_TICKET`, `NO_COMPRESSION`, ...) or hex.
    pub tls_ssl_options: String,
    /// Server cipher order instead of the client's.
    pub tls_preempt_cipherlist: bool,
    /// A leading `*` in a certificate name matches several DNS labels.
    pub tls_wildcard_matches_multiple_labels: bool,
    /// Trust OpenSSL's default CA store in addition to `*_tls_CAfile`/`CApath`.
    pub tls_append_default_CA: bool,
}

impl Default for TlsGlobals {
    fn default() -> Self {
        TlsGlobals {
            tls_high_cipherlist: "aNULL:-aNULL:HIGH:@STRENGTH".into(),
            tls_medium_cipherlist: "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH".into(),
            tls_low_cipherlist: "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH".into(),
            tls_export_cipherlist: "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH".into(),
            tls_null_cipherlist: "eNULL:!aNULL".into(),
            tls_ssl_options: String::new(),
            tls_preempt_cipherlist: false,
            tls_wildcard_matches_multiple_labels: true,
            tls_append_default_CA: false,
        }
    }
}

impl TlsGlobals {
    /// Reads the globals by parameter name, through the caller's accessors
    /// for text and boolean values (the tls layer does not read `Config`
    /// itself); the smtp client and smtpd both build theirs this way.
    pub fn read<E>(
        text: impl Fn(&str) -> String,
        flag: impl Fn(&'static str) -> Result<bool, E>,
    ) -> Result<TlsGlobals, E> {
        Ok(TlsGlobals {
            tls_high_cipherlist: text("tls_high_cipherlist"),
            tls_medium_cipherlist: text("tls_medium_cipherlist"),
            tls_low_cipherlist: text("tls_low_cipherlist"),
            tls_export_cipherlist: text("tls_export_cipherlist"),
            tls_null_cipherlist: text("tls_null_cipherlist"),
            tls_ssl_options: text("tls_ssl_options"),
            tls_preempt_cipherlist: flag("tls_preempt_cipherlist")?,
            tls_wildcard_matches_multiple_labels: flag("tls_wildcard_matches_multiple_labels")?,
            tls_append_default_CA: flag("tls_append_default_CA")?,
        })
    }
}

/// Protocols Postfix knows, lowest first, with their names in main.cf.
const PROTOCOLS: [(&str, Option<SslVersion>); 6] = [
    ("SSLv2", None), // gone from OpenSSL 1.1+; accepted in lists as Postfix does
    ("SSLv3", Some(SslVersion::SSL3)),
    ("TLSv1", Some(SslVersion::TLS1)),
    ("TLSv1.1", Some(SslVersion::TLS1_1)),
    ("TLSv1.2", Some(SslVersion::TLS1_2)),
    ("TLSv1.3", Some(SslVersion::TLS1_3)),
];

/// Which protocols a `*_tls_protocols` value leaves enabled: OpenSSL bounds plus
/// the `SSL_OP_NO_*` bits for holes between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolRange {
    /// Lowest protocol allowed (`None`: OpenSSL's own floor).
    pub min: Option<SslVersion>,
    /// Highest protocol allowed (`None`: OpenSSL's own ceiling).
    pub max: Option<SslVersion>,
    /// Protocols excluded inside the bounds.
    pub holes: SslOptions,
}

fn protocol_index(name: &str) -> Option<usize> {
    PROTOCOLS
        .iter()
        .position(|(n, _)| n.eq_ignore_ascii_case(name))
}

fn no_option(index: usize) -> SslOptions {
    match index {
        1 => SslOptions::NO_SSLV3,
        2 => SslOptions::NO_TLSV1,
        3 => SslOptions::NO_TLSV1_1,
        4 => SslOptions::NO_TLSV1_2,
        5 => SslOptions::NO_TLSV1_3,
        _ => SslOptions::empty(),
    }
}

/// Parses a protocol list in Postfix syntax: names to include, `!name` to
/// exclude, and (Postfix 3.6+) `>=name` / `<=name` bounds, separated by commas,
/// spaces or colons (`tls_protocol_mask`, `tls_proto_mask_lims`).
pub fn parse_protocols(param: &'static str, value: &str) -> Result<ProtocolRange, ConfigError> {
    let bad = |why: String| ConfigError::BadValue {
        param,
        value: value.to_string(),
        why,
    };
    let mut enabled = [true; PROTOCOLS.len()];
    let mut included = [false; PROTOCOLS.len()];
    let mut any_include = false;
    for token in value
        .split(|c: char| c == ',' || c == ':' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        let (op, name) = if let Some(rest) = token.strip_prefix(">=") {
            (">=", rest)
        } else if let Some(rest) = token.strip_prefix("<=") {
            ("<=", rest)
        } else if let Some(rest) = token.strip_prefix('!') {
            ("!", rest)
        } else {
            ("", token)
        };
        let index =
            protocol_index(name).ok_or_else(|| bad(format!("unknown protocol \"{name}\"")))?;
        match op {
            ">=" => enabled[..index].iter_mut().for_each(|e| *e = false),
            "<=" => enabled[index + 1..].iter_mut().for_each(|e| *e = false),
            "!" => enabled[index] = false,
            _ => {
                included[index] = true;
                any_include = true;
            }
        }
    }
    // As tls_protocol_mask: a non-empty include list also excludes everything
    // not listed.
    if any_include {
        for (e, inc) in enabled.iter_mut().zip(included) {
            *e &= inc;
        }
    }
    let first = enabled.iter().position(|e| *e);
    let last = enabled.iter().rposition(|e| *e);
    let (Some(first), Some(last)) = (first, last) else {
        return Err(bad("no protocol left enabled".into()));
    };
    let mut holes = SslOptions::empty();
    for (index, e) in enabled.iter().enumerate().take(last).skip(first) {
        if !e {
            holes |= no_option(index);
        }
    }
    Ok(ProtocolRange {
        min: if first <= 1 { None } else { PROTOCOLS[first].1 },
        max: if last == PROTOCOLS.len() - 1 {
            None
        } else {
            PROTOCOLS[last].1
        },
        holes,
    })
}

/// Builds the OpenSSL cipher list for a Postfix cipher grade (`high`, `medium`,
/// `low`, `export`, `null`; case-insensitive as `tls_cipher_grade`) minus the
/// exclusions, each appended as `:!name` (`tls_set_ciphers`). TLS 1.3 suites are
/// not affected, as in Postfix.
pub fn cipher_list(
    globals: &TlsGlobals,
    grade_param: &'static str,
    grade: &str,
    exclude_param: &'static str,
    exclusions: &[&str],
) -> Result<String, ConfigError> {
    let mut list = match grade.trim().to_ascii_lowercase().as_str() {
        "high" => globals.tls_high_cipherlist.clone(),
        "medium" => globals.tls_medium_cipherlist.clone(),
        "low" => globals.tls_low_cipherlist.clone(),
        "export" => globals.tls_export_cipherlist.clone(),
        "null" => globals.tls_null_cipherlist.clone(),
        _ => {
            return Err(ConfigError::BadValue {
                param: grade_param,
                value: grade.to_string(),
                why: "cipher grade must be high, medium, low, export or null".into(),
            })
        }
    };
    for value in exclusions {
        for token in value
            .split(|c: char| c == ',' || c == ':' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            if token.starts_with(['!', '+', '-', '@']) {
                return Err(ConfigError::BadValue {
                    param: exclude_param,
                    value: value.to_string(),
                    why: format!("invalid unary '!+-@' in cipher exclusion \"{token}\""),
                });
            }
            list.push_str(":!");
            list.push_str(token);
        }
    }
    Ok(list)
}

/// Parses `tls_ssl_options`: OpenSSL option names Postfix accepts, or numbers
/// (`0x...`), separated by commas or spaces (`tls_bug_bits`, `ssl_op_tweaks`).
/// Options Postfix manages through other parameters are ignored, as in Postfix.
pub fn parse_ssl_options(value: &str) -> Result<SslOptions, ConfigError> {
    let mut options = SslOptions::empty();
    for token in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        let bit = match token.to_ascii_uppercase().as_str() {
            // SSL_OP_LEGACY_SERVER_CONNECT (ssl.h, OpenSSL 3.0); the crate has no
            // constant for it.
            "LEGACY_SERVER_CONNECT" => SslOptions::from_bits_retain(0x4),
            "NO_TICKET" => SslOptions::NO_TICKET,
            "NO_COMPRESSION" => SslOptions::NO_COMPRESSION,
            "NO_RENEGOTIATION" => SslOptions::NO_RENEGOTIATION,
            "NO_SESSION_RESUMPTION_ON_RENEGOTIATION" => {
                SslOptions::NO_SESSION_RESUMPTION_ON_RENEGOTIATION
            }
            "PRIORITIZE_CHACHA" => SslOptions::PRIORITIZE_CHACHA,
            "ENABLE_MIDDLEBOX_COMPAT" => SslOptions::ENABLE_MIDDLEBOX_COMPAT,
            upper => {
                let number = upper
                    .strip_prefix("0X")
                    .map(|hex| u64::from_str_radix(hex, 16))
                    .unwrap_or_else(|| upper.parse::<u64>());
                match number {
                    Ok(n) => SslOptions::from_bits_retain(n as _),
                    Err(_) => {
                        return Err(ConfigError::BadValue {
                            param: "tls_ssl_options",
                            value: value.to_string(),
                            why: format!("unknown option \"{token}\""),
                        })
                    }
                }
            }
        };
        options |= bit;
    }
    // Protocol bits and server preference belong to *_tls_protocols and
    // tls_preempt_cipherlist (TLS_SSL_OP_MANAGED_BITS in tls.h).
    let managed = SslOptions::CIPHER_SERVER_PREFERENCE
        | SslOptions::NO_SSLV2
        | SslOptions::NO_SSLV3
        | SslOptions::NO_TLSV1
        | SslOptions::NO_TLSV1_1
        | SslOptions::NO_TLSV1_2
        | SslOptions::NO_TLSV1_3;
    Ok(options & !managed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusion_list() {
        let r = parse_protocols("smtpd_tls_protocols", "!SSLv2, !SSLv3").unwrap();
        assert_eq!(r.min, Some(SslVersion::TLS1));
        assert_eq!(r.max, None);
        assert!(r.holes.is_empty());
        let r = parse_protocols("p", "!SSLv2:!SSLv3:!TLSv1:!TLSv1.1").unwrap();
        assert_eq!(r.min, Some(SslVersion::TLS1_2));
    }

    #[test]
    fn ranges() {
        let r = parse_protocols("p", ">=TLSv1.2").unwrap();
        assert_eq!((r.min, r.max), (Some(SslVersion::TLS1_2), None));
        let r = parse_protocols("p", "<=TLSv1.2").unwrap();
        assert_eq!((r.min, r.max), (None, Some(SslVersion::TLS1_2)));
        let r = parse_protocols("p", ">=TLSv1 <=TLSv1.2 !TLSv1.1").unwrap();
        assert_eq!(
            (r.min, r.max),
            (Some(SslVersion::TLS1), Some(SslVersion::TLS1_2))
        );
        assert_eq!(r.holes, SslOptions::NO_TLSV1_1);
        let r = parse_protocols("p", "TLSv1.3").unwrap();
        assert_eq!(r.min, Some(SslVersion::TLS1_3));
        let r = parse_protocols("p", "").unwrap();
        assert_eq!((r.min, r.max), (None, None));
    }

    #[test]
    fn bad_protocols_name_the_parameter() {
        let err = parse_protocols("smtpd_tls_protocols", "!TLSv9").unwrap_err();
        assert!(err.to_string().contains("smtpd_tls_protocols"), "{err}");
        assert!(parse_protocols("p", ">=TLSv1.3 <=TLSv1.2").is_err());
    }

    #[test]
    fn cipher_grades_and_exclusions() {
        let g = TlsGlobals::default();
        let list = cipher_list(&g, "c", "High", "e", &["aNULL, RC4", "MD5"]).unwrap();
        assert_eq!(list, "aNULL:-aNULL:HIGH:@STRENGTH:!aNULL:!RC4:!MD5");
        assert!(cipher_list(&g, "smtpd_tls_ciphers", "strong", "e", &[]).is_err());
        let err = cipher_list(&g, "c", "high", "smtpd_tls_exclude_ciphers", &["!RC4"]);
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("smtpd_tls_exclude_ciphers"));
    }

    #[test]
    fn ssl_options() {
        assert_eq!(
            parse_ssl_options("NO_TICKET").unwrap(),
            SslOptions::NO_TICKET
        );
        let o = parse_ssl_options("no_ticket, NO_COMPRESSION").unwrap();
        assert!(o.contains(SslOptions::NO_TICKET | SslOptions::NO_COMPRESSION));
        assert!(parse_ssl_options("NO_SUCH_THING").is_err());
        assert!(parse_ssl_options("0x4000")
            .unwrap()
            .contains(SslOptions::NO_TICKET));
        assert!(parse_ssl_options("").unwrap().is_empty());
    }
}
