//! The places a log line is written: maillog_file, syslog's `/dev/log`, stderr.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::net::UnixDatagram;

use super::{timestamp, Settings};

/// Open log destinations; reopened when the settings change.
pub struct Sinks {
    file: Option<File>,
    syslog: Option<UnixDatagram>,
}

impl Sinks {
    /// Opens what `settings` asks for. A destination that cannot be opened is
    /// reported once on stderr and skipped; logging never stops the mail system.
    pub fn open(settings: &Settings) -> Sinks {
        let mut file = None;
        let mut syslog = None;
        if !settings.maillog_file.is_empty() {
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(&settings.maillog_file)
            {
                Ok(f) => file = Some(f),
                Err(e) => eprintln!(
                    "{}: warning: open {}: {e}",
                    settings.syslog_name, settings.maillog_file
                ),
            }
        } else if settings.syslog {
            syslog = connect_syslog();
        }
        Sinks { file, syslog }
    }

    /// Writes one line to every open destination.
    pub fn write(&mut self, settings: &Settings, tag: &str, service: &str, text: &str) {
        let pid = std::process::id();
        let stamp = timestamp::now();
        if let Some(f) = self.file.as_mut() {
            let line = format!("{stamp} {} {tag}[{pid}]: {text}\n", settings.hostname);
            let _ = f.write_all(line.as_bytes());
        }
        if let Some(s) = self.syslog.as_ref() {
            let pri = facility_code(&settings.facility) * 8 + severity(text);
            let msg = format!("<{pri}>{stamp} {tag}[{pid}]: {text}");
            if s.send(msg.as_bytes()).is_err() {
                // syslogd restarted: reconnect once and retry.
                self.syslog = connect_syslog();
                if let Some(s) = self.syslog.as_ref() {
                    let _ = s.send(msg.as_bytes());
                }
            }
        }
        if settings.stderr {
            eprintln!("{service}: {text}");
        }
    }
}

fn connect_syslog() -> Option<UnixDatagram> {
    let sock = UnixDatagram::unbound().ok()?;
    for path in ["/dev/log", "/var/run/log", "/var/run/syslog"] {
        if sock.connect(path).is_ok() {
            return Some(sock);
        }
    }
    None
}

/// RFC 5424 severity from Postfix's message prefix.
fn severity(text: &str) -> u32 {
    if text.starts_with("fatal:") || text.starts_with("panic:") {
        2
    } else if text.starts_with("error:") {
        3
    } else if text.starts_with("warning:") {
        4
    } else {
        6
    }
}

/// Syslog facility number for `syslog_facility` names.
fn facility_code(name: &str) -> u32 {
    match name {
        "kern" => 0,
        "user" => 1,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => 2, // mail
    }
}
