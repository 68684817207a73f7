//! Running the real Postern master on a temporary configuration: a free port on
//! 127.0.0.1, a config directory with its queue, data and log inside, the
//! `postfix` command against it, and SMTP clients that read the banner.
//!
//! Tests run as root in CI: the daemon then drops to `mail_owner` (`postfix`,
//! created by Debian's postfix package), so every directory here is 0755.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl From<Output> for Out {
    fn from(o: Output) -> Out {
        Out {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    }
}

/// The harness's one free-port picker (tools.rs), re-exported for daemon tests.
pub use super::tools::free_port;

/// The postern binary, called as `postfix`.
pub fn postfix_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_postern"));
    c.arg("postfix").env_remove("MAIL_CONFIG");
    c
}

/// The host name every test configuration sets, so banners are known.
pub const HOSTNAME: &str = "mx.postern.test";

/// A temporary Postern installation: config dir, queue, data, log, one port.
pub struct Instance {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Instance {
    /// main.cf with the test's `extra` lines, master.cf with one smtpd on
    /// `127.0.0.1:port`.
    pub fn new(extra: &str) -> Instance {
        let port = free_port();
        let master = format!("127.0.0.1:{port} inet n - n - - smtpd\n");
        Instance::with_master(extra, &master, port)
    }

    /// main.cf with `extra`, the given master.cf text, and the port it uses.
    pub fn with_master(extra: &str, master: &str, port: u16) -> Instance {
        let dir = tempfile::tempdir().expect("tempdir");
        // mail_owner must reach main.cf (reload) and its queue below.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod tempdir");
        let inst = Instance { dir, port };
        inst.write_main(extra);
        std::fs::write(inst.path().join("master.cf"), master).expect("write master.cf");
        inst
    }

    /// Rewrites main.cf: the fixed test settings, then `extra`. A current
    /// `compatibility_level` (as the Postfix harness sets) gives the Postfix
    /// 3.x defaults, smtpd_relay_restrictions included. The host's
    /// /etc/aliases is never used (`alias_maps` is empty), so unknown local
    /// users are checked against passwd only (`local_recipient_maps`).
    pub fn write_main(&self, extra: &str) {
        let d = self.path().display();
        let text = format!(
            "myhostname = {HOSTNAME}\nqueue_directory = {d}/queue\ndata_directory = {d}/data\n\
             maillog_file = {d}/maillog\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n\
             compatibility_level = 3.6\nalias_maps =\nalias_database =\n{extra}\n"
        );
        std::fs::write(self.path().join("main.cf"), text).expect("write main.cf");
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid_file(&self) -> PathBuf {
        self.path().join("queue/pid/master.pid")
    }

    /// `postfix -c DIR ARGS...`.
    pub fn postfix(&self, args: &[&str]) -> Out {
        postfix_command()
            .arg("-c")
            .arg(self.path())
            .args(args)
            .output()
            .expect("run postfix")
            .into()
    }

    /// `postfix start`, which must succeed.
    pub fn start(&self) -> Out {
        let o = self.postfix(&["start"]);
        assert_eq!(
            o.code,
            0,
            "postfix start failed: {}\nlog:\n{}",
            o.stderr,
            self.log()
        );
        o
    }

    /// The master's pid as `sed 1q pid/master.pid` gives it.
    pub fn pid(&self) -> i32 {
        let text = std::fs::read_to_string(self.pid_file()).expect("read master.pid");
        text.lines()
            .next()
            .unwrap_or("")
            .trim()
            .parse()
            .expect("pid in master.pid")
    }

    /// The maillog_file so far (empty before the first line).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("maillog")).unwrap_or_default()
    }

