//! master.cf entries sorted into what Postern serves (`inet` entries running
//! smtpd; `inet` postscreen entries, whose clients go straight to smtpd with
//! the `smtpd pass` entry's settings), what it runs as internal threads or
//! does not run (pickup, cleanup, qmgr, pipe, ...), and what it cannot run;
//! and the per-entry smtpd state (service, limits) built at start and at each
//! reload.
//!
//! Mirrors Postfix master_ent.c (reading entries, `-` maxproc meaning
//! `default_process_limit`) and the limit checks of smtpd.c. Reads
//! `default_process_limit`, `smtpd_client_connection_count_limit`,
//! `smtpd_client_connection_rate_limit`, `smtpd_client_event_limit_exceptions`,
//! `anvil_rate_time_unit`, `syslog_name`, `myhostname`, `max_use`, `max_idle`,
//! and through
//! `SmtpdService` everything smtpd reads, with each entry's `-o` overrides.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::error::MasterError;
use super::names;
use super::spawn::Reuse;
use crate::config::master::Service;
use crate::config::Config;
use crate::queue::QueueHandle;
use crate::smtpd::service::SmtpdService;

/// Commands of a stock master.cf whose work Postern does inside the process
/// (or does not do): their entries are understood and skipped.
const INTERNAL: &[&str] = &[
    "pickup",
    "cleanup",
    "qmgr",
    "oqmgr",
    "tlsmgr",
    "trivial-rewrite",
    "bounce",
    "verify",
    "flush",
    "proxymap",
    "smtp",
    "showq",
    "error",
    "discard",
    "local",
    "virtual",
    "lmtp",
    "anvil",
    "scache",
    "postlogd",
    "pipe",
    "spawn",
    "dnsblog",
    "tlsproxy",
    "postscreen",
    "smtpd",
];

/// What the master does with one master.cf entry.
#[derive(Debug, PartialEq, Eq)]
pub enum Role {
    /// An `inet` entry running smtpd: Postern listens for it.
    Smtpd,
    /// An `inet` entry running postscreen: Postern listens for it and hands
    /// the connections straight to smtpd with the `smtpd pass` entry's settings.
    Postscreen,
    /// Understood, and run as a thread or not at all.
    Skipped,
    /// An `inet` entry with a command Postern cannot run: warned about.
    Unsupported,
}

/// Sorts one entry.
pub fn role(svc: &Service) -> Role {
    match (svc.kind.as_str(), svc.command.as_str()) {
        ("inet", "smtpd") => Role::Smtpd,
        ("inet", "postscreen") => Role::Postscreen,
        ("inet", _) => Role::Unsupported,
        _ => Role::Skipped,
    }
}

/// Logs, once, what master.cf holds that Postern does not listen for.
pub fn report_skipped(cfg: &Config) {
    let Some(master) = cfg.master_cf() else {
        return;
    };
    let mut skipped = Vec::new();
    for s in &master.services {
        match role(s) {
            Role::Smtpd => {}
            Role::Postscreen => ::log::warn!(
                "{}, line {}: service {}: postscreen is not run by Postern; its clients go straight to smtpd{}",
                master.path.display(),
                s.line,
                s.name,
                match pass_entry(cfg) {
                    Some(p) => format!(" with the settings of {}", p.id()),
                    None => String::new(),
                }
            ),
            Role::Skipped if INTERNAL.contains(&s.command.as_str()) => skipped.push(s.id()),
            Role::Skipped => skipped.push(format!("{} ({})", s.id(), s.command)),
            Role::Unsupported => ::log::warn!(
                "{}, line {}: service {}: command {} is not run by Postern; entry ignored",
                master.path.display(),
                s.line,
                s.name,
                s.command
            ),
        }
    }
    if !skipped.is_empty() {
        ::log::debug!(
            "master.cf entries run as threads or not run: {}",
            skipped.join(", ")
        );
    }
}

/// The `smtpd pass` entry postscreen hands clients to (postscreen's
/// `smtpd_service_name`, `smtpd` in every stock master.cf).
fn pass_entry(cfg: &Config) -> Option<&Service> {
    cfg.master_cf()?
        .services
        .iter()
        .find(|s| s.kind == "pass" && s.command == "smtpd")
}

/// An entry Postern listens for, and the entry whose smtpd settings (`-o`
/// options, maxproc) its connections get.
pub struct Listening<'a> {
    pub listen: &'a Service,
    pub settings: &'a Service,
}

/// Every entry Postern listens for, in master.cf order.
pub fn listening(cfg: &Config) -> Vec<Listening<'_>> {
    let Some(master) = cfg.master_cf() else {
        return Vec::new();
    };
    master
        .services
        .iter()
        .filter_map(|s| match role(s) {
            Role::Smtpd => Some(Listening {
                listen: s,
                settings: s,
            }),
            Role::Postscreen => Some(Listening {
                listen: s,
                settings: pass_entry(cfg).unwrap_or(s),
            }),
            _ => None,
        })
        .collect()
}

