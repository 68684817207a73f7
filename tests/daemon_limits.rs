//! Connection limits of the real daemon: the master.cf process limit answers
//! the extra client with 421 4.3.2, anvil's per-client count and rate limits
//! with 421 4.7.0, and `smtpd_client_event_limit_exceptions` lets its clients by.

mod common;

use std::time::{Duration, Instant};

use common::daemon::{free_port, Instance, HOSTNAME};

#[test]
fn process_limit_answers_421_busy() {
    let port = free_port();
    let inst = Instance::with_master(
        "",
        &format!("127.0.0.1:{port} inet n - n - 1 smtpd\n"),
        port,
    );
    inst.start();
    let first = inst.connect();
    assert!(first.greeting.starts_with("220 "), "{}", first.greeting);
    let mut second = inst.connect();
    assert_eq!(second.greeting, "421 4.3.2 All server ports are busy");
    assert_eq!(second.line(), "", "the busy client must be disconnected");
    first.quit();
    // The slot comes back once the first connection's thread has ended.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let c = inst.connect();
        if c.greeting.starts_with("220 ") {
            c.quit();
            break;
        }
        assert!(Instant::now() < until, "slot never freed: {}", c.greeting);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        inst.log().contains(&format!(
            "warning: service \"127.0.0.1:{port}\" (127.0.0.1:{port}) has reached its process limit \"1\""
        )),
        "{}",
        inst.log()
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn connection_count_limit_answers_421_too_many() {
    let inst = Instance::new(
        "smtpd_client_connection_count_limit = 1\nsmtpd_client_event_limit_exceptions =",
    );
    inst.start();
    let first = inst.connect();
    assert!(first.greeting.starts_with("220 "), "{}", first.greeting);
    let mut second = inst.connect();
    assert_eq!(
        second.greeting,
        format!("421 4.7.0 {HOSTNAME} Error: too many connections from 127.0.0.1")
    );
    assert_eq!(second.line(), "");
    inst.wait_for_log(
        &format!(
            "warning: Connection concurrency limit exceeded: 2 from unknown[127.0.0.1] for service 127.0.0.1:{}",
            inst.port
        ),
        1,
    );
    first.quit();
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn connection_rate_limit_answers_421_too_many() {
    let inst = Instance::new(
        "smtpd_client_connection_rate_limit = 2\nsmtpd_client_event_limit_exceptions =",
    );
    inst.start();
    inst.connect().quit();
    inst.connect().quit();
    let third = inst.connect();
    assert_eq!(
        third.greeting,
        format!("421 4.7.0 {HOSTNAME} Error: too many connections from 127.0.0.1")
    );
    inst.wait_for_log(
        "warning: Connection rate limit exceeded: 3 from unknown[127.0.0.1]",
        1,
    );
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}

#[test]
fn exceptions_are_not_limited() {
    let inst = Instance::new(
        "smtpd_client_connection_count_limit = 1\nmynetworks = 127.0.0.0/8 [::1]/128",
    );
    inst.start();
    let first = inst.connect();
    let second = inst.connect();
    assert!(first.greeting.starts_with("220 "), "{}", first.greeting);
    assert!(second.greeting.starts_with("220 "), "{}", second.greeting);
    first.quit();
    second.quit();
    assert_eq!(inst.postfix(&["stop"]).code, 0);
}
