//! TLS for Postern: OpenSSL glue for smtpd (STARTTLS, wrapper mode) and the
//! smtp client, with Postfix's security levels, certificate checks and log
//! texts. Not for: the SMTP dialogue around STARTTLS (smtpd/, smtp/), policy
//! table look-ups (smtp/policy.rs), DANE TLSA look-ups (dns/, later).
//!
//! Mirrors Postfix `src/tls` (tls_level.c, tls_misc.c, tls_server.c,
//! tls_client.c, tls_verify.c, tls_fprint.c, tls_certkey.c). Reads no
//! configuration itself: the daemons fill `ServerSettings` and `ClientSettings`,
//! whose fields are the `smtpd_tls_*`, `smtp_tls_*` and `tls_*` parameters.
//!
//! Public API:
//! - `TlsLevel` — ordered security levels with Postfix's predicates.
//! - `ServerSettings` -> `ServerContext::new(&settings, service)`;
//!   `stream::accept(&ctx, tcp, "host[addr]", timeout)` -> `(SslStream, TlsFacts)`.
//! - `ClientSettings` -> `ClientContext::new(&settings)`; per attempt a
//!   `ClientPolicy` and a `ServerPeer`; `stream::connect(...)` -> `ClientSession`
//!   (stream, facts, `Option<PeerVerified>`) or `TlsError::NotVerified`.
//! - `summary::log_summary`, `summary::peer_certificate_line`,
//!   `summary::received_header_lines` — Postfix's exact texts.
//! - `stream::shutdown` — clean close so sessions stay resumable.
#![allow(dead_code, unused_imports)] // wired in by smtpd/smtp (issues 3 and 5)

pub mod certs;
pub mod client;
pub mod error;
pub mod facts;
mod ffi;
pub mod level;
pub mod options;
pub mod server;
pub mod stream;
pub mod summary;
pub mod verify;

#[cfg(test)]
mod tests;

pub use client::{ClientContext, ClientPolicy, ClientSettings, ServerPeer, SessionCache};
pub use error::{ConfigError, NotVerified, TlsError};
pub use facts::{Role, Signature, TlsFacts};
pub use level::{TlsLevel, UnknownLevel};
pub use options::TlsGlobals;
pub use server::{ServerContext, ServerSettings};
pub use stream::ClientSession;
pub use summary::Usage;
pub use verify::{FingerprintDigest, MatchTarget, PeerVerified};
