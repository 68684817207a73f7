//! Setup shared by the sending acceptance tests (issue 5): a real Postfix as
//! the receiving MTA, dnsmasq answering MX/A for the test domains, and the MTA
//! under test as the sender, either Postern (the subject) or a real Postfix
//! (to check a scenario's expectations against the reference, only with
//! bracketed `[127.0.0.1]:port` nexthops since Postfix cannot ask dnsmasq on a
//! high port).
//!
//! Mail is injected into the sender over SMTP from loopback (Postern: its own
//! smtpd, `mynetworks = 127.0.0.0/8`; Postfix: `sendmail -C`). Envelope senders
//! are in `client.example`, which the sender routes to `discard:` so that
//! bounces stay local. Delivery attempts are read from the sender's maillog
//! ([`Attempt`], with Postern's `tls=POLICY:REACHED` field), the queue from
//! `postqueue -j`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::certs::Pki;
use super::daemon::{free_port, Client, Instance};
use super::postfix::{Mail, PostfixInstance, Role};
use super::tools::{wait_for, DnsRecords, Dnsmasq};

/// The test domain the receiver delivers (`RECEIVER_DOMAINS`).
pub const DOMAIN: &str = "test.example";
/// Its mail exchanger, the name in the test server certificate.
pub const MX: &str = "mx.test.example";
/// Envelope sender of every test message (routed to `discard:` by the sender).
pub const FROM: &str = "sender@client.example";
/// Generous time for one delivery (or deferral) to show in a log.
pub const WAIT: Duration = Duration::from_secs(30);

/// dnsmasq records for the usual topology: `test.example MX 10
/// mx.test.example`, `mx.test.example A 127.0.0.1`.
pub fn standard_records() -> DnsRecords {
    DnsRecords::new().mx(DOMAIN, MX, 10).addr(MX, "127.0.0.1")
}

/// A started Postfix receiver; with `pki`, STARTTLS with the test server
/// certificate (`receiver_tls`), else no STARTTLS at all. `relay_from_loopback`
/// lets loopback relay to any domain (`mynetworks = 127.0.0.0/8`), so tests can
/// use one recipient domain per case; everything lands in the one Maildir.
pub fn receiver(pki: Option<&Pki>, relay_from_loopback: bool) -> PostfixInstance {
    let mut rx = PostfixInstance::new(Role::Receiver);
    if let Some(pki) = pki {
        rx.receiver_tls(pki);
    }
    if relay_from_loopback {
        rx.set("mynetworks", "127.0.0.0/8");
    }
    rx.start();
    rx
}

/// The topmost Received header the receiver added (`by mx.test.example`).
pub fn received_by_receiver(mail: &Mail) -> String {
    mail.header_all("Received")
        .into_iter()
        .find(|r| r.contains(&format!("by {MX}")))
        .unwrap_or_else(|| panic!("no Received by {MX}:\n{}", mail.raw))
}

/// Whether the receiver's Received header says the hop used TLS (Postfix's
/// `smtpd_tls_received_header` clause `(using TLSv1.3 with cipher ...)`).
pub fn received_with_tls(mail: &Mail) -> bool {
    received_by_receiver(mail).contains("(using TLS")
}

/// Lines of the receiver's log where smtpd accepted a connection from loopback.
pub fn receiver_connects(rx: &PostfixInstance) -> Vec<String> {
    rx.log()
        .lines()
        .filter(|l| l.contains("postfix/smtpd[") && l.contains(": connect from "))
        .map(str::to_string)
        .collect()
}

/// One delivery attempt from the sender's maillog
/// (`ID: to=<...>, relay=..., delay=..., delays=..., [tls=P:R, ]dsn=..., status=... (...)`).
#[derive(Debug, Clone)]
pub struct Attempt {
    pub queue_id: String,
    pub to: String,
    pub relay: String,
    /// Postern's `tls=POLICY:REACHED` (Postfix 3.7 has no such field).
    pub tls: Option<String>,
    pub dsn: String,
    pub status: String,
    pub reason: String,
    pub line: String,
}

