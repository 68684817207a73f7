//! Logging for command-line tools once main.cf is read: Postfix's commands
//! report on stderr and also to the mail log (`maillog_file`, else syslog) under
//! `syslog_name`, so `postmap` errors show up where the administrator looks.
//!
//! main.cf parameters read: syslog_name, syslog_facility, maillog_file, myhostname.

use std::fs::OpenOptions;

use crate::config::Config;
use crate::log::{self, Settings};

/// Re-initialises the logger of `program` from `cfg`. A `maillog_file` this user
/// cannot append to is skipped quietly (Postfix's commands hand such lines to the
/// privileged postlogd, which Postern does not have); the line still reaches stderr.
pub fn from_config(program: &str, cfg: &Config, verbose: bool) {
    let wanted = cfg.get("maillog_file");
    let maillog_file = if !wanted.is_empty()
        && OpenOptions::new()
            .create(true)
            .append(true)
            .open(&wanted)
            .is_ok()
    {
        wanted
    } else {
        String::new()
    };
    let myhostname = cfg.get("myhostname");
    let settings = Settings {
        syslog_name: cfg.get("syslog_name"),
        hostname: myhostname.split('.').next().unwrap_or_default().to_string(),
        syslog: maillog_file.is_empty(),
        maillog_file,
        facility: cfg.get("syslog_facility"),
        stderr: true,
        verbose,
    };
    log::init(program, settings);
}
