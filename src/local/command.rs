//! Delivers a message to `mailbox_command` or a `|command` destination: the message
//! on standard input of `/bin/sh -c command` (or `local_command_shell`), Postfix's
//! environment variables, a time limit that kills the whole process group, and the
//! command's output kept for the bounce text.
//!
//! Mirrors Postfix local/command.c (environment, privileges, restriction by origin)
//! and global/pipe_command.c (pipes, process group, time limit); the exit status
//! verdict is in `command_status.rs`. Reads `mailbox_command` (the caller passes the
//! command), `command_time_limit`, `export_environment`, `command_expansion_filter`,
//! `local_command_shell`, `allow_mail_to_commands`, `prepend_delivered_header`,
//! `command_execution_directory` and `default_privs`. `import_environment` applies
//! to the whole process at start-up (master), not here.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::command_status::{self, Termination};
use super::copy::{self, CopyFlags, DeliveredHeader};
use super::{Envelope, Origin, OriginMask, Severity};

/// Command delivery parameters, named after their `main.cf` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSettings {
    /// `command_time_limit` (default 1000s).
    pub command_time_limit: Duration,
    /// `export_environment` (default `TZ MAIL_CONFIG LANG`): variables passed on
    /// unchanged; `name=value` entries set a value.
    pub export_environment: String,
    /// `command_expansion_filter`: characters allowed in exported values; others
    /// become `_`.
    pub command_expansion_filter: String,
    /// `local_command_shell` (default empty = `/bin/sh -c`).
    pub local_command_shell: String,
    /// `allow_mail_to_commands` (default `alias, forward`).
    pub allow_mail_to_commands: OriginMask,
    /// `prepend_delivered_header` (default `command, file, forward`).
    pub prepend_delivered_header: DeliveredHeader,
    /// `command_execution_directory` after `$name` expansion (default empty: the
    /// current directory, which is the queue directory in Postfix).
    pub command_execution_directory: Option<PathBuf>,
    /// `default_privs` (default `nobody`): who runs commands instead of root.
    pub default_privs: String,
}

impl Default for CommandSettings {
    fn default() -> Self {
        CommandSettings {
            command_time_limit: Duration::from_secs(1000),
            export_environment: "TZ MAIL_CONFIG LANG".to_string(),
            command_expansion_filter:
                "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    .to_string(),
            local_command_shell: String::new(),
            allow_mail_to_commands: OriginMask::default(),
            prepend_delivered_header: DeliveredHeader::default(),
            command_execution_directory: None,
            default_privs: "nobody".to_string(),
        }
    }
}

/// The user the command runs for: the recipient, or for an alias the owner of the
/// alias database or `:include:` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandUser {
    /// Login name (`USER`, `LOGNAME`).
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// `HOME`, when known.
    pub home: Option<PathBuf>,
    /// `SHELL`, when known.
    pub shell: Option<String>,
}

/// Recipient address pieces and client details that local(8) exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandContext {
    /// `LOCAL`: the whole local part, extension included.
    pub local: String,
    /// `DOMAIN`.
    pub domain: String,
    /// `EXTENSION`, after `recipient_delimiter`.
    pub extension: Option<String>,
    pub client_hostname: String,
    pub client_address: String,
    pub client_helo: String,
    pub client_protocol: String,
    pub sasl_method: String,
    pub sasl_sender: String,
    pub sasl_username: String,
}

/// Why a command delivery did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("mail to command is restricted: \"{command}\"")]
    Restricted { command: String },
    #[error("default_privs user {user} not found or privileged")]
    DefaultPrivs { user: String },
    #[error("Delivery failed: cannot run \"{command}\": {source}")]
    Spawn { command: String, source: io::Error },
    #[error("Command time limit exceeded: \"{command}\"{}", command_status::output_tail(.output))]
    TimeLimit { command: String, output: String },
    #[error("Command died with signal {signal}: \"{command}\"{}", command_status::output_tail(.output))]
    Signal {
        command: String,
        signal: i32,
        output: String,
    },
    #[error("{}", command_status::exit_reason(.command, *.status, .output))]
    Exit {
        command: String,
        status: i32,
        dsn: String,
        output: String,
    },
    #[error("Command failed: {source}: \"{command}\"")]
    Write { command: String, source: io::Error },
}

impl CommandError {
    /// RFC 3463 code (command.c and pipe_command.c).
    pub fn dsn(&self) -> &str {
        match self {
            CommandError::Restricted { .. } => "5.7.1",
            CommandError::DefaultPrivs { .. } => "4.3.5",
            CommandError::Spawn { .. } | CommandError::Write { .. } => "4.3.0",
            CommandError::TimeLimit { .. } => "5.3.0",
            CommandError::Signal { .. } => "4.3.0",
            CommandError::Exit { dsn, .. } => dsn,
        }
    }

    /// Defer or bounce: EX_TEMPFAIL and signals defer, other failures bounce.
    pub fn severity(&self) -> Severity {
        Severity::of_dsn(self.dsn())
    }
}