/// Every delivery attempt in `log`, oldest first.
pub fn attempts(log: &str) -> Vec<Attempt> {
    let re = regex::Regex::new(
        r": ([0-9A-Za-z]+): to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]+), (.*?)dsn=([0-9.]+), status=(\w+) \((.*)\)$",
    )
    .expect("regex");
    let tls_re = regex::Regex::new(r"(?:^|, )tls=([^,\s]+)").expect("regex");
    log.lines()
        .filter_map(|l| {
            let c = re.captures(l)?;
            Some(Attempt {
                queue_id: c[1].to_string(),
                to: c[2].to_string(),
                relay: c[3].to_string(),
                tls: tls_re.captures(&c[4]).map(|t| t[1].to_string()),
                dsn: c[5].to_string(),
                status: c[6].to_string(),
                reason: c[7].to_string(),
                line: l.to_string(),
            })
        })
        .collect()
}

/// The MTA under test.
pub enum Mta {
    Postern(Instance),
    Postfix(PostfixInstance),
}

/// The sending MTA with its main.cf settings; `set` before or after `start`
/// (after: the change is reloaded).
pub struct Sender {
    pub mta: Mta,
    params: Vec<(String, String)>,
    /// Routes every `routes()` call keeps (the topology's test.example route).
    base_routes: Vec<(String, String)>,
    master_extra: String,
    running: bool,
}

impl Sender {
    /// Postern as the sender: smtpd on a free port for injection, the smtp
    /// client as `smtp` and `relay`, `discard` for bounces to `client.example`,
    /// `dns_nameservers` pointing at `dns` (when given), fast retries.
    pub fn postern(dns: Option<&Dnsmasq>) -> Sender {
        let port = free_port();
        let inst = Instance::with_master("", "", port);
        let mut s = Sender {
            mta: Mta::Postern(inst),
            params: Vec::new(),
            base_routes: Vec::new(),
            master_extra: String::new(),
            running: false,
        };
        if let Some(d) = dns {
            s.set("dns_nameservers", &format!("[127.0.0.1]:{}", d.port));
        }
        s.set("mynetworks", "127.0.0.0/8");
        s.set("minimal_backoff_time", "2s");
        s.set("maximal_backoff_time", "4s");
        s.set("queue_run_delay", "1s");
        s.set("smtp_tls_loglevel", "1");
        s.set("transport_maps", "inline:{ {client.example=discard:} }");
        s
    }

    /// A real Postfix as the sender (reference runs): its harness config
    /// (`relayhost = [127.0.0.1]:rx_port`), bounces to `client.example`
    /// discarded. Postfix cannot use dnsmasq: give it `[127.0.0.1]:port`
    /// nexthops only.
    pub fn postfix(rx_port: u16) -> Sender {
        let pf = PostfixInstance::new(Role::sender_to(rx_port));
        let mut s = Sender {
            mta: Mta::Postfix(pf),
            params: Vec::new(),
            base_routes: Vec::new(),
            master_extra: String::new(),
            running: false,
        };
        s.set("transport_maps", "inline:{ {client.example=discard:} }");
        s.set("smtp_tls_loglevel", "1");
        s
    }

    pub fn is_postern(&self) -> bool {
        matches!(self.mta, Mta::Postern(_))
    }

