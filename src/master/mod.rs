//! The long-running mail system: start-up, listeners from master.cf, privilege
//! drop, per-connection threads with process and client limits, signals
//! (reload, stop), and the pid file the `postfix` command controls it through.
//!
//! Mirrors Postfix master(8) (master.c, master_ent.c, master_listen.c,
//! master_spawn.c, master_sig.c), anvil(8) and the start/stop parts of
//! postfix-script. Reads `queue_directory`, `data_directory`,
//! `process_id_directory`, `mail_owner`, `inet_interfaces`, `inet_protocols`,
//! `default_process_limit`, `smtpd_client_connection_count_limit`,
//! `smtpd_client_connection_rate_limit`, `smtpd_client_event_limit_exceptions`,
//! `anvil_rate_time_unit`, `syslog_name`, `syslog_facility`, `maillog_file`,
//! `myhostname`, `mail_version`.
//!
//! Public API (used by `cli::postfix`):
//! - `run(Options, ready: impl FnOnce()) -> Result<(), MasterError>`: the daemon;
//!   returns after SIGTERM/SIGINT (connections drained) or SIGQUIT.
//! - `Notify::stdout()` with `ready()`/`failed(text)`: `master -w`'s report to `postfix start`.
//! - `pid_path(&Config) -> PathBuf`, `running(&Config) -> Result<Option<i32>, _>`:
//!   the master holding the pid-file lock, if any.
//! - `mail_owner(&Config) -> Result<Owner, _>` (name, uid, gid), `is_root()`.
//!
//! Signals: SIGHUP reload, SIGTERM/SIGINT stop with a grace period, SIGQUIT stop now.

mod accept;
mod anvil;
mod daemon;
mod error;
mod listen;
mod names;
mod notify;
mod pidfile;
mod privs;
mod services;
mod signals;
mod spawn;

use std::path::PathBuf;

use crate::config::Config;

pub use daemon::{run, Options};
pub use error::MasterError;
pub use names::{
    DATA_DIRECTORY, QUEUE_DIRECTORY, SMTPD_TLS_DKEY_FILE, SMTPD_TLS_ECKEY_FILE, SMTPD_TLS_KEY_FILE,
    SMTP_TLS_ECKEY_FILE, SMTP_TLS_KEY_FILE, SYSLOG_FACILITY,
};
pub use notify::{Notify, READY};
#[cfg(test)]
pub(crate) use privs::delivery_agents;
pub use privs::{is_root, mail_owner};

/// Where the master of this configuration keeps its pid file.
pub fn pid_path(cfg: &Config) -> PathBuf {
    pidfile::path(
        std::path::Path::new(&cfg.get(names::QUEUE_DIRECTORY)),
        &cfg.get(names::PROCESS_ID_DIRECTORY),
    )
}

/// The pid of the running master of this configuration, if one holds the lock.
pub fn running(cfg: &Config) -> Result<Option<i32>, MasterError> {
    pidfile::running(&pid_path(cfg))
}
