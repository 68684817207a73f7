//! The master's life: read the configuration, take the pid file, bind the
//! listeners, open the queue, build the smtpd services, make the maildrop and
//! pickup's trigger FIFO, drop privileges, start the threads (acceptors,
//! anvil, pickup), then serve signals (reload, stop) until told to stop.
//!
//! Mirrors Postfix master.c (start-up order, `daemon started`, `reload`,
//! `terminating on signal` lines) and master_ent.c/master_conf.c (reload).
//! Reads `queue_directory`, `data_directory`, `process_id_directory`,
//! `mail_owner`, `mail_version`, `syslog_name`, `syslog_facility`,
//! `maillog_file`, `myhostname`, and what `listen` and `services` read.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::accept::{self, Entry};
use super::anvil::{self, Anvil};
use super::error::MasterError;
use super::services::{self, Listening};
use super::signals::{self, Event};
use super::{listen, names, pidfile, privs, spawn};
use crate::config::Config;
use crate::queue::{QueueHandle, Store};

/// How long `stop` lets open connections finish (postfix stop waits 5 s
/// before it uses force).
const STOP_GRACE: Duration = Duration::from_secs(3);

/// How the master was started.
pub struct Options {
    pub config_dir: PathBuf,
    pub verbose: bool,
    /// Copy log lines to stderr (`start-fg`).
    pub foreground: bool,
}

/// The running daemon's state, owned by the master thread.
struct Master {
    opts: Options,
    log: crate::log::Settings,
    entries: BTreeMap<String, Arc<Entry>>,
    queue: QueueHandle,
    /// New configurations for the queue manager (reload).
    qmgr: Sender<Arc<Config>>,
}

/// Runs the master until a signal stops it. `ready` is called once the
/// listeners are bound and the threads run (`master -w`'s report).
pub fn run(opts: Options, ready: impl FnOnce()) -> Result<(), MasterError> {
    crate::log::set_service("master");
    spawn::install_panic_logger();
    let cfg = Config::load(&opts.config_dir)?;
    let log = log_settings(&cfg, &opts);
    crate::log::init("master", log.clone());
    for w in cfg.warnings() {
        ::log::warn!("{w}");
    }
    let owner = if privs::is_root() {
        Some(privs::mail_owner(&cfg)?)
    } else {
        None
    };
    let queue_dir = PathBuf::from(cfg.get(names::QUEUE_DIRECTORY));
    let data_dir = PathBuf::from(cfg.get(names::DATA_DIRECTORY));
    let pid_dir = queue_dir.join(cfg.get(names::PROCESS_ID_DIRECTORY));
    for d in [&queue_dir, &pid_dir, &data_dir] {
        mkdir(d)?;
    }
    let _pid = pidfile::PidFile::take(&pid_dir.join(pidfile::MASTER_PID))?;
    // The root delivery helper must be forked while this process is still
    // single-threaded and privileged (local/helper.rs).
    crate::local::helper::install(privs::spawn_delivery_helper(&opts.config_dir)?);
    let pending = signals::register()?;
    let sockets = bind_listeners(&cfg)?;
    let store = Store::open(&queue_dir)?;
    let queue = store.handle();
    let entries = build_entries(&cfg, &queue)?;
    // The maildrop (mode 1733) and pickup's trigger FIFO, as Postfix's
    // post-install makes them; given to mail_owner with the queue.
    crate::pickup::maildrop::ensure_dir(
        &queue_dir,
        owner.as_ref().map(|o| (o.uid.as_raw(), o.gid.as_raw())),
    )
    .map_err(|e| MasterError::Pickup(e.to_string()))?;
    crate::pickup::make_trigger(&queue_dir).map_err(|e| MasterError::Pickup(e.to_string()))?;
    // The smtp client's certificate and key may be readable by root only.
    crate::qmgr::preload(&cfg);
    if let Some(owner) = &owner {
        hand_over(&queue_dir, &data_dir, owner)?;
        for p in [crate::pickup::TRIGGER, "public"] {
            privs::chown(&queue_dir.join(p), owner)?;
        }
        privs::drop_to(owner)?;
    }
    std::env::set_current_dir(&queue_dir).map_err(|source| MasterError::Chdir {
        path: queue_dir.clone(),
        source,
    })?;

    // From here on no thread runs as root.
    let events = signals::forward(pending)?;
    let stop = Arc::new(AtomicBool::new(false));
    let acceptors = start_threads(sockets, &entries, &stop)?;
    let qmgr = start_qmgr(&cfg, &queue, store.arrivals())?;
    let pickup = crate::pickup::start(&cfg, queue.clone(), Arc::clone(&stop))
        .map_err(|e| MasterError::Pickup(e.to_string()))?;
    ::log::info!(
        "daemon started -- version {}, configuration {}",
        cfg.get(names::MAIL_VERSION),
        opts.config_dir.display()
    );
    ready();

    let mut master = Master {
        opts,
        log,
        entries,
        queue,
        qmgr,
    };
    let grace = master.serve_signals(&events);
    stop.store(true, Ordering::Relaxed);
    for t in acceptors {
        let _ = t.join();
    }
    // Wake pickup from its wait so it sees the stop flag at once.
    crate::pickup::trigger(&queue_dir);
    let _ = pickup.join();
    master.drain(grace);
    drop(store);
    Ok(())
}