    /// Sets a main.cf parameter (replacing an earlier value); reloads when running.
    pub fn set(&mut self, name: &str, value: &str) {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), value.to_string()));
        match &self.mta {
            Mta::Postern(_) => self.write_postern_config(),
            Mta::Postfix(pf) => pf.set(name, value),
        }
        if self.running {
            self.reload();
        }
    }

    /// `transport_maps` with `client.example` discarded, the base routes,
    /// and `routes` (`(domain, transport:nexthop)` pairs).
    pub fn routes(&mut self, routes: &[(&str, &str)]) {
        let mut entries = vec!["{client.example=discard:}".to_string()];
        entries.extend(self.base_routes.iter().map(|(d, t)| format!("{{{d}={t}}}")));
        entries.extend(routes.iter().map(|(d, t)| format!("{{{d}={t}}}")));
        self.set(
            "transport_maps",
            &format!("inline:{{ {} }}", entries.join(", ")),
        );
    }

    /// Appends master.cf services (e.g. an smtp transport with `-o` options);
    /// before `start`.
    pub fn add_master(&mut self, text: &str) {
        self.master_extra.push_str(text);
        if !text.ends_with('\n') {
            self.master_extra.push('\n');
        }
        match &self.mta {
            Mta::Postern(_) => self.write_postern_config(),
            Mta::Postfix(pf) => pf.append_master_cf(text),
        }
    }

    /// Writes a table file next to the sender's config; returns its path.
    pub fn write_table(&self, name: &str, content: &str) -> PathBuf {
        let p = self.config_dir().join(name);
        std::fs::write(&p, content).expect("write table");
        p
    }

    fn write_postern_config(&self) {
        let Mta::Postern(inst) = &self.mta else {
            return;
        };
        let main: String = self
            .params
            .iter()
            .map(|(n, v)| format!("{n} = {v}\n"))
            .collect();
        inst.write_main(&main);
        let master = format!(
            "127.0.0.1:{} inet n - n - - smtpd\n\
             smtp unix - - n - - smtp\n\
             relay unix - - n - - smtp\n\
             discard unix - - n - - discard\n{}",
            inst.port, self.master_extra
        );
        std::fs::write(inst.path().join("master.cf"), master).expect("write master.cf");
    }

    pub fn config_dir(&self) -> PathBuf {
        match &self.mta {
            Mta::Postern(i) => i.path().to_path_buf(),
            Mta::Postfix(p) => p.config_dir(),
        }
    }

    pub fn start(&mut self) {
        match &mut self.mta {
            Mta::Postern(i) => {
                i.start();
            }
            Mta::Postfix(p) => p.start(),
        }
        self.running = true;
    }

    /// `postfix reload` on the sender.
    pub fn reload(&self) {
        match &self.mta {
            Mta::Postern(i) => {
                let before = i.log().matches("reload").count();
                let o = i.postfix(&["reload"]);
                assert_eq!(o.code, 0, "postfix reload: {}", o.stderr);
                wait_for(Duration::from_secs(10), || {
                    i.log().matches("reload").count() > before
                });
                std::thread::sleep(Duration::from_millis(300));
            }
            Mta::Postfix(p) => p.reload(),
        }
    }

    /// The sender's maillog so far.
    pub fn log(&self) -> String {
        match &self.mta {
            Mta::Postern(i) => i.log(),
            Mta::Postfix(p) => p.log(),
        }
    }

    /// Injects a message from [`FROM`] to `to` with `Subject: subject`;
    /// returns its queue ID.
    pub fn send(&self, to: &[&str], subject: &str) -> String {
        let text = format!("From: <{FROM}>\nSubject: {subject}\n\n{subject}\n");
        match &self.mta {
            Mta::Postern(i) => {
                let mut c = Client::connect(i.port);
                assert!(c.greeting.starts_with("220"), "{}", c.greeting);
                assert!(c.command("EHLO client.test.example").starts_with("250"));
                let r = c.command(&format!("MAIL FROM:<{FROM}>"));
                assert!(r.starts_with("250"), "MAIL: {r}");
                for t in to {
                    let r = c.command(&format!("RCPT TO:<{t}>"));
                    assert!(r.starts_with("250"), "RCPT {t}: {r}\nlog:\n{}", i.log());
                }
                assert!(c.command("DATA").starts_with("354"));
                let r = c.command(&format!("{}\r\n.", text.replace('\n', "\r\n")));
                assert!(r.starts_with("250"), "DATA: {r}");
                c.quit();
                super::daemon::queued_as(&r)
            }
            Mta::Postfix(p) => p.send(FROM, to, &text),
        }
    }

    /// Every delivery attempt the sender logged.
    pub fn attempts(&self) -> Vec<Attempt> {
        attempts(&self.log())
    }

    /// Waits for an attempt for `key` (queue ID or recipient) with `status`,
    /// the `nth` such (0 = first); panics with the sender's log on timeout.
    pub fn wait_nth(&self, key: &str, status: &str, nth: usize) -> Attempt {
        let mut found = None;
        wait_for(WAIT, || {
            found = self
                .attempts()
                .into_iter()
                .filter(|a| (a.queue_id == key || a.to == key) && a.status == status)
                .nth(nth);
            found.is_some()
        });
        found.unwrap_or_else(|| {
            panic!(
                "no status={status} (#{nth}) for {key} within {WAIT:?}\nsender log:\n{}",
                self.log()
            )
        })
    }

    /// The first attempt for `key` with `status`.
    pub fn wait_status(&self, key: &str, status: &str) -> Attempt {
        self.wait_nth(key, status, 0)
    }

    /// How many attempts for `key` ended with `status` so far.
    pub fn count(&self, key: &str, status: &str) -> usize {
        self.attempts()
            .iter()
            .filter(|a| (a.queue_id == key || a.to == key) && a.status == status)
            .count()
    }

    /// Waits until a sender log line contains every one of `parts`; returns it.
    pub fn wait_log(&self, parts: &[&str]) -> String {
        let mut found = None;
        wait_for(WAIT, || {
            found = self
                .log()
                .lines()
                .find(|l| parts.iter().all(|p| l.contains(p)))
                .map(str::to_string);
            found.is_some()
        });
        found.unwrap_or_else(|| {
            panic!(
                "no sender log line with {parts:?} within {WAIT:?}\nsender log:\n{}",
                self.log()
            )
        })
    }

    /// Runs the sender's `postqueue -c DIR ARGS`; returns stdout.
    pub fn postqueue(&self, args: &[&str]) -> String {
        let mut cmd = match &self.mta {
            Mta::Postern(_) => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_postern"));
                c.arg("postqueue");
                c
            }
            Mta::Postfix(_) => Command::new("/usr/sbin/postqueue"),
        };
        let o = cmd
            .arg("-c")
            .arg(self.config_dir())
            .args(args)
            .env_remove("MAIL_CONFIG")
            .output()
            .expect("run postqueue");
        assert!(
            o.status.success(),
            "postqueue {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `postqueue -f`: retry the deferred mail now.
    pub fn flush(&self) {
        self.postqueue(&["-f"]);
    }

    /// The `postqueue -j` line of message `id`, if queued.
    pub fn queue_entry(&self, id: &str) -> Option<String> {
        self.postqueue(&["-j"])
            .lines()
            .find(|l| {
                l.replace(" ", "")
                    .contains(&format!("\"queue_id\":\"{id}\""))
            })
            .map(str::to_string)
    }

    /// Waits until message `id` has left the sender's queue.
    pub fn wait_gone(&self, id: &str) {
        let gone = wait_for(WAIT, || self.queue_entry(id).is_none());
        assert!(
            gone,
            "{id} still queued: {:?}\nsender log:\n{}",
            self.queue_entry(id),
            self.log()
        );
    }
}

