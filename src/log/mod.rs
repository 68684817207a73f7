//! Postfix-format logging: `Nov 23 12:00:00 host postfix/smtpd[1234]: text`.
//!
//! Mirrors Postfix's msg(3) and maillog_file support. A line goes to `maillog_file`
//! when that parameter is set, else to syslog (`/dev/log`, facility
//! `syslog_facility`), and also to stderr when the program runs in the foreground
//! or is a command-line tool (there in Postfix's short form `postmap: warning: text`).
//! Each thread carries its service name (`smtpd`, `qmgr`, ...), so one process
//! logs the way Postfix's separate daemons do. Severity prefixes follow Postfix:
//! `warning:`, `error:`, `fatal:`, `panic:`; informational lines have none.
//! `log::Level::Debug` lines are written only in verbose mode (`-v`).

mod sink;
mod timestamp;

use std::cell::RefCell;
use std::sync::{Mutex, OnceLock};

pub use sink::Sinks;

/// Where log lines go and under which name.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `syslog_name`, e.g. `postfix` or `postfix-out`.
    pub syslog_name: String,
    /// The host name written in file lines (`myhostname`'s first label, as syslog does).
    pub hostname: String,
    /// `maillog_file`; empty means syslog.
    pub maillog_file: String,
    /// `syslog_facility`, e.g. `mail`.
    pub facility: String,
    /// Copy every line to stderr in the short `name: text` form.
    pub stderr: bool,
    /// Write syslog lines (ignored when `maillog_file` is set).
    pub syslog: bool,
    /// Verbose (`-v`): also write debug lines.
    pub verbose: bool,
}

impl Settings {
    /// Settings for a command-line tool before any configuration is read:
    /// stderr only, as Postfix commands report to the terminal.
    pub fn command_line(verbose: bool) -> Settings {
        Settings {
            syslog_name: "postfix".into(),
            hostname: util_hostname(),
            maillog_file: String::new(),
            facility: "mail".into(),
            stderr: true,
            syslog: false,
            verbose,
        }
    }
}

fn util_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|h| h.split('.').next().unwrap_or_default().to_string())
        .unwrap_or_else(|| "localhost".into())
}

struct Logger {
    settings: Mutex<(Settings, Sinks)>,
    /// The program's name, for threads that did not set a service (`postconf`).
    program: String,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

thread_local! {
    static SERVICE: RefCell<Option<String>> = const { RefCell::new(None) };
    /// A per-thread `syslog_name` (master.cf `-o syslog_name=postfix/submission`).
    static SYSLOG_NAME: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the logger for `program` (the command or daemon name). Calling it again
/// replaces the settings (after main.cf is read, or on reload).
pub fn init(program: &str, settings: Settings) {
    let sinks = Sinks::open(&settings);
    let verbose = settings.verbose;
    match LOGGER.get() {
        Some(l) => {
            if let Ok(mut guard) = l.settings.lock() {
                *guard = (settings, sinks);
            }
        }
        None => {
            let logger = Logger {
                settings: Mutex::new((settings, sinks)),
                program: program.to_string(),
            };
            if LOGGER.set(logger).is_ok() {
                if let Some(l) = LOGGER.get() {
                    let _ = ::log::set_logger(l);
                }
            }
        }
    }
    ::log::set_max_level(if verbose {
        ::log::LevelFilter::Debug
    } else {
        ::log::LevelFilter::Info
    });
}

/// Names the service the current thread logs as (`smtpd`, `qmgr`, ...).
pub fn set_service(name: &str) {
    SERVICE.with(|s| *s.borrow_mut() = Some(name.to_string()));
}

/// The service the current thread logs as, if one was set.
pub fn current_service() -> Option<String> {
    SERVICE.with(|s| s.borrow().clone())
}

/// Names both the `syslog_name` and the service of the current thread, so a
/// connection thread of a master.cf entry with `-o syslog_name=postfix/submission`
/// logs as `postfix/submission/smtpd[pid]`, as Postfix's separate processes do.
pub fn set_thread_tag(syslog_name: &str, service: &str) {
    SYSLOG_NAME.with(|s| *s.borrow_mut() = Some(syslog_name.to_string()));
    set_service(service);
}

/// Logs a fatal error in Postfix's form (`fatal: text`). The caller exits.
pub fn fatal(text: &str) {
    write_line("fatal: ", text);
}

fn write_line(prefix: &str, text: &str) {
    let Some(logger) = LOGGER.get() else {
        eprintln!("postern: {prefix}{text}");
        return;
    };
    let service = SERVICE
        .with(|s| s.borrow().clone())
        .unwrap_or_else(|| logger.program.clone());
    if let Ok(mut guard) = logger.settings.lock() {
        let (settings, sinks) = &mut *guard;
        let name = SYSLOG_NAME
            .with(|s| s.borrow().clone())
            .unwrap_or_else(|| settings.syslog_name.clone());
        let tag = format!("{name}/{service}");
        sinks.write(settings, &tag, &service, &format!("{prefix}{text}"));
    }
}

impl ::log::Log for Logger {
    fn enabled(&self, metadata: &::log::Metadata) -> bool {
        metadata.level() <= ::log::max_level()
    }

    fn log(&self, record: &::log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let prefix = match record.level() {
            ::log::Level::Error => "error: ",
            ::log::Level::Warn => "warning: ",
            _ => "",
        };
        write_line(prefix, &record.args().to_string());
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_lines_have_postfix_form() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maillog");
        let settings = Settings {
            syslog_name: "postfix-test".into(),
            hostname: "mx".into(),
            maillog_file: path.to_string_lossy().into_owned(),
            facility: "mail".into(),
            stderr: false,
            syslog: false,
            verbose: false,
        };
        init("postlogtest", settings);
        set_service("smtpd");
        ::log::warn!("hello {}", 42);
        let text = std::fs::read_to_string(&path).unwrap();
        let re = regex::Regex::new(
            r"^[A-Z][a-z]{2} [0-3][0-9] \d\d:\d\d:\d\d mx postfix-test/smtpd\[\d+\]: warning: hello 42\n$",
        )
        .unwrap();
        assert!(re.is_match(&text), "{text:?}");
    }
}
