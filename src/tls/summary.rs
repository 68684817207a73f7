//! The exact texts Postfix writes about a TLS session: the one-line log summary,
//! the peer-certificate log line, and the TLS clauses of the Received header.
//!
//! Sources: Postfix `tls_misc.c` `tls_log_summary` ("%s TLS connection %s %s
//! %s%s%s: %s with cipher %s (%d/%d bits)" followed by the key-exchange and
//! signature details), `tls_server.c` `tls_server_post_accept` (the
//! "subject_CN=..., issuer=..., fingerprint=..., pkey_fingerprint=..." line;
//! `tls_client.c` says "issuer_CN=" there), and `smtpd.c` (Received: "(using %s with cipher %s (%d/%d bits)", the TLS 1.3
//! details on a folded line starting "\t key-exchange", then "(Client CN \"%s\",
//! Issuer \"%s\" (verified OK))", "(not verified)", "(Client did not present a
//! certificate)" or "(No client certificate requested)"). Parameters behind the
//! callers' choices: `smtpd_tls_loglevel`, `smtp_tls_loglevel`,
//! `smtpd_tls_received_header`, `smtpd_tls_ask_ccert`.

use std::fmt::Write;

use super::facts::{Role, Signature, TlsFacts};

/// Whether the session was new or resumed; Postfix says "established" or
/// "reused" (`TLS_USAGE_NEW` / `TLS_USAGE_USED`, the latter for connection
/// reuse in the SMTP client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    New,
    Reused,
}

/// The trust word that opens the summary: Anonymous (no peer certificate),
/// Verified (matched), Trusted (chain verified), Untrusted.
pub fn trust_word(facts: &TlsFacts) -> &'static str {
    if !facts.peer_cert_present {
        "Anonymous"
    } else if facts.verified() {
        "Verified"
    } else if facts.trusted {
        "Trusted"
    } else {
        "Untrusted"
    }
}

fn push_signature(out: &mut String, role: &str, sig: &Signature) {
    if sig.name.is_empty() {
        return;
    }
    let _ = write!(out, " {role}-signature {}", sig.name);
    if let Some(curve) = sig.curve.as_deref().filter(|c| !c.is_empty()) {
        let _ = write!(out, " ({curve})");
    } else if let Some(bits) = sig.bits.filter(|b| *b > 0) {
        let _ = write!(out, " ({bits} bits)");
    }
    if let Some(digest) = sig.digest.as_deref().filter(|d| !d.is_empty()) {
        let _ = write!(out, " {role}-digest {digest}");
    }
}

/// The TLS 1.3 details: " key-exchange X25519 server-signature RSA-PSS (2048
/// bits) server-digest SHA256" (with a leading space; empty before TLS 1.3).
pub fn tls13_details(facts: &TlsFacts) -> String {
    let mut out = String::new();
    if let Some(kex) = facts.kex_name.as_deref().filter(|k| !k.is_empty()) {
        let _ = write!(out, " key-exchange {kex}");
        if let Some(curve) = facts.kex_curve.as_deref().filter(|c| !c.is_empty()) {
            let _ = write!(out, " ({curve})");
        } else if let Some(bits) = facts.kex_bits.filter(|b| *b > 0) {
            let _ = write!(out, " ({bits} bits)");
        }
    }
    if let Some(sig) = &facts.server_signature {
        push_signature(&mut out, "server", sig);
    }
    if let Some(sig) = &facts.client_signature {
        push_signature(&mut out, "client", sig);
    }
    out
}

/// "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)".
fn protocol_and_cipher(facts: &TlsFacts) -> String {
    format!(
        "{} with cipher {} ({}/{} bits)",
        facts.protocol, facts.cipher, facts.cipher_usebits, facts.cipher_algbits
    )
}

/// The loglevel-1 summary line (`tls_log_summary`). `peer` is Postfix's
/// `namaddr`: `host[addr]` for smtpd, `host[addr]:port` for smtp. On the server
/// side an SNI name the client sent is logged as " to name".
pub fn log_summary(facts: &TlsFacts, usage: Usage, peer: &str) -> String {
    let (direction, sni) = match facts.role {
        Some(Role::Client) => ("to", None),
        _ => ("from", facts.sni.as_deref().filter(|_| facts.sni_accepted)),
    };
    let mut line = format!(
        "{} TLS connection {} {} {}",
        trust_word(facts),
        match usage {
            Usage::New => "established",
            Usage::Reused => "reused",
        },
        direction,
        peer.to_ascii_lowercase(),
    );
    if let Some(sni) = sni {
        let _ = write!(line, " to {sni}");
    }
    let _ = write!(line, ": {}", protocol_and_cipher(facts));
    line.push_str(&tls13_details(facts));
    line
}

