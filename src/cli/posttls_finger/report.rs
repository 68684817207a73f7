//! The TLS half of `posttls-finger`: the handshake with every certificate
//! error recorded as Postfix records it, the level's check (fingerprint or
//! name), and the lines Postfix prints: the verification outcome, the
//! certificate line, the summary and, with `-C`, the chain in PEM.
//!
//! Mirrors Postfix `tls_verify.c` (`update_error_state`: the error at the
//! lowest depth wins; `tls_log_verify_error` texts), `tls_client.c`
//! (`matched peername`, `Matched fingerprint`) and `posttls-finger.c`
//! (`print_trust_info`). OpenSSL reports a name mismatch as error 62 at depth
//! 0 after the chain errors (`check_id`), and a fingerprint mismatch as error
//! 65; the same order is kept here so that the first error reported is
//! Postfix's.

use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use openssl::ssl::{SslStream, SslVerifyMode};
use openssl::x509::{X509NameRef, X509Ref};

use super::{say, Options, TlsSetup};
use crate::tls::facts::{Role, TlsFacts};
use crate::tls::summary::{self, Usage};
use crate::tls::verify::{self, MatchTarget};
use crate::tls::{ServerPeer, TlsLevel};

/// X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_DANE_NO_MATCH (x509_vfy.h).
const HOSTNAME_MISMATCH: i32 = 62;
const DANE_NO_MATCH: i32 = 65;

/// The first verification error at the lowest depth (Postfix's errorcode,
/// errordepth and the issuer of errorcert).
#[derive(Debug, Clone)]
struct ErrorState {
    depth: u32,
    code: i32,
    /// OpenSSL's text for the code.
    text: String,
    issuer: String,
}

fn update(state: &Mutex<Option<ErrorState>>, new: ErrorState) {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    if s.as_ref().is_some_and(|old| old.depth <= new.depth) {
        return;
    }
    *s = Some(new);
}

/// `X509_NAME_oneline`: "/O=Postern tests/CN=mx.test.example".
pub fn oneline(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("/{key}={value}")
        })
        .collect()
}

/// The `tls_log_verify_error` text for the recorded error.
fn verify_error_text(e: &ErrorState, np: &str) -> String {
    let purpose = if e.depth > 0 { "CA" } else { "server" };
    match e.code {
        27 => format!("certificate verification failed for {np}: not trusted by local or TLSA policy"),
        18 => format!("certificate verification failed for {np}: self-signed certificate"),
        19 | 20 => format!(
            "certificate verification failed for {np}: untrusted issuer {}",
            e.issuer
        ),
        9 | 13 => format!("{purpose} certificate verification failed for {np}: certificate not yet valid"),
        10 | 14 => format!("{purpose} certificate verification failed for {np}: certificate has expired"),
        26 => format!(
            "certificate verification failed for {np}: not designated for use as a {purpose} certificate"
        ),
        22 => format!(
            "certificate verification failed for {np}: certificate chain longer than limit({})",
            e.depth.saturating_sub(1)
        ),
        code => format!(
            "{purpose} certificate verification failed for {np}: num={code}:{}",
            e.text
        ),
    }
}

/// The certificate name that matched one of the patterns, patterns tried in
/// order (as OpenSSL's host list), as `matched peername` reports it.
fn matching_name(
    cert: &X509Ref,
    patterns: &[String],
    target: MatchTarget<'_>,
    multi: bool,
) -> Option<String> {
    let names = verify::certificate_names(cert);
    patterns.iter().find_map(|p| {
        names
            .iter()
            .find(|n| verify::match_one(n, p, target, multi))
            .cloned()
    })
}

/// Upper-case hex without colons: how Postfix prints a matched fingerprint.
fn bare_hex(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Runs the handshake on `tcp` and prints the report; the stream is returned
/// whatever the verification outcome, as the probe goes on with EHLO.
pub fn start(
    opts: &Options,
    tls: &TlsSetup,
    peer: &ServerPeer,
    tcp: TcpStream,
) -> Result<SslStream<TcpStream>, String> {
    let np = peer.namaddrport();
    let _ = tcp.set_read_timeout(Some(opts.cmd_timeout));
    let _ = tcp.set_write_timeout(Some(opts.cmd_timeout));
    let mut prepared = tls
        .ctx
        .prepare(&tls.policy, peer)
        .map_err(|e| format!("TLS configuration problem: {e}"))?;
    let errors: Arc<Mutex<Option<ErrorState>>> = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&errors);
    // Record, never refuse: the level decides after the handshake.
    prepared
        .ssl
        .set_verify_callback(SslVerifyMode::PEER, move |ok, store| {
            if !ok {
                let issuer = store
                    .current_cert()
                    .map(|c| oneline(c.issuer_name()))
                    .unwrap_or_else(|| "<unknown>".into());
                update(
                    &sink,
                    ErrorState {
                        depth: store.error_depth(),
                        code: store.error().as_raw(),
                        text: store.error().error_string().to_string(),
                        issuer,
                    },
                );
            }
            true
        });
    let stream = prepared
        .ssl
        .connect(tcp)
        .map_err(|e| format!("SSL_connect error to {np}: {e}"))?;
    let mut facts = TlsFacts::from_ssl(stream.ssl(), Role::Client, tls.digest);
    facts.level = Some(opts.level);
    let cert = stream.ssl().peer_certificate();
    if let Some(cert) = &cert {
        check(opts, tls, peer, cert, &errors, &mut facts);
    }
    if cert.is_some() && (opts.log.certmatch || opts.log.peercert) {
        if let Some(line) = summary::peer_certificate_line(&facts, &np) {
            say(&line);
        }
    }
    if opts.log.summary {
        say(&summary::log_summary(&facts, Usage::New, &np));
    }
    if opts.print_chain {
        print_chain(&stream, tls);
    }
    Ok(stream)
}

