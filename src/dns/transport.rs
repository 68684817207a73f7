//! One DNS exchange with one server over UDP or TCP, with a deadline; replies that
//! do not match the query are dropped.
//!
//! Mirrors: what libc `res_send()` does under Postfix's `dns_lookup.c` (send, wait,
//! match the reply, switch to TCP on truncation).
//! main.cf parameters: none.
//! RFCs: RFC 1035 section 4.2.1 (UDP, 512 bytes) and 4.2.2 (TCP, two-byte length
//! prefix), RFC 5452 section 4 (accept only replies whose id, source and question
//! match), RFC 7766 (TCP fallback), RFC 6891 (EDNS0 payload size).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, Query};

use super::error::TransportError;

/// The largest UDP reply we read: our advertised EDNS0 payload, with room to spare
/// so an oversized reply is seen as such rather than cut by the kernel.
const UDP_BUFFER: usize = 4096;

/// Sends `wire` (an encoded query with id `id` and question `question`) to `server`
/// over UDP and returns the first matching reply received before `timeout`.
pub fn exchange_udp(
    server: SocketAddr,
    wire: &[u8],
    id: u16,
    question: &Query,
    timeout: Duration,
) -> Result<Message, TransportError> {
    let io_err = |source: io::Error| TransportError::Io { server, source };
    // An unspecified local address of the server's family lets the kernel pick the
    // source address and a random ephemeral port (RFC 5452 section 9.2).
    let local: SocketAddr = match server.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).map_err(io_err)?;
    // connect() makes the kernel drop datagrams from other sources and report an
    // ICMP port-unreachable as ECONNREFUSED instead of a silent timeout.
    socket.connect(server).map_err(io_err)?;
    socket.send(wire).map_err(io_err)?;

    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(server, timeout));
        }
        socket.set_read_timeout(Some(left)).map_err(io_err)?;
        let len = match socket.recv(&mut buf) {
            Ok(len) => len,
            Err(e) if is_timeout(&e) => return Err(timed_out(server, timeout)),
            Err(e) => return Err(io_err(e)),
        };
        // A reply that fails to parse or to match may be spoofed or late from an
        // earlier query: keep waiting for the real one (RFC 5452 section 4).
        if let Ok(reply) = decode_reply(server, &buf[..len], id, question) {
            return Ok(reply);
        }
    }
}

/// Sends `wire` over TCP (RFC 1035 section 4.2.2) and reads the one reply, all
/// within `timeout`.
pub fn exchange_tcp(
    server: SocketAddr,
    wire: &[u8],
    id: u16,
    question: &Query,
    timeout: Duration,
) -> Result<Message, TransportError> {
    let deadline = Instant::now() + timeout;
    let io_err = |source: io::Error| {
        if is_timeout(&source) {
            timed_out(server, timeout)
        } else {
            TransportError::Io { server, source }
        }
    };
    let mut stream = TcpStream::connect_timeout(&server, timeout).map_err(io_err)?;
    let len = u16::try_from(wire.len()).map_err(|_| TransportError::Malformed {
        server,
        reason: format!("query of {} bytes too long for TCP", wire.len()),
    })?;
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(wire);
    set_deadline(&stream, deadline, server, timeout)?;
    stream.write_all(&framed).map_err(io_err)?;

    let mut prefix = [0u8; 2];
    set_deadline(&stream, deadline, server, timeout)?;
    stream.read_exact(&mut prefix).map_err(io_err)?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    // read_exact may need several reads; refresh the timeout so the whole reply,
    // not each read, is bounded by the deadline.
    let mut filled = 0;
    while filled < reply.len() {
        set_deadline(&stream, deadline, server, timeout)?;
        match stream.read(&mut reply[filled..]) {
            Ok(0) => {
                return Err(TransportError::Malformed {
                    server,
                    reason: "connection closed in the middle of the reply".to_string(),
                })
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    decode_reply(server, &reply, id, question)
}

/// Parses a reply and checks it answers our query: same id, a response, the same
/// single question (RFC 5452 section 4.3).
fn decode_reply(
    server: SocketAddr,
    bytes: &[u8],
    id: u16,
    question: &Query,
) -> Result<Message, TransportError> {
    let malformed = |reason: String| TransportError::Malformed { server, reason };
    let reply = Message::from_vec(bytes).map_err(|e| malformed(e.to_string()))?;
    if reply.metadata.id != id {
        return Err(malformed(format!(
            "id {} does not match query id {id}",
            reply.metadata.id
        )));
    }
    if reply.metadata.message_type != MessageType::Response {
        return Err(malformed("not a response".to_string()));
    }
    match reply.queries.as_slice() {
        [q] if q.name() == question.name()
            && q.query_type() == question.query_type()
            && q.query_class() == question.query_class() => {}
        // A truncated reply may omit the question (RFC 1035 is silent; BIND does);
        // the id already matched, and TC sends us to TCP where it is checked.
        [] if reply.metadata.truncation => {}
        _ => return Err(malformed("question does not match the query".to_string())),
    }
    Ok(reply)
}

fn set_deadline(
    stream: &TcpStream,
    deadline: Instant,
    server: SocketAddr,
    timeout: Duration,
) -> Result<(), TransportError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timed_out(server, timeout));
    }
    stream
        .set_read_timeout(Some(left))
        .and_then(|()| stream.set_write_timeout(Some(left)))
        .map_err(|source| TransportError::Io { server, source })
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn timed_out(server: SocketAddr, timeout: Duration) -> TransportError {
    TransportError::Timeout {
        server,
        millis: timeout.as_millis(),
    }
}
