//! Running the real Postern master on a temporary configuration: a free port on
//! 127.0.0.1, a config directory with its queue, data and log inside, the
//! `postfix` command against it, and SMTP clients that read the banner.
//!
//! Tests run as root in CI: the daemon then drops to `mail_owner` (`postfix`,
//! created by Debian's postfix package), so every directory here is 0755.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
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

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

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

    /// Rewrites main.cf: the fixed test settings, then `extra`.
    pub fn write_main(&self, extra: &str) {
        let d = self.path().display();
        let text = format!(
            "myhostname = {HOSTNAME}\nqueue_directory = {d}/queue\ndata_directory = {d}/data\n\
             maillog_file = {d}/maillog\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n{extra}\n"
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

/// The uid and gid mail_owner `postfix` has on this machine (Debian's package).
pub fn postfix_user() -> (u32, u32) {
    let u = nix::unistd::User::from_name("postfix")
        .expect("getpwnam")
        .expect("user postfix missing: install the postfix package, as CI does");
    (u.uid.as_raw(), u.gid.as_raw())
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
