//! `postfix reload` (SIGHUP): a new connection sees the new configuration
//! while one opened before keeps working; a broken configuration is refused
//! and the running one kept.

mod common;

use common::daemon::{Instance, HOSTNAME};

#[test]
fn reload_changes_banner_for_new_connections_only() {
    let inst = Instance::new("");
    inst.start();
    let pid = inst.pid();
    let old = inst.connect();
    assert_eq!(old.greeting, format!("220 {HOSTNAME} ESMTP Postfix"));

    inst.write_main("smtpd_banner = $myhostname ESMTP reloaded");
    let master = std::fs::read_to_string(inst.path().join("master.cf")).unwrap();
    std::fs::write(
        inst.path().join("master.cf"),
        format!("{master}127.0.0.1:1 inet n - n - - smtpd\n"),
    )
    .unwrap();
    let o = inst.postfix(&["reload"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "postfix/postfix-script: refreshing the Postfix mail system\n"
    );
    inst.wait_for_log(
        &format!(
            "reload -- version 3.7.11, configuration {}",
            inst.path().display()
        ),
        1,
    );
    let new = inst.connect();
    assert_eq!(new.greeting, format!("220 {HOSTNAME} ESMTP reloaded"));
    assert!(
        inst.log().contains(&format!(
            "warning: {}/master.cf, line 2: new service 127.0.0.1:1: restart the mail system to listen for it",
            inst.path().display()
        )),
        "{}",
        inst.log()
    );
    new.quit();

    // The connection from before the reload is still served.
    old.quit();

    // A broken main.cf: `postfix reload` refuses it as Postfix's postfix(1)
    // does; a SIGHUP sent anyway is logged and the running configuration stays.
    inst.write_main("smtpd_banner = $myhostname ESMTP reloaded\nbroken line");
    let o = inst.postfix(&["reload"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("missing '=' after attribute name"),
        "{}",
        o.stderr
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    inst.wait_for_log("keeping the configuration in use", 1);
    assert!(
        inst.log().contains("missing '=' after attribute name"),
        "{}",
        inst.log()
    );
    let after = inst.connect();
    assert_eq!(after.greeting, format!("220 {HOSTNAME} ESMTP reloaded"));
    after.quit();
    assert_eq!(inst.pid(), pid);
    inst.write_main("");
    assert_eq!(inst.postfix(&["status"]).code, 0);
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn reload_when_not_running_fails() {
    let inst = Instance::new("");
    let o = inst.postfix(&["reload"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "postfix/postfix-script: warning: the Postfix mail system is not running\n"
    );
}