/// The connection limits of one entry.
#[derive(Debug, Clone)]
pub struct Limits {
    /// master.cf maxproc; 0 is no limit, as in Postfix.
    pub process: usize,
    pub count: u32,
    pub rate: u32,
    pub unit: Duration,
    pub exceptions: Vec<IpNet>,
}

impl Limits {
    /// Is the client exempt from the count and rate limits?
    pub fn exempt(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.exceptions.iter().any(|n| n.contains(&ip))
    }
}

/// What a listener hands each new connection; replaced whole on reload, while
/// connections already running keep the one they started with.
pub struct Served {
    pub service: Arc<SmtpdService>,
    pub limits: Limits,
    /// The thread's log service, `smtpd` or `submission/smtpd` under
    /// `-o syslog_name=postfix/submission`.
    pub log_service: String,
    pub myhostname: String,
    /// How long a connection thread stays for more clients (`max_use`, `max_idle`).
    pub reuse: Reuse,
}

/// Builds the state of one listening entry from the whole configuration.
pub fn build(cfg: &Config, entry: &Listening, queue: &QueueHandle) -> Result<Served, MasterError> {
    let svc = entry.settings;
    let mut options = vec![
        (names::SERVICE_NAME.to_string(), svc.name.clone()),
        (names::PROCESS_NAME.to_string(), svc.command.clone()),
    ];
    options.extend(svc.options.iter().cloned());
    let own = Arc::new(cfg.with_overrides(&options)?);
    let process = match svc.process_limit.as_str() {
        "-" => own.get_int(names::DEFAULT_PROCESS_LIMIT)?,
        n => n.parse().unwrap_or(0),
    };
    let limits = Limits {
        process: usize::try_from(process).unwrap_or(0),
        count: u32::try_from(own.get_int(names::SMTPD_CLIENT_CONNECTION_COUNT_LIMIT)?).unwrap_or(0),
        rate: u32::try_from(own.get_int(names::SMTPD_CLIENT_CONNECTION_RATE_LIMIT)?).unwrap_or(0),
        unit: own.get_time(names::ANVIL_RATE_TIME_UNIT)?,
        exceptions: networks(&own.get_list(names::SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS)),
    };
    let log_service = log_service(&cfg.get(names::SYSLOG_NAME), &own.get(names::SYSLOG_NAME));
    let myhostname = own.get(names::MYHOSTNAME);
    let reuse = Reuse {
        max_use: u32::try_from(own.get_int(names::MAX_USE)?).unwrap_or(0),
        max_idle: own.get_time(names::MAX_IDLE)?,
    };
    let service =
        SmtpdService::new(Arc::clone(&own), queue.clone(), &svc.name).map_err(|source| {
            MasterError::Smtpd {
                path: cfg.dir().join("master.cf"),
                line: svc.line,
                service: svc.name.clone(),
                source: Box::new(source),
            }
        })?;
    Ok(Served {
        service: Arc::new(service),
        limits,
        log_service,
        myhostname,
        reuse,
    })
}

/// The per-thread log name that makes a line read `postfix/submission/smtpd[pid]`
/// when the entry sets `syslog_name=postfix/submission` and main.cf has `postfix`.
fn log_service(global: &str, own: &str) -> String {
    match own.strip_prefix(global).and_then(|r| r.strip_prefix('/')) {
        Some(extra) if !extra.is_empty() => format!("{extra}/smtpd"),
        _ => "smtpd".to_string(),
    }
}

/// The addresses and CIDR blocks of a list such as `$mynetworks`
/// (`[::1]/128` with Postfix's brackets). Host names, tables and `!` negations
/// wait for the full matcher of the access restrictions.
fn networks(words: &[String]) -> Vec<IpNet> {
    let mut out = Vec::new();
    for w in words {
        let plain = w.replace(['[', ']'], "");
        if let Ok(n) = plain.parse::<IpNet>() {
            out.push(n);
        } else if let Ok(ip) = plain.parse::<IpAddr>() {
            out.push(IpNet::from(ip));
        } else {
            ::log::debug!("smtpd_client_event_limit_exceptions: {w} is not matched yet");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_exemptions() {
        let words: Vec<String> = ["127.0.0.0/8", "[::1]/128", "192.0.2.7", "hash:/x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let limits = Limits {
            process: 0,
            count: 1,
            rate: 0,
            unit: Duration::from_secs(60),
            exceptions: networks(&words),
        };
        assert_eq!(limits.exceptions.len(), 3);
        assert!(limits.exempt("127.0.0.1".parse().unwrap()));
        assert!(limits.exempt("::1".parse().unwrap()));
        assert!(limits.exempt("::ffff:127.0.0.2".parse().unwrap()));
        assert!(limits.exempt("192.0.2.7".parse().unwrap()));
        assert!(!limits.exempt("192.0.2.8".parse().unwrap()));
    }

    #[test]
    fn log_names() {
        assert_eq!(log_service("postfix", "postfix"), "smtpd");
        assert_eq!(
            log_service("postfix", "postfix/submission"),
            "submission/smtpd"
        );
        assert_eq!(log_service("postfix", "other"), "smtpd");
    }
}