/// The peer-certificate line Postfix logs when `*_tls_loglevel` is 2 or more
/// (`TLS_LOG_VERBOSE`, or the `peercert` feature); at loglevel 1 Postfix 3.x logs
/// only the summary line (tls_misc.c `tls_log_table`: "1" is `TLS_LOG_SUMMARY`).
/// `None` without a peer certificate.
pub fn peer_certificate_line(facts: &TlsFacts, peer: &str) -> Option<String> {
    // tls_server.c writes "issuer=", tls_client.c "issuer_CN=".
    let issuer_key = match facts.role {
        Some(Role::Client) => "issuer_CN",
        _ => "issuer",
    };
    facts.peer_cert_present.then(|| {
        format!(
            "{}: subject_CN={}, {issuer_key}={}, fingerprint={}, pkey_fingerprint={}",
            peer.to_ascii_lowercase(),
            facts.peer_cn,
            facts.issuer_cn,
            facts.peer_cert_fingerprint,
            facts.peer_pkey_fingerprint
        )
    })
}

/// Postfix `comment_sanitize`: a Received comment must not break out of its
/// parentheses or quotes, nor carry control characters.
fn comment_sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                out.push(c);
            }
            ')' if depth > 0 => {
                depth -= 1;
                out.push(c);
            }
            ')' => out.push('_'),
            '"' | '\\' => out.push('_'),
            c if c.is_control() => out.push('_'),
            c => out.push(c),
        }
    }
    out.extend(std::iter::repeat_n(')', depth));
    out
}

/// The TLS clause of the Received header as one unfolded string:
/// "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange
/// X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)".
pub fn received_tls_clause(facts: &TlsFacts) -> String {
    format!(
        "(using {}{})",
        protocol_and_cipher(facts),
        tls13_details(facts)
    )
}

/// The client-certificate clause of the Received header (smtpd only).
/// `ask_ccert` is `smtpd_tls_ask_ccert` (or `req_ccert`): whether a certificate
/// was requested at all.
pub fn received_client_cert_clause(facts: &TlsFacts, ask_ccert: bool) -> String {
    if facts.peer_cert_present {
        format!(
            "(Client CN \"{}\", Issuer \"{}\" ({}))",
            comment_sanitize(&facts.peer_cn),
            comment_sanitize(&facts.issuer_cn),
            if facts.trusted {
                "verified OK"
            } else {
                "not verified"
            }
        )
    } else if ask_ccert {
        "(Client did not present a certificate)".to_string()
    } else {
        "(No client certificate requested)".to_string()
    }
}

