//! What one TLS session gave: protocol, cipher, key exchange, signatures, peer
//! certificate names and fingerprints, trust — read from OpenSSL once after the
//! handshake and kept as plain data for logs, Received headers and the queue.
//!
//! Mirrors the `TLS_SESS_STATE` fields Postfix fills in `tls_server_post_accept`
//! and `tls_client_post_connect`, and `tls_get_signature_params` in
//! `tls_misc.c`. The digest comes from `smtpd_tls_fingerprint_digest` or
//! `smtp_tls_fingerprint_digest` (passed in).

use openssl::nid::Nid;
use openssl::pkey::{Id, PKeyRef, Public};
use openssl::ssl::SslRef;
use openssl::x509::{X509Ref, X509VerifyResult};

use super::ffi;
use super::level::TlsLevel;
use super::verify::{self, FingerprintDigest, PeerVerified};

/// Which end of the connection we are, for the log text ("from" vs "to").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// smtpd: we accepted the connection.
    Server,
    /// smtp: we connected out.
    Client,
}

/// A handshake signature: algorithm, curve or RSA size, and digest
/// (`server-signature RSA-PSS (2048 bits) server-digest SHA256`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    /// `RSA-PSS`, `ECDSA`, `ED25519`, ...
    pub name: String,
    /// NIST curve name for ECDSA (`P-256`).
    pub curve: Option<String>,
    /// Key size for RSA.
    pub bits: Option<u32>,
    /// Pre-signature digest (`SHA256`); none for Ed25519/Ed448.
    pub digest: Option<String>,
}

/// The facts of one TLS session (Postfix `TLS_SESS_STATE`, public part). The
/// queue stores them with the message (smtpd) or with each delivery (smtp).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFacts {
    /// Our side of the session.
    pub role: Option<Role>,
    /// `TLSv1.3`, `TLSv1.2`, ...
    pub protocol: String,
    /// OpenSSL cipher name (`TLS_AES_256_GCM_SHA384`).
    pub cipher: String,
    /// Secret bits used by the cipher.
    pub cipher_usebits: i32,
    /// Bits of the cipher algorithm.
    pub cipher_algbits: i32,
    /// Key exchange (`X25519`, `ECDHE`, `DHE`); TLS 1.3 only, as in Postfix.
    pub kex_name: Option<String>,
    /// ECDHE curve (`P-256`).
    pub kex_curve: Option<String>,
    /// Finite-field DHE size.
    pub kex_bits: Option<u32>,
    /// The server's handshake signature (TLS 1.3 only).
    pub server_signature: Option<Signature>,
    /// The client's handshake signature, when it sent a certificate (TLS 1.3).
    pub client_signature: Option<Signature>,
    /// The peer sent a certificate.
    pub peer_cert_present: bool,
    /// Peer subject CN (empty without a certificate).
    pub peer_cn: String,
    /// Peer issuer CN, or issuer O when there is no CN.
    pub issuer_cn: String,
    /// Digest name the fingerprints below use (`sha256`).
    pub fingerprint_digest: String,
    /// Peer certificate fingerprint, upper-case hex with `:`.
    pub peer_cert_fingerprint: String,
    /// Peer public-key fingerprint, same format.
    pub peer_pkey_fingerprint: String,
    /// The peer chain verified against our CAs (`TLS_CERT_FLAG_TRUSTED`).
    pub trusted: bool,
    /// OpenSSL's verification error text when not trusted.
    pub verify_error: Option<String>,
    /// The session was resumed from a cached session or ticket.
    pub resumed: bool,
    /// SNI name: sent (client) or received (server).
    pub sni: Option<String>,
    /// The server accepted the client's SNI name through `tls_server_sni_maps`
    /// (not built yet); only then does Postfix log " to <sni>".
    pub sni_accepted: bool,
    /// The security level the session was held to (client side).
    pub level: Option<TlsLevel>,
    /// Set only through `mark_verified`, which takes a `PeerVerified`.
    verified: bool,
}

impl TlsFacts {
    /// The peer passed name or fingerprint matching (`TLS_CERT_FLAG_SECURED`):
    /// the log then says "Verified".
    pub fn verified(&self) -> bool {
        self.verified
    }

    /// Records that the peer was verified; the token proves it.
    pub fn mark_verified(&mut self, _proof: PeerVerified) {
        self.verified = true;
    }

