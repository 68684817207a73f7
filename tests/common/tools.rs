//! Real peers and helpers for the integration tests: `swaks`, `openssl s_client
//! -starttls smtp` with a scripted dialogue, a raw-socket SMTP client that sends
//! exact bytes and keeps a `c -> ` / `s <- ` transcript, `dnsmasq` serving test
//! domains on a free loopback port, Postfix's `smtp-sink` and `smtp-source`, a
//! free-port picker and `wait_for`.
//!
//! Every tool is looked up first; a missing one fails the test with the Debian
//! package that provides it. Traffic stays on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The path of a tool, or a test failure naming the Debian package to install.
pub fn require_tool(path: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.exists(),
        "{path} not found: this test needs it (install the Debian package {package}, as CI does)"
    );
    p
}

/// A port free for both TCP and UDP on 127.0.0.1 at the time of asking.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP probe socket");
        let port = udp.local_addr().expect("probe address").port();
        if port > 1024 && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `condition` every 50 ms until it holds (true) or `timeout` passes (false).
pub fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(50));
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
pub fn wait_port(port: u16, timeout: Duration) -> bool {
    wait_for(timeout, || TcpStream::connect(("127.0.0.1", port)).is_ok())
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    fn of(o: std::process::Output) -> Output {
        Output {
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// The exit code (-1 when killed by a signal).
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

// ---------------------------------------------------------------- swaks

/// A `swaks` run, built up option by option. `swaks` prints its whole dialogue
/// (`~>`/`<~` lines for TLS, `->`/`<-` in plaintext) to stdout.
pub struct Swaks {
    args: Vec<String>,
}

/// What `swaks` printed and its exit status (0: the transaction succeeded).
#[derive(Debug)]
pub struct SwaksResult {
    pub code: i32,
    pub transcript: String,
}

impl Swaks {
    /// Talks to 127.0.0.1:`port`, without the `Date`/`Message-Id` defaults changed.
    pub fn new(port: u16) -> Swaks {
        Swaks {
            args: vec![
                "--server".into(),
                format!("127.0.0.1:{port}"),
                "--timeout".into(),
                "20".into(),
                "--hide-informational".into(),
            ],
        }
    }

    pub fn from(self, addr: &str) -> Swaks {
        self.arg("--from").arg(addr)
    }

    pub fn to(self, addr: &str) -> Swaks {
        self.arg("--to").arg(addr)
    }

    pub fn ehlo(self, name: &str) -> Swaks {
        self.arg("--ehlo").arg(name)
    }

    /// STARTTLS, required (`--tls`): swaks fails if it is not offered.
    pub fn starttls(self) -> Swaks {
        self.arg("--tls")
    }

    /// Verifies the server certificate against `ca` (`--tls-verify --tls-ca-path`).
    pub fn verify_with(self, ca: &Path) -> Swaks {
        self.arg("--tls-verify")
            .arg("--tls-ca-path")
            .arg(ca.to_str().expect("utf-8 path"))
    }

    /// Presents a client certificate.
    pub fn client_cert(self, cert: &Path, key: &Path) -> Swaks {
        self.arg("--tls-cert")
            .arg(cert.to_str().expect("utf-8 path"))
            .arg("--tls-key")
            .arg(key.to_str().expect("utf-8 path"))
    }

    pub fn header(self, name: &str, value: &str) -> Swaks {
        self.arg("--header").arg(&format!("{name}: {value}"))
    }

    pub fn body(self, body: &str) -> Swaks {
        self.arg("--body").arg(body)
    }

    /// Any other swaks option.
    pub fn arg(mut self, a: &str) -> Swaks {
        self.args.push(a.to_string());
        self
    }

    pub fn run(self) -> SwaksResult {
        let swaks = require_tool("/usr/bin/swaks", "swaks");
        let o = Command::new(swaks)
            .args(&self.args)
            .stdin(Stdio::null())
            .output()
            .expect("run swaks");
        let o = Output::of(o);
        SwaksResult {
            code: o.code(),
            transcript: o.stdout + &o.stderr,
        }
    }
}

// ---------------------------------------------------------------- s_client

/// `openssl s_client -starttls smtp` (or wrapper mode) driven line by line: each
/// script line is sent (with CRLF, `-crlf`) only after the server's complete reply
/// to the previous one, except message lines after a 354.
pub struct SClient {
    port: u16,
    args: Vec<String>,
    starttls: bool,
}

/// What `s_client` printed, the server replies it saw, and its exit status.
#[derive(Debug)]
pub struct SClientResult {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Every SMTP reply line received after the handshake, in order.
    pub replies: Vec<String>,
}

impl SClientResult {
    /// The first certificate s_client printed (the server's leaf), PEM.
    pub fn peer_cert_pem(&self) -> Option<String> {
        let start = self.stdout.find("-----BEGIN CERTIFICATE-----")?;
        let end_tag = "-----END CERTIFICATE-----";
        let end = self.stdout[start..].find(end_tag)? + start + end_tag.len();
        Some(self.stdout[start..end].to_string() + "\n")
    }

    /// Whether the session was resumed (`Reused, TLSv1.x`).
    pub fn reused(&self) -> bool {
        self.stdout.lines().any(|l| l.starts_with("Reused,"))
    }

    /// The `Verify return code: N (text)` line's number.
    pub fn verify_code(&self) -> Option<i32> {
        let l = self
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("Verify return code:"))?;
        l.trim_start()["Verify return code:".len()..]
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

impl SClient {
    pub fn new(port: u16) -> SClient {
        SClient {
            port,
            args: Vec::new(),
            starttls: true,
        }
    }

    /// Implicit TLS (port 465 style) instead of STARTTLS.
    pub fn wrapper_mode(mut self) -> SClient {
        self.starttls = false;
        self
    }

    pub fn ca_file(self, ca: &Path) -> SClient {
        self.arg("-CAfile").arg(ca.to_str().expect("utf-8 path"))
    }

    pub fn cert(self, cert: &Path, key: &Path) -> SClient {
        self.arg("-cert")
            .arg(cert.to_str().expect("utf-8 path"))
            .arg("-key")
            .arg(key.to_str().expect("utf-8 path"))
    }

    /// Abort the handshake when the server certificate does not verify.
    pub fn verify_return_error(self) -> SClient {
        self.arg("-verify_return_error")
    }

    pub fn sess_out(self, file: &Path) -> SClient {
        self.arg("-sess_out")
            .arg(file.to_str().expect("utf-8 path"))
    }

    pub fn sess_in(self, file: &Path) -> SClient {
        self.arg("-sess_in").arg(file.to_str().expect("utf-8 path"))
    }

    pub fn servername(self, name: &str) -> SClient {
        self.arg("-servername").arg(name)
    }

    /// Any other s_client option.
    pub fn arg(mut self, a: &str) -> SClient {
        self.args.push(a.to_string());
        self
    }

    /// Runs the dialogue `script` (lines without line ends; the last is usually
    /// `QUIT`) and waits for s_client to exit (at most 30 s).
    pub fn run(self, script: &[&str]) -> SClientResult {
        let openssl = require_tool("/usr/bin/openssl", "openssl");
        let mut cmd = Command::new(openssl);
        cmd.arg("s_client")
            .arg("-connect")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-crlf", "-ign_eof"]);
        if self.starttls {
            cmd.args(["-starttls", "smtp"]);
        }
        let mut child = cmd
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start openssl s_client");
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut stdin = child.stdin.take().expect("stdin");
        let mut replies = Vec::new();
        let mut in_data = false;
        if !self.starttls {
            // Wrapper mode: the greeting arrives inside TLS; s_client consumed it
            // itself only with -starttls.
            wait_reply(&rx, &mut replies, Duration::from_secs(20));
        }
        for line in script {
            let _ = stdin.write_all(format!("{line}\n").as_bytes());
            let _ = stdin.flush();
            if in_data {
                if *line != "." {
                    continue;
                }
                in_data = false;
            }
            match wait_reply(&rx, &mut replies, Duration::from_secs(20)) {
                Some(354) => in_data = true,
                Some(_) => {}
                None => break,
            }
        }
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let status = child.wait().expect("wait for s_client");
        let stdout = reader.join().unwrap_or_default();
        // Replies that arrived after the last wait (e.g. 221 to QUIT).
        while let Ok(l) = rx.try_recv() {
            if is_reply_line(&l) {
                replies.push(l);
            }
        }
        SClientResult {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr: err_reader.join().unwrap_or_default(),
            replies,
        }
    }
}

fn is_reply_line(l: &str) -> bool {
    let b = l.as_bytes();
    b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && (b[3] == b' ' || b[3] == b'-')
}

/// Collects reply lines until a final one (`NNN `); returns its code, or None on
/// timeout or when s_client's output ended.
fn wait_reply(rx: &mpsc::Receiver<String>, replies: &mut Vec<String>, t: Duration) -> Option<u16> {
    let deadline = Instant::now() + t;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let line = rx.recv_timeout(left).ok()?;
        if is_reply_line(&line) {
            replies.push(line.clone());
            if line.as_bytes()[3] == b' ' {
                return line[..3].parse().ok();
            }
        }
    }
}

// ---------------------------------------------------------------- raw SMTP

/// A reply as received: its code and its lines without CRLF.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// All lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<openssl::ssl::SslStream<TcpStream>>),
}

impl Stream {
    fn get_ref(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A raw SMTP client over a real socket: sends exactly the bytes it is given
/// (bare LF, bare CR, NUL, pipelined commands, plaintext after STARTTLS) and
/// records a chasquid-style transcript (`c -> EHLO x`, `s <- 250-...`).
pub struct RawSmtp {
    stream: Option<Stream>,
    buf: Vec<u8>,
    transcript: String,
}

impl RawSmtp {
    /// Connects to 127.0.0.1:`port` with 10 s read/write timeouts; does not read
    /// the greeting (call [`RawSmtp::read_reply`]).
    pub fn connect(port: u16) -> RawSmtp {
        RawSmtp::connect_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    pub fn connect_addr(addr: SocketAddr) -> RawSmtp {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        RawSmtp {
            stream: Some(Stream::Plain(s)),
            buf: Vec::new(),
            transcript: String::new(),
        }
    }

    /// Changes the read timeout (for slow-client and timeout tests).
    pub fn set_read_timeout(&mut self, t: Duration) {
        self.stream().get_ref().set_read_timeout(Some(t)).unwrap();
    }

    fn stream(&mut self) -> &mut Stream {
        self.stream.as_mut().expect("connection in use")
    }

    /// Sends `bytes` exactly as given.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        for line in String::from_utf8_lossy(bytes).split_inclusive('\n') {
            self.transcript
                .push_str(&format!("c -> {}\n", line.escape_debug()));
        }
        let s = self.stream();
        s.write_all(bytes)?;
        s.flush()
    }

    /// Sends `line` + CRLF and reads the reply.
    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("send {line:?}: {e}\n{}", self.transcript));
        self.read_reply()
            .unwrap_or_else(|e| panic!("reply to {line:?}: {e}\n{}", self.transcript))
    }

    /// Reads one complete (possibly multi-line) reply.
    pub fn read_reply(&mut self) -> std::io::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            self.transcript.push_str(&format!("s <- {line}\n"));
            let done = line.len() < 4 || line.as_bytes()[3] != b'-';
            let code = line.get(..3).and_then(|c| c.parse().ok());
            lines.push(line);
            if done {
                let code = code.ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed reply")
                })?;
                return Ok(Reply { code, lines });
            }
        }
    }

    fn read_line(&mut self) -> std::io::Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).take(i).collect();
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream().read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed by server",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// True when the server has closed the connection (reads EOF, or a reset)
    /// within the read timeout; any bytes received first are recorded.
    pub fn is_closed(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.stream().read(&mut chunk) {
            Ok(0) => true,
            Ok(n) => {
                let got = String::from_utf8_lossy(&chunk[..n]).into_owned();
                self.transcript.push_str(&format!("s <- {got}"));
                false
            }
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
        }
    }

    /// TLS handshake on the connection (after a 220 to STARTTLS), trusting
    /// `ca` and presenting `client` (cert, key) when given. Bytes the server
    /// sent before the handshake and not yet read are an error: a server must not
    /// answer plaintext pipelined after STARTTLS (RFC 3207 section 4.2).
    pub fn starttls(&mut self, ca: &Path, client: Option<(&Path, &Path)>) {
        use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
        assert!(
            self.buf.is_empty(),
            "server sent data before the TLS handshake: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let mut b = SslConnector::builder(SslMethod::tls_client()).expect("SSL builder");
        b.set_ca_file(ca).expect("CA file");
        if let Some((cert, key)) = client {
            b.set_certificate_chain_file(cert).expect("client cert");
            b.set_private_key_file(key, SslFiletype::PEM)
                .expect("client key");
        }
        let connector = b.build();
        let Some(Stream::Plain(tcp)) = self.stream.take() else {
            panic!("STARTTLS on a connection that is already TLS");
        };
        let tls = connector
            .connect("mx.test.example", tcp)
            .unwrap_or_else(|e| panic!("TLS handshake: {e}\n{}", self.transcript));
        self.transcript.push_str(&format!(
            "-- TLS {} {}\n",
            tls.ssl().version_str(),
            tls.ssl().current_cipher().map_or("?", |c| c.name())
        ));
        self.stream = Some(Stream::Tls(Box::new(tls)));
    }

    /// Everything sent and received so far.
    pub fn transcript(&self) -> &str {
        &self.transcript
    }
}

