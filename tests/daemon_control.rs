//! `postfix start|status|stop|start-fg` against the real binary: the pid file,
//! a second start refused, a bad main.cf refused with its file:line, a stock
//! master.cf accepted, and the privilege drop when started as root.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::daemon::{
    free_port, postfix_command, process_uids, wait_for_banner, Instance, HOSTNAME,
};

#[test]
fn start_status_stop_status() {
    let inst = Instance::new("");
    assert_eq!(inst.postfix(&["status"]).code, 1);
    let o = inst.start();
    assert!(
        o.stderr
            .contains("postfix/postfix-script: starting the Postfix mail system"),
        "{}",
        o.stderr
    );

    // Postfix's "%*lu\n": right-aligned in four times sizeof(unsigned long).
    let text = std::fs::read_to_string(inst.pid_file()).unwrap();
    assert_eq!(text.len(), 33, "{text:?}");
    assert!(text.ends_with('\n') && text.starts_with(' '), "{text:?}");
    let sed = std::process::Command::new("sed")
        .arg("1q")
        .arg(inst.pid_file())
        .output()
        .unwrap();
    let pid: i32 = String::from_utf8_lossy(&sed.stdout).trim().parse().unwrap();
    assert_eq!(pid, inst.pid());

    let c = inst.connect();
    assert_eq!(c.greeting, format!("220 {HOSTNAME} ESMTP Postfix"));
    c.quit();

    // Detached: a session of its own (field 6 of /proc/PID/stat).
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let session: i32 = after_name.split(' ').nth(3).unwrap().parse().unwrap();
        assert_eq!(session, pid);
    }

    let o = inst.postfix(&["status"]);
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stderr,
        format!("postfix/postfix-script: the Postfix mail system is running: PID: {pid}\n")
    );
    inst.wait_for_log("daemon started -- version ", 1);
    assert!(inst
        .log()
        .contains(&format!("configuration {}", inst.path().display())));

    let o = inst.postfix(&["stop"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o
        .stderr
        .contains("postfix/postfix-script: stopping the Postfix mail system"));
    inst.wait_for_log("postfix/master", 1);
    assert!(
        inst.log().contains("terminating on signal 15"),
        "{}",
        inst.log()
    );

    let o = inst.postfix(&["status"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "postfix/postfix-script: warning: the Postfix mail system is not running\n"
    );
    // The pid file outlives the master, as in Postfix; the lock tells.
    assert!(inst.pid_file().exists());
    assert_eq!(inst.postfix(&["stop"]).code, 1);
}

#[test]
fn second_start_is_refused() {
    let inst = Instance::new("");
    inst.start();
    let pid = inst.pid();
    let o = inst.postfix(&["start"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("postfix/postfix-script: fatal: the Postfix mail system is already running"),
        "{}",
        o.stderr
    );
    let o = inst.postfix(&["start-fg"]);
    assert_eq!(o.code, 1);
    assert_eq!(inst.pid(), pid, "the refused start touched the pid file");
    inst.connect().quit();
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn start_fg_stops_on_sigterm() {
    let inst = Instance::new("");
    let mut child = postfix_command()
        .arg("-c")
        .arg(inst.path())
        .arg("start-fg")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let c = wait_for_banner(inst.port);
    assert!(c.greeting.starts_with("220 "), "{}", c.greeting);
    assert_eq!(inst.pid(), child.id() as i32);
    c.quit();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < until, "start-fg did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("daemon started -- version"), "{err}");
    assert!(err.contains("terminating on signal 15"), "{err}");
}

#[test]
fn bad_main_cf_fails_with_file_and_line() {
    let inst = Instance::new("this line has no equals sign");
    let o = inst.postfix(&["start"]);
    assert_ne!(o.code, 0);
    let main_cf = std::fs::read_to_string(inst.path().join("main.cf")).unwrap();
    let line = 1 + main_cf
        .lines()
        .position(|l| l == "this line has no equals sign")
        .unwrap();
    let want = format!(
        "{}/main.cf, line {line}: missing '=' after attribute name: \"this line has no equals sign\"",
        inst.path().display()
    );
    assert!(o.stderr.contains(&want), "{}", o.stderr);
    assert_eq!(inst.postfix(&["status"]).code, 1);
}

#[test]
fn failed_listener_fails_start() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let inst = Instance::with_master(
        "",
        &format!("127.0.0.1:{port} inet n - n - - smtpd\n"),
        port,
    );
    let o = inst.postfix(&["start"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr
            .contains(&format!("bind 127.0.0.1:{port}: Address already in use")),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("postfix/postfix-script: fatal: mail system startup failed"),
        "{}",
        o.stderr
    );
}

#[test]
fn stock_master_cf_is_accepted() {
    let stock = std::fs::read_to_string("/usr/share/postfix/master.cf.dist")
        .expect("/usr/share/postfix/master.cf.dist: install the postfix package, as CI does");
    let port = free_port();
    let master: String = stock
        .lines()
        .map(|l| {
            if l.starts_with("smtp      inet") {
                l.replacen("smtp      inet", &format!("127.0.0.1:{port} inet"), 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(master.contains(&format!("127.0.0.1:{port} inet")));
    let inst = Instance::with_master("", &master, port);
    let o = inst.postfix(&["-v", "start"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    inst.connect().quit();
    assert!(!inst.log().contains("warning"), "{}", inst.log());
    assert!(
        inst.log().contains(
            "master.cf entries run as threads or not run: pickup/unix, cleanup/unix, qmgr/unix"
        ),
        "{}",
        inst.log()
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn runs_as_mail_owner_when_started_as_root() {
    let inst = Instance::new("");
    inst.start();
    let uids = process_uids(inst.pid());
    if nix::unistd::Uid::effective().is_root() {
        let (uid, _) = common::tools::postfix_ids();
        assert!(uids.iter().all(|u| *u == uid), "uids {uids:?}, want {uid}");
        // Every thread, the queue writer started before the drop included.
        #[cfg(target_os = "linux")]
        for task in std::fs::read_dir(format!("/proc/{}/task", inst.pid())).unwrap() {
            let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
            let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
            assert!(
                line.split_whitespace()
                    .skip(1)
                    .all(|u| u == uid.to_string()),
                "{line}"
            );
        }
        let meta = std::fs::metadata(inst.path().join("queue")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), uid);
    } else {
        let me = nix::unistd::Uid::effective().as_raw();
        assert!(uids.iter().all(|u| *u == me), "uids {uids:?}, want {me}");
    }
    inst.connect().quit();
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn root_mail_owner_is_refused() {
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    let inst = Instance::new("mail_owner = root");
    let o = inst.postfix(&["start-fg"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains(&format!(
            "fatal: file {}/main.cf: parameter mail_owner: user root has privileged user ID",
            inst.path().display()
        )),
        "{}",
        o.stderr
    );
    let inst = Instance::new("mail_owner = no-such-user-here");
    let o = inst.postfix(&["start-fg"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("parameter mail_owner: unknown user name value: no-such-user-here"),
        "{}",
        o.stderr
    );
}

#[test]
fn stop_lets_open_connections_finish() {
    let inst = Instance::new("");
    inst.start();
    let open = inst.connect();
    let dir = inst.path().to_path_buf();
    let stopper = std::thread::spawn(move || {
        postfix_command()
            .arg("-c")
            .arg(dir)
            .arg("stop")
            .output()
            .unwrap()
    });
    inst.wait_for_log("terminating on signal 15", 1);
    // No new clients once stopping; the listener closes within a poll period.
    let until = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", inst.port)).is_ok() {
        assert!(Instant::now() < until, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Only the banner and QUIT are relied on: the real smtpd answers them alike.
    open.quit();
    let o = stopper.join().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("with force"));
    assert_eq!(inst.postfix(&["status"]).code, 1);
}

#[test]
fn abort_and_mail_config() {
    let inst = Instance::new("");
    // MAIL_CONFIG instead of -c, as everywhere in Postfix.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_postern"))
        .arg("postfix")
        .arg("start")
        .env("MAIL_CONFIG", inst.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _open = inst.connect();
    let o = inst.postfix(&["abort"]);
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stderr,
        "postfix/postfix-script: aborting the Postfix mail system\n"
    );
    let until = Instant::now() + Duration::from_secs(5);
    while inst.postfix(&["status"]).code == 0 {
        assert!(Instant::now() < until, "abort did not stop the master");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        inst.log().contains("terminating on signal 3"),
        "{}",
        inst.log()
    );
}