    /// Waits until the log contains `needle` `times` times; panics with the log after 10 s.
    pub fn wait_for_log(&self, needle: &str, times: usize) {
        let until = Instant::now() + Duration::from_secs(10);
        while self.log().matches(needle).count() < times {
            assert!(
                Instant::now() < until,
                "no {needle:?} (x{times}) in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every message in the queue database (`$queue_directory/queue.db`), read
    /// with SQLite directly (Postern has no `postqueue`/`postcat` yet), oldest
    /// first; empty when the database does not exist yet.
    pub fn queued(&self) -> Vec<Queued> {
        read_queue(&self.path().join("queue"))
    }

    /// The queued message `id`; panics with the queue listing when absent.
    pub fn queued_message(&self, id: &str) -> Queued {
        let all = self.queued();
        let ids: Vec<String> = all.iter().map(|m| m.queue_id.clone()).collect();
        all.into_iter()
            .find(|m| m.queue_id == id)
            .unwrap_or_else(|| {
                panic!(
                    "{id} not in the queue (it holds {ids:?})\nlog:\n{}",
                    self.log()
                )
            })
    }

    /// Connects to the instance's port and reads the first reply line.
    pub fn connect(&self) -> Client {
        Client::connect(self.port)
    }
}

impl Drop for Instance {
    /// Never leave a daemon behind, whatever the test did (even with a
    /// main.cf that `postfix status` can no longer read).
    fn drop(&mut self) {
        let Ok(text) = std::fs::read_to_string(self.pid_file()) else {
            return;
        };
        let Ok(pid) = text.trim().parse::<i32>() else {
            return;
        };
        let ours = std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|exe| exe == Path::new(env!("CARGO_BIN_EXE_postern")));
        if ours || self.postfix(&["status"]).code == 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// One message as the queue database holds it.
#[derive(Debug, Clone)]
pub struct Queued {
    pub queue_id: String,
    /// `incoming`, `active`, `deferred` or `hold`.
    pub queue_name: String,
    pub sender: String,
    pub recipients: Vec<String>,
    /// Content octets as the queue records them.
    pub size: i64,
    pub protocol: String,
    pub helo: String,
    pub tls_protocol: Option<String>,
    pub tls_ccert_fingerprint: Option<String>,
    /// The stored content (Received header first), CRLF line ends.
    pub content: Vec<u8>,
}

impl Queued {
    /// The content as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }

    /// The first header `name` (case-insensitive), folded lines joined with
    /// their leading white space kept as one space.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut fields: Vec<String> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.push(' ');
                    last.push_str(line.trim_start());
                }
            } else {
                fields.push(line.to_string());
            }
        }
        fields.into_iter().find_map(|f| {
            let (n, v) = f.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Reads every message of the queue database in `queue_directory`, read-only
/// (the daemon, running as mail_owner, keeps its WAL files).
pub fn read_queue(queue_directory: &Path) -> Vec<Queued> {
    use rusqlite::{Connection, OpenFlags};
    let db = queue_directory.join("queue.db");
    if !db.exists() {
        return Vec::new();
    }
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    conn.busy_timeout(Duration::from_secs(10))
        .expect("busy_timeout");
    let mut stmt = conn
        .prepare(
            "SELECT queue_id, queue_name, sender, size, protocol, helo, tls_protocol, \
             tls_ccert_fingerprint, content FROM messages ORDER BY queue_id",
        )
        .expect("prepare messages query");
    let mut out: Vec<Queued> = stmt
        .query_map([], |r| {
            Ok(Queued {
                queue_id: r.get(0)?,
                queue_name: r.get(1)?,
                sender: r.get(2)?,
                size: r.get(3)?,
                protocol: r.get(4)?,
                helo: r.get(5)?,
                tls_protocol: r.get(6)?,
                tls_ccert_fingerprint: r.get(7)?,
                content: r.get(8)?,
                recipients: Vec::new(),
            })
        })
        .expect("query messages")
        .collect::<Result<_, _>>()
        .expect("read messages");
    let mut rcpt = conn
        .prepare("SELECT address FROM recipients WHERE queue_id = ?1 ORDER BY rcpt_index")
        .expect("prepare recipients query");
    for m in &mut out {
        m.recipients = rcpt
            .query_map([&m.queue_id], |r| r.get(0))
            .expect("query recipients")
            .collect::<Result<_, _>>()
            .expect("read recipients");
    }
    out
}

/// main.cf lines for STARTTLS with the test PKI: the server certificate,
/// `may`, client certificates asked for and checked against the test CA,
/// sha256 fingerprints, the TLS clause in Received headers.
pub fn tls_main_cf(pki: &super::certs::Pki) -> String {
    format!(
        "smtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\nsmtpd_tls_CAfile = {}\n\
         smtpd_tls_security_level = may\nsmtpd_tls_ask_ccert = yes\n\
         smtpd_tls_fingerprint_digest = sha256\nsmtpd_tls_received_header = yes\n",
        pki.server.cert_pem.display(),
        pki.server.key_pem.display(),
        pki.ca.cert_pem.display()
    )
}

/// The queue ID in a `250 2.0.0 Ok: queued as ID` reply; panics on anything else.
pub fn queued_as(reply: &str) -> String {
    let (_, id) = reply
        .split_once("queued as ")
        .unwrap_or_else(|| panic!("not a queued reply: {reply:?}"));
    id.trim().to_string()
}

/// A plain SMTP client over a real socket.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The first line the server sent (banner or 421).
    pub greeting: String,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let writer = s.try_clone().expect("clone stream");
        let mut c = Client {
            reader: BufReader::new(s),
            writer,
            greeting: String::new(),
        };
        c.greeting = c.line();
        c
    }

    /// One reply line without CRLF; empty at end of stream.
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        let _ = self.reader.read_line(&mut l);
        l.trim_end_matches(['\r', '\n']).to_string()
    }

    /// Sends `cmd` and returns the reply's last line.
    pub fn command(&mut self, cmd: &str) -> String {
        self.writer
            .write_all(format!("{cmd}\r\n").as_bytes())
            .expect("send command");
        loop {
            let l = self.line();
            if l.len() < 4 || l.as_bytes()[3] != b'-' {
                return l;
            }
        }
    }

    /// QUIT, which must get 221.
    pub fn quit(mut self) {
        let r = self.command("QUIT");
        assert!(r.starts_with("221"), "QUIT got {r:?}");
    }
}

/// Waits until a client gets a banner (for daemons started without `postfix start`).
pub fn wait_for_banner(port: u16) -> Client {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Client::connect(port);
        }
        assert!(Instant::now() < until, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The real, effective, saved and file-system uids of `pid` (Linux /proc).
#[cfg(target_os = "linux")]
pub fn process_uids(pid: i32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    line.split_whitespace()
        .skip(1)
        .map(|n| n.parse().expect("uid"))
        .collect()
}

/// The effective uid of `pid` (`ps -o uid=` where there is no /proc status).
#[cfg(not(target_os = "linux"))]
pub fn process_uids(pid: i32) -> Vec<u32> {
    let o = Command::new("ps")
        .args(["-o", "uid=", "-p", &pid.to_string()])
        .output()
        .expect("run ps");
    vec![String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .expect("uid from ps")]
}
