//! Peer certificate checks as Postfix makes them: name matching for `verify`
//! and `secure`, digest matching for `fingerprint`, and the `PeerVerified`
//! token that only a passed check can produce.
//!
//! Mirrors Postfix `tls_client.c` (`match_servername`, `verify_extract_name`),
//! `tls_verify.c` (`tls_dns_name`: subjectAltName DNS names, CN only when there
//! are none) and `tls_fprint.c` (`tls_fingerprint`, `tls_pkey_fprint`,
//! `tls_digest_encode`). Parameters behind the inputs:
//! `smtp_tls_verify_cert_match`, `smtp_tls_secure_cert_match`,
//! `smtp_tls_fingerprint_cert_match`, `smtp_tls_fingerprint_digest`,
//! `smtpd_tls_fingerprint_digest`, `tls_wildcard_matches_multiple_labels`.

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::X509Ref;

use super::error::{ConfigError, NotVerified};

/// Proof that the peer passed the checks of a `fingerprint`, `verify` or
/// `secure` level. It has no public constructor: recording a delivery or a
/// session as "Verified" takes one, so a skipped check does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerVerified {
    _private: (),
}

/// A digest algorithm named by `*_tls_fingerprint_digest`.
#[derive(Clone, Copy)]
pub struct FingerprintDigest {
    name: &'static str,
    md: MessageDigest,
}

