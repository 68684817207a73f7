//! The SMTP side of `posttls-finger`: banner, EHLO, STARTTLS (or wrapper
//! mode), the TLS report, EHLO again and QUIT, each line echoed as Postfix's
//! posttls-finger echoes it (`< 220 ...`, `> EHLO ...`) unless `-c`.
//!
//! Mirrors `posttls-finger.c` (`ehlo`, `starttls`, `doproto`, `smtp_get`,
//! `smtp_chat`). Timeouts: `-t` for the banner, `-T` for each command and the
//! TLS handshake. RFC 3207 section 4.2: nothing read before the handshake is
//! used after it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use openssl::ssl::SslStream;

use super::{report, say, Options, TlsSetup};
use crate::tls::ServerPeer;

/// An I/O error in strerror(3) words; a read or write time limit is "timeout".
fn io_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timeout".into(),
        _ => crate::config::io_text(e),
    }
}

/// One probe of one server.
pub struct Probe<'a> {
    pub opts: &'a Options,
    pub tls: Option<&'a TlsSetup>,
    pub peer: &'a ServerPeer,
    pub helo: &'a str,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(t) => t,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(t) => t.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(t) => t.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(t) => t.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A connection with its read buffer.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    echo: bool,
}

/// A reply: its code and lines.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Conn {
    fn set_timeout(&self, t: Duration) {
        let _ = self.stream.tcp().set_read_timeout(Some(t));
        let _ = self.stream.tcp().set_write_timeout(Some(t));
    }

    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "lost connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn reply(&mut self) -> io::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            if self.echo {
                say(&format!("< {line}"));
            }
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last || code.is_none() {
                return Ok(Reply {
                    code: code.unwrap_or(0),
                    lines,
                });
            }
        }
    }

    fn command(&mut self, cmd: &str) -> io::Result<Reply> {
        if self.echo {
            say(&format!("> {cmd}"));
        }
        self.stream.write_all(format!("{cmd}\r\n").as_bytes())?;
        self.stream.flush()?;
        self.reply()
    }
}

impl Probe<'_> {
    /// Runs the dialogue on a connected socket; problems are reported as
    /// Postfix reports them and end the probe (exit status stays 0).
    pub fn run(&self, tcp: TcpStream) {
        if let Err(text) = self.dialogue(tcp) {
            say(&text);
        }
    }

    fn dialogue(&self, tcp: TcpStream) -> Result<(), String> {
        let o = self.opts;
        let np = self.peer.namaddrport();
        let mut conn = Conn {
            stream: Stream::Plain(tcp),
            buf: Vec::new(),
            echo: !o.no_chat,
        };
        if conn.echo {
            say(&format!("Connected to {np}"));
        }
        if o.wrapper {
            let Some(tls) = self.tls else {
                return Err(format!("{np}: TLS support disabled, no wrapper mode"));
            };
            conn = self.handshake(conn, tls)?;
        }
        conn.set_timeout(o.conn_timeout);
        let io = |e: io::Error| format!("{np}: {} while reading the server greeting", io_text(&e));
        let banner = conn.reply().map_err(io)?;
        if banner.code / 100 != 2 {
            self.quit(&mut conn);
            return Ok(());
        }
        conn.set_timeout(o.cmd_timeout);
        let ehlo = format!("EHLO {}", self.helo);
        let io =
            |e: io::Error| format!("{np}: {} while performing the EHLO handshake", io_text(&e));
        let reply = conn.command(&ehlo).map_err(io)?;
        if reply.code / 100 != 2 {
            self.quit(&mut conn);
            return Ok(());
        }
        let starttls = reply.lines.iter().skip(1).any(|l| {
            l.get(4..)
                .is_some_and(|k| k.trim().eq_ignore_ascii_case("STARTTLS"))
        });
        if !o.wrapper && starttls && o.level.tls_enabled() {
            if let Some(tls) = self.tls {
                let io = |e: io::Error| format!("{np}: {} while sending STARTTLS", io_text(&e));
                let r = conn.command("STARTTLS").map_err(io)?;
                if r.code != 220 {
                    self.quit(&mut conn);
                    return Ok(());
                }
                conn = self.handshake(conn, tls)?;
                conn.set_timeout(o.cmd_timeout);
                let io = |e: io::Error| {
                    format!("{np}: {} while performing the EHLO handshake", io_text(&e))
                };
                conn.command(&ehlo).map_err(io)?;
            }
        }
        self.quit(&mut conn);
        Ok(())
    }

    /// STARTTLS or wrapper-mode handshake; the report is printed inside.
    fn handshake(&self, conn: Conn, tls: &TlsSetup) -> Result<Conn, String> {
        let Stream::Plain(tcp) = conn.stream else {
            return Err("TLS already active".into());
        };
        // Anything the server sent after its 220 is dropped (RFC 3207 4.2).
        let stream = report::start(self.opts, tls, self.peer, tcp)?;
        Ok(Conn {
            stream: Stream::Tls(Box::new(stream)),
            buf: Vec::new(),
            echo: conn.echo,
        })
    }

    fn quit(&self, conn: &mut Conn) {
        let _ = conn.command("QUIT");
        if let Stream::Tls(s) = &mut conn.stream {
            let _ = crate::tls::stream::shutdown(s);
        }
    }
}
