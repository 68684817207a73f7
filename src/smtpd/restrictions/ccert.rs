//! Relay permission by TLS client certificate: permit_tls_clientcerts (the
//! certificate or public-key fingerprint is a key in relay_clientcerts, whether
//! or not a trusted CA issued the certificate) and permit_tls_all_clientcerts
//! (any certificate a trusted CA verified).
//!
//! Mirrors Postfix `smtpd/smtpd_check.c` permit_tls_clientcerts() and
//! postconf(5) relay_clientcerts. Reads, through `Restrictions`,
//! `relay_clientcerts`; the fingerprints were made by the tls module with
//! `smtpd_tls_fingerprint_digest`.

use super::evaluate::{Eval, Outcome};

/// permit_tls_clientcerts.
pub fn permit_listed(e: &mut Eval) -> Outcome {
    let Some(tls) = e.f.tls.filter(|t| t.peer_cert_present) else {
        return Outcome::Dunno;
    };
    if e.r.relay_clientcerts.is_empty() {
        return Outcome::Dunno;
    }
    // As Postfix: the certificate fingerprint, then the public-key one, each
    // a full key. The digest is the one the fingerprints were made with.
    for fp in [&tls.peer_cert_fingerprint, &tls.peer_pkey_fingerprint] {
        if fp.is_empty() {
            continue;
        }
        match e.r.relay_clientcerts.find_first(&[fp.as_str()]) {
            Ok(Some(_)) => {
                ::log::debug!(
                    "relay_clientcerts: matched {} fingerprint {fp} of {}",
                    tls.fingerprint_digest,
                    tls.peer_cn
                );
                return Outcome::Permit;
            }
            Ok(None) => {}
            Err(err) => {
                let name = e.client_stage().name;
                return e.lookup_failed(e.r.relay_clientcerts.param, &name, &err);
            }
        }
    }
    Outcome::Dunno
}

/// permit_tls_all_clientcerts: any chain verified against our CAs; failing
/// that, a listed fingerprint still counts (Postfix permit_tls_clientcerts()
/// with permit_all_certs falls through to the relay_clientcerts lookup).
pub fn permit_trusted(e: &mut Eval) -> Outcome {
    match e.f.tls {
        Some(t) if t.peer_cert_present && t.trusted => Outcome::Permit,
        _ => permit_listed(e),
    }
}