// ---------------------------------------------------------------- dnsmasq

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// dnsmasq options for test records; pass `records()` to [`Dnsmasq::start`].
#[derive(Default, Clone)]
pub struct DnsRecords {
    opts: Vec<String>,
}

impl DnsRecords {
    pub fn new() -> DnsRecords {
        DnsRecords::default()
    }

    /// `domain MX pref host` (`--mx-host`).
    pub fn mx(mut self, domain: &str, host: &str, pref: u16) -> DnsRecords {
        self.opts.push(format!("--mx-host={domain},{host},{pref}"));
        self
    }

    /// A or AAAA record, by the address family of `ip` (`--host-record`).
    pub fn addr(mut self, name: &str, ip: &str) -> DnsRecords {
        self.opts.push(format!("--host-record={name},{ip}"));
        self
    }

    /// A TXT record.
    pub fn txt(mut self, name: &str, text: &str) -> DnsRecords {
        self.opts.push(format!("--txt-record={name},{text}"));
        self
    }

    /// Any record as type number and hex RDATA (`--dns-rr`), e.g. TLSA (52) or a
    /// null MX (15, `0000` + root name `00`).
    pub fn raw(mut self, name: &str, rtype: u16, hex_rdata: &str) -> DnsRecords {
        self.opts
            .push(format!("--dns-rr={name},{rtype},{hex_rdata}"));
        self
    }