/// The check of the level, printing the match or the verification failure.
fn check(
    opts: &Options,
    tls: &TlsSetup,
    peer: &ServerPeer,
    cert: &X509Ref,
    errors: &Mutex<Option<ErrorState>>,
    facts: &mut TlsFacts,
) {
    let np = peer.namaddrport();
    let level = opts.level;
    if !level.must_match() || level.is_dane() {
        return;
    }
    let matches = tls.policy.matches.clone().unwrap_or_default();
    if level == TlsLevel::Fingerprint && !matches.is_empty() {
        // As Postfix turns each digest into "3 1 255" and "3 0 255" TLSA
        // records: one of the wrong length is unusable, and warned about.
        let want = verify::cert_fingerprint(cert, tls.digest)
            .map(|f| bare_hex(&f).len())
            .unwrap_or_default();
        let usable: Vec<String> = matches
            .iter()
            .filter(|m| {
                let hex = bare_hex(m);
                let ok = hex.len() == want && hex.chars().all(|c| c.is_ascii_hexdigit());
                if !ok {
                    say(&format!("warning: {np}: unusable TLSA RR: 3 1 255 {hex}"));
                    say(&format!("warning: {np}: unusable TLSA RR: 3 0 255 {hex}"));
                }
                ok
            })
            .cloned()
            .collect();
        if usable.is_empty() {
            say(&format!("warning: {np}: all fingerprints unusable"));
            update(
                errors,
                ErrorState {
                    depth: 0,
                    code: 1,
                    text: "unspecified certificate verification error".into(),
                    issuer: String::new(),
                },
            );
        }
        for m in &usable {
            if let Ok(proof) = verify::match_fingerprint(cert, tls.digest, std::slice::from_ref(m))
            {
                if opts.log.certmatch {
                    say(&format!("{np}: Matched fingerprint: {}", bare_hex(m)));
                }
                facts.mark_verified(proof);
                return;
            }
        }
        update(
            errors,
            ErrorState {
                depth: 0,
                code: DANE_NO_MATCH,
                text: "no matching DANE TLSA records".into(),
                issuer: String::new(),
            },
        );
    } else if level != TlsLevel::Fingerprint {
        let defaults = match level {
            TlsLevel::Verify => "hostname",
            _ => "nexthop, dot-nexthop",
        };
        let patterns = if matches.is_empty() {
            verify::split_name_patterns(defaults)
        } else {
            matches
        };
        let target = MatchTarget {
            nexthop: &peer.nexthop,
            hostname: &peer.hostname,
        };
        // As OpenSSL's SSL_add1_host: a match name that is an address is
        // compared with the IP subjectAltNames, the others with the DNS
        // names, and when both kinds are present both must match (check_id).
        let (ips, names): (Vec<&String>, Vec<&String>) = patterns.iter().partition(|p| {
            let name = match p.to_ascii_lowercase().as_str() {
                "hostname" => peer.hostname.as_str(),
                "nexthop" => peer.nexthop.as_str(),
                _ => p.as_str(),
            };
            name.parse::<std::net::IpAddr>().is_ok()
        });
        let ip_proof = ips.iter().find_map(|p| {
            let name = match p.to_ascii_lowercase().as_str() {
                "hostname" => peer.hostname.as_str(),
                "nexthop" => peer.nexthop.as_str(),
                _ => p.as_str(),
            };
            let ip = name.parse::<std::net::IpAddr>().ok()?;
            verify::match_certificate_ip(cert, Ok(()), ip).ok()
        });
        let names: Vec<String> = names.into_iter().cloned().collect();
        let matched = matching_name(cert, &names, target, tls.multi_label);
        let ip_ok = ips.is_empty() || ip_proof.is_some();
        let name_ok = names.is_empty() || matched.is_some();
        if !(ip_ok && name_ok) || patterns.is_empty() {
            update(
                errors,
                ErrorState {
                    depth: 0,
                    code: HOSTNAME_MISMATCH,
                    text: "hostname mismatch".into(),
                    issuer: String::new(),
                },
            );
        }
        let failed = errors.lock().unwrap_or_else(|p| p.into_inner()).is_some();
        if !failed {
            let proof = match &matched {
                Some(_) => {
                    verify::match_certificate_name(cert, Ok(()), &names, target, tls.multi_label)
                        .ok()
                }
                None => ip_proof,
            };
            if let Some(proof) = proof {
                if let (Some(name), true) = (&matched, opts.log.certmatch) {
                    say(&format!("{np}: matched peername: {name}"));
                }
                facts.mark_verified(proof);
                return;
            }
        }
    }
    let error = errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(e) = error {
        say(&verify_error_text(&e, &np));
        facts.trusted = false;
    }
}

/// `-C`: the chain as sent (and completed by OpenSSL), each certificate with
/// subject, issuer, fingerprints and PEM, as posttls-finger's print_stack.
fn print_chain(stream: &SslStream<TcpStream>, tls: &TlsSetup) {
    let Some(chain) = stream.ssl().peer_cert_chain() else {
        return;
    };
    println!("\n---\nCertificate chain");
    for (i, cert) in chain.iter().enumerate() {
        println!(" {i} subject: {}", oneline(cert.subject_name()));
        println!("    issuer: {}", oneline(cert.issuer_name()));
        println!(
            "   cert digest={}",
            verify::cert_fingerprint(cert, tls.digest).unwrap_or_default()
        );
        println!(
            "   pkey digest={}",
            verify::pkey_fingerprint(cert, tls.digest).unwrap_or_default()
        );
        if let Ok(pem) = cert.to_pem() {
            print!("{}", String::from_utf8_lossy(&pem));
        }
    }
}