    /// Reads the facts of an established session.
    pub fn from_ssl(ssl: &SslRef, role: Role, digest: FingerprintDigest) -> TlsFacts {
        let mut facts = TlsFacts {
            role: Some(role),
            protocol: ssl.version_str().to_string(),
            resumed: ssl.session_reused(),
            fingerprint_digest: digest.name().to_string(),
            ..TlsFacts::default()
        };
        if let Some(cipher) = ssl.current_cipher() {
            facts.cipher = cipher.name().to_string();
            let bits = cipher.bits();
            facts.cipher_usebits = bits.secret;
            facts.cipher_algbits = bits.algorithm;
        }
        facts.sni = ssl
            .servername(openssl::ssl::NameType::HOST_NAME)
            .map(str::to_string);
        if let Some(peer) = ssl.peer_certificate() {
            facts.peer_cert_present = true;
            facts.peer_cn = verify::subject_cn(&peer).unwrap_or_default();
            facts.issuer_cn = verify::issuer_cn(&peer).unwrap_or_default();
            facts.peer_cert_fingerprint =
                verify::cert_fingerprint(&peer, digest).unwrap_or_default();
            facts.peer_pkey_fingerprint =
                verify::pkey_fingerprint(&peer, digest).unwrap_or_default();
            let result = ssl.verify_result();
            facts.trusted = result == X509VerifyResult::OK;
            if !facts.trusted {
                facts.verify_error = Some(result.error_string().to_string());
            }
        }
        if is_tls13(ssl) {
            facts.read_tls13_parameters(ssl, role);
        }
        facts
    }

    /// Key exchange and signatures: with TLS 1.3 the cipher name no longer says
    /// them, so Postfix logs them separately (`tls_get_signature_params`).
    fn read_tls13_parameters(&mut self, ssl: &SslRef, role: Role) {
        if let Ok(key) = ssl.peer_tmp_key() {
            match key.id() {
                Id::DH => {
                    self.kex_name = Some("DHE".into());
                    self.kex_bits = Some(key.bits());
                }
                Id::EC => {
                    self.kex_name = Some("ECDHE".into());
                    self.kex_curve = ec_curve(&key);
                }
                other => self.kex_name = nid_short_name(Nid::from_raw(other.as_raw())),
            }
        }
        // As Postfix: on the client our certificate may be loaded but unused,
        // so only count it when we actually signed with it.
        let local_sig_digest = ffi::local_signature_digest(ssl);
        let local_cert = match role {
            Role::Server => ssl.certificate(),
            Role::Client => local_sig_digest.and(ssl.certificate()),
        };
        let local = local_cert.and_then(|c| signature(c, local_sig_digest));
        let peer = ssl
            .peer_certificate()
            .and_then(|c| signature(&c, ffi::peer_signature_digest(ssl)));
        match role {
            Role::Server => {
                self.server_signature = local;
                self.client_signature = peer;
            }
            Role::Client => {
                self.server_signature = peer;
                self.client_signature = local;
            }
        }
    }
}

fn is_tls13(ssl: &SslRef) -> bool {
    ssl.version_str() == "TLSv1.3"
}

fn nid_short_name(nid: Nid) -> Option<String> {
    nid.short_name().ok().map(str::to_string)
}

/// NIST name of an EC key's curve when it has one (`EC_curve_nid2nist`), else
/// OpenSSL's short name.
fn ec_curve(key: &PKeyRef<Public>) -> Option<String> {
    let nid = key.ec_key().ok()?.group().curve_name()?;
    let nist = match nid {
        Nid::X9_62_PRIME256V1 => Some("P-256"),
        Nid::SECP384R1 => Some("P-384"),
        Nid::SECP521R1 => Some("P-521"),
        Nid::SECP224R1 => Some("P-224"),
        _ => None,
    };
    nist.map(str::to_string).or_else(|| nid_short_name(nid))
}

/// Describes the signature made with `cert`'s key: RSA keys sign with PSS in
/// TLS 1.3, hence Postfix's "RSA-PSS".
fn signature(cert: &X509Ref, digest: Option<Nid>) -> Option<Signature> {
    let key = cert.public_key().ok()?;
    let mut sig = Signature {
        digest: digest.and_then(nid_short_name),
        ..Signature::default()
    };
    match key.id() {
        Id::RSA => {
            sig.name = "RSA-PSS".into();
            sig.bits = Some(key.bits());
        }
        Id::EC => {
            sig.name = "ECDSA".into();
            sig.curve = ec_curve(&key);
        }
        other => sig.name = nid_short_name(Nid::from_raw(other.as_raw()))?,
    }
    Some(sig)
}