/// Which MTA sends in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Postern,
    /// Reference run with Postfix (bracketed literal nexthops only).
    Postfix,
}

/// A receiver, the DNS, and a sender not yet started, wired for `test.example`
/// through the receiver's port: Postern looks up MX (`smtp:test.example:PORT`,
/// or with `host_route`, `smtp:[mx.test.example]:PORT`: A only), Postfix goes to
/// `[127.0.0.1]:PORT`.
pub struct Topology {
    pub pki: Pki,
    pub dns: Option<Dnsmasq>,
    pub rx: PostfixInstance,
    pub tx: Sender,
    /// The receiver as the sender names it in logs: `mx.test.example[127.0.0.1]`
    /// (Postern) or `127.0.0.1[127.0.0.1]` (Postfix).
    pub host: String,
}

impl Topology {
    /// `rx_tls`: the receiver offers STARTTLS with the test server certificate.
    pub fn new(
        which: Which,
        rx_tls: bool,
        host_route: bool,
        relay_from_loopback: bool,
    ) -> Topology {
        let pki = Pki::new();
        let rx = receiver(rx_tls.then_some(&pki), relay_from_loopback);
        let (dns, mut tx, host, nexthop) = match which {
            Which::Postern => {
                let dns = Dnsmasq::start(&standard_records());
                let tx = Sender::postern(Some(&dns));
                let nexthop = if host_route {
                    format!("[{MX}]:{}", rx.port)
                } else {
                    format!("{DOMAIN}:{}", rx.port)
                };
                (Some(dns), tx, format!("{MX}[127.0.0.1]"), nexthop)
            }
            Which::Postfix => (
                None,
                Sender::postfix(rx.port),
                "127.0.0.1[127.0.0.1]".to_string(),
                format!("[127.0.0.1]:{}", rx.port),
            ),
        };
        tx.base_routes
            .push((DOMAIN.to_string(), format!("smtp:{nexthop}")));
        tx.routes(&[]);
        Topology {
            pki,
            dns,
            rx,
            tx,
            host,
        }
    }

