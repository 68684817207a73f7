//! Why the master could not start, reload or signal a running master; each
//! variant names the file, address, user or parameter at fault.
//!
//! Mirrors the fatal messages of Postfix master.c, master_listen.c,
//! mail_params.c (check_mail_owner) and postfix-script. Reads no parameters.

use std::io;
use std::path::PathBuf;

use crate::config::{io_text, ConfigError};

/// A failure of the master daemon or of a command that controls it.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("{0}")]
    Config(Box<ConfigError>),
    #[error("the Postfix mail system is already running")]
    AlreadyRunning,
    #[error("open lock file {path}: {}", io_text(.source))]
    PidFile { path: PathBuf, source: io::Error },
    #[error("create directory {path}: {}", io_text(.source))]
    Mkdir { path: PathBuf, source: io::Error },
    #[error("chown {path}: {}", io_text(.source))]
    Chown { path: PathBuf, source: io::Error },
    #[error("chdir {path}: {}", io_text(.source))]
    Chdir { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Queue(#[from] crate::queue::QueueError),
    #[error("file {main_cf}: parameter mail_owner: unknown user name value: {user}")]
    UnknownOwner { main_cf: PathBuf, user: String },
    #[error("file {main_cf}: parameter mail_owner: user {user} has privileged user ID")]
    PrivilegedOwner { main_cf: PathBuf, user: String },
    #[error("file {main_cf}: parameter mail_owner: user {user} has privileged group ID")]
    PrivilegedGroup { main_cf: PathBuf, user: String },
    #[error("look up user {user}: {}", io_text(.source))]
    UserLookup { user: String, source: io::Error },
    #[error("drop privileges to {user}: {}", io_text(.source))]
    Drop { user: String, source: io::Error },
    #[error("bind {address}: {}", io_text(.source))]
    Bind {
        address: std::net::SocketAddr,
        source: io::Error,
    },
    #[error("{path}, line {line}: service {service}: {reason}")]
    Service {
        path: PathBuf,
        line: usize,
        service: String,
        reason: String,
    },
    #[error("{path}, line {line}: service {service}: host not found: {host}")]
    Host {
        path: PathBuf,
        line: usize,
        service: String,
        host: String,
    },
    #[error("parameter {name}: {reason}")]
    Parameter { name: &'static str, reason: String },
    #[error("{path}, line {line}: service {service}: {source}")]
    Smtpd {
        path: PathBuf,
        line: usize,
        service: String,
        source: Box<crate::smtpd::SmtpdError>,
    },
    #[error("cannot start a thread: {}", io_text(.0))]
    Spawn(io::Error),
    #[error(transparent)]
    Helper(#[from] crate::local::helper::HelperError),
    #[error("pickup: {0}")]
    Pickup(String),
    #[error("install signal handlers: {}", io_text(.0))]
    Signals(io::Error),
    #[error("no master.cf in {0}")]
    NoMasterCf(PathBuf),
    #[error("signal process {pid}: {source}")]
    Kill { pid: i32, source: nix::errno::Errno },
    #[error("run {program}: {}", io_text(.source))]
    Exec { program: PathBuf, source: io::Error },
}

impl From<ConfigError> for MasterError {
    fn from(e: ConfigError) -> MasterError {
        MasterError::Config(Box::new(e))
    }
}