/// Status text of a successful command delivery (command.c).
pub fn delivered_text(command: &str) -> String {
    format!("delivered to command: {command}")
}

/// Runs `command` with the message on its standard input. `origin` is where a
/// `|command` destination came from (checked against `allow_mail_to_commands`);
/// `None` for `mailbox_command`, which the administrator chose.
pub fn deliver_command(
    command: &str,
    origin: Option<Origin>,
    envelope: &Envelope,
    content: &[u8],
    user: &CommandUser,
    context: &CommandContext,
    settings: &CommandSettings,
) -> Result<(), CommandError> {
    if let Some(origin) = origin {
        if !settings.allow_mail_to_commands.allows(origin) {
            return Err(CommandError::Restricted {
                command: command.to_string(),
            });
        }
    }
    let spawn_err = |source: io::Error| CommandError::Spawn {
        command: command.to_string(),
        source,
    };
    let mut cmd = shell_command(command, &settings.local_command_shell);
    cmd.env_clear();
    for (name, value) in environment(envelope, user, context, settings) {
        cmd.env(name, value);
    }
    if let Some(dir) = &settings.command_execution_directory {
        cmd.current_dir(dir);
    }
    if nix::unistd::geteuid().is_root() {
        // std clears the supplementary groups when root sets a uid, matching
        // local(8): "secondary groups are not enabled".
        let (uid, gid) = unprivileged_ids(user, &settings.default_privs)?;
        cmd.uid(uid).gid(gid);
    }
    // A group of its own, so that a time-out kills the command's children too.
    cmd.process_group(0);
    let (out_read, out_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| spawn_err(e.into()))?;
    let err_write = out_write.try_clone().map_err(spawn_err)?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out_write))
        .stderr(Stdio::from(err_write));
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // The parent's copies of the write ends went into `cmd`; drop it so that EOF on
    // the output pipe means every holder has exited.
    drop(cmd);

    let flags = CopyFlags::COMMAND.with_delivered_to(settings.prepend_delivered_header.command);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let input = copy::render(envelope, content, flags, now);
    // A limit too large for the clock means "no limit" in practice: a year.
    let started = Instant::now();
    let deadline = started
        .checked_add(settings.command_time_limit)
        .unwrap_or(started + Duration::from_secs(365 * 86400));
    let (end, output, written) = match supervise(&mut child, input, out_read, deadline) {
        Ok(done) => done,
        Err(source) => {
            kill_group(&child);
            let _ = child.wait();
            return Err(spawn_err(source));
        }
    };
    if end == Termination::TimedOut {
        log::warn!(
            "{}: process id {}: command time limit exceeded",
            command,
            child.id()
        );
    }
    command_status::verdict(command, end, command_status::printable_output(&output))?;
    written.map_err(|source| CommandError::Write {
        command: command.to_string(),
        source,
    })
}

/// Feeds `input` to the command and collects its output on helper threads while
/// waiting for it to end, all within `deadline`. Background children may hold the
/// output or input pipe after the command exits; the deadline covers them too,
/// and killing the process group ends both pipes. `Err` only when a helper thread
/// cannot be started.
fn supervise(
    child: &mut Child,
    input: Vec<u8>,
    out_read: std::os::fd::OwnedFd,
    deadline: Instant,
) -> io::Result<(Termination, Vec<u8>, io::Result<()>)> {
    let (in_tx, in_rx) = crossbeam_channel::bounded(1);
    match child.stdin.take() {
        Some(mut stdin) => {
            thread::Builder::new()
                .name("local-cmd-in".into())
                .spawn(move || {
                    // A command that stops reading early is not an error
                    // (pipe_command.c).
                    let result = match stdin.write_all(&input) {
                        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                        other => other,
                    };
                    let _ = in_tx.send(result);
                })?;
        }
        None => {
            let _ = in_tx.send(Ok(()));
        }
    }
    let (out_tx, out_rx) = crossbeam_channel::bounded(1);
    let mut reader = std::fs::File::from(out_read);
    thread::Builder::new()
        .name("local-cmd-out".into())
        .spawn(move || {
            let _ = out_tx.send(read_limited(&mut reader));
        })?;

    let mut end = wait_until(child, deadline);
    let give_up = |end: &mut Termination, child: &Child| {
        if *end != Termination::TimedOut {
            *end = Termination::TimedOut;
            kill_group(child);
        }
        Duration::from_secs(1)
    };
    let left = || deadline.saturating_duration_since(Instant::now());
    let output = match out_rx.recv_timeout(left()) {
        Ok(raw) => raw,
        Err(_) => out_rx
            .recv_timeout(give_up(&mut end, child))
            .unwrap_or_default(),
    };
    let written = match in_rx.recv_timeout(left()) {
        Ok(result) => result,
        Err(_) => in_rx
            .recv_timeout(give_up(&mut end, child))
            .unwrap_or(Ok(())),
    };
    Ok((end, output, written))
}

