//! One connection to a server: TCP (bound per `smtp_bind_address`) with a
//! connect timeout, plaintext or TLS, reading replies and writing commands under
//! a per-command deadline.
//!
//! Mirrors Postfix smtp_connect.c `smtp_connect_addr()` (bind, non-blocking
//! connect with timeout, "connect to host[addr]:port: reason") and smtp_chat.c
//! (`smtp_chat_cmd`, `smtp_chat_resp`: reply lines up to a length limit, the rest
//! of a too-long line dropped). Reads no parameters (settings.rs does).
//! RFCs: RFC 5321 section 4.5.3.2 (timeouts), section 4.2 (replies).

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use openssl::ssl::SslStream;

use super::reply::{parse_line, Reply};

/// Longest reply line kept; the rest of a longer line is read and dropped.
const LINE_LIMIT: usize = 4096;
/// At most this many lines in one reply (defends against endless replies).
const REPLY_LINE_LIMIT: usize = 1000;

/// The byte stream under the SMTP dialogue.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

/// Why reading or writing failed, as smtp_chat sorts it.
#[derive(Debug)]
pub enum IoTrouble {
    /// Timed out.
    Timeout,
    /// EOF or a socket error.
    Lost,
    /// Not an SMTP reply.
    Malformed(String),
}

impl From<io::Error> for IoTrouble {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => IoTrouble::Timeout,
            _ => IoTrouble::Lost,
        }
    }
}

/// A connection with its read buffer.
pub struct Conn {
    stream: Option<Stream>,
    buf: Vec<u8>,
    /// The read and write timeout last set on the socket: setting the same
    /// again before every read and write cost two system calls each time.
    timeout: Option<Duration>,
}

/// Opens a TCP connection from `bind` (if any) within `timeout`.
///
/// Nagle's algorithm is off: every write is already a whole command, a
/// pipelined group or a TLS record, and with it on, the EHLO written right
/// after the TLS handshake's last flight waited for the server's delayed ACK
/// (about 40 ms on Linux) on every TLS connection.
pub fn connect_tcp(
    addr: SocketAddr,
    bind: Option<IpAddr>,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let stream = match bind {
        None => TcpStream::connect_timeout(&addr, timeout)?,
        Some(local) => {
            let domain = socket2::Domain::for_address(addr);
            let socket =
                socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
            socket.bind(&SocketAddr::new(local, 0).into())?;
            socket.connect_timeout(&addr.into(), timeout)?;
            socket.into()
        }
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The text of a connect error as Postfix prints `strerror()`.
pub fn connect_error_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "Connection refused".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "Connection timed out".into(),
        _ => {
            let text = e.to_string();
            // std appends " (os error N)"; strerror() does not.
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

impl Conn {
    pub fn new(stream: Stream) -> Conn {
        Conn {
            stream: Some(stream),
            buf: Vec::new(),
            timeout: None,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Some(Stream::Tls(_)))
    }

    /// Takes the plain TCP stream out for a TLS handshake. Anything the server
    /// sent ahead of the handshake is discarded (RFC 3207 section 5).
    pub fn take_plain(&mut self) -> Option<TcpStream> {
        self.buf.clear();
        // The handshake sets its own timeouts on the socket.
        self.timeout = None;
        match self.stream.take() {
            Some(Stream::Plain(s)) => Some(s),
            other => {
                self.stream = other;
                None
            }
        }
    }

    pub fn set_stream(&mut self, stream: Stream) {
        self.stream = Some(stream);
        self.timeout = None;
    }

    fn stream(&mut self) -> Result<&mut Stream, IoTrouble> {
        self.stream.as_mut().ok_or(IoTrouble::Lost)
    }

    fn set_timeout(&mut self, timeout: Duration) -> Result<(), IoTrouble> {
        let t = timeout.max(Duration::from_millis(1));
        if self.timeout == Some(t) {
            return Ok(());
        }
        let tcp = self.stream()?.tcp();
        tcp.set_read_timeout(Some(t))?;
        tcp.set_write_timeout(Some(t))?;
        self.timeout = Some(t);
        Ok(())
    }

    /// Writes bytes, all of them, within `timeout`.
    pub fn write_all(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), IoTrouble> {
        self.set_timeout(timeout)?;
        match self.stream()? {
            Stream::Plain(s) => s.write_all(bytes)?,
            Stream::Tls(s) => s.write_all(bytes)?,
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), IoTrouble> {
        match self.stream()? {
            Stream::Plain(s) => s.flush()?,
            Stream::Tls(s) => s.flush()?,
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<(), IoTrouble> {
        let mut chunk = [0u8; 4096];
        let n = match self.stream()? {
            Stream::Plain(s) => s.read(&mut chunk)?,
            Stream::Tls(s) => s.read(&mut chunk)?,
        };
        if n == 0 {
            return Err(IoTrouble::Lost);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn read_line(&mut self) -> Result<String, IoTrouble> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                line.truncate(LINE_LIMIT);
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.buf.len() > 64 * 1024 {
                self.buf.truncate(LINE_LIMIT);
            }
            self.fill()?;
        }
    }

    /// Reads one complete reply within `timeout` per read.
    pub fn read_reply(&mut self, timeout: Duration) -> Result<Reply, IoTrouble> {
        self.set_timeout(timeout)?;
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            let (code, more, _) =
                parse_line(&line).map_err(|_| IoTrouble::Malformed(line.clone()))?;
            if lines.len() < REPLY_LINE_LIMIT {
                lines.push(line);
            }
            if !more {
                return Ok(Reply { code, lines });
            }
        }
    }

    /// Sends a command line and reads its reply.
    pub fn command(&mut self, line: &str, timeout: Duration) -> Result<Reply, IoTrouble> {
        self.write_all(format!("{line}\r\n").as_bytes(), timeout)?;
        self.flush()?;
        self.read_reply(timeout)
    }

    /// Closes the connection, TLS with close_notify so the session stays
    /// resumable.
    pub fn close(&mut self) {
        if let Some(Stream::Tls(mut s)) = self.stream.take() {
            let _ = crate::tls::stream::shutdown(&mut s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn connections_are_made_without_nagle() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let timeout = Duration::from_secs(10);
        let plain = connect_tcp(addr, None, timeout).unwrap();
        assert!(plain.nodelay().unwrap());
        let bound = connect_tcp(addr, Some("127.0.0.1".parse().unwrap()), timeout).unwrap();
        assert!(bound.nodelay().unwrap());
        assert_eq!(bound.local_addr().unwrap().ip(), addr.ip());
    }

    #[test]
    fn connect_errors_read_as_strerror() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(connect_error_text(&refused), "Connection refused");
        let other = io::Error::from_raw_os_error(libc::EHOSTUNREACH);
        assert_eq!(connect_error_text(&other), "No route to host");
    }
}
