//! Listeners from master.cf: a host-less entry binds on every
//! `inet_interfaces` address of the `inet_protocols` families, `-o` overrides
//! reach that entry's smtpd only, and an inet entry Postern cannot run is
//! warned about with its file and line; a postscreen entry is served by smtpd
//! with the `smtpd pass` entry's settings.

mod common;

use std::net::TcpStream;

use common::daemon::{free_port, Client, Instance, HOSTNAME};

fn ipv6_loopback_works() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn entries_interfaces_and_overrides() {
    let (plain, sub, other) = (free_port(), free_port(), free_port());
    let master = format!(
        "{plain} inet n - n - - smtpd\n\
         127.0.0.1:{sub} inet n - n - - smtpd\n  -o {{ smtpd_banner = $myhostname ESMTP submission }}\n\
         127.0.0.1:{other} inet n - n - - qmqpd\n\
         pickup unix n - n 60 1 pickup\n"
    );
    let inst = Instance::with_master(
        "inet_interfaces = loopback-only\ninet_protocols = all",
        &master,
        plain,
    );
    inst.start();

    let c = Client::connect(plain);
    assert_eq!(c.greeting, format!("220 {HOSTNAME} ESMTP Postfix"));
    c.quit();
    if ipv6_loopback_works() {
        let s = TcpStream::connect(("::1", plain));
        assert!(s.is_ok(), "no listener on [::1]:{plain}");
    }
    let c = Client::connect(sub);
    assert_eq!(c.greeting, format!("220 {HOSTNAME} ESMTP submission"));
    c.quit();
    assert!(TcpStream::connect(("127.0.0.1", other)).is_err());
    assert!(
        inst.log().contains(&format!(
            "warning: {}/master.cf, line 4: service 127.0.0.1:{other}: command qmqpd is not run by Postern; entry ignored",
            inst.path().display()
        )),
        "{}",
        inst.log()
    );
    assert!(!inst.log().contains("pickup"), "{}", inst.log());
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn unknown_service_name_fails_start() {
    let port = free_port();
    let inst = Instance::with_master("", "no-such-service-name inet n - n - - smtpd\n", port);
    let o = inst.postfix(&["start"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains(&format!(
            "{}/master.cf, line 1: service no-such-service-name: unknown service: no-such-service-name/tcp",
            inst.path().display()
        )),
        "{}",
        o.stderr
    );
}

#[test]
fn bracketed_ipv6_entry() {
    if !ipv6_loopback_works() {
        return;
    }
    let port = free_port();
    let inst = Instance::with_master(
        "inet_protocols = all",
        &format!("[::1]:{port} inet n - n - - smtpd\n"),
        port,
    );
    inst.start();
    let s = TcpStream::connect(("::1", port)).expect("connect [::1]");
    drop(s);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn postscreen_entry_is_served_by_smtpd() {
    let port = free_port();
    let master = format!(
        "127.0.0.1:{port} inet n - y - 1 postscreen\n\
         smtpd pass - - y - - smtpd\n  -o {{ smtpd_banner = $myhostname ESMTP behind postscreen }}\n\
         dnsblog unix - - y - 0 dnsblog\n"
    );
    let inst = Instance::with_master("", &master, port);
    inst.start();
    let c = inst.connect();
    assert_eq!(
        c.greeting,
        format!("220 {HOSTNAME} ESMTP behind postscreen")
    );
    c.quit();
    assert!(
        inst.log().contains(&format!(
            "warning: {}/master.cf, line 1: service 127.0.0.1:{port}: postscreen is not run by Postern; its clients go straight to smtpd with the settings of smtpd/pass",
            inst.path().display()
        )),
        "{}",
        inst.log()
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}