/// `/bin/sh -c command`, or `local_command_shell` split on whitespace with the
/// command appended.
fn shell_command(command: &str, local_command_shell: &str) -> Command {
    let mut words = local_command_shell.split_whitespace();
    let mut cmd = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words);
            c
        }
        None => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c");
            c
        }
    };
    cmd.arg(command);
    cmd
}

/// The environment command.c builds: PATH reset, `export_environment` passed on,
/// then the recipient and client variables with unsafe characters replaced.
fn environment(
    envelope: &Envelope,
    user: &CommandUser,
    context: &CommandContext,
    settings: &CommandSettings,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for entry in settings
        .export_environment
        .split([',', ' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
    {
        match entry.split_once('=') {
            Some((name, value)) => env.push((name.to_string(), value.to_string())),
            None => {
                if let Ok(value) = std::env::var(entry) {
                    env.push((entry.to_string(), value));
                }
            }
        }
    }
    // _PATH_DEFPATH on Linux and FreeBSD.
    env.push(("PATH".into(), "/usr/bin:/bin".into()));
    let mut ours: Vec<(&str, String)> = Vec::new();
    if let Some(home) = &user.home {
        ours.push(("HOME", home.to_string_lossy().into_owned()));
    }
    ours.push(("LOGNAME", user.name.clone()));
    ours.push(("USER", user.name.clone()));
    ours.push(("SENDER", envelope.sender.clone()));
    ours.push(("RECIPIENT", envelope.recipient.clone()));
    ours.push(("LOCAL", context.local.clone()));
    if let Some(shell) = &user.shell {
        ours.push(("SHELL", shell.clone()));
    }
    if !context.domain.is_empty() {
        ours.push(("DOMAIN", context.domain.clone()));
    }
    if let Some(ext) = &context.extension {
        ours.push(("EXTENSION", ext.clone()));
    }
    let optional = [
        ("ORIGINAL_RECIPIENT", &envelope.original_recipient),
        ("CLIENT_HOSTNAME", &context.client_hostname),
        ("CLIENT_ADDRESS", &context.client_address),
        ("CLIENT_HELO", &context.client_helo),
        ("CLIENT_PROTOCOL", &context.client_protocol),
        ("SASL_METHOD", &context.sasl_method),
        ("SASL_SENDER", &context.sasl_sender),
        ("SASL_USERNAME", &context.sasl_username),
    ];
    for (name, value) in optional {
        if !value.is_empty() {
            ours.push((name, value.clone()));
        }
    }
    // Network data must not reach a shell unfiltered (command.c "censor").
    let filter = &settings.command_expansion_filter;
    for (name, value) in ours {
        let clean: String = value
            .chars()
            .map(|c| if filter.contains(c) { c } else { '_' })
            .collect();
        env.push((name.to_string(), clean));
    }
    env
}

/// The uid/gid a root-run command gets: the user's, or `default_privs` instead of
/// root (command.c refuses to run a command as root).
fn unprivileged_ids(user: &CommandUser, default_privs: &str) -> Result<(u32, u32), CommandError> {
    if user.uid != 0 && user.gid != 0 {
        return Ok((user.uid, user.gid));
    }
    let fallback = nix::unistd::User::from_name(default_privs)
        .ok()
        .flatten()
        .filter(|u| !u.uid.is_root() && u.gid.as_raw() != 0)
        .ok_or_else(|| CommandError::DefaultPrivs {
            user: default_privs.to_string(),
        })?;
    let uid = if user.uid == 0 {
        fallback.uid.as_raw()
    } else {
        user.uid
    };
    let gid = if user.gid == 0 {
        fallback.gid.as_raw()
    } else {
        user.gid
    };
    Ok((uid, gid))
}

/// Polls the child until it exits or the deadline passes; on the deadline the
/// process group is killed and reaped.
fn wait_until(child: &mut Child, deadline: Instant) -> Termination {
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return match (status.code(), status.signal()) {
                    (Some(code), _) => Termination::Exited(code),
                    (None, Some(sig)) => Termination::Signaled(sig),
                    (None, None) => Termination::Signaled(0),
                }
            }
            Ok(None) => {}
            // ECHILD cannot happen for our own child; treat it like a crash.
            Err(_) => return Termination::Signaled(0),
        }
        let now = Instant::now();
        if now >= deadline {
            kill_group(child);
            // The command itself is our child and not yet reaped: collect it.
            let _ = child.wait();
            return Termination::TimedOut;
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// SIGKILL to the command's process group (its ID is the command's PID, as
/// `process_group(0)` made it), so its offspring die too (pipe_command.c).
fn kill_group(child: &Child) {
    let pgid = Pid::from_raw(child.id() as i32);
    if let Err(e) = killpg(pgid, Signal::SIGKILL) {
        if e != nix::errno::Errno::ESRCH {
            log::warn!("kill process group {pgid}: {e}");
        }
    }
}

/// Reads all output, keeping the first OUTPUT_LIMIT bytes and draining the rest so
/// the command never blocks on a full pipe.
fn read_limited(reader: &mut impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = command_status::OUTPUT_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    kept
}
