//! `postfix start|start-fg|stop|abort|reload|status`: Postfix's texts on stderr
//! as `postfix/postfix-script: ...` (and in the log), Postfix's exit codes.
//!
//! Mirrors the start, start-fg, stop, abort, reload and status cases of
//! postfix-script, and `master -w` (a background master that reports its
//! start-up over a pipe). Reads `syslog_name`, `syslog_facility`,
//! `maillog_file`, `myhostname` (for its own log lines) and, through
//! `master`, `queue_directory` and `process_id_directory`.

use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::config::{params::names, Config};
use crate::master::{self, MasterError};

/// How postfix-script words each outcome; `name` is `syslog_name`.
struct Script {
    name: String,
}

impl Script {
    /// Opens the log as main.cf says, without the logger's own stderr copy:
    /// postfix-script's stderr lines carry the full `postfix/postfix-script` tag.
    fn new(cfg: &Config, verbose: bool) -> Script {
        let name = cfg.get(names::SYSLOG_NAME);
        let host = cfg.get(names::MYHOSTNAME);
        crate::log::init(
            "postfix",
            crate::log::Settings {
                syslog_name: name.clone(),
                hostname: host.split('.').next().unwrap_or_default().to_string(),
                maillog_file: cfg.get(names::MAILLOG_FILE),
                facility: cfg.get(master::SYSLOG_FACILITY),
                stderr: false,
                syslog: true,
                verbose,
            },
        );
        crate::log::set_service("postfix-script");
        Script { name }
    }

    fn info(&self, text: &str) {
        eprintln!("{}/postfix-script: {text}", self.name);
        ::log::info!("{text}");
    }

    fn warn(&self, text: &str) {
        eprintln!("{}/postfix-script: warning: {text}", self.name);
        ::log::warn!("{text}");
    }

    fn fatal(&self, text: &str) -> ExitCode {
        eprintln!("{}/postfix-script: fatal: {text}", self.name);
        crate::log::fatal(text);
        ExitCode::from(1)
    }
}

/// What the control subcommands need from the command line.
pub struct Invocation {
    pub dir: PathBuf,
    pub verbose: bool,
    /// `-w`: this is the background master started by `postfix start`.
    pub background: bool,
}

/// Runs one control subcommand.
pub fn run(cmd: &str, inv: Invocation) -> ExitCode {
    // A daemon chdirs to the queue and must re-read the same files on reload.
    let dir = std::fs::canonicalize(&inv.dir).unwrap_or(inv.dir.clone());
    let cfg = match Config::load(&dir) {
        Ok(c) => c,
        Err(e) => {
            crate::log::fatal(&e.to_string());
            return ExitCode::from(1);
        }
    };
    if inv.background && cmd == "start-fg" {
        return background(dir, inv.verbose);
    }
    let script = Script::new(&cfg, inv.verbose);
    let running = match master::running(&cfg) {
        // A locked pid file without a pid in it: signalling "0" would hit our
        // own process group, so refuse.
        Ok(Some(pid)) if pid <= 0 => {
            return script.fatal(&format!(
                "no process id in locked file {}",
                master::pid_path(&cfg).display()
            ))
        }
        Ok(r) => r,
        Err(e) => return script.fatal(&e.to_string()),
    };
    match (cmd, running) {
        ("start" | "start-fg", Some(_)) => {
            script.fatal("the Postfix mail system is already running")
        }
        ("start", None) => {
            script.info("starting the Postfix mail system");
            start(&script, &dir, inv.verbose)
        }
        ("start-fg", None) => {
            script.info("starting the Postfix mail system");
            foreground(dir, inv.verbose)
        }
        ("status", Some(pid)) => {
            script.info(&format!("the Postfix mail system is running: PID: {pid}"));
            ExitCode::SUCCESS
        }
        (_, None) => {
            script.warn("the Postfix mail system is not running");
            ExitCode::from(1)
        }
        ("stop", Some(pid)) => {
            script.info("stopping the Postfix mail system");
            stop(&script, &cfg, pid)
        }
        ("abort", Some(pid)) => {
            script.info("aborting the Postfix mail system");
            signal(&script, pid, Signal::SIGQUIT)
        }
        ("reload", Some(pid)) => {
            script.info("refreshing the Postfix mail system");
            signal(&script, pid, Signal::SIGHUP)
        }
        (_, Some(_)) => script.fatal(&format!("unknown command: '{cmd}'")),
    }
}

fn signal(script: &Script, pid: i32, sig: Signal) -> ExitCode {
    match kill(Pid::from_raw(pid), sig) {
        Ok(()) => ExitCode::SUCCESS,
        Err(source) => script.fatal(&MasterError::Kill { pid, source }.to_string()),
    }
}

/// SIGTERM, then up to five seconds for the master to let go of its pid file,
/// then SIGKILL, as postfix-script's stop.
fn stop(script: &Script, cfg: &Config, pid: i32) -> ExitCode {
    if signal(script, pid, Signal::SIGTERM) != ExitCode::SUCCESS {
        return ExitCode::from(1);
    }
    for _ in 0..5 {
        let second = Instant::now() + Duration::from_secs(1);
        while Instant::now() < second {
            if matches!(master::running(cfg), Ok(None)) {
                return ExitCode::SUCCESS;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        script.info("waiting for the Postfix mail system to terminate");
    }
    script.warn("stopping the Postfix mail system with force");
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    ExitCode::SUCCESS
}

/// `postfix start`: a background master in its own session, with stdin and
/// stderr on /dev/null and stdout a pipe for its start-up report.
fn start(script: &Script, dir: &Path, verbose: bool) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return script.fatal(&format!("cannot find my own program: {e}")),
    };
    let mut cmd = Command::new(&exe);
    cmd.arg0("postfix").arg("-c").arg(dir).arg("-w");
    if verbose {
        cmd.arg("-v");
    }
    cmd.arg("start-fg")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(source) => {
            let e = MasterError::Exec {
                program: exe,
                source,
            };
            return script.fatal(&e.to_string());
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let line = line.trim_end();
    if line == master::READY {
        return ExitCode::SUCCESS;
    }
    if !line.is_empty() {
        eprintln!("{}/master: {line}", script.name);
    }
    // The master failed and exits; reap it rather than leave a zombie.
    let _ = child.wait();
    script.fatal("mail system startup failed")
}

/// `postfix start-fg`: the master in this process, logging to stderr too.
fn foreground(dir: PathBuf, verbose: bool) -> ExitCode {
    let opts = master::Options {
        config_dir: dir,
        verbose,
        foreground: true,
    };
    match master::run(opts, || {}) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::log::fatal(&e.to_string());
            ExitCode::from(1)
        }
    }
}

/// The background master of `postfix start` (`master -w`): a session of its
/// own, no terminal output, the start-up result on the pipe.
fn background(dir: PathBuf, verbose: bool) -> ExitCode {
    // Not a process group leader (a plain child of `postfix start`), so this
    // cannot fail; the new session detaches it from the terminal.
    let _ = nix::unistd::setsid();
    let opts = master::Options {
        config_dir: dir,
        verbose,
        foreground: false,
    };
    let mut notify = Some(master::Notify::stdout());
    let result = master::run(opts, || {
        if let Some(n) = notify.take() {
            n.ready();
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = e.to_string();
            crate::log::fatal(&text);
            if let Some(n) = notify.take() {
                n.failed(&text);
            }
            ExitCode::from(1)
        }
    }
}
