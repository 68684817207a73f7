//! Errors of the TLS layer, each variant naming who failed: the local
//! configuration (with the parameter and file), the peer, or the network.
//!
//! Postfix counterpart: the `msg_warn` texts of `tls_certkey.c`, `tls_misc.c`,
//! `tls_server.c` and `tls_client.c`. Reads no parameter.

use std::io;
use std::path::PathBuf;

use openssl::error::ErrorStack;

use super::facts::TlsFacts;

/// A TLS setting in main.cf (or a policy entry) that cannot be used. The daemon
/// logs it and, on the client side, defers with 4.7.5 "client TLS configuration
/// problem" (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A certificate, key or CA file named by a parameter cannot be read.
    #[error("cannot read {param} file {}: {source}", file.display())]
    Unreadable {
        param: &'static str,
        file: PathBuf,
        source: io::Error,
    },
    /// A file was read but OpenSSL could not load what it should hold.
    #[error("cannot load {what} from {param} file {}: {source}", file.display())]
    BadPem {
        param: &'static str,
        file: PathBuf,
        what: &'static str,
        source: ErrorStack,
    },
    /// A file holds no PEM block of the kind the parameter needs.
    #[error("no {what} found in {param} file {}", file.display())]
    Missing {
        param: &'static str,
        file: PathBuf,
        what: &'static str,
    },
    /// The private key does not belong to the certificate.
    #[error(
        "private key in {key_param} file {} does not match the certificate in {cert_param} file {}",
        key_file.display(),
        cert_file.display()
    )]
    KeyMismatch {
        cert_param: &'static str,
        cert_file: PathBuf,
        key_param: &'static str,
        key_file: PathBuf,
    },
    /// A parameter value that Postfix would also reject.
    #[error("invalid {param} value \"{value}\": {why}")]
    BadValue {
        param: &'static str,
        value: String,
        why: String,
    },
    /// OpenSSL refused a setting derived from a parameter (cipher list, protocol
    /// bounds, CA path, ...).
    #[error("OpenSSL rejected {param} = \"{value}\": {source}")]
    Rejected {
        param: &'static str,
        value: String,
        source: ErrorStack,
    },
    /// OpenSSL could not allocate or set up a context at all.
    #[error("cannot create TLS context: {0}")]
    Library(ErrorStack),
}

/// Why a peer did not pass the checks its security level asks for. Postfix logs
/// these and defers with "Server certificate not verified" (smtp_tls_policy.c,
/// tls_client.c).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotVerified {
    /// The peer sent no certificate.
    #[error("peer presented no certificate")]
    NoCertificate,
    /// The chain did not verify against the CA file/path.
    #[error("certificate not trusted: {0}")]
    Untrusted(String),
    /// No subjectAltName (or CN) matched any of the match patterns.
    #[error("certificate names {names:?} match none of {patterns:?}")]
    NameMismatch {
        names: Vec<String>,
        patterns: Vec<String>,
    },
    /// No match= fingerprint equals the certificate or public-key digest.
    #[error("fingerprint {cert} (public key {pkey}) matches none of the configured digests")]
    FingerprintMismatch { cert: String, pkey: String },
}

/// The error of a TLS session set-up or use.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Local configuration (parameter and file named inside).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The handshake with the peer failed (peer refused our protocol or
    /// ciphers, sent garbage, or verification was required and failed inside
    /// OpenSSL).
    #[error("TLS handshake with {peer} failed: {detail}")]
    Handshake { peer: String, detail: String },
    /// The handshake finished but the peer did not pass the checks of its level.
    /// The facts are kept so that the failure can be logged as Postfix does.
    #[error("server certificate not verified for {peer}: {reason}")]
    NotVerified {
        peer: String,
        reason: NotVerified,
        facts: Box<TlsFacts>,
    },
    /// Socket trouble (timeout included) while setting up or shutting down TLS.
    #[error("TLS I/O with {peer}: {source}")]
    Io { peer: String, source: io::Error },
}
