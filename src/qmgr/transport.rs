//! The transport registry: master.cf delivery services by name, with the agent
//! each runs, its limits, and its pool of worker threads.
//!
//! Mirrors Postfix qmgr_transport.c (per-transport limits read as
//! `<transport>_destination_concurrency_limit` and friends, the process limit
//! from master.cf maxproc, `-` meaning `default_process_limit`) and the
//! master(8) rule that a service is named by its first master.cf field. Reads
//! `default_process_limit`, `<transport>_destination_concurrency_limit`,
//! `<transport>_destination_recipient_limit`, `syslog_name` (each with the
//! service's `-o` overrides).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{unbounded, Receiver, Sender};

use super::names;
use super::worker::{self, Batch};
use super::QmgrEvent;
use crate::config::master::Service;
use crate::config::{Config, ConfigError};
use crate::queue::QueueHandle;

/// Which agent a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Discard,
    /// error(8) run as `error`: bounce.
    Error,
    /// error(8) run as `retry`: defer.
    Retry,
    Local,
    Virtual,
    /// smtp(8): the SMTP client.
    Smtp,
    /// No agent yet (smtp, lmtp, pipe), or no master.cf entry: defer.
    Unavailable,
}

impl Kind {
    fn of(service: &Service) -> Kind {
        let command = service.command.rsplit('/').next().unwrap_or_default();
        match command {
            "discard" => Kind::Discard,
            // error.c: the service name `retry` makes it defer.
            "error" if service.name == "retry" => Kind::Retry,
            "error" => Kind::Error,
            "local" => Kind::Local,
            "virtual" => Kind::Virtual,
            "smtp" => Kind::Smtp,
            _ => Kind::Unavailable,
        }
    }
}

/// Most jobs in one batch (see [`Transport::batch_limit`]).
pub const BATCH_LIMIT: usize = 8;

/// One transport: limits and workers.
pub struct Transport {
    pub name: String,
    pub kind: Kind,
    /// Worker threads at most; 0 is no limit (master.cf maxproc 0).
    pub process_limit: usize,
    /// Parallel deliveries to one destination; 0 is no limit.
    pub concurrency_limit: usize,
    /// Recipients per job; 0 is no limit.
    pub recipient_limit: usize,
    /// Batches handed out and not yet answered.
    pub busy: usize,
    cfg: Arc<Config>,
    /// State the workers share (the smtp client's TLS context and tables).
    shared: worker::Shared,
    workers: usize,
    jobs: Sender<Batch>,
    rx: Receiver<Batch>,
}

fn limit(cfg: &Config, name: &str) -> Result<usize, ConfigError> {
    Ok(usize::try_from(cfg.get_int(name)?).unwrap_or(0))
}

/// The service's own settings: main.cf with its master.cf `-o` overrides.
fn service_config(cfg: &Config, service: &Service) -> Result<Config, ConfigError> {
    let mut options = vec![
        (names::SERVICE_NAME.to_string(), service.name.clone()),
        (names::PROCESS_NAME.to_string(), service.command.clone()),
    ];
    options.extend(service.options.iter().cloned());
    cfg.with_overrides(&options)
}

/// Shared state built at start-up, while the master still runs as root, by
/// service name: the smtp client's TLS context holds its certificate and key
/// (`smtp_tls_cert_file`/`key_file`), which, as in Postfix, may be readable by
/// root only. Postfix's smtp(8) reads them before it drops privileges.
static PRELOADED: Mutex<Option<HashMap<String, worker::Shared>>> = Mutex::new(None);

/// Builds the shared state of every smtp-client service of master.cf. Called
/// by the master before it drops privileges; errors are left for the
/// transport to report when it is first used.
pub fn preload(cfg: &Config) {
    let Some(master) = cfg.master_cf() else {
        return;
    };
    let mut built = HashMap::new();
    for service in master.services.iter().filter(|s| s.kind == "unix") {
        let kind = Kind::of(service);
        if kind != Kind::Smtp {
            continue;
        }
        if let Ok(own) = service_config(cfg, service) {
            if let Ok(shared) = worker::Shared::build(kind, &own) {
                built.insert(service.name.clone(), shared);
            }
        }
    }
    if let Ok(mut slot) = PRELOADED.lock() {
        *slot = Some(built);
    }
}

fn preloaded(name: &str) -> Option<worker::Shared> {
    PRELOADED.lock().ok()?.as_ref()?.get(name).cloned()
}

/// What a transport's workers share. At start the preloaded state is used.
/// After a reload (running as mail_owner) the state is built anew; when that
/// fails and a preloaded one exists (a root-only key), the one from start is
/// kept, with a warning, rather than deferring all mail.
fn shared_state(kind: Kind, name: &str, own: &Config, reloaded: bool) -> worker::Shared {
    let Some(pre) = preloaded(name) else {
        return worker::Shared::open(kind, own);
    };
    if !reloaded {
        return pre;
    }
    match worker::Shared::build(kind, own) {
        Ok(fresh) => fresh,
        Err(e) => {
            ::log::warn!(
                "transport {name}: {e}; keeping the smtp client settings from start-up \
                 (files readable only by root are read at start, not at reload)"
            );
            pre
        }
    }
}