/// The master.cf entries Postern listens for (an error without master.cf).
fn smtpd_entries(cfg: &Config) -> Result<Vec<Listening<'_>>, MasterError> {
    if cfg.master_cf().is_none() {
        return Err(MasterError::NoMasterCf(cfg.dir().to_path_buf()));
    }
    Ok(services::listening(cfg))
}

/// Binds every address of every smtpd entry (as root, before the drop), with
/// master_listen.c's backlog: the larger of maxproc and default_process_limit.
fn bind_listeners(cfg: &Config) -> Result<Vec<(String, TcpListener)>, MasterError> {
    services::report_skipped(cfg);
    let protocols = listen::Protocols::from_config(cfg)?;
    let default_limit = cfg.get_int(names::DEFAULT_PROCESS_LIMIT)?;
    let mut sockets = Vec::new();
    for entry in smtpd_entries(cfg)? {
        let svc = entry.listen;
        let backlog = entry
            .settings
            .process_limit
            .parse()
            .unwrap_or(0)
            .max(default_limit);
        for addr in listen::addresses(svc, cfg, protocols)? {
            ::log::debug!("service {}: listening on {addr}", svc.name);
            sockets.push((svc.name.clone(), listen::bind(addr, backlog)?));
        }
    }
    Ok(sockets)
}

/// One `Entry` per smtpd entry, its service built while still privileged
/// (smtpd reads its TLS keys here).
fn build_entries(
    cfg: &Config,
    queue: &QueueHandle,
) -> Result<BTreeMap<String, Arc<Entry>>, MasterError> {
    let mut entries = BTreeMap::new();
    for entry in smtpd_entries(cfg)? {
        let served = services::build(cfg, &entry, queue)?;
        let svc = entry.listen;
        entries.insert(
            svc.name.clone(),
            Arc::new(Entry {
                name: svc.name.clone(),
                label: listen::endpoint_label(&svc.name),
                served: RwLock::new(Arc::new(served)),
                active: Default::default(),
                busy_warned: Mutex::new(None),
                threads: spawn::Pool::new("smtpd"),
            }),
        );
    }
    Ok(entries)
}

/// The anvil thread and one accept thread per listening socket, each
/// restarted if it panics.
fn start_threads(
    sockets: Vec<(String, TcpListener)>,
    entries: &BTreeMap<String, Arc<Entry>>,
    stop: &Arc<AtomicBool>,
) -> Result<Vec<JoinHandle<()>>, MasterError> {
    let (anvil, anvil_rx) = Anvil::channel();
    // Ends by itself once the last connection has dropped its handle.
    spawn::supervised("anvil", move || anvil::serve(&anvil_rx)).map_err(MasterError::Spawn)?;
    let mut acceptors = Vec::new();
    for (name, socket) in sockets {
        let Some(entry) = entries.get(&name).map(Arc::clone) else {
            continue;
        };
        let (anvil, stop) = (anvil.clone(), Arc::clone(stop));
        let t = spawn::supervised(&format!("accept {name}"), move || {
            accept::accept_loop(&socket, &entry, &anvil, &stop)
        })
        .map_err(MasterError::Spawn)?;
        acceptors.push(t);
    }
    Ok(acceptors)
}

/// The queue manager thread, restarted if it panics; it ends when the queue
/// writer stops (the store is dropped at shutdown). Returns where reloaded
/// configurations go.
fn start_qmgr(
    cfg: &Config,
    queue: &QueueHandle,
    arrivals: Receiver<crate::queue::QueueId>,
) -> Result<Sender<Arc<Config>>, MasterError> {
    let (reload_tx, reloads) = crossbeam_channel::unbounded();
    let (cfg, queue) = (Arc::new(cfg.clone()), queue.clone());
    spawn::supervised("qmgr", move || {
        crate::qmgr::run(&cfg, &queue, &arrivals, &reloads)
    })
    .map_err(MasterError::Spawn)?;
    Ok(reload_tx)
}