impl std::fmt::Debug for FingerprintDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl FingerprintDigest {
    /// Resolves a digest name as Postfix (`tls_validate_digest`); `param` names
    /// the parameter for the error.
    pub fn lookup(param: &'static str, name: &str) -> Result<FingerprintDigest, ConfigError> {
        let found = [
            ("md5", MessageDigest::md5()),
            ("sha1", MessageDigest::sha1()),
            ("sha224", MessageDigest::sha224()),
            ("sha256", MessageDigest::sha256()),
            ("sha384", MessageDigest::sha384()),
            ("sha512", MessageDigest::sha512()),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()));
        match found {
            Some((name, md)) => Ok(FingerprintDigest { name, md }),
            None => Err(ConfigError::BadValue {
                param,
                value: name.to_string(),
                why: "digest algorithm not found".into(),
            }),
        }
    }

    /// The lower-case name (`sha256`).
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Upper-case hex with `:` between bytes, as Postfix prints digests
/// (`tls_digest_encode`).
pub fn encode_digest(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// Digest of the DER certificate (`tls_fingerprint`).
pub fn cert_fingerprint(cert: &X509Ref, digest: FingerprintDigest) -> Option<String> {
    cert.digest(digest.md).ok().map(|d| encode_digest(&d))
}

/// Digest of the DER SubjectPublicKeyInfo (`tls_pkey_fprint`): it survives a
/// certificate renewal with the same key.
pub fn pkey_fingerprint(cert: &X509Ref, digest: FingerprintDigest) -> Option<String> {
    let der = super::ffi::public_key_info_der(cert)?;
    openssl::hash::hash(digest.md, &der)
        .ok()
        .map(|d| encode_digest(&d))
}

/// Reduces a fingerprint to bare upper-case hex, so that `ab:cd`, `ABCD` and
/// `AB:CD` compare equal (Postfix accepts digests with or without colons).
fn normalize_fingerprint(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The `fingerprint` level check: the leaf's certificate or public-key digest
/// must equal one of `match_values` (policy `match=a|b`, or
/// `smtp_tls_fingerprint_cert_match`).
pub fn match_fingerprint(
    cert: &X509Ref,
    digest: FingerprintDigest,
    match_values: &[String],
) -> Result<PeerVerified, NotVerified> {
    let cert_fp = cert_fingerprint(cert, digest).unwrap_or_default();
    let pkey_fp = pkey_fingerprint(cert, digest).unwrap_or_default();
    let wanted_cert = normalize_fingerprint(&cert_fp);
    let wanted_pkey = normalize_fingerprint(&pkey_fp);
    let hit = match_values.iter().any(|v| {
        let v = normalize_fingerprint(v);
        !v.is_empty() && (v == wanted_cert || v == wanted_pkey)
    });
    if hit {
        Ok(PeerVerified { _private: () })
    } else {
        Err(NotVerified::FingerprintMismatch {
            cert: cert_fp,
            pkey: pkey_fp,
        })
    }
}

/// The names a certificate claims, as Postfix reads them: the DNS
/// subjectAltNames when there is at least one, otherwise the subject CN.
pub fn certificate_names(cert: &X509Ref) -> Vec<String> {
    let dns: Vec<String> = cert
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.dnsname().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !dns.is_empty() {
        return dns;
    }
    subject_cn(cert).into_iter().collect()
}

/// The subject CommonName (`tls_peer_CN`).
pub fn subject_cn(cert: &X509Ref) -> Option<String> {
    name_entry(cert.subject_name(), Nid::COMMONNAME)
}

/// The issuer CommonName, or its Organization when there is no CN
/// (`tls_issuer_CN`).
pub fn issuer_cn(cert: &X509Ref) -> Option<String> {
    name_entry(cert.issuer_name(), Nid::COMMONNAME)
        .or_else(|| name_entry(cert.issuer_name(), Nid::ORGANIZATIONNAME))
}

fn name_entry(name: &openssl::x509::X509NameRef, nid: Nid) -> Option<String> {
    name.entries_by_nid(nid)
        .next()
        .and_then(|e| e.data().to_string().ok())
}

/// What the match patterns refer to: the destination as the SMTP client sees
/// it.
#[derive(Debug, Clone, Copy)]
pub struct MatchTarget<'a> {
    /// The next-hop domain (`example.com` for mail to `user@example.com`, or the
    /// relayhost name without brackets and port).
    pub nexthop: &'a str,
    /// The MX (or relay) host name connected to.
    pub hostname: &'a str,
}

/// Matches one certificate name against one pattern (`match_servername`):
/// `hostname`, `nexthop` and `dot-nexthop` stand for the target names; a pattern
/// `.domain` matches names strictly below the domain; otherwise the names must
/// be equal, except that a certificate name `*.rest` matches a first label (or,
/// with `tls_wildcard_matches_multiple_labels`, several).
pub fn match_one(certid: &str, pattern: &str, target: MatchTarget<'_>, multi_label: bool) -> bool {
    let (domain, subdomain) = if pattern.eq_ignore_ascii_case("nexthop") {
        (target.nexthop, false)
    } else if pattern.eq_ignore_ascii_case("hostname") {
        (target.hostname, false)
    } else if pattern.eq_ignore_ascii_case("dot-nexthop") {
        (target.nexthop, true)
    } else if let Some(rest) = pattern.strip_prefix('.').filter(|r| !r.is_empty()) {
        (rest, true)
    } else {
        (pattern, false)
    };
    let domain = domain.trim_end_matches('.');
    let certid = certid.trim_end_matches('.');
    if domain.is_empty() || certid.is_empty() {
        return false;
    }
    if subdomain {
        let (idlen, domlen) = (certid.len(), domain.len());
        return idlen > domlen + 1
            && certid.as_bytes()[idlen - domlen - 1] == b'.'
            && certid[idlen - domlen..].eq_ignore_ascii_case(domain);
    }
    if certid.eq_ignore_ascii_case(domain) {
        return true;
    }
    // Wildcard: "*.example.com" against "mx.example.com".
    let Some(wild_rest) = certid.strip_prefix('*').filter(|r| r.len() > 1) else {
        return false;
    };
    if !wild_rest.starts_with('.') {
        return false;
    }
    let Some(dot) = domain.find('.') else {
        return false;
    };
    let parent = &domain[dot..];
    if multi_label {
        parent.len() >= wild_rest.len()
            && parent[parent.len() - wild_rest.len()..].eq_ignore_ascii_case(wild_rest)
    } else {
        parent.eq_ignore_ascii_case(wild_rest)
    }
}

/// Splits a list of name patterns: `smtp_tls_verify_cert_match` and
/// `smtp_tls_secure_cert_match` use commas and spaces, a policy-table
/// `match=` uses `:` (smtp_tls_policy.c).
pub fn split_name_patterns(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c == ':' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits a list of fingerprints: `smtp_tls_fingerprint_cert_match` uses commas
/// and spaces, a policy-table `match=` uses `|` (the `:` belongs to the digest).
pub fn split_fingerprints(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c == '|' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `verify`/`secure` check: the chain must be trusted (`trusted` is
/// `verify_result() == OK`, given by the caller who holds the session) and one of
/// the certificate names must match one of the patterns.
pub fn match_certificate_name(
    cert: &X509Ref,
    trusted: Result<(), String>,
    patterns: &[String],
    target: MatchTarget<'_>,
    multi_label: bool,
) -> Result<PeerVerified, NotVerified> {
    trusted.map_err(NotVerified::Untrusted)?;
    let names = certificate_names(cert);
    let hit = names.iter().any(|n| {
        patterns
            .iter()
            .any(|p| match_one(n, p, target, multi_label))
    });
    if hit {
        Ok(PeerVerified { _private: () })
    } else {
        Err(NotVerified::NameMismatch {
            names,
            patterns: patterns.to_vec(),
        })
    }
}

/// The IP-address form of the `verify`/`secure` check: a match name that is
/// an address literal is compared with the certificate's IP subjectAltNames,
/// as OpenSSL 3's `SSL_add1_host` does for Postfix (no DNS name involved).
pub fn match_certificate_ip(
    cert: &X509Ref,
    trusted: Result<(), String>,
    ip: std::net::IpAddr,
) -> Result<PeerVerified, NotVerified> {
    trusted.map_err(NotVerified::Untrusted)?;
    let want: Vec<u8> = match ip {
        std::net::IpAddr::V4(a) => a.octets().to_vec(),
        std::net::IpAddr::V6(a) => a.octets().to_vec(),
    };
    let hit = cert
        .subject_alt_names()
        .is_some_and(|names| names.iter().any(|n| n.ipaddress() == Some(want.as_slice())));
    if hit {
        Ok(PeerVerified { _private: () })
    } else {
        Err(NotVerified::NameMismatch {
            names: certificate_names(cert),
            patterns: vec![ip.to_string()],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: MatchTarget<'static> = MatchTarget {
        nexthop: "example.com",
        hostname: "mx1.example.com",
    };

    #[test]
    fn symbolic_patterns() {
        assert!(match_one("mx1.example.com", "hostname", T, true));
        assert!(!match_one("mx2.example.com", "hostname", T, true));
        assert!(match_one("example.com", "nexthop", T, true));
        assert!(!match_one("mx1.example.com", "nexthop", T, true));
        assert!(match_one("mx1.example.com", "dot-nexthop", T, true));
        assert!(!match_one("example.com", "dot-nexthop", T, true));
        assert!(match_one("MX1.Example.COM", "HOSTNAME", T, true));
    }

    #[test]
    fn literal_and_suffix_patterns() {
        assert!(match_one("mail.example.net", "mail.example.net", T, true));
        assert!(match_one("a.b.example.net", ".example.net", T, true));
        assert!(!match_one("example.net", ".example.net", T, true));
        assert!(!match_one("badexample.net", ".example.net", T, true));
        assert!(!match_one("anything", ".", T, true));
    }

    #[test]
    fn wildcard_certificate_names() {
        assert!(match_one("*.example.com", "hostname", T, true));
        assert!(match_one("*.example.com", "a.b.example.com", T, true));
        assert!(!match_one("*.example.com", "a.b.example.com", T, false));
        assert!(match_one("*.example.com", "a.example.com", T, false));
        assert!(!match_one("*.example.com", "example.com", T, true));
        assert!(!match_one("*", "hostname", T, true));
        assert!(!match_one("*x.example.com", "ax.example.com", T, true));
    }

    #[test]
    fn digest_encoding() {
        assert_eq!(encode_digest(&[0x0a, 0xff, 0x10]), "0A:FF:10");
        assert_eq!(normalize_fingerprint("0a:ff:10"), "0AFF10");
        assert!(FingerprintDigest::lookup("smtp_tls_fingerprint_digest", "SHA1").is_ok());
        let err = FingerprintDigest::lookup("smtp_tls_fingerprint_digest", "sha3").unwrap_err();
        assert!(err.to_string().contains("smtp_tls_fingerprint_digest"));
    }

    #[test]
    fn match_lists() {
        assert_eq!(
            split_name_patterns("nexthop, dot-nexthop"),
            vec!["nexthop", "dot-nexthop"]
        );
        assert_eq!(split_name_patterns("a:b c"), vec!["a", "b", "c"]);
        assert_eq!(
            split_fingerprints("AB:CD|EF:01, 23"),
            vec!["AB:CD", "EF:01", "23"]
        );
    }
}