impl Transport {
    fn new(cfg: &Config, name: &str, reloaded: bool) -> Result<Transport, ConfigError> {
        let service = cfg.master_cf().and_then(|m| {
            m.services
                .iter()
                .find(|s| s.name == name && s.kind == "unix")
        });
        let Some(service) = service else {
            return Ok(Transport::unavailable(cfg, name));
        };
        let own = Arc::new(service_config(cfg, service)?);
        let (jobs, rx) = unbounded();
        let process_limit = match service.process_limit.as_str() {
            "-" => limit(&own, names::DEFAULT_PROCESS_LIMIT)?,
            n => n.parse().unwrap_or(0),
        };
        let kind = Kind::of(service);
        Ok(Transport {
            name: name.to_string(),
            kind,
            shared: shared_state(kind, name, &own, reloaded),
            process_limit,
            concurrency_limit: limit(&own, &names::concurrency_limit(name))?,
            recipient_limit: limit(&own, &names::recipient_limit(name))?,
            busy: 0,
            cfg: own,
            workers: 0,
            jobs,
            rx,
        })
    }

    fn unavailable(cfg: &Config, name: &str) -> Transport {
        let (jobs, rx) = unbounded();
        Transport {
            name: name.to_string(),
            kind: Kind::Unavailable,
            process_limit: 0,
            concurrency_limit: 0,
            recipient_limit: 0,
            busy: 0,
            cfg: Arc::new(cfg.clone()),
            shared: worker::Shared::None,
            workers: 0,
            jobs,
            rx,
        }
    }

    /// May one more job start?
    pub fn has_room(&self) -> bool {
        self.process_limit == 0 || self.busy < self.process_limit
    }

    /// Most jobs of one destination a worker takes at once. Local and virtual
    /// delivery take up to [`BATCH_LIMIT`] when a destination has a backlog:
    /// the worker delivers them one after the other (the destination still
    /// gets at most `concurrency_limit` deliveries at a time) and hands the
    /// next one to the delivery helper while it reports the last, instead
    /// of waiting for the queue manager between two. Other transports take
    /// one job at a time, as Postfix's agents do: an smtp job may wait
    /// minutes for a slow server, and the jobs behind it should not.
    pub fn batch_limit(&self) -> usize {
        match self.kind {
            Kind::Local | Kind::Virtual if self.concurrency_limit > 0 => BATCH_LIMIT,
            _ => 1,
        }
    }

    /// Hands a batch of jobs to a worker, starting one when all are busy (as
    /// master(8) forks a process on demand, up to maxproc). A batch takes one
    /// process and one place at its destination. On failure the work comes back.
    pub fn submit(
        &mut self,
        work: Batch,
        queue: &QueueHandle,
        done: &Sender<QmgrEvent>,
    ) -> Result<(), Box<Batch>> {
        if self.busy >= self.workers {
            let cfg = Arc::clone(&self.cfg);
            let spawned = worker::spawn(
                &self.name,
                self.kind,
                self.shared.clone(),
                cfg,
                queue.clone(),
                self.rx.clone(),
                done.clone(),
            );
            match spawned {
                Ok(()) => self.workers += 1,
                Err(e) => {
                    ::log::warn!("transport {}: cannot start a worker: {e}", self.name);
                    if self.workers == 0 {
                        return Err(Box::new(work));
                    }
                }
            }
        }
        // Cannot fail: this transport holds a receiver too.
        self.jobs.send(work).map_err(|e| Box::new(e.into_inner()))?;
        self.busy += 1;
        Ok(())
    }

    /// A batch of this transport has been answered.
    pub fn finished(&mut self) {
        self.busy = self.busy.saturating_sub(1);
    }
}

/// Every transport met so far, built on first use.
pub struct Registry {
    cfg: Arc<Config>,
    /// Built after a `postfix reload` (no longer root).
    reloaded: bool,
    transports: HashMap<String, Transport>,
}

impl Registry {
    pub fn new(cfg: Arc<Config>, reloaded: bool) -> Registry {
        Registry {
            cfg,
            reloaded,
            transports: HashMap::new(),
        }
    }

    /// The transport named `name`; one whose settings are broken is logged and
    /// treated as unavailable (mail waits, as with a Postfix transport that
    /// keeps failing to start).
    pub fn get(&mut self, name: &str) -> &mut Transport {
        let cfg = &self.cfg;
        let reloaded = self.reloaded;
        self.transports.entry(name.to_string()).or_insert_with(|| {
            match Transport::new(cfg, name, reloaded) {
                Ok(t) => t,
                Err(e) => {
                    ::log::warn!("transport {name}: {e}; its mail is deferred");
                    Transport::unavailable(cfg, name)
                }
            }
        })
    }
}
