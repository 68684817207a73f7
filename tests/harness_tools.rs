//! Tests of the harness's tools (tests/common/tools.rs) against the real
//! programs: dnsmasq answering MX/A/AAAA/null-MX for test domains, smtp-source
//! into smtp-sink, the raw SMTP client sending exact bytes, `wait_for`,
//! `openssl s_client` in wrapper mode against a Postfix smtps service, and
//! Postfix's `posttls-finger` and `pflogsumm` on a Postfix instance.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use common::certs::Pki;
use common::postfix::{PostfixInstance, Role};
use common::tools::{
    free_port, smtp_source, wait_for, DnsRecords, Dnsmasq, RawSmtp, SClient, SmtpSink,
};

#[test]
fn dnsmasq_answers_mx_a_aaaa_and_null_mx() {
    let dns = Dnsmasq::start(
        &DnsRecords::new()
            .mx("dest.test.example", "mx1.test.example", 10)
            .mx("dest.test.example", "mx2.test.example", 20)
            .addr("mx1.test.example", "127.0.0.1")
            .addr("mx2.test.example", "::1")
            .raw("nullmx.test.example", 15, "000000"),
    );
    let mx = dns.query("dest.test.example.", RecordType::MX);
    assert_eq!(mx.rcode, "NoError", "{mx:?}");
    let mut got: Vec<String> = mx.records.iter().map(|(_, r)| r.clone()).collect();
    got.sort();
    assert_eq!(
        got,
        ["10 mx1.test.example.", "20 mx2.test.example."],
        "{mx:?}"
    );
    let a = dns.query("mx1.test.example.", RecordType::A);
    assert_eq!(a.records, [(RecordType::A, "127.0.0.1".to_string())]);
    let aaaa = dns.query("mx2.test.example.", RecordType::AAAA);
    assert_eq!(aaaa.records, [(RecordType::AAAA, "::1".to_string())]);
    let null = dns.query("nullmx.test.example.", RecordType::MX);
    assert_eq!(
        null.records,
        [(RecordType::MX, "0 .".to_string())],
        "{null:?}"
    );
    let none = dns.query("nothing.test.example.", RecordType::MX);
    assert_eq!(none.rcode, "NXDomain", "{none:?}");
}

#[test]
fn smtp_source_into_smtp_sink() {
    let sink = SmtpSink::start(&[]);
    let (out, took) = smtp_source(sink.port, 2, 20, 1000, &[]);
    assert_eq!(out.code(), 0, "{}{}", out.stdout, out.stderr);
    assert!(
        wait_for(Duration::from_secs(10), || sink.messages().len() == 20),
        "sink got {} of 20 messages",
        sink.messages().len()
    );
    assert!(took > Duration::ZERO);
    assert!(sink.messages()[0].contains("sink@rx.test.example"));
}

#[test]
fn raw_smtp_sends_exact_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::Write;
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"220 test ESMTP\r\n").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !got.ends_with(b"QUIT\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "client closed early: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"250-first\r\n250 last\r\n").unwrap();
        got
    });
    let mut c = RawSmtp::connect(port);
    assert_eq!(c.read_reply().unwrap().code, 220);
    let vector = b"DATA\n.\nbare\rCR\x00NUL\r\nQUIT\r\n";
    c.send(vector).unwrap();
    let r = c.read_reply().unwrap();
    assert_eq!(r.lines, ["250-first", "250 last"]);
    assert_eq!(server.join().unwrap(), vector);
    assert!(
        c.transcript().contains("c -> DATA\\n"),
        "{}",
        c.transcript()
    );
    assert!(
        c.transcript().contains("s <- 250 last"),
        "{}",
        c.transcript()
    );
}

#[test]
fn wait_for_times_out_and_succeeds() {
    let start = std::time::Instant::now();
    assert!(!wait_for(Duration::from_millis(200), || false));
    assert!(start.elapsed() >= Duration::from_millis(200));
    let mut n = 0;
    assert!(wait_for(Duration::from_secs(5), || {
        n += 1;
        n == 3
    }));
    let p = free_port();
    assert!(p > 1024);
    TcpListener::bind(("127.0.0.1", p)).expect("free port is bindable");
}

#[test]
fn s_client_wrapper_mode_against_postfix_smtps() {
    let pki = Pki::new();
    let mut rx = PostfixInstance::new(Role::Receiver);
    rx.receiver_tls(&pki);
    let smtps = free_port();
    rx.append_master_cf(&format!(
        "127.0.0.1:{smtps} inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n"
    ));
    rx.start();
    assert!(common::tools::wait_port(smtps, Duration::from_secs(10)));
    let r = SClient::new(smtps)
        .wrapper_mode()
        .ca_file(&pki.ca.cert_pem)
        .verify_return_error()
        .run(&["EHLO client.test.example", "QUIT"]);
    assert_eq!(r.verify_code(), Some(0), "{}\n{}", r.stdout, r.stderr);
    // In wrapper mode the greeting comes inside TLS.
    assert!(
        r.replies
            .first()
            .is_some_and(|l| l.starts_with("220 mx.test.example")),
        "{:?}",
        r.replies
    );
    assert!(
        r.replies.iter().any(|l| l.starts_with("221 ")),
        "{:?}",
        r.replies
    );
}

#[test]
fn posttls_finger_and_pflogsumm_on_postfix() {
    let pki = Pki::new();
    let mut rx = PostfixInstance::new(Role::Receiver);
    rx.receiver_tls(&pki);
    rx.start();
    let dest = format!("[127.0.0.1]:{}", rx.port);
    let out = common::tools::posttls_finger(
        &rx.config_dir(),
        &[
            "-c",
            "-l",
            "secure",
            "-d",
            "sha256",
            "-F",
            pki.ca.cert_pem.to_str().unwrap(),
            &dest,
            "mx.test.example",
        ],
    );
    let text = out.stdout.clone() + &out.stderr;
    assert_eq!(out.code(), 0, "{text}");
    let fp = &pki.server.fingerprints;
    let expected = format!(
        "subject_CN=mx.test.example, issuer_CN=Postern Test CA, fingerprint={}, pkey_fingerprint={}",
        fp.cert_sha256, fp.pkey_sha256
    );
    assert!(text.contains(&expected), "{expected}\n{text}");
    assert!(
        text.contains(&format!(
            "Verified TLS connection established to 127.0.0.1[127.0.0.1]:{}: TLSv1.",
            rx.port
        )),
        "{text}"
    );
    let r = common::tools::Swaks::new(rx.port)
        .from("k@sender.example")
        .to("l@test.example")
        .starttls()
        .run();
    assert_eq!(r.code, 0, "{}", r.transcript);
    rx.wait_delivered("l@test.example", Duration::from_secs(20));
    let sum = common::tools::pflogsumm(&rx.dir().join("maillog"), &[]);
    assert_eq!(sum.code(), 0, "{}", sum.stderr);
    let count = |what: &str| {
        sum.stdout
            .lines()
            .find(|l| l.trim_end().ends_with(what) && l.split_whitespace().count() == 2)
            .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no '{what}' count in:\n{}", sum.stdout))
    };
    assert_eq!(count("received"), 1, "{}", sum.stdout);
    assert_eq!(count("delivered"), 1, "{}", sum.stdout);
    assert_eq!(count("bounced"), 0, "{}", sum.stdout);
}
