//! Command delivery (Postfix local/command.c, global/pipe_command.c): real
//! `/bin/sh` commands, their stdin and environment, exit status verdicts, output in
//! the bounce text, the time limit killing the process group, and privileges.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{envelope, CONTENT};
use crate::local::command::{
    deliver_command, CommandContext, CommandError, CommandSettings, CommandUser,
};
use crate::local::{Origin, Severity};

fn user(home: PathBuf) -> CommandUser {
    CommandUser {
        name: "bob".into(),
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        home: Some(home),
        shell: Some("/bin/sh".into()),
    }
}

fn context() -> CommandContext {
    CommandContext {
        local: "bob+lists".into(),
        domain: "example.com".into(),
        extension: Some("lists".into()),
        client_address: "192.0.2.7".into(),
        client_hostname: "mx.example.net".into(),
        client_helo: "evil;rm -rf /".into(),
        ..Default::default()
    }
}

/// Runs `command` as the current user, or as nobody-equivalent ids when root.
fn run(command: &str, settings: &CommandSettings) -> (Result<(), CommandError>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut u = user(dir.path().to_path_buf());
    if nix::unistd::geteuid().is_root() {
        // Let the unprivileged command write into the test directory.
        u.uid = 65534;
        u.gid = 65534;
        fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
    }
    let result = deliver_command(
        command,
        Some(Origin::Alias),
        &envelope(),
        CONTENT,
        &u,
        &context(),
        settings,
    );
    (result, dir)
}

#[test]
fn message_reaches_stdin_with_from_line_and_headers() {
    let (result, dir) = run("cat > \"$HOME/out\"", &CommandSettings::default());
    result.unwrap();
    let got = fs::read_to_string(dir.path().join("out")).unwrap();
    let mut lines = got.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("From alice@example.org  "));
    let head = "Return-Path: <alice@example.org>\nX-Original-To: postmaster@example.com\nDelivered-To: bob@example.com\n";
    let rest = got.split_once('\n').unwrap().1;
    let body = rest.strip_prefix(head).expect("headers in Postfix order");
    // No >From quoting and no trailing blank line for commands.
    assert_eq!(body.as_bytes(), CONTENT);
}

#[test]
fn environment_is_postfix_s_and_nothing_else() {
    let settings = CommandSettings {
        export_environment: "TZ MAIL_CONFIG LANG POSTERN_TEST_SET=yes".into(),
        ..Default::default()
    };
    let (result, dir) = run("env > \"$HOME/env\"", &settings);
    result.unwrap();
    let env = fs::read_to_string(dir.path().join("env")).unwrap();
    let has = |line: &str| env.lines().any(|l| l == line);
    for line in [
        "PATH=/usr/bin:/bin",
        "USER=bob",
        "LOGNAME=bob",
        "SHELL=/bin/sh",
        "SENDER=alice@example.org",
        "RECIPIENT=bob@example.com",
        "ORIGINAL_RECIPIENT=postmaster@example.com",
        "LOCAL=bob+lists",
        "DOMAIN=example.com",
        "EXTENSION=lists",
        "CLIENT_ADDRESS=192.0.2.7",
        "CLIENT_HOSTNAME=mx.example.net",
        // command_expansion_filter: shell metacharacters and spaces become _.
        "CLIENT_HELO=evil_rm_-rf_/",
        "POSTERN_TEST_SET=yes",
    ] {
        assert!(has(line), "missing {line} in\n{env}");
    }
    assert!(has(&format!("HOME={}", dir.path().display())), "{env}");
    assert!(
        !env.contains("CARGO"),
        "the delivery agent's own environment leaked:\n{env}"
    );
    assert!(
        !env.contains("SASL_"),
        "empty client values are not exported"
    );
}

#[test]
fn exit_75_defers() {
    let (result, _dir) = run("echo try later; exit 75", &CommandSettings::default());
    let err = result.unwrap_err();
    assert_eq!(err.severity(), Severity::Temporary);
    assert_eq!(err.dsn(), "4.3.0");
    assert_eq!(
        err.to_string(),
        "temporary failure. Command output: try later "
    );
}

#[test]
fn exit_1_bounces_with_its_output() {
    let (result, _dir) = run("echo no such list >&2; exit 1", &CommandSettings::default());
    let err = result.unwrap_err();
    assert_eq!(err.severity(), Severity::Permanent);
    assert_eq!(err.dsn(), "5.3.0");
    assert_eq!(
        err.to_string(),
        "Command died with status 1: \"echo no such list >&2; exit 1\". Command output: no such list "
    );
}

