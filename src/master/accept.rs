//! One accept thread per listening socket, one thread per client connection
//! (kept for the next one up to `max_use` clients and `max_idle`, as Postfix
//! reuses its smtpd processes): the master.cf process limit (`421 4.3.2 All
//! server ports are busy`), the anvil count and rate limits (`421 4.7.0 ... too many connections`), then the
//! connection goes to smtpd.
//!
//! Mirrors Postfix master_avail.c and master_spawn.c (process limit and its
//! warning), postscreen's busy reply, and smtpd.c's anvil checks. Reads, through
//! `Served`, `smtpd_client_connection_count_limit`,
//! `smtpd_client_connection_rate_limit`, `smtpd_client_event_limit_exceptions`,
//! `anvil_rate_time_unit` and `myhostname`.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::anvil::Anvil;
use super::services::Served;
use super::spawn;

/// How often an idle accept thread looks at the stop flag.
const POLL_MS: u16 = 250;

/// How often the process-limit warning is repeated while the limit is hit
/// (master_spawn.c's 1000 s).
const BUSY_WARNING_INTERVAL: Duration = Duration::from_secs(1000);

/// Postscreen's reply when every server slot is taken (postscreen_early.c).
const BUSY: &[u8] = b"421 4.3.2 All server ports are busy\r\n";

/// What all listeners of one master.cf entry share.
pub struct Entry {
    /// The master.cf service name (`smtp`, `127.0.0.1:2525`): anvil's key and
    /// the name in log lines.
    pub name: String,
    /// The endpoint for the process-limit warning (`25`, `127.0.0.1:2525`).
    pub label: String,
    /// Swapped by reload; each connection takes the value current at accept.
    pub served: RwLock<Arc<Served>>,
    /// Connections running now, against the process limit; also what stop waits for.
    pub active: AtomicUsize,
    /// When the process-limit warning was last logged.
    pub busy_warned: Mutex<Option<Instant>>,
    /// The entry's connection threads, busy or waiting for the next client.
    pub threads: spawn::Pool,
}

impl Entry {
    /// The state new connections get.
    pub fn current(&self) -> Arc<Served> {
        match self.served.read() {
            Ok(g) => Arc::clone(&g),
            // A writer panicked mid-swap: the Arc inside is still whole.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Installs the state built by a reload.
    pub fn replace(&self, served: Served) {
        let new = Arc::new(served);
        match self.served.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

/// Accepts until `stop` is set; then the listener closes with the thread.
pub fn accept_loop(listener: &TcpListener, entry: &Arc<Entry>, anvil: &Anvil, stop: &AtomicBool) {
    crate::log::set_service("master");
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(POLL_MS)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                ::log::warn!("poll on service {}: {e}", entry.name);
                std::thread::sleep(Duration::from_millis(POLL_MS.into()));
                continue;
            }
        }
        match listener.accept() {
            Ok((stream, peer)) => admit(stream, peer, entry, anvil),
            // Another client got there first, or the client already left.
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
            Err(e) => {
                ::log::warn!("accept on service {}: {e}", entry.name);
                std::thread::sleep(Duration::from_millis(POLL_MS.into()));
            }
        }
    }
}

/// Counts a connection against the process limit and starts its thread.
fn admit(stream: TcpStream, peer: SocketAddr, entry: &Arc<Entry>, anvil: &Anvil) {
    // FreeBSD hands out accepted sockets with the listener's O_NONBLOCK.
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let served = entry.current();
    let limit = served.limits.process;
    let before = entry.active.fetch_add(1, Ordering::SeqCst);
    if limit > 0 && before >= limit {
        entry.active.fetch_sub(1, Ordering::SeqCst);
        warn_busy(entry, limit);
        let mut s = stream;
        let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = s.write_all(BUSY);
        return;
    }
    let slot = Slot {
        entry: Arc::clone(entry),
        anvil: None,
    };
    let anvil = anvil.clone();
    let reuse = served.reuse;
    let spawned = entry
        .threads
        .run(reuse, move || connection(stream, peer, served, slot, anvil));
    if let Err(e) = spawned {
        // The slot was moved into the closure that was never run and dropped:
        // the count is already given back.
        ::log::warn!("service {}: cannot start a thread: {e}", entry.name);
    }
}

/// master_spawn.c's three warnings, at most once per interval.
fn warn_busy(entry: &Entry, limit: usize) {
    let Ok(mut last) = entry.busy_warned.lock() else {
        return;
    };
    if last.is_some_and(|t| t.elapsed() < BUSY_WARNING_INTERVAL) {
        return;
    }
    *last = Some(Instant::now());
    ::log::warn!(
        "service \"{}\" ({}) has reached its process limit \"{limit}\": new clients may experience noticeable delays",
        entry.name,
        entry.label
    );
    ::log::warn!(
        "to avoid this condition, increase the process count in master.cf or reduce the service time per client"
    );
    ::log::warn!(
        "see http://www.postfix.org/STRESS_README.html for examples of stress-dependent configuration settings"
    );
}

/// A connection's hold on its entry's process count and on anvil; given back
/// when the connection ends, panic or not.
struct Slot {
    entry: Arc<Entry>,
    anvil: Option<(Anvil, std::net::IpAddr)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((anvil, ip)) = self.anvil.take() {
            anvil.disconnect(&self.entry.name, ip);
        }
        self.entry.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One client: anvil limits first (smtpd.c), then the smtpd session.
fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    served: Arc<Served>,
    mut slot: Slot,
    anvil: Anvil,
) {
    crate::log::set_service(&served.log_service);
    // The thread may have served a client before: no OpenSSL error of that
    // session may be taken for one of this session.
    drop(openssl::error::ErrorStack::get());
    let limits = &served.limits;
    let ip = peer.ip();
    if (limits.count > 0 || limits.rate > 0) && !limits.exempt(ip) {
        if let Some(c) = anvil.connect(&slot.entry.name, ip, limits.unit) {
            slot.anvil = Some((anvil, ip));
            let exceeded = if limits.count > 0 && c.count > limits.count {
                Some(("concurrency", c.count))
            } else if limits.rate > 0 && c.rate > limits.rate {
                Some(("rate", c.rate))
            } else {
                None
            };
            if let Some((what, n)) = exceeded {
                ::log::warn!(
                    "Connection {what} limit exceeded: {n} from unknown[{ip}] for service {}",
                    slot.entry.name
                );
                let mut s = stream;
                let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
                let _ = s.write_all(
                    format!(
                        "421 4.7.0 {} Error: too many connections from {ip}\r\n",
                        served.myhostname
                    )
                    .as_bytes(),
                );
                return;
            }
        }
    }
    let local = match stream.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    served.service.serve(stream, peer, local);
    drop(slot);
}
