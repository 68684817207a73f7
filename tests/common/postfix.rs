//! A real Postfix 3.7 instance for the integration tests, as the peer Postern
//! talks to: the receiving MTA (virtual Maildirs the test reads, TLS with the
//! test CA, relay by client certificate) or the sending client (everything goes
//! to `relayhost = [127.0.0.1]:PORT`).
//!
//! Each instance lives in its own temporary directory: `etc/` (main.cf, master.cf,
//! tables), `spool/` (queue_directory), `data/` (data_directory), `vmail/`
//! (virtual_mailbox_base) and `maillog` (maillog_file, written by postlogd). Its
//! only listener is `127.0.0.1:PORT inet n - n - - smtpd` on a free port; the unix
//! services are the stock master.cf's with chroot off. /etc/postfix is never
//! read for configuration nor written. Postfix's daemons need root to start, as
//! they do in CI.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::certs::{Cert, Pki};
use super::tools::{chown_to_postfix, free_port, postfix_ids, require_tool, wait_for};

/// Host name of a receiving instance; the test server certificate carries it.
pub const RECEIVER_HOSTNAME: &str = "mx.test.example";
/// Host name of a sending instance.
pub const SENDER_HOSTNAME: &str = "tx.test.example";
/// Domains a receiving instance delivers to its Maildirs; mail for any other
/// domain is relaying and needs `permit_tls_clientcerts` (or `mynetworks`).
pub const RECEIVER_DOMAINS: &str = "test.example, mx.test.example";

/// What the instance is for.
#[derive(Debug, Clone)]
pub enum Role {
    /// Receives mail on its port: `RECEIVER_DOMAINS` go to the Maildir
    /// `vmail/Maildir/`; relaying to other domains is allowed only by
    /// `permit_tls_clientcerts` (`mynetworks` excludes loopback), and what is
    /// relayed is also delivered to that Maildir (`default_transport =
    /// virtual`) so a test can see it arrived without any DNS.
    Receiver,
    /// Sends every message to `relayhost` (e.g. `[127.0.0.1]:2525`); its own port
    /// accepts mail from loopback for relaying too.
    Sender { relayhost: String },
}

impl Role {
    /// A sending client relaying to `[127.0.0.1]:port`.
    pub fn sender_to(port: u16) -> Role {
        Role::Sender {
            relayhost: format!("[127.0.0.1]:{port}"),
        }
    }
}

/// One delivery attempt from the maillog
/// (`ID: to=<...>, relay=..., delay=..., dsn=..., status=... (...)`).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub queue_id: String,
    pub to: String,
    pub relay: String,
    pub dsn: String,
    /// `sent`, `deferred`, `bounced`, `expired`, ...
    pub status: String,
    /// The text in parentheses after the status.
    pub reason: String,
    pub line: String,
}

/// A message found in a Maildir.
#[derive(Debug, Clone)]
pub struct Mail {
    pub path: PathBuf,
    pub raw: String,
}

impl Mail {
    /// Header section (before the first empty line), with folded lines joined.
    pub fn headers(&self) -> Vec<(String, String)> {
        let head = self.raw.split("\n\n").next().unwrap_or("");
        let mut out: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = out.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((n, v)) = line.split_once(':') {
                out.push((n.to_string(), v.trim().to_string()));
            }
        }
        out
    }

    /// Values of every header `name` (case-insensitive), top first.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers()
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .collect()
    }

    /// The topmost header `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_all(name).into_iter().next()
    }

    /// The body (after the first empty line).
    pub fn body(&self) -> &str {
        self.raw.split_once("\n\n").map_or("", |(_, b)| b)
    }
}

/// A private Postfix instance; `stop()` runs on drop.
pub struct PostfixInstance {
    dir: tempfile::TempDir,
    /// The smtpd port on `addr`.
    pub port: u16,
    /// The loopback address smtpd listens on (`127.0.0.1` unless `listen_on`).
    pub addr: String,
    pub role: Role,
    running: bool,
}

const POSTFIX: &str = "/usr/sbin/postfix";
const POSTCONF: &str = "/usr/sbin/postconf";
const SENDMAIL: &str = "/usr/sbin/sendmail";

