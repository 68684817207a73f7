//! smtpd session tests: a real `SmtpdService` on a loopback socket, a real
//! queue in a temporary directory, real clients (raw bytes, `openssl s_client`).
//! Dialogues are written as transcripts (`c -> ` sent, `s <- ` expected reply
//! line prefix), after chasquid's tests.

mod config_errors;
mod dialogue;
mod limits;
mod queue_content;
mod smuggling;
mod tls;

use super::service::SmtpdService;
use crate::config::Config;
use crate::queue::{Reader, Store, StoredMessage};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// One log file for the whole test process; each server has its own
/// `syslog_name`, so its lines can be told apart.
fn log_file() -> &'static PathBuf {
    static LOG: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = LOG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maillog");
        crate::log::init(
            "postern-test",
            crate::log::Settings {
                syslog_name: "postfix".into(),
                hostname: "mx".into(),
                maillog_file: path.to_string_lossy().into_owned(),
                facility: "mail".into(),
                stderr: false,
                syslog: false,
                verbose: false,
            },
        );
        (dir, path)
    });
    path
}

/// A running smtpd service.
pub(super) struct Server {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub tag: String,
    store: Option<Store>,
}

impl Server {
    /// Starts a service with the base main.cf plus `extra` lines. 127.0.0.1 is
    /// NOT in mynetworks, so relay and bare-newline rules apply to the tests.
    pub fn start(extra: &str) -> Server {
        Server::try_start(extra).unwrap()
    }

    pub fn try_start(extra: &str) -> Result<Server, super::SmtpdError> {
        static N: AtomicUsize = AtomicUsize::new(0);
        log_file();
        let n = N.fetch_add(1, Ordering::SeqCst);
        let tag = format!("postfix-t{n}");
        let dir = tempfile::tempdir().unwrap();
        let queue_dir = dir.path().join("queue");
        std::fs::create_dir_all(&queue_dir).unwrap();
        let main = format!(
            "compatibility_level = 3.6\n\
             myhostname = mx.example.org\n\
             mydomain = example.org\n\
             mydestination = $myhostname, example.org\n\
             mynetworks = 10.9.9.0/24\n\
             alias_maps =\n\
             local_recipient_maps =\n\
             queue_directory = {}\n\
             syslog_name = {tag}\n\
             smtpd_error_sleep_time = 0\n\
             {extra}\n",
            queue_dir.display()
        );
        std::fs::write(dir.path().join("main.cf"), main).unwrap();
        let cfg = Arc::new(Config::load(dir.path()).unwrap());
        let store = Store::open(&queue_dir).unwrap();
        let svc = Arc::new(SmtpdService::new(cfg, store.handle(), "smtp")?);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let svc = Arc::clone(&svc);
                std::thread::spawn(move || {
                    let peer = conn.peer_addr().unwrap();
                    let local = conn.local_addr().unwrap();
                    svc.serve(conn, peer, local);
                });
            }
        });
        Ok(Server {
            addr,
            dir,
            tag,
            store: Some(store),
        })
    }

    pub fn connect(&self) -> Client {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client {
            reader: BufReader::new(s.try_clone().unwrap()),
            stream: s,
        }
    }

    /// Stops the queue writer: every later insert fails.
    pub fn stop_queue(&mut self) {
        self.store.take();
    }

    pub fn queue_dir(&self) -> PathBuf {
        self.dir.path().join("queue")
    }

    /// Every stored message.
    pub fn messages(&self) -> Vec<StoredMessage> {
        let reader = Reader::open(&self.queue_dir()).unwrap();
        reader
            .list()
            .unwrap()
            .into_iter()
            .filter_map(|e| reader.load(&e.queue_id).unwrap())
            .collect()
    }

    /// This server's log lines (text after `tag/service[pid]: `), waiting a
    /// little for the session thread to write its last lines.
    pub fn log(&self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(150));
        let text = std::fs::read_to_string(log_file()).unwrap_or_default();
        let prefix = format!(" {}/", self.tag);
        text.lines()
            .filter_map(|l| {
                let at = l.find(&prefix)?;
                let rest = &l[at + 1..];
                Some(rest.to_string())
            })
            .collect()
    }

    /// Every line of the shared log file.
    pub fn raw_log(&self) -> String {
        std::thread::sleep(Duration::from_millis(150));
        std::fs::read_to_string(log_file()).unwrap_or_default()
    }

    /// Whether some log line contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.log().iter().any(|l| l.contains(needle))
    }
}

#[test]
fn service_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<SmtpdService>();
}

#[test]
fn syslog_name_override_tags_the_connection_thread() {
    let srv = Server::start("syslog_name = postfix-override/submission");
    let mut c = srv.connect();
    c.dialogue("s <- 220\nc -> QUIT\ns <- 221");
    let log = srv.raw_log();
    assert!(log.contains(" postfix-override/submission/smtpd["), "{log}");
}

/// A raw SMTP client.
pub(super) struct Client {
    pub stream: TcpStream,
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// One reply line, without CRLF; empty at EOF.
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        let _ = self.reader.read_line(&mut l);
        l.trim_end_matches(['\r', '\n']).to_string()
    }

    /// A whole (possibly multi-line) reply, lines joined with `\n`.
    pub fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let l = self.line();
            let last = l.len() < 4 || l.as_bytes()[3] != b'-';
            lines.push(l);
            if last {
                return lines.join("\n");
            }
        }
    }

    /// Whether the server closed the connection (EOF within the timeout).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0) | Err(_))
    }

    /// Runs a transcript: `c -> LINE` sends LINE with CRLF; `s <- TEXT` reads
    /// one reply line and checks that it starts with TEXT.
    pub fn dialogue(&mut self, script: &str) {
        for step in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if step == "c ->" {
                self.send(b"\r\n");
            } else if let Some(cmd) = step.strip_prefix("c -> ") {
                self.send(format!("{cmd}\r\n").as_bytes());
            } else if let Some(want) = step.strip_prefix("s <- ") {
                let got = self.line();
                assert!(got.starts_with(want), "expected {want:?}, got {got:?}");
            } else {
                panic!("bad transcript line {step:?}");
            }
        }
    }
}

/// Runs `openssl` with `args` in `dir`; panics on failure.
pub(super) fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