impl Master {
    /// Reloads on SIGHUP until a stop signal; returns how long open
    /// connections may still run.
    fn serve_signals(&mut self, events: &Receiver<Event>) -> Duration {
        loop {
            match events.recv() {
                Ok(Event::Reload) => self.reload(),
                Ok(Event::Stop(sig)) => {
                    ::log::info!("terminating on signal {sig}");
                    return STOP_GRACE;
                }
                Ok(Event::Abort(sig)) => {
                    ::log::info!("terminating on signal {sig}");
                    return Duration::ZERO;
                }
                Err(_) => return Duration::ZERO,
            }
        }
    }

    /// SIGHUP: read main.cf and master.cf again and give new connections the
    /// new services; keep everything as it was when the new configuration fails.
    fn reload(&mut self) {
        let cfg = match Config::load(&self.opts.config_dir) {
            Ok(c) => c,
            Err(e) => {
                ::log::error!("reload: {e}; keeping the configuration in use");
                return;
            }
        };
        for w in cfg.warnings() {
            ::log::warn!("{w}");
        }
        let wanted = match smtpd_entries(&cfg) {
            Ok(w) => w,
            Err(e) => {
                ::log::error!("reload: {e}; keeping the configuration in use");
                return;
            }
        };
        let mut built = Vec::new();
        for entry in wanted {
            let svc = entry.listen;
            if !self.entries.contains_key(&svc.name) {
                ::log::warn!(
                    "{}/master.cf, line {}: new service {}: restart the mail system to listen for it",
                    cfg.dir().display(),
                    svc.line,
                    svc.name
                );
                continue;
            }
            match services::build(&cfg, &entry, &self.queue) {
                Ok(s) => built.push((svc.name.clone(), s)),
                Err(e) => {
                    ::log::error!("reload: {e}; keeping the configuration in use");
                    return;
                }
            }
        }
        for name in self.entries.keys() {
            if !built.iter().any(|(n, _)| n == name) {
                ::log::warn!(
                    "service {name} is gone from master.cf; it is served as before until a restart"
                );
            }
        }
        let log = log_settings(&cfg, &self.opts);
        // The log file was opened as root; reopening it unchanged as mail_owner
        // could fail, so only a changed destination is reopened.
        if (
            &log.syslog_name,
            &log.maillog_file,
            &log.facility,
            &log.hostname,
        ) != (
            &self.log.syslog_name,
            &self.log.maillog_file,
            &self.log.facility,
            &self.log.hostname,
        ) {
            crate::log::init("master", log.clone());
            self.log = log;
        }
        for (name, served) in built {
            if let Some(e) = self.entries.get(&name) {
                e.replace(served);
            }
        }
        let _ = self.qmgr.send(Arc::new(cfg.clone()));
        ::log::info!(
            "reload -- version {}, configuration {}",
            cfg.get(names::MAIL_VERSION),
            self.opts.config_dir.display()
        );
    }

    /// Waits until every connection has ended or `grace` is over.
    fn drain(&self, grace: Duration) {
        let until = Instant::now() + grace;
        loop {
            let open: usize = self
                .entries
                .values()
                .map(|e| e.active.load(Ordering::SeqCst))
                .sum();
            if open == 0 {
                return;
            }
            if Instant::now() >= until {
                ::log::info!("stopping with {open} connection(s) still open");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Log destinations from main.cf: `maillog_file`, else syslog; stderr too in
/// the foreground.
fn log_settings(cfg: &Config, opts: &Options) -> crate::log::Settings {
    let host = cfg.get(names::MYHOSTNAME);
    crate::log::Settings {
        syslog_name: cfg.get(names::SYSLOG_NAME),
        hostname: host.split('.').next().unwrap_or_default().to_string(),
        maillog_file: cfg.get(names::MAILLOG_FILE),
        facility: cfg.get(names::SYSLOG_FACILITY),
        stderr: opts.foreground,
        syslog: true,
        verbose: opts.verbose,
    }
}

fn mkdir(path: &Path) -> Result<(), MasterError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(|source| MasterError::Mkdir {
            path: path.to_path_buf(),
            source,
        })
}

/// Gives the queue (directory and database files) and the data directory to
/// mail_owner, as Postfix's post-install does; `pid/` stays root's.
fn hand_over(queue_dir: &Path, data_dir: &Path, owner: &privs::Owner) -> Result<(), MasterError> {
    privs::chown(queue_dir, owner)?;
    privs::chown(data_dir, owner)?;
    let files = std::fs::read_dir(queue_dir).map_err(|source| MasterError::Chown {
        path: queue_dir.to_path_buf(),
        source,
    })?;
    for f in files.flatten() {
        if f.file_name().to_string_lossy().starts_with("queue.db") {
            privs::chown(&f.path(), owner)?;
        }
    }
    Ok(())
}
