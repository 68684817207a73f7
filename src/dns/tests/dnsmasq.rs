//! Test harness: a real dnsmasq on 127.0.0.1 and a free high port, serving the
//! records a test gives it, killed when dropped.
//!
//! Mirrors: nothing in Postfix (its tests use canned files); here the resolver
//! talks to a real server.
//! main.cf parameters: none.
//! RFCs: none beyond those the resolver implements.

use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::dns::{Resolver, ResolverSettings};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// A running dnsmasq. Drop kills it.
pub struct Dnsmasq {
    child: Option<Child>,
    pub port: u16,
}

impl Dnsmasq {
    /// Starts dnsmasq answering for the `.test` zone only (`--local=/test/` makes
    /// unknown names NXDOMAIN instead of REFUSED), with `records` as extra options
    /// such as `--mx-host=a.test,mx1.a.test,10`. Panics with a clear message when
    /// dnsmasq is not installed: these tests must never pass without it.
    pub fn start(records: &[&str]) -> Dnsmasq {
        assert!(
            Path::new(DNSMASQ).exists(),
            "{DNSMASQ} not found: the DNS tests need dnsmasq (Debian package dnsmasq-base)"
        );
        // Another process may take the port between our probe and dnsmasq's bind;
        // dnsmasq then exits at once, and we try another port.
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
                ])
                .args(records)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {DNSMASQ}: {e}"));
            if wait_ready(port, &mut child) {
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

    /// Resolver settings pointing at this server, with a short timeout so failing
    /// tests fail fast.
    pub fn settings(&self) -> ResolverSettings {
        let mut settings =
            ResolverSettings::with_nameserver(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port);
        settings.timeout = Duration::from_secs(2);
        settings.attempts = 1;
        settings
    }

    pub fn resolver(&self) -> Resolver {
        Resolver::new(self.settings())
    }

    /// Kills dnsmasq now (tests of the cache and of timeouts).
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

/// A port free for both UDP and TCP on 127.0.0.1 at the time of asking.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP probe socket");
        let port = udp.local_addr().expect("probe address").port();
        if port > 1024 && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until dnsmasq accepts TCP connections on `port`, or has exited.
fn wait_ready(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        sleep(Duration::from_millis(20));
    }
    false
}
