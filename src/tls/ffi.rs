//! The few libssl calls the `openssl` crate does not wrap: the signature digests
//! of the handshake and the context session timeout.
//!
//! Needed by facts.rs to log `server-digest SHA256` as Postfix `tls_misc.c`
//! (`tls_get_signature_params`) does, and by server.rs/client.rs for
//! `smtpd_tls_session_cache_timeout` / `smtp_tls_session_cache_timeout`
//! (`SSL_CTX_set_timeout` in Postfix `tls_server.c`, `tls_client.c`).
//! Also two copies the crate cannot make cheaply: a private copy of a cached
//! client session (`SSL_SESSION_dup`) and the DER public key of a
//! certificate as it was received (`i2d_X509_PUBKEY`, what Postfix
//! `tls_pkey_fprint` digests; decoding and re-encoding the key through
//! OpenSSL 3's encoders cost more than the rest of a resumed handshake).
//! libssl itself is linked by `openssl-sys`.

use std::ffi::{c_int, c_long, c_void};

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::ssl::{SslContextBuilder, SslOptions, SslRef, SslSession, SslSessionRef};
use openssl::x509::X509Ref;

// From OpenSSL 3.0 <openssl/ssl.h>: SSL_get_peer_signature_nid(),
// SSL_get_signature_nid() and SSL_CTX_add1_chain_cert() are macros over
// SSL_ctrl()/SSL_CTX_ctrl() with these commands.
const SSL_CTRL_GET_PEER_SIGNATURE_NID: c_int = 108;
const SSL_CTRL_GET_SIGNATURE_NID: c_int = 132;
const SSL_CTRL_CHAIN_CERT: c_int = 89;

extern "C" {
    fn SSL_ctrl(ssl: *mut c_void, cmd: c_int, larg: c_long, parg: *mut c_void) -> c_long;
    fn SSL_CTX_ctrl(ctx: *mut c_void, cmd: c_int, larg: c_long, parg: *mut c_void) -> c_long;
    fn SSL_CTX_set_timeout(ctx: *mut c_void, t: c_long) -> c_long;
    fn SSL_set_options(ssl: *mut c_void, op: u64) -> u64;
    fn SSL_SESSION_dup(src: *const c_void) -> *mut c_void;
    fn X509_get_X509_PUBKEY(x: *const c_void) -> *mut c_void;
    fn i2d_X509_PUBKEY(a: *const c_void, out: *mut *mut u8) -> c_int;
}

/// A new session object with the same contents (`SSL_SESSION_dup`). OpenSSL
/// marks the session object a connection used not resumable when the
/// connection ends uncleanly, and after every resumed TLS 1.3 handshake; a
/// cache that hands out copies keeps its own object clean.
pub fn session_dup(session: &SslSessionRef) -> Option<SslSession> {
    // SAFETY: `session` is a live SSL_SESSION; SSL_SESSION_dup returns a new
    // object with a reference count of one, or NULL, and SslSession takes
    // ownership of it.
    unsafe {
        let copy = SSL_SESSION_dup(session.as_ptr() as *const c_void);
        (!copy.is_null())
            .then(|| SslSession::from_ptr(copy as *mut <SslSession as ForeignType>::CType))
    }
}

/// The certificate's SubjectPublicKeyInfo in DER, re-encoded from the parsed
/// ASN.1 fields without decoding the key (`i2d_X509_PUBKEY`).
pub fn public_key_info_der(cert: &X509Ref) -> Option<Vec<u8>> {
    // SAFETY: `cert` is a live X509; X509_get_X509_PUBKEY returns an internal
    // pointer valid while `cert` is borrowed. i2d_X509_PUBKEY with a NULL
    // output pointer returns the length; with a pointer to a buffer of that
    // length it writes exactly that many bytes and advances the pointer.
    unsafe {
        let key = X509_get_X509_PUBKEY(cert.as_ptr() as *const c_void);
        if key.is_null() {
            return None;
        }
        let len = i2d_X509_PUBKEY(key, std::ptr::null_mut());
        let len = usize::try_from(len).ok().filter(|l| *l > 0)?;
        let mut der = vec![0u8; len];
        let mut out = der.as_mut_ptr();
        let written = i2d_X509_PUBKEY(key, &mut out);
        (usize::try_from(written).ok() == Some(len)).then_some(der)
    }
}

fn signature_nid(ssl: &SslRef, cmd: c_int) -> Option<Nid> {
    let mut nid: c_int = 0;
    // SAFETY: `ssl` is a live SSL object borrowed for the call; the command
    // writes one int through `parg`, which points at `nid` on our stack.
    let ok = unsafe {
        SSL_ctrl(
            ssl.as_ptr() as *mut c_void,
            cmd,
            0,
            &mut nid as *mut c_int as *mut c_void,
        )
    };
    // NID_undef (0) is what Ed25519/Ed448 give: no pre-signature digest.
    (ok > 0 && nid != 0).then(|| Nid::from_raw(nid))
}

/// Digest the peer used for its handshake signature (`SSL_get_peer_signature_nid`).
pub fn peer_signature_digest(ssl: &SslRef) -> Option<Nid> {
    signature_nid(ssl, SSL_CTRL_GET_PEER_SIGNATURE_NID)
}

/// Digest we used for our handshake signature (`SSL_get_signature_nid`).
pub fn local_signature_digest(ssl: &SslRef) -> Option<Nid> {
    signature_nid(ssl, SSL_CTRL_GET_SIGNATURE_NID)
}

/// Session lifetime in seconds for sessions made with this context.
pub fn set_session_timeout(builder: &mut SslContextBuilder, seconds: u64) {
    let seconds = c_long::try_from(seconds).unwrap_or(c_long::MAX);
    // SAFETY: the builder owns a live SSL_CTX; SSL_CTX_set_timeout only stores
    // the value and returns the previous one.
    unsafe {
        SSL_CTX_set_timeout(builder.as_ptr() as *mut c_void, seconds);
    }
}

/// Adds an intermediate to the chain of the certificate slot last set
/// (`SSL_CTX_add1_chain_cert`): with an RSA and an EC certificate each keeps
/// its own chain, where `add_extra_chain_cert` would share one.
pub fn add_chain_cert(builder: &mut SslContextBuilder, cert: &X509Ref) -> Result<(), ErrorStack> {
    // SAFETY: the builder owns a live SSL_CTX and `cert` a live X509; with
    // larg = 1 ("add1") OpenSSL takes its own reference to the certificate.
    let ok = unsafe {
        SSL_CTX_ctrl(
            builder.as_ptr() as *mut c_void,
            SSL_CTRL_CHAIN_CERT,
            1,
            cert.as_ptr() as *mut c_void,
        )
    };
    if ok > 0 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}

/// Sets options on one connection (`SSL_set_options`), used for protocol
/// holes chosen by a per-destination `protocols=` policy.
pub fn set_ssl_options(ssl: &mut SslRef, options: SslOptions) {
    // SAFETY: `ssl` is a live SSL object borrowed mutably; the call only ORs
    // bits into its option mask.
    #[allow(clippy::unnecessary_cast)] // SslOptions bits are c_ulong: u32 on 32-bit targets
    unsafe {
        SSL_set_options(ssl.as_ptr() as *mut c_void, options.bits() as u64);
    }
}