/// The Received header lines Postfix's smtpd writes for TLS, each starting with
/// a tab, in order: the using-clause (TLS 1.3 details folded onto their own
/// line, as in headers Postfix 3.4+ writes), then the client-certificate
/// clause. cleanup inserts them between "Received: from ..." and "\tby ...".
pub fn received_header_lines(facts: &TlsFacts, ask_ccert: bool) -> Vec<String> {
    let details = tls13_details(facts);
    let mut lines = if details.is_empty() {
        vec![format!("\t(using {})", protocol_and_cipher(facts))]
    } else {
        vec![
            format!("\t(using {}", protocol_and_cipher(facts)),
            format!("\t{details})"),
        ]
    };
    lines.push(format!(
        "\t{}",
        received_client_cert_clause(facts, ask_ccert)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls13_facts() -> TlsFacts {
        let mut f = TlsFacts::default();
        f.role = Some(Role::Server);
        f.protocol = "TLSv1.3".into();
        f.cipher = "TLS_AES_256_GCM_SHA384".into();
        f.cipher_usebits = 256;
        f.cipher_algbits = 256;
        f.kex_name = Some("X25519".into());
        f.server_signature = Some(Signature {
            name: "RSA-PSS".into(),
            bits: Some(2048),
            digest: Some("SHA256".into()),
            curve: None,
        });
        f
    }

    #[test]
    fn anonymous_server_summary() {
        assert_eq!(
            log_summary(&tls13_facts(), Usage::New, "mail.example.org[192.0.2.1]"),
            "Anonymous TLS connection established from mail.example.org[192.0.2.1]: \
             TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 \
             server-signature RSA-PSS (2048 bits) server-digest SHA256"
        );
    }

    #[test]
    fn server_sni_logged_only_when_accepted() {
        let mut f = tls13_facts();
        f.sni = Some("mail.example.org".into());
        assert!(log_summary(&f, Usage::New, "h[a]")
            .starts_with("Anonymous TLS connection established from h[a]: "));
        f.sni_accepted = true;
        assert!(log_summary(&f, Usage::New, "h[a]").starts_with(
            "Anonymous TLS connection established from h[a] to mail.example.org: TLSv1.3"
        ));
    }

    #[test]
    fn client_summary_with_trust_words() {
        let mut f = tls13_facts();
        f.role = Some(Role::Client);
        f.peer_cert_present = true;
        let line = log_summary(&f, Usage::New, "mx.example.com[192.0.2.2]:25");
        assert!(line.starts_with(
            "Untrusted TLS connection established to mx.example.com[192.0.2.2]:25: TLSv1.3"
        ));
        f.trusted = true;
        assert!(log_summary(&f, Usage::Reused, "h[a]:25")
            .starts_with("Trusted TLS connection reused to h[a]:25: "));
    }

    #[test]
    fn ecdsa_client_signature_and_tls12() {
        let mut f = tls13_facts();
        f.client_signature = Some(Signature {
            name: "ECDSA".into(),
            curve: Some("P-256".into()),
            bits: None,
            digest: Some("SHA256".into()),
        });
        assert!(tls13_details(&f).ends_with(" client-signature ECDSA (P-256) client-digest SHA256"));
        let mut f12 = TlsFacts::default();
        f12.protocol = "TLSv1.2".into();
        f12.cipher = "ECDHE-RSA-AES256-GCM-SHA384".into();
        f12.cipher_usebits = 256;
        f12.cipher_algbits = 256;
        assert_eq!(
            received_tls_clause(&f12),
            "(using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits))"
        );
        assert_eq!(
            received_header_lines(&f12, false),
            vec![
                "\t(using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits))",
                "\t(No client certificate requested)"
            ]
        );
    }

    #[test]
    fn received_clauses() {
        let mut f = tls13_facts();
        assert_eq!(
            received_tls_clause(&f),
            "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange \
             X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)"
        );
        assert_eq!(
            received_header_lines(&f, true),
            vec![
                "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
                "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)",
                "\t(Client did not present a certificate)",
            ]
        );
        f.peer_cert_present = true;
        f.peer_cn = "roamer (laptop)".into();
        f.issuer_cn = "Test \"CA\"".into();
        assert_eq!(
            received_client_cert_clause(&f, true),
            "(Client CN \"roamer (laptop)\", Issuer \"Test _CA_\" (not verified))"
        );
        f.trusted = true;
        assert!(received_client_cert_clause(&f, true).ends_with("(verified OK))"));
    }

    #[test]
    fn sanitizer_balances_parentheses() {
        assert_eq!(comment_sanitize("a)b(c"), "a_b(c)");
        assert_eq!(comment_sanitize("x\r\ny"), "x__y");
    }

    #[test]
    fn peer_certificate_line_shape() {
        let mut f = tls13_facts();
        assert_eq!(peer_certificate_line(&f, "h[a]"), None);
        f.peer_cert_present = true;
        f.peer_cn = "client.example.com".into();
        f.issuer_cn = "Test CA".into();
        f.peer_cert_fingerprint = "AA:BB".into();
        f.peer_pkey_fingerprint = "CC:DD".into();
        assert_eq!(
            peer_certificate_line(&f, "Host[1.2.3.4]").unwrap(),
            "host[1.2.3.4]: subject_CN=client.example.com, issuer=Test CA, \
             fingerprint=AA:BB, pkey_fingerprint=CC:DD"
        );
        f.role = Some(Role::Client);
        assert!(peer_certificate_line(&f, "h[a]:25")
            .unwrap()
            .starts_with("h[a]:25: subject_CN=client.example.com, issuer_CN=Test CA, "));
    }
}
