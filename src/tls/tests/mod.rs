//! Loopback tests of the TLS layer: real handshakes between our server and
//! client contexts (and `openssl s_client`) over 127.0.0.1, with certificates
//! generated per test. No Postfix counterpart; reads no parameter.

mod config_errors;
mod handshake;
mod pki;
mod s_client;
mod verification;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::client::{ClientContext, ClientPolicy, ClientSettings, ServerPeer};
use super::error::TlsError;
use super::facts::TlsFacts;
use super::server::{ServerContext, ServerSettings};
use super::stream::{self, ClientSession};
use pki::Pki;

const TIMEOUT: Duration = Duration::from_secs(10);

/// smtpd settings with the test server certificate and CA.
fn server_settings(pki: &Pki) -> ServerSettings {
    ServerSettings {
        smtpd_tls_security_level: super::TlsLevel::May,
        smtpd_tls_cert_file: pki.server.cert_file.clone(),
        smtpd_tls_key_file: pki.server.key_file.clone(),
        smtpd_tls_CAfile: pki.ca.cert_file.clone(),
        ..ServerSettings::default()
    }
}

/// smtp settings trusting the test CA, without a client certificate.
fn client_settings(pki: &Pki) -> ClientSettings {
    ClientSettings {
        smtp_tls_CAfile: pki.ca.cert_file.clone(),
        ..ClientSettings::default()
    }
}

fn peer(nexthop: &str, hostname: &str, port: u16) -> ServerPeer {
    ServerPeer {
        nexthop: nexthop.into(),
        hostname: hostname.into(),
        addr: "127.0.0.1".into(),
        port,
    }
}

/// Accepts one connection in wrapper mode, reads one line, answers "221" and
/// closes cleanly; returns the server's view of the session.
fn serve_once(ctx: &ServerContext) -> (SocketAddr, JoinHandle<Result<TlsFacts, TlsError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = ctx.clone();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let (mut tls, facts) = stream::accept(&ctx, tcp, "localhost[127.0.0.1]", TIMEOUT)?;
        let mut line = String::new();
        let mut reader = BufReader::new(&mut tls);
        if reader.read_line(&mut line).unwrap_or(0) > 0 {
            tls.write_all(b"221 2.0.0 Bye\r\n").unwrap();
            let _ = stream::shutdown(&mut tls);
        }
        Ok(facts)
    });
    (addr, handle)
}

/// Connects, upgrades, says QUIT, reads the reply (which also takes in any
/// TLS 1.3 ticket) and shuts down cleanly.
fn client_once(
    ctx: &ClientContext,
    addr: SocketAddr,
    policy: &ClientPolicy,
    server: &ServerPeer,
) -> Result<ClientSession, TlsError> {
    let tcp = TcpStream::connect(addr).unwrap();
    let mut session = stream::connect(ctx, tcp, policy, server, TIMEOUT)?;
    session.stream.write_all(b"QUIT\r\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&mut session.stream)
        .read_line(&mut reply)
        .unwrap();
    assert_eq!(reply, "221 2.0.0 Bye\r\n");
    stream::shutdown(&mut session.stream).unwrap();
    Ok(session)
}

/// One full exchange; returns (server facts, client result).
fn exchange(
    server: &ServerContext,
    client: &ClientContext,
    policy: &ClientPolicy,
    nexthop: &str,
    hostname: &str,
) -> (Result<TlsFacts, TlsError>, Result<ClientSession, TlsError>) {
    let (addr, handle) = serve_once(server);
    let target = peer(nexthop, hostname, addr.port());
    let client_result = client_once(client, addr, policy, &target);
    let server_result = handle.join().unwrap();
    (server_result, client_result)
}
