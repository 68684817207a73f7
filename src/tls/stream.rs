//! Blocking TLS upgrade of an SMTP connection, as server (after "220 Ready to
//! start TLS" or in wrapper mode) or as client (after the server's 220), with
//! a time limit, returning the TLS stream and the session's facts.
//!
//! Mirrors Postfix `tls_server_start`/`tls_server_post_accept` and
//! `tls_client_start`/`tls_client_post_connect`, and `tls_session_stop` for a
//! clean shutdown. Timeouts come from the caller (`smtpd_starttls_timeout`,
//! `smtp_starttls_timeout`). The caller must have emptied its plaintext read
//! buffer before calling: bytes a client pipelined after STARTTLS are discarded,
//! never read as TLS nor as commands (RFC 3207 section 4.2; DEPENDENCIES fact 6).

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use openssl::ssl::{HandshakeError, Ssl, SslStream};

use super::client::{ClientContext, ClientPolicy, ServerPeer};
use super::error::{NotVerified, TlsError};
use super::facts::{Role, TlsFacts};
use super::level::TlsLevel;
use super::server::ServerContext;
use super::verify::{self, MatchTarget, PeerVerified};

fn set_timeouts(tcp: &TcpStream, timeout: Duration, peer: &str) -> Result<(), TlsError> {
    let io_err = |source| TlsError::Io {
        peer: peer.to_string(),
        source,
    };
    tcp.set_read_timeout(Some(timeout)).map_err(io_err)?;
    tcp.set_write_timeout(Some(timeout)).map_err(io_err)?;
    Ok(())
}

fn handshake_error(peer: &str, err: HandshakeError<TcpStream>) -> TlsError {
    match err {
        HandshakeError::SetupFailure(stack) => TlsError::Handshake {
            peer: peer.to_string(),
            detail: stack.to_string(),
        },
        HandshakeError::Failure(mid) | HandshakeError::WouldBlock(mid) => {
            let error = mid.error();
            match error.io_error() {
                Some(io)
                    if matches!(
                        io.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    TlsError::Io {
                        peer: peer.to_string(),
                        source: io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"),
                    }
                }
                _ => TlsError::Handshake {
                    peer: peer.to_string(),
                    detail: match error.ssl_error() {
                        Some(stack) => stack.to_string(),
                        None => error.to_string(),
                    },
                },
            }
        }
    }
}

/// Runs the server side of the handshake on an accepted connection. `peer` is
/// Postfix's `namaddr` (`host[addr]`), used in errors. With
/// `smtpd_tls_req_ccert = yes` a client without a certificate fails here;
/// otherwise an untrusted certificate is reported in the facts, not as an error.
pub fn accept(
    ctx: &ServerContext,
    tcp: TcpStream,
    peer: &str,
    timeout: Duration,
) -> Result<(SslStream<TcpStream>, TlsFacts), TlsError> {
    set_timeouts(&tcp, timeout, peer)?;
    let ssl = Ssl::new(ctx.ssl_context()).map_err(|stack| TlsError::Handshake {
        peer: peer.to_string(),
        detail: stack.to_string(),
    })?;
    let stream = ssl.accept(tcp).map_err(|e| handshake_error(peer, e))?;
    let facts = TlsFacts::from_ssl(stream.ssl(), Role::Server, ctx.fingerprint_digest());
    Ok((stream, facts))
}

/// A client TLS session that passed its level's checks.
#[derive(Debug)]
pub struct ClientSession {
    /// The encrypted stream to continue the SMTP dialogue on (EHLO again).
    pub stream: SslStream<TcpStream>,
    /// What TLS gave; `facts.verified()` is true when `verified` is set.
    pub facts: TlsFacts,
    /// Present for `fingerprint`, `verify` and `secure` (the check passed).
    pub verified: Option<PeerVerified>,
}

/// Runs the client side of the handshake and enforces the policy's level:
/// `fingerprint` needs a matching digest, `verify`/`secure` a trusted chain and
/// a matching name. On failure the session is shut down and
/// `TlsError::NotVerified` returned with the facts (fail closed: the caller
/// defers, it never falls back to plaintext). `dane`/`dane-only` act as
/// `encrypt` until DANE is built (issue 5); the caller logs that.
pub fn connect(
    ctx: &ClientContext,
    tcp: TcpStream,
    policy: &ClientPolicy,
    peer: &ServerPeer,
    timeout: Duration,
) -> Result<ClientSession, TlsError> {
    let name = peer.namaddrport();
    set_timeouts(&tcp, timeout, &name)?;
    let prepared = ctx.prepare(policy, peer)?;
    let mut stream = prepared
        .ssl
        .connect(tcp)
        .map_err(|e| handshake_error(&name, e))?;
    let mut facts = TlsFacts::from_ssl(stream.ssl(), Role::Client, ctx.fingerprint_digest());
    facts.level = Some(prepared.level);
    let checked = check_peer(ctx, &stream, prepared.level, &prepared.matches, peer);
    match checked {
        Ok(verified) => {
            if let Some(proof) = verified {
                facts.mark_verified(proof);
            }
            Ok(ClientSession {
                stream,
                facts,
                verified,
            })
        }
        Err(reason) => {
            // Close cleanly: an unclean close also makes the session
            // unresumable (DEPENDENCIES fact 2), which is fine here, but the
            // server deserves the close_notify.
            let _ = stream.shutdown();
            Err(TlsError::NotVerified {
                peer: name,
                reason,
                facts: Box::new(facts),
            })
        }
    }
}

fn check_peer(
    ctx: &ClientContext,
    stream: &SslStream<TcpStream>,
    level: TlsLevel,
    matches: &[String],
    peer: &ServerPeer,
) -> Result<Option<PeerVerified>, NotVerified> {
    if !level.must_match() || level.is_dane() {
        return Ok(None);
    }
    let Some(cert) = stream.ssl().peer_certificate() else {
        return Err(NotVerified::NoCertificate);
    };
    match level {
        TlsLevel::Fingerprint => {
            verify::match_fingerprint(&cert, ctx.fingerprint_digest(), matches).map(Some)
        }
        _ => {
            let result = stream.ssl().verify_result();
            let trusted = if result == openssl::x509::X509VerifyResult::OK {
                Ok(())
            } else {
                Err(result.error_string().to_string())
            };
            let target = MatchTarget {
                nexthop: &peer.nexthop,
                hostname: &peer.hostname,
            };
            verify::match_certificate_name(
                &cert,
                trusted,
                matches,
                target,
                ctx.wildcard_multi_label(),
            )
            .map(Some)
        }
    }
}

/// Ends a TLS session cleanly by sending close_notify (Postfix
/// `tls_session_stop` with the default `tls_fast_shutdown_enable = yes`: no
/// wait for the peer's reply). A session closed this way stays resumable; one
/// dropped without it does not (DEPENDENCIES fact 2).
pub fn shutdown(stream: &mut SslStream<TcpStream>) -> io::Result<()> {
    match stream.shutdown() {
        Ok(_) => Ok(()),
        // The peer may already have closed its side after QUIT/221.
        Err(e) if e.code() == openssl::ssl::ErrorCode::ZERO_RETURN => Ok(()),
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}
