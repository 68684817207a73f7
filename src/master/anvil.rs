//! Per-client connection counts and rates, kept by one thread: how many
//! connections a client has open to a service, and how many it opened in the
//! current `anvil_rate_time_unit` window.
//!
//! Mirrors Postfix anvil(8) (anvil.c: the `service:address` key, the rate
//! window restarting once a full time unit has passed, idle entries dropped).
//! Reads `anvil_rate_time_unit` (passed in with each request).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

/// What a client has after this connection: simultaneous connections and
/// connections in the current window, both counting this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub count: u32,
    pub rate: u32,
}

/// The anvil thread's requests.
pub enum AnvilRequest {
    Connect {
        service: String,
        ip: IpAddr,
        unit: Duration,
        reply: Sender<Counts>,
    },
    Disconnect {
        service: String,
        ip: IpAddr,
    },
}

/// A client's entry (anvil.c `ANVIL_REMOTE`).
struct Remote {
    count: u32,
    rate: u32,
    window: Instant,
    unit: Duration,
}

/// The handle the accept and connection threads talk through.
#[derive(Clone)]
pub struct Anvil {
    tx: Sender<AnvilRequest>,
}

impl Anvil {
    /// A handle and the receiver the anvil thread serves (`serve`).
    pub fn channel() -> (Anvil, Receiver<AnvilRequest>) {
        let (tx, rx) = unbounded();
        (Anvil { tx }, rx)
    }

    /// Counts a new connection; `None` when the anvil thread is gone, in which
    /// case the caller lets the client in, as smtpd does when anvil is down.
    pub fn connect(&self, service: &str, ip: IpAddr, unit: Duration) -> Option<Counts> {
        let (reply, answer) = bounded(1);
        self.tx
            .send(AnvilRequest::Connect {
                service: service.to_string(),
                ip,
                unit,
                reply,
            })
            .ok()?;
        answer.recv().ok()
    }

    /// Counts a connection's end.
    pub fn disconnect(&self, service: &str, ip: IpAddr) {
        let _ = self.tx.send(AnvilRequest::Disconnect {
            service: service.to_string(),
            ip,
        });
    }
}

/// The anvil loop: owns the table until every handle is dropped.
pub fn serve(rx: &Receiver<AnvilRequest>) {
    crate::log::set_service("anvil");
    let mut table: HashMap<(String, IpAddr), Remote> = HashMap::new();
    let mut since_sweep = 0u32;
    while let Ok(req) = rx.recv() {
        let now = Instant::now();
        match req {
            AnvilRequest::Connect {
                service,
                ip,
                unit,
                reply,
            } => {
                let r = table.entry((service, ip)).or_insert(Remote {
                    count: 0,
                    rate: 0,
                    window: now,
                    unit,
                });
                r.unit = unit;
                if now.duration_since(r.window) >= unit {
                    r.window = now;
                    r.rate = 0;
                }
                r.count = r.count.saturating_add(1);
                r.rate = r.rate.saturating_add(1);
                let _ = reply.send(Counts {
                    count: r.count,
                    rate: r.rate,
                });
            }
            AnvilRequest::Disconnect { service, ip } => {
                if let Some(r) = table.get_mut(&(service, ip)) {
                    r.count = r.count.saturating_sub(1);
                }
            }
        }
        since_sweep += 1;
        if since_sweep >= 1000 {
            since_sweep = 0;
            table.retain(|_, r| r.count > 0 || now.duration_since(r.window) < r.unit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates() {
        let (anvil, rx) = Anvil::channel();
        let t = std::thread::spawn(move || serve(&rx));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let unit = Duration::from_millis(300);
        assert_eq!(
            anvil.connect("smtp", ip, unit),
            Some(Counts { count: 1, rate: 1 })
        );
        assert_eq!(
            anvil.connect("smtp", ip, unit),
            Some(Counts { count: 2, rate: 2 })
        );
        assert_eq!(
            anvil.connect("submission", ip, unit),
            Some(Counts { count: 1, rate: 1 })
        );
        anvil.disconnect("smtp", ip);
        std::thread::sleep(unit);
        assert_eq!(
            anvil.connect("smtp", ip, unit),
            Some(Counts { count: 2, rate: 1 })
        );
        drop(anvil);
        t.join().unwrap();
    }
}