    /// `host` with the receiver's port, as on `relay=` and TLS lines.
    pub fn relay(&self) -> String {
        format!("{}:{}", self.host, self.rx.port)
    }

    /// The nexthop a route to the receiver uses (for extra transport_maps
    /// entries): `[mx.test.example]:PORT` (Postern) or `[127.0.0.1]:PORT`.
    pub fn host_nexthop(&self) -> String {
        if self.tx.is_postern() {
            format!("[{MX}]:{}", self.rx.port)
        } else {
            format!("[127.0.0.1]:{}", self.rx.port)
        }
    }
}

/// Makes the receiver answer TLS clients that send SNI `name` with `cert`
/// (`tls_server_sni_maps`, a `postmap -F` hash table whose value is a file
/// with the key then the certificate); reloads it. Its log then names the
/// SNI in the TLS summary (`... established from localhost[127.0.0.1] to NAME: ...`).
pub fn receiver_sni(rx: &PostfixInstance, name: &str, cert: &super::certs::Cert) {
    let chain = rx.config_dir().join(format!("sni-{}.pem", cert.name));
    let mut pem = cert.pkcs8_pem_bytes();
    pem.extend(cert.cert_pem_bytes());
    std::fs::write(&chain, pem).expect("write SNI chain");
    let table = rx.write_table("sni", &format!("{name} {}\n", chain.display()));
    let o = Command::new("/usr/sbin/postmap")
        .arg("-c")
        .arg(rx.config_dir())
        .arg("-F")
        .arg(format!("hash:{}", table.display()))
        .env_remove("MAIL_CONFIG")
        .output()
        .expect("run postmap");
    assert!(
        o.status.success(),
        "postmap -F: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    rx.set("tls_server_sni_maps", &format!("hash:{}", table.display()));
    rx.reload();
}

/// One recipient row of Postern's queue database with the TLS of its last
/// delivery attempt.
#[derive(Debug, Clone, Default)]
pub struct RcptTls {
    pub address: String,
    pub state: String,
    pub tls_level: Option<String>,
    pub tls_protocol: Option<String>,
    pub tls_cipher: Option<String>,
    pub tls_peer_name: Option<String>,
    pub tls_peer_fingerprint: Option<String>,
}

impl Sender {
    /// The recipients of queued message `id` in Postern's queue database
    /// (read-only), with their per-recipient TLS record.
    pub fn recipient_tls(&self, id: &str) -> Vec<RcptTls> {
        let Mta::Postern(inst) = &self.mta else {
            panic!("recipient_tls reads Postern's queue database");
        };
        let db = inst.path().join("queue/queue.db");
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
        conn.busy_timeout(Duration::from_secs(10))
            .expect("busy_timeout");
        let mut stmt = conn
            .prepare(
                "SELECT address, state, tls_level, tls_protocol, tls_cipher, tls_peer_name, \
                 tls_peer_fingerprint FROM recipients WHERE queue_id = ?1 ORDER BY rcpt_index",
            )
            .expect("prepare recipients query");
        stmt.query_map([id], |r| {
            Ok(RcptTls {
                address: r.get(0)?,
                state: r.get(1)?,
                tls_level: r.get(2)?,
                tls_protocol: r.get(3)?,
                tls_cipher: r.get(4)?,
                tls_peer_name: r.get(5)?,
                tls_peer_fingerprint: r.get(6)?,
            })
        })
        .expect("query recipients")
        .collect::<Result<_, _>>()
        .expect("read recipients")
    }
}