impl PostfixInstance {
    /// Writes the configuration for `role`; does not start anything.
    pub fn new(role: Role) -> PostfixInstance {
        require_tool(POSTFIX, "postfix");
        require_tool(POSTCONF, "postfix");
        assert!(
            nix::unistd::geteuid().is_root(),
            "a Postfix test instance must be started as root (its master binds, \
             then runs daemons as mail_owner postfix); CI runs tests as root"
        );
        let dir = tempfile::Builder::new()
            .prefix("postern-postfix.")
            .tempdir()
            .expect("Postfix temp dir");
        let d = dir.path();
        // The daemons run as `postfix` and must reach spool/, data/ and vmail/.
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).expect("chmod");
        for sub in ["etc", "spool", "data", "vmail"] {
            fs::create_dir(d.join(sub)).expect("mkdir");
        }
        chown_to_postfix(&d.join("data"));
        chown_to_postfix(&d.join("vmail"));
        let port = free_port();
        let pi = PostfixInstance {
            dir,
            port,
            addr: "127.0.0.1".to_string(),
            role,
            running: false,
        };
        fs::write(pi.config_dir().join("main.cf"), pi.main_cf()).expect("write main.cf");
        fs::write(pi.config_dir().join("master.cf"), master_cf(port)).expect("write master.cf");
        fs::write(pi.config_dir().join("relay_clientcerts"), "").expect("write table");
        pi
    }

    fn main_cf(&self) -> String {
        let d = self.dir.path();
        let d = d.display();
        let (uid, gid) = postfix_ids();
        let mut s = format!(
            "# Postfix instance for Postern's integration tests (never /etc/postfix).\n\
             compatibility_level = 3.6\n\
             config_directory = {d}/etc\n\
             queue_directory = {d}/spool\n\
             data_directory = {d}/data\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             maillog_file = {d}/maillog\n\
             maillog_file_prefixes = {d}\n\
             mydomain = test.example\n\
             myorigin = $myhostname\n\
             mydestination =\n\
             local_recipient_maps =\n\
             alias_maps =\n\
             alias_database =\n\
             biff = no\n\
             append_dot_mydomain = no\n\
             smtpd_banner = $myhostname ESMTP Postfix\n\
             queue_run_delay = 2s\n\
             minimal_backoff_time = 2s\n\
             maximal_backoff_time = 4s\n\
             smtp_tls_loglevel = 1\n\
             smtpd_tls_loglevel = 1\n\
             smtpd_tls_fingerprint_digest = sha256\n\
             smtp_tls_fingerprint_digest = sha256\n\
             relay_clientcerts = texthash:{d}/etc/relay_clientcerts\n"
        );
        match &self.role {
            Role::Receiver => s.push_str(&format!(
                "myhostname = {RECEIVER_HOSTNAME}\n\
                 virtual_mailbox_domains = {RECEIVER_DOMAINS}\n\
                 virtual_mailbox_base = {d}/vmail\n\
                 virtual_mailbox_maps = static:Maildir/\n\
                 virtual_uid_maps = static:{uid}\n\
                 virtual_gid_maps = static:{gid}\n\
                 virtual_minimum_uid = 1\n\
                 default_transport = virtual\n\
                 mynetworks = 192.0.2.0/24\n\
                 smtpd_relay_restrictions = permit_mynetworks, permit_tls_clientcerts, reject_unauth_destination\n"
            )),
            Role::Sender { relayhost } => s.push_str(&format!(
                "myhostname = {SENDER_HOSTNAME}\n\
                 relayhost = {relayhost}\n\
                 mynetworks = 127.0.0.0/8\n"
            )),
        }
        s
    }

    /// The instance's configuration directory (`postfix -c`, `sendmail -C`).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    /// The instance's top directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `postconf -c DIR -e "name = value"`; call `reload()` when running.
    pub fn set(&self, name: &str, value: &str) {
        let out = self.postconf(&["-e", &format!("{name} = {value}")]);
        assert!(out.0, "postconf -e {name} = {value}: {}", out.1);
    }

    /// `postconf -c DIR -h name`: the value in effect.
    pub fn get(&self, name: &str) -> String {
        let out = self.postconf(&["-h", name]);
        assert!(out.0, "postconf -h {name}: {}", out.1);
        out.1.trim_end().to_string()
    }

    fn postconf(&self, args: &[&str]) -> (bool, String) {
        let o = Command::new(POSTCONF)
            .arg("-c")
            .arg(self.config_dir())
            .args(args)
            .env_remove("MAIL_CONFIG")
            .output()
            .expect("run postconf");
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    }

    /// Writes a table file `etc/NAME` and returns its path (use `texthash:` or
    /// `regexp:`/`pcre:`, or run `postmap` on it).
    pub fn write_table(&self, name: &str, content: &str) -> PathBuf {
        let p = self.config_dir().join(name);
        fs::write(&p, content).expect("write table");
        p
    }

    /// Appends entries to master.cf (e.g. a submission service with `-o`s).
    pub fn append_master_cf(&self, text: &str) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.config_dir().join("master.cf"))
            .expect("open master.cf");
        f.write_all(text.as_bytes()).expect("append master.cf");
    }

    /// Receiver TLS as a typical STARTTLS MTA with the test PKI: server
    /// certificate for mx.test.example, `may`, client certificates asked for and
    /// verified against the test CA, TLS clause in the Received header.
    pub fn receiver_tls(&self, pki: &Pki) {
        self.set("smtpd_tls_cert_file", pki.server.cert_pem.to_str().unwrap());
        self.set("smtpd_tls_key_file", pki.server.key_pem.to_str().unwrap());
        self.set("smtpd_tls_CAfile", pki.ca.cert_pem.to_str().unwrap());
        self.set("smtpd_tls_security_level", "may");
        self.set("smtpd_tls_ask_ccert", "yes");
        self.set("smtpd_tls_received_header", "yes");
    }

    /// Client TLS: `smtp_tls_security_level = level`, the test CA, and the test
    /// client certificate when `with_client_cert`.
    pub fn client_tls(&self, pki: &Pki, level: &str, with_client_cert: bool) {
        self.set("smtp_tls_security_level", level);
        self.set("smtp_tls_CAfile", pki.ca.cert_pem.to_str().unwrap());
        if with_client_cert {
            self.set("smtp_tls_cert_file", pki.client.cert_pem.to_str().unwrap());
            self.set("smtp_tls_key_file", pki.client.key_pem.to_str().unwrap());
        } else {
            self.set("smtp_tls_cert_file", "");
            self.set("smtp_tls_key_file", "");
        }
    }

    /// Adds a fingerprint (in `smtpd_tls_fingerprint_digest`, sha256 here) to
    /// `relay_clientcerts`; takes effect at start or `reload()`.
    pub fn trust_client_cert(&self, fingerprint: &str) {
        let p = self.config_dir().join("relay_clientcerts");
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(p)
            .expect("open relay_clientcerts");
        writeln!(f, "{fingerprint} test-client").expect("write relay_clientcerts");
    }

    /// Moves the smtpd listener (before `start()`) to `ip:port` (another
    /// loopback address such as 127.0.0.2, e.g. a second MX on the same port as
    /// another instance). `inet_interfaces` stays 127.0.0.1: Postfix's master
    /// refuses an address that is not on an interface (lo has 127.0.0.1/8 only),
    /// while the explicit address in master.cf binds fine.
    pub fn listen_on(&mut self, ip: &str, port: u16) {
        assert!(!self.running, "listen_on() must come before start()");
        let master = self.config_dir().join("master.cf");
        let text = fs::read_to_string(&master).expect("read master.cf");
        let text = text.replace(
            &format!("{}:{} inet", self.addr, self.port),
            &format!("{ip}:{port} inet"),
        );
        fs::write(&master, text).expect("write master.cf");
        self.addr = ip.to_string();
        self.port = port;
    }

    /// Serves `cert` (and its key) as the STARTTLS server certificate, e.g. one
    /// from the untrusted CA or with another name; `reload()` when running.
    pub fn server_cert(&self, cert: &Cert) {
        self.set("smtpd_tls_cert_file", cert.cert_pem.to_str().unwrap());
        self.set("smtpd_tls_key_file", cert.key_pem.to_str().unwrap());
    }

    /// `postfix -c DIR start`, then waits for the smtpd port. Should another
    /// process have taken the port since `new()`, moves to a free one: read
    /// `port` after `start()`.
    pub fn start(&mut self) {
        let mut o = self.postfix_cmd("start");
        for _ in 0..5 {
            if o.0 || !self.log().contains("Address already in use") {
                break;
            }
            let master = self.config_dir().join("master.cf");
            let text = fs::read_to_string(&master).expect("read master.cf");
            let new_port = free_port();
            let text = text.replace(
                &format!("{}:{} inet", self.addr, self.port),
                &format!("{}:{new_port} inet", self.addr),
            );
            fs::write(&master, text).expect("write master.cf");
            self.port = new_port;
            o = self.postfix_cmd("start");
        }
        assert!(
            o.0,
            "postfix -c {} start failed: {}\nmaillog:\n{}",
            self.config_dir().display(),
            o.1,
            self.log()
        );
        self.running = true;
        let addr = format!("{}:{}", self.addr, self.port);
        assert!(
            wait_for(Duration::from_secs(20), || std::net::TcpStream::connect(
                addr.as_str()
            )
            .is_ok()),
            "Postfix smtpd did not listen on {addr}\nmaillog:\n{}",
            self.log()
        );
    }

    /// `postfix -c DIR reload` (re-reads main.cf, master.cf and tables).
    pub fn reload(&self) {
        let o = self.postfix_cmd("reload");
        assert!(o.0, "postfix reload: {}", o.1);
        // The master re-reads its configuration asynchronously after SIGHUP.
        let _ = wait_for(Duration::from_secs(10), || {
            self.log().contains("reload -- version")
        });
        std::thread::sleep(Duration::from_millis(300));
    }

    /// `postfix -c DIR stop`, waiting until the master has exited (SIGKILL after
    /// 15 s).
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let pid = self.master_pid();
        let _ = self.postfix_cmd("stop");
        if let Some(pid) = pid {
            let pid = nix::unistd::Pid::from_raw(pid);
            let gone = wait_for(Duration::from_secs(15), || {
                nix::sys::signal::kill(pid, None).is_err()
            });
            if !gone {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }

    /// The master's pid from `$queue_directory/pid/master.pid`.
    pub fn master_pid(&self) -> Option<i32> {
        fs::read_to_string(self.dir.path().join("spool/pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn postfix_cmd(&self, what: &str) -> (bool, String) {
        let o = Command::new(POSTFIX)
            .arg("-c")
            .arg(self.config_dir())
            .arg(what)
            .env_remove("MAIL_CONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("run postfix");
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    }

    /// Submits `message` (RFC 5322 text, `\n` line ends) with this instance's
    /// `sendmail -C DIR -f from -i -- to...`, adding a unique Message-ID when it
    /// has none, and returns the queue ID Postfix's cleanup logged for it.
    pub fn send(&self, from: &str, to: &[&str], message: &str) -> String {
        let sendmail = require_tool(SENDMAIL, "postfix");
        let (msgid, text) = with_message_id(message);
        let mut child = Command::new(sendmail)
            .arg("-C")
            .arg(self.config_dir())
            .args(["-f", from, "-i", "--"])
            .args(to)
            .env_remove("MAIL_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sendmail");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write message to sendmail");
        let o = child.wait_with_output().expect("sendmail");
        assert!(
            o.status.success(),
            "sendmail failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let needle = format!(": message-id=<{msgid}>");
        let mut id = None;
        wait_for(Duration::from_secs(20), || {
            id = self.log().lines().find_map(|l| {
                let (head, _) = l.split_once(&needle)?;
                Some(head.rsplit(' ').next()?.to_string())
            });
            id.is_some()
        });
        id.unwrap_or_else(|| {
            panic!(
                "cleanup never logged message-id <{msgid}>\nmaillog:\n{}",
                self.log()
            )
        })
    }

    /// The whole maillog so far ("" before the first line).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Waits until a maillog line contains `needle`; returns that line.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let mut found = None;
        wait_for(timeout, || {
            found = self
                .log()
                .lines()
                .find(|l| l.contains(needle))
                .map(str::to_string);
            found.is_some()
        });
        found
    }

    /// Every delivery attempt logged so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        let re = regex::Regex::new(
            r": ([0-9A-F]+): to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]+), .*dsn=([0-9.]+), status=(\w+) \((.*)\)$",
        )
        .expect("regex");
        self.log()
            .lines()
            .filter_map(|l| {
                let c = re.captures(l)?;
                Some(Delivery {
                    queue_id: c[1].to_string(),
                    to: c[2].to_string(),
                    relay: c[3].to_string(),
                    dsn: c[4].to_string(),
                    status: c[5].to_string(),
                    reason: c[6].to_string(),
                    line: l.to_string(),
                })
            })
            .collect()
    }

    /// Waits for the first delivery attempt (sent, deferred, bounced...) whose
    /// queue ID or recipient is `key`; panics with the maillog on timeout.
    pub fn wait_delivered(&self, key: &str, timeout: Duration) -> Delivery {
        let mut found = None;
        wait_for(timeout, || {
            found = self
                .deliveries()
                .into_iter()
                .find(|d| d.queue_id == key || d.to == key);
            found.is_some()
        });
        found.unwrap_or_else(|| {
            panic!(
                "no delivery attempt for {key} within {timeout:?}\nmaillog:\n{}",
                self.log()
            )
        })
    }

    /// Waits for a delivery attempt for `key` (queue ID or recipient) with the
    /// given `status` (e.g. `sent` after earlier `deferred` ones); panics with
    /// the maillog on timeout.
    pub fn wait_status(&self, key: &str, status: &str, timeout: Duration) -> Delivery {
        let mut found = None;
        wait_for(timeout, || {
            found = self
                .deliveries()
                .into_iter()
                .find(|d| (d.queue_id == key || d.to == key) && d.status == status);
            found.is_some()
        });
        found.unwrap_or_else(|| {
            panic!(
                "no status={status} for {key} within {timeout:?}\nmaillog:\n{}",
                self.log()
            )
        })
    }

    /// The one Maildir every virtual delivery goes to (`vmail/Maildir/`).
    /// virtual(8) refuses regexp substitutions in `virtual_mailbox_maps`, so
    /// recipients share it and are told apart by their `Delivered-To:` header.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("vmail/Maildir")
    }

    /// Messages delivered to `address` (its `Delivered-To:`, which virtual(8)
    /// adds, compared case-insensitively), oldest first.
    pub fn mailbox(&self, address: &str) -> Vec<Mail> {
        self.all_mail()
            .into_iter()
            .filter(|m| {
                m.header("Delivered-To")
                    .is_some_and(|d| d.eq_ignore_ascii_case(address))
            })
            .collect()
    }

    /// Every message in the Maildir (`new/` and `cur/`), oldest first.
    pub fn all_mail(&self) -> Vec<Mail> {
        let md = self.maildir();
        let mut paths: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|s| fs::read_dir(md.join(s)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .filter_map(|path| {
                let raw = String::from_utf8_lossy(&fs::read(&path).ok()?).into_owned();
                Some(Mail { path, raw })
            })
            .collect()
    }

    /// Waits until `address` has at least `count` messages; returns them, or
    /// panics with the maillog on timeout.
    /// Waits for a message to `address` whose raw text contains `needle`.
    pub fn wait_mail_containing(
        &self,
        address: &str,
        needle: &str,
        timeout: Duration,
    ) -> Option<Mail> {
        let mut found = None;
        wait_for(timeout, || {
            found = self
                .mailbox(address)
                .into_iter()
                .find(|m| m.raw.contains(needle));
            found.is_some()
        });
        found
    }

    pub fn wait_mail(&self, address: &str, count: usize, timeout: Duration) -> Vec<Mail> {
        let ok = wait_for(timeout, || self.mailbox(address).len() >= count);
        assert!(
            ok,
            "{address} got {} of {count} messages within {timeout:?}\nmaillog:\n{}",
            self.mailbox(address).len(),
            self.log()
        );
        self.mailbox(address)
    }
}

impl Drop for PostfixInstance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Adds `Message-ID: <N.PID@harness.test.example>` when `message` has none;
/// returns the message ID (without angle brackets) and the text.
fn with_message_id(message: &str) -> (String, String) {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let head = message.split("\n\n").next().unwrap_or("");
    for line in head.lines() {
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case("message-id") {
                let id = v.trim().trim_start_matches('<').trim_end_matches('>');
                return (id.to_string(), message.to_string());
            }
        }
    }
    let id = format!(
        "{}.{}.{}@harness.test.example",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    (id.clone(), format!("Message-ID: <{id}>\n{message}"))
}

/// master.cf: one smtpd on 127.0.0.1:`port`, and every unix service of the
/// stock master.cf (Debian's /usr/share/postfix/master.cf.dist) with chroot off,
/// so no daemon needs files copied into a jail.
pub fn master_cf(port: u16) -> String {
    let stock_path = "/usr/share/postfix/master.cf.dist";
    let stock = fs::read_to_string(stock_path).unwrap_or_else(|e| {
        panic!("{stock_path}: {e} (install the Debian package postfix, as CI does)")
    });
    let mut out = format!(
        "# master.cf for a Postern test instance: generated from {stock_path}.\n\
         127.0.0.1:{port} inet n - n - - smtpd\n"
    );
    let mut keep = false;
    for line in stock.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if keep {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        // Keep the unix services Postfix itself needs; the pipe(8) examples
        // (maildrop, uucp, ...) name users and programs that do not exist here.
        keep = f.len() >= 8 && f[1] != "inet" && f[7] != "pipe";
        if keep {
            out.push_str(&format!(
                "{} {} {} {} n {} {} {}\n",
                f[0],
                f[1],
                f[2],
                f[3],
                f[5],
                f[6],
                f[7..].join(" ")
            ));
        }
    }
    out
}