#[test]
fn enhanced_status_code_in_output_decides() {
    let (result, _dir) = run(
        "echo 4.2.2 mailbox is full; exit 1",
        &CommandSettings::default(),
    );
    let err = result.unwrap_err();
    assert_eq!(err.dsn(), "4.2.2");
    assert_eq!(err.severity(), Severity::Temporary);
}

#[test]
fn killed_by_a_signal_defers() {
    let (result, _dir) = run("kill -TERM $$", &CommandSettings::default());
    let err = result.unwrap_err();
    assert!(
        matches!(err, CommandError::Signal { signal: 15, .. }),
        "{err}"
    );
    assert_eq!(err.severity(), Severity::Temporary);
}

#[test]
fn time_limit_kills_the_whole_process_group() {
    let settings = CommandSettings {
        command_time_limit: Duration::from_millis(500),
        ..Default::default()
    };
    let started = Instant::now();
    let (result, dir) = run(
        "sleep 60 & echo $! > \"$HOME/bg\"; echo started; sleep 60",
        &settings,
    );
    let took = started.elapsed();
    let err = result.unwrap_err();
    assert!(matches!(err, CommandError::TimeLimit { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("Command time limit exceeded: \"sleep 60 &"),
        "{err}"
    );
    assert!(
        err.to_string().ends_with("Command output: started "),
        "{err}"
    );
    // pipe_command.c bounces a command that runs out of time (5.3.0).
    assert_eq!(err.dsn(), "5.3.0");
    assert!(took < Duration::from_secs(10), "{took:?}");

    let bg: i32 = fs::read_to_string(dir.path().join("bg"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(bg);
    let deadline = Instant::now() + Duration::from_secs(5);
    // The background sleep was in the command's process group, so it died too.
    while nix::sys::signal::kill(pid, None).is_ok() && !is_zombie(bg) {
        assert!(Instant::now() < deadline, "background child {bg} survived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

#[test]
fn command_that_ignores_stdin_still_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![b'y'; 1 << 20];
    let u = user(dir.path().to_path_buf());
    deliver_command(
        "exit 0",
        None,
        &envelope(),
        &big,
        &u,
        &context(),
        &CommandSettings::default(),
    )
    .unwrap();
}

#[test]
fn include_files_may_not_run_commands_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let u = user(dir.path().to_path_buf());
    let cmd = format!("touch {}", marker.display());
    let err = deliver_command(
        &cmd,
        Some(Origin::Include),
        &envelope(),
        CONTENT,
        &u,
        &context(),
        &CommandSettings::default(),
    )
    .unwrap_err();
    assert!(matches!(err, CommandError::Restricted { .. }), "{err}");
    assert_eq!(err.dsn(), "5.7.1");
    assert!(!marker.exists());
}

#[test]
fn output_is_captured_up_to_the_limit() {
    let (result, _dir) = run(
        "head -c 100000 /dev/zero | tr '\\0' a; exit 1",
        &CommandSettings::default(),
    );
    match result.unwrap_err() {
        CommandError::Exit { output, .. } => assert_eq!(output.len(), 4096),
        other => panic!("{other}"),
    }
}

#[test]
fn runs_as_the_recipient_when_root() {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let (result, _dir) = run(
        "echo $(id -u):$(id -g):$(id -G); exit 1",
        &CommandSettings::default(),
    );
    match result.unwrap_err() {
        CommandError::Exit { output, .. } => assert_eq!(output, "65534:65534:65534 "),
        other => panic!("{other}"),
    }
}

#[test]
fn background_children_holding_the_pipes_cannot_hang_delivery() {
    let settings = CommandSettings {
        command_time_limit: Duration::from_millis(500),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let u = user(dir.path().to_path_buf());
    let big = vec![b'z'; 1 << 20];
    for command in [
        // Keeps our output pipe open after the command has exited.
        "sleep 60 & exit 0",
        // Keeps stdin open without reading it, so the message write blocks.
        "exec 3<&0; sleep 60 <&3 >/dev/null 2>&1 & exit 0",
    ] {
        let started = Instant::now();
        let err = deliver_command(command, None, &envelope(), &big, &u, &context(), &settings)
            .unwrap_err();
        assert!(
            matches!(err, CommandError::TimeLimit { .. }),
            "{command}: {err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{command}");
    }
}