    /// Any other dnsmasq option.
    pub fn option(mut self, opt: &str) -> DnsRecords {
        self.opts.push(opt.to_string());
        self
    }
}

/// A running dnsmasq on 127.0.0.1 and a free port, authoritative-ish for the
/// `test` and `example` zones (unknown names there are NXDOMAIN). Drop kills it.
/// Same approach as `src/dns/tests/dnsmasq.rs`.
pub struct Dnsmasq {
    child: Option<Child>,
    pub port: u16,
}

impl Dnsmasq {
    pub fn start(records: &DnsRecords) -> Dnsmasq {
        require_tool(DNSMASQ, "dnsmasq-base");
        let mut last_error = String::new();
        for _ in 0..10 {
            let port = free_port();
            let mut child = Command::new(DNSMASQ)
                .arg(format!("--port={port}"))
                .args([
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--no-resolv",
                    "--no-hosts",
                    "--conf-file=/dev/null",
                    "--keep-in-foreground",
                    "--pid-file",
                    "--user=root",
                    "--local=/test/",
                    "--local=/example/",
                ])
                .args(&records.opts)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {DNSMASQ}: {e}"));
            // Ready once it accepts TCP; a port taken meanwhile makes it exit.
            let ready = wait_for(Duration::from_secs(5), || {
                matches!(child.try_wait(), Ok(Some(_)))
                    || TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if ready && matches!(child.try_wait(), Ok(None)) {
                return Dnsmasq {
                    child: Some(child),
                    port,
                };
            }
            let _ = child.kill();
            let out = child.wait_with_output().expect("dnsmasq output");
            last_error = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        panic!("dnsmasq did not start: {last_error}");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Asks this server (UDP) for `name`/`rtype` and returns the answer records
    /// with RDATA in presentation form as hickory prints it (`10 mx1.test.example.`).
    pub fn query(&self, name: &str, rtype: hickory_proto::rr::RecordType) -> DnsAnswer {
        use hickory_proto::op::{Message, Query};
        use hickory_proto::rr::Name;
        let mut msg = Message::query();
        msg.metadata.recursion_desired = true;
        msg.add_query(Query::query(
            Name::from_ascii(name).expect("DNS name"),
            rtype,
        ));
        let wire = msg.to_vec().expect("encode DNS query");
        let sock = UdpSocket::bind("127.0.0.1:0").expect("UDP socket");
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        sock.send_to(&wire, self.addr()).expect("send DNS query");
        let mut buf = [0u8; 4096];
        let (n, _) = sock.recv_from(&mut buf).expect("DNS reply from dnsmasq");
        let reply = Message::from_vec(&buf[..n]).expect("parse DNS reply");
        assert_eq!(reply.metadata.id, msg.metadata.id, "DNS reply id");
        DnsAnswer {
            rcode: format!("{:?}", reply.metadata.response_code),
            records: reply
                .answers
                .iter()
                .map(|r| (r.record_type(), r.data.to_string()))
                .collect(),
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A DNS reply: its RCODE name (`NoError`, `NXDomain`) and answer records.
#[derive(Debug)]
pub struct DnsAnswer {
    pub rcode: String,
    pub records: Vec<(hickory_proto::rr::RecordType, String)>,
}

// ---------------------------------------------------------------- smtp-sink

/// Postfix's `smtp-sink` on a free port, dumping every transaction to a file in
/// its own directory (`-d`). As root it must drop to a user (`-u postfix`).
/// Drop kills it.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts `smtp-sink -d DIR/%Y%m%d%H%M%S. -u postfix [extra] 127.0.0.1:PORT 100`.
    pub fn start(extra: &[&str]) -> SmtpSink {
        let sink = require_tool("/usr/sbin/smtp-sink", "postfix");
        let dir = tempfile::Builder::new()
            .prefix("postern-sink.")
            .tempdir()
            .expect("sink dir");
        chown_to_postfix(dir.path());
        for _ in 0..10 {
            let port = free_port();
            let mut child = Command::new(&sink)
                .arg("-d")
                .arg(dir.path().join("%Y%m%d%H%M%S."))
                .args(["-u", "postfix"])
                .args(extra)
                .arg(format!("127.0.0.1:{port}"))
                .arg("100")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start smtp-sink");
            let up = wait_for(Duration::from_secs(5), || {
                matches!(child.try_wait(), Ok(Some(_)))
                    || TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if up && matches!(child.try_wait(), Ok(None)) {
                return SmtpSink { child, port, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("smtp-sink did not start");
    }

    /// Every dumped transaction (smtp-sink's `X-Client-Addr:`... lines, then the
    /// message), oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("read sink dir")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs Postfix's `smtp-source` against 127.0.0.1:`port`:
/// `smtp-source -s SESSIONS -m MESSAGES -l SIZE -f from -t to [extra]`, and
/// returns its output and the wall time it took.
pub fn smtp_source(
    port: u16,
    sessions: u32,
    messages: u32,
    size: usize,
    extra: &[&str],
) -> (Output, Duration) {
    let source = require_tool("/usr/sbin/smtp-source", "postfix");
    let start = Instant::now();
    let o = Command::new(source)
        .args(["-s", &sessions.to_string()])
        .args(["-m", &messages.to_string()])
        .args(["-l", &size.to_string()])
        .args(["-f", "bench@source.test.example"])
        .args(["-t", "sink@rx.test.example"])
        .args(extra)
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .output()
        .expect("run smtp-source");
    (Output::of(o), start.elapsed())
}

/// Gives `path` to the `postfix` user (daemons dropping to it must write there).
pub fn chown_to_postfix(path: &Path) {
    let (uid, gid) = postfix_ids();
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {} to postfix: {e}", path.display()));
}

/// uid and gid of the `postfix` user, which the postfix package creates.
pub fn postfix_ids() -> (u32, u32) {
    let u = nix::unistd::User::from_name("postfix")
        .expect("look up user postfix")
        .expect("user postfix missing (install the Debian package postfix, as CI does)");
    (u.uid.as_raw(), u.gid.as_raw())
}

/// Runs a command and returns its output (for `postconf`, `posttls-finger`, ...).
pub fn run(program: &Path, args: &[&str]) -> Output {
    let o = Command::new(program)
        .args(args)
        .env_remove("MAIL_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    Output::of(o)
}

// ---------------------------------------------------------------- lettre

/// lettre TLS parameters verifying the server as `domain` against `ca`, and
/// presenting `client` (certificate + PKCS#8 key, through native-tls/OpenSSL)
/// when given.
pub fn lettre_tls(
    ca: &super::certs::Cert,
    client: Option<&super::certs::Cert>,
    domain: &str,
) -> lettre::transport::smtp::client::TlsParameters {
    use lettre::transport::smtp::client::{Certificate, Identity, TlsParameters};
    let mut b = TlsParameters::builder(domain.to_string()).add_root_certificate(
        Certificate::from_pem(&ca.cert_pem_bytes()).expect("CA certificate for lettre"),
    );
    if let Some(c) = client {
        b = b.identify_with(
            Identity::from_pem(&c.cert_pem_bytes(), &c.pkcs8_pem_bytes())
                .expect("client identity for lettre"),
        );
    }
    b.build_native().expect("lettre native-tls parameters")
}

/// A blocking lettre transport to 127.0.0.1:`port` with `tls`
/// (`Tls::None`, `Tls::Opportunistic(..)`, `Tls::Required(..)`, `Tls::Wrapper(..)`),
/// saying EHLO `client.test.example`.
pub fn lettre_transport(
    port: u16,
    tls: lettre::transport::smtp::client::Tls,
) -> lettre::SmtpTransport {
    use lettre::transport::smtp::extension::ClientId;
    lettre::SmtpTransport::builder_dangerous("127.0.0.1")
        .port(port)
        .tls(tls)
        .hello_name(ClientId::Domain("client.test.example".into()))
        .timeout(Some(Duration::from_secs(20)))
        .build()
}

// ---------------------------------------------------------------- log tools

/// Runs `pflogsumm` on a Postfix-format log file (e.g. a maillog) and returns
/// its report.
pub fn pflogsumm(log: &Path, extra: &[&str]) -> Output {
    let bin = require_tool("/usr/sbin/pflogsumm", "pflogsumm");
    let mut args: Vec<&str> = extra.to_vec();
    let log = log.to_str().expect("utf-8 path");
    args.push(log);
    run(&bin, &args)
}

/// Runs Postfix's `posttls-finger ARGS...` (e.g. `-c -l secure -F CAfile
/// [127.0.0.1]:PORT`), for comparison with Postern's. It has no `-c` and insists
/// on a main.cf, so it reads the one in `config_dir` (through `MAIL_CONFIG`,
/// trusted as we are root): use any `PostfixInstance::config_dir()`.
pub fn posttls_finger(config_dir: &Path, args: &[&str]) -> Output {
    let bin = require_tool("/usr/sbin/posttls-finger", "postfix");
    let o = Command::new(bin)
        .args(args)
        .env("MAIL_CONFIG", config_dir)
        .stdin(Stdio::null())
        .output()
        .expect("run posttls-finger");
    Output::of(o)
}
