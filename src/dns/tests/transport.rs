//! Transport behaviour against real sockets: TCP after truncation, timeouts, a
//! dead server skipped for a live one.
//!
//! Mirrors: libc `res_send()` behaviour Postfix relies on.
//! main.cf parameters: none.
//! RFCs: RFC 1035 section 4.2, RFC 6891 (EDNS0 payload), RFC 7766 (TCP).

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use super::dnsmasq::{free_port, Dnsmasq};
use crate::dns::{DnsError, Resolver, ResolverSettings, TransportError};

/// A TXT record of `strings` strings of 255 bytes each, as a dnsmasq option.
fn big_txt(name: &str, strings: usize) -> (String, usize) {
    let chunk = "x".repeat(255);
    let value = vec![chunk; strings].join(",");
    (format!("--txt-record={name},{value}"), 255 * strings)
}

#[test]
fn truncated_udp_reply_retried_over_tcp() {
    // About 2 KB: more than our 1232-byte EDNS payload, so dnsmasq sets TC.
    let (rr, len) = big_txt("big.test", 8);
    let dns = Dnsmasq::start(&[&rr]);
    let txt = dns.resolver().txt("big.test").unwrap();
    assert_eq!(txt.len(), 1);
    assert_eq!(txt[0].len(), len);
}

#[test]
fn without_edns_512_bytes_truncate_and_tcp_completes() {
    // 765 bytes fit in 1232 but not in plain DNS's 512 (RFC 1035 section 4.2.1).
    let (rr, len) = big_txt("mid.test", 3);
    let dns = Dnsmasq::start(&[&rr]);
    let mut settings = dns.settings();
    settings.edns = false;
    let txt = Resolver::new(settings).txt("mid.test").unwrap();
    assert_eq!(txt[0].len(), len);
    // And with EDNS it comes in one UDP datagram.
    assert_eq!(dns.resolver().txt("mid.test").unwrap()[0].len(), len);
}

#[test]
fn nothing_listening_fails_fast_and_temporary() {
    let port = free_port();
    let mut settings = ResolverSettings::with_nameserver(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    settings.timeout = Duration::from_millis(300);
    settings.attempts = 2;
    let started = Instant::now();
    let err = Resolver::new(settings).mx("example.test").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(err, DnsError::NoReply { .. }), "{err:?}");
    assert!(err.is_temporary());
}

#[test]
fn silent_server_times_out_after_attempts() {
    // A bound socket that never answers: no ICMP, so only the timeout ends the wait.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut settings = ResolverSettings::with_nameserver(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    settings.timeout = Duration::from_millis(200);
    settings.attempts = 2;
    let started = Instant::now();
    let err = Resolver::new(settings)
        .lookup("slow.test", RecordType::A)
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "two tries of 200 ms: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        matches!(
            err,
            DnsError::NoReply {
                last: TransportError::Timeout { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("name=slow.test type=A"));
}

#[test]
fn dead_first_server_skipped_for_live_one() {
    let dns = Dnsmasq::start(&["--host-record=second.test,192.0.2.70"]);
    // All servers share one port, as in resolv.conf, so the dead one is another
    // loopback address (Linux routes all of 127/8 to lo) where dnsmasq, bound to
    // 127.0.0.1 only, does not listen.
    let mut settings = dns.settings();
    settings
        .nameservers
        .insert(0, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    settings.timeout = Duration::from_millis(300);
    let lookup = Resolver::new(settings)
        .lookup("second.test", RecordType::A)
        .unwrap();
    assert_eq!(lookup.records.len(), 1);
}

#[test]
fn resolver_moves_into_a_worker_thread() {
    // Each smtp worker owns its resolver: it must be Send (no Rc, no RefCell).
    fn check<T: Send>() {}
    check::<Resolver>();
}
