//! The client connection under a session: plaintext or TLS, with the read
//! deadline recomputed before every read (`smtpd_timeout`,
//! `smtpd_per_request_deadline`, `smtpd_min_data_rate`) and a check for input the
//! client sent before it saw a reply (pipelining detection).
//!
//! Mirrors Postfix's smtp_stream.c (`smtp_timeout_setup`, per-request deadlines,
//! `smtp_flush` time limits) and vstream's deadline/min-data-rate logic
//! (Postfix 3.7 `vstream_fpurge`, `VSTREAM_CTL_MIN_DATA_RATE`). Reads, through the
//! session, `smtpd_timeout`, `smtpd_per_request_deadline`, `smtpd_min_data_rate`.
//! Implements RFC 5321 section 4.5.3.2 (server timeouts) and RFC 3207 section 4.2
//! (nothing read before the handshake may be kept).

use openssl::ssl::SslStream;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The socket, before or after STARTTLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
    /// Between taking the plaintext socket for the handshake and getting it back.
    Gone,
}

/// A connection with a deadline.
pub struct Conn {
    pub stream: Stream,
    /// `smtpd_timeout`: the most one read may wait.
    timeout: Duration,
    /// When the current request must be complete (per-request deadline).
    deadline: Option<Instant>,
    /// `smtpd_min_data_rate` while a DATA/BDAT transfer is running, else 0.
    data_rate: u64,
    /// A read failed because time was up (not because the peer closed).
    pub timed_out: bool,
}

impl Conn {
    pub fn new(tcp: TcpStream, timeout: Duration) -> Conn {
        let _ = tcp.set_write_timeout(Some(timeout));
        Conn {
            stream: Stream::Plain(tcp),
            timeout,
            deadline: None,
            data_rate: 0,
            timed_out: false,
        }
    }

    fn tcp(&self) -> Option<&TcpStream> {
        match &self.stream {
            Stream::Plain(t) => Some(t),
            Stream::Tls(s) => Some(s.get_ref()),
            Stream::Gone => None,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Starts the clock of one request: with per-request deadlines the whole
    /// request must arrive within `smtpd_timeout`; `data_rate` (bytes/second, 0 =
    /// none) extends that deadline as DATA/BDAT content arrives, never beyond
    /// `smtpd_timeout` from now (Postfix `smtpd_min_data_rate`).
    pub fn start_request(&mut self, per_request: bool, data_rate: u64) {
        self.deadline = per_request.then(|| Instant::now() + self.timeout);
        self.data_rate = if per_request { data_rate } else { 0 };
    }

    /// Input the client has sent that the session has not read yet, without
    /// blocking: the sign of a client that did not wait for a reply.
    pub fn input_pending(&self) -> bool {
        match &self.stream {
            Stream::Tls(s) => s.ssl().pending() > 0 || peek_ready(s.get_ref()),
            Stream::Plain(t) => peek_ready(t),
            Stream::Gone => false,
        }
    }

    /// Takes the plaintext socket for the TLS handshake.
    pub fn take_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(t) => Some(t),
            other => {
                self.stream = other;
                None
            }
        }
    }

    fn arm(&mut self) -> io::Result<()> {
        let wait = match self.deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.timed_out = true;
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline exceeded"));
                }
                left.min(self.timeout)
            }
            None => self.timeout,
        };
        if let Some(t) = self.tcp() {
            t.set_read_timeout(Some(wait))?;
        }
        Ok(())
    }
}

/// Whether a read would return data right now: one non-blocking peek
/// (MSG_DONTWAIT, on Linux and the BSDs), the socket itself stays blocking.
fn peek_ready(t: &TcpStream) -> bool {
    let mut b = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
    matches!(socket2::SockRef::from(t).recv_with_flags(&mut b, flags), Ok(n) if n > 0)
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        let r = match &mut self.stream {
            Stream::Plain(t) => t.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Ok(0),
        };
        match &r {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                self.timed_out = true;
            }
            Ok(n) if *n > 0 && self.data_rate > 0 => {
                // Each N bytes earn N/rate seconds, capped at smtpd_timeout from now.
                if let Some(d) = self.deadline {
                    let earned = Duration::from_secs_f64(*n as f64 / self.data_rate as f64);
                    let cap = Instant::now() + self.timeout;
                    self.deadline = Some((d + earned).min(cap));
                }
            }
            _ => {}
        }
        r
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stream {
            Stream::Plain(t) => t.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(io::Error::new(io::ErrorKind::NotConnected, "no stream")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.stream {
            Stream::Plain(t) => t.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::peek_ready;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    #[test]
    fn peek_sees_pending_input_without_taking_it_or_unblocking_the_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert!(!peek_ready(&server), "nothing sent yet");
        // Still blocking: a read waits for its timeout instead of failing at once.
        server
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let start = Instant::now();
        assert!(server.read(&mut [0u8; 1]).is_err());
        assert!(start.elapsed() >= Duration::from_millis(150));

        client.write_all(b"MAIL").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !peek_ready(&server) {
            assert!(Instant::now() < deadline, "sent input never seen");
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut got = [0u8; 4];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"MAIL", "the peek left the input in place");
    }
}
